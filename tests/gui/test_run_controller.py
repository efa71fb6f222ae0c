"""The run controller: results stored in timed batches, details kept within the policy."""

from __future__ import annotations

from app.core import details
from app.core.result import Outcome, Result
from app.core.settings import Settings
from app.core.targets import TargetList
from app.gui import run_controller
from app.gui.results_model import ResultsModel
from app.gui.run_controller import RunController


def test_a_short_run_keeps_every_rows_details(qtbot, loop, monkeypatch):
    from tests.servers import ThreadedServer

    monkeypatch.setattr(details, "KEEP_RECENT", 1)
    monkeypatch.setattr(details, "KEEP_FAILED", 1)
    with ThreadedServer() as server:
        text = "\n".join([server.url(f"/ok?n={i}") for i in range(6)]
                         + [server.url(f"/status/500?n={i}") for i in range(3)])
        targets = TargetList.from_text(text)
        model = ResultsModel()
        model.reset_rows(targets)
        controller = RunController(model, Settings(retries=0))
        with qtbot.waitSignal(controller.finished, timeout=20_000):
            controller.start(targets)
        assert all(model.result(i).details is not None for i in range(9))
        monkeypatch.setattr(details, "KEEP_ALL", 8)  # one row too many
        with qtbot.waitSignal(controller.finished, timeout=20_000):
            controller.start(targets)
    # The most recent failure, and an ok row only if it was the run's last to finish.
    assert sum(model.result(i).details is not None for i in range(6)) <= 1
    assert sum(model.result(i).details is not None for i in range(6, 9)) == 1


def test_retries_of_a_long_list_keep_details_within_the_same_bounds(qtbot, loop, monkeypatch):
    from tests.servers import ThreadedServer

    monkeypatch.setattr(details, "KEEP_ALL", 10)
    monkeypatch.setattr(details, "KEEP_RECENT", 3)
    monkeypatch.setattr(details, "KEEP_FAILED", 2)
    with ThreadedServer() as server:
        text = "\n".join([server.url(f"/ok?n={i}") for i in range(8)]
                         + [server.url(f"/status/500?n={i}") for i in range(4)])
        targets = TargetList.from_text(text)
        model = ResultsModel()
        # One at a time, so rows finish in input order and which are a run's last is known.
        controller = RunController(model, Settings(retries=0, concurrency=1))
        with qtbot.waitSignal(controller.finished, timeout=20_000):
            controller.start(targets)
        # The run's last three rows are failures: no ok row keeps its details.
        assert [i for i in range(12) if model.result(i).details is not None] == [10, 11]
        for _ in range(4):  # each retry is a short run, of a long list
            with qtbot.waitSignal(controller.finished, timeout=20_000):
                controller.retry([0, 1, 2, 8, 9])
    # Each retry's last three are rows 2, 8 and 9; the two most recent failures are 8 and 9.
    assert [i for i in range(12) if model.result(i).details is not None] == [2, 8, 9]
    policy = controller.engine.details
    assert len(policy._recent) == 1 and len(policy._failed) == 2
    assert all(model.result(r.index) is r for r in (*policy._recent, *policy._failed))


def test_a_result_the_model_refuses_is_reported_and_the_others_stored(qapp, loop):
    model = ResultsModel()
    model.reset_rows(TargetList.from_text("https://a.example/\nhttps://b.example/"))
    controller = RunController(model, Settings())
    reported = []
    loop.set_exception_handler(lambda _loop, context: reported.append(context))
    try:
        controller._store([Result.of(0, 1, "https://a.example/", Outcome.OK, status=200),
                           Result.of(7, 8, "https://user:pw@x.example/", Outcome.OK, status=200),
                           Result.of(1, 2, "https://b.example/", Outcome.OK, status=200)])
    finally:
        loop.set_exception_handler(None)
    assert model.result(0).status == 200 and model.result(1).status == 200
    assert [c["message"] for c in reported] == [
        "Fetchdeck could not show the result of https://user:***@x.example/"]
    assert [r.index for r in controller._batch] == [0, 1]


def test_failed_requests_garbage_is_collected_not_frozen_with_the_rows(qtbot, loop, monkeypatch):
    import gc

    from tests.servers import ReservedPort

    monkeypatch.setattr(run_controller, "FREEZE_EVERY", 50)
    monkeypatch.setattr(run_controller, "FLUSH_MS", 10)  # a freeze every few ticks
    model = ResultsModel()
    with ReservedPort() as closed:  # every request is refused: a traceback's cycles each
        urls = "\n".join(f"http://127.0.0.1:{closed.port}/{i}" for i in range(400))
        targets = TargetList.from_text(urls)
        model.reset_rows(targets)
        controller = RunController(model, Settings(retries=0, concurrency=20))
        controller._timer.setInterval(10)
        gc.collect()
        try:
            with qtbot.waitSignal(controller.finished, timeout=30_000):
                controller.start(targets)
            assert all(model.result(i).outcome is Outcome.FAILED for i in range(400))
            frozen = gc.get_freeze_count()
            gc.collect()  # garbage that was never frozen (the last rows' since the last freeze)
            gc.unfreeze()
            frozen_garbage = gc.collect()
        finally:
            gc.unfreeze()
    assert frozen > 0  # the run did freeze its rows
    # Without a collection before each freeze, the failures' garbage since the previous young
    # collection was frozen with the rows: ~90 objects each, tens of thousands here.
    assert frozen_garbage < 2000, frozen_garbage
