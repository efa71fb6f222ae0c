"""The run history in the window: every run recorded as it goes, reopened as it was, resumed,
compared, exported; a history that cannot be used costs a notice, never the run."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from aiohttp import web
from PySide6.QtCore import Qt

from app.core.result import Outcome
from app.core.settings import Settings
from app.core.store import Ended, RunStore
from app.gui import results_pane
from app.gui.main_window import MainWindow
from app.gui.results_model import COL_STATUS, COL_TITLE
from tests.servers import ReservedPort, ThreadedServer

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parents[2]


# -- a site whose answers a test changes between runs -----------------------------------------


@pytest.fixture
def site():
    """``/page/N`` answers ``site.answers[N]`` (status, title), 200 and "page N" by default;
    ``/slow/N`` waits until ``site.gate`` is set first. ``site.seen`` counts requests."""
    import asyncio

    answers: dict[str, tuple[int, str]] = {}
    gate = threading.Event()

    async def page(request: web.Request) -> web.Response:
        n = request.match_info["n"]
        status, title = answers.get(n, (200, f"page {n}"))
        return web.Response(status=status, text=f"<title>{title}</title>",
                            content_type="text/html")

    async def slow(request: web.Request) -> web.Response:
        while not gate.is_set():
            await asyncio.sleep(0.01)
        return await page(request)

    app = web.Application()
    app.router.add_get("/page/{n}", page)
    app.router.add_get("/slow/{n}", slow)
    with ThreadedServer(app) as server:
        server.answers = answers  # type: ignore[attr-defined]
        server.gate = gate  # type: ignore[attr-defined]
        yield server
        gate.set()


@pytest.fixture
def make_window(qtbot, loop, monkeypatch, tmp_path):
    monkeypatch.setenv("FETCHDECK_CONFIG_DIR", str(tmp_path / "config"))
    made: list[MainWindow] = []

    def make(**settings) -> MainWindow:
        window = MainWindow(Settings(retries=0, timeout=5, **settings))
        qtbot.addWidget(window)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        if window.controller.running:
            window.controller.cancel()
            qtbot.waitUntil(lambda w=window: not w.controller.running, timeout=10_000)
        if window.isVisible():
            close(qtbot, window)


@pytest.fixture
def window(make_window):
    return make_window()


def fetch(qtbot, window, text, timeout=30_000):
    window.form.set_text(text)
    with qtbot.waitSignal(window.run_finished, timeout=timeout):
        qtbot.mouseClick(window.fetch_button, Qt.MouseButton.LeftButton)


def close(qtbot, window):
    """Close the window; ``closed`` comes once the history is written."""
    with qtbot.waitSignal(window.closed, timeout=15_000):
        window.close()


def recorded(qtbot, window, run_id=None):
    """The run's writer has written everything and recorded how the run ended."""
    def written():
        info = stored_run(window.history.run_id if run_id is None else run_id)
        return info is not None and info.ended is not Ended.RUNNING

    qtbot.waitUntil(lambda: window.history.run_id is not None, timeout=10_000)
    qtbot.waitUntil(written, timeout=10_000)
    return stored_run(window.history.run_id if run_id is None else run_id)


def db_path() -> Path:
    return Path(os.environ["FETCHDECK_DATA_DIR"]) / "runs.sqlite3"


def stored_run(run_id):
    if not db_path().exists():
        return None
    with RunStore.open(db_path()) as store:
        return store.run(run_id) if run_id is not None else None


def stored_rows(run_id):
    with RunStore.open(db_path()) as store:
        return [(r.index, r.outcome, r.status, r.title, r.error_kind)
                for r in store.results(run_id)]


def table_rows(window):
    rows = []
    for i in range(len(window.model)):
        r = window.model.result(i)
        rows.append(None if r is None else (r.index, r.outcome, r.status, r.title, r.error_kind))
    return rows


# -- 1. every run recorded ---------------------------------------------------------------------


def test_a_window_run_is_recorded_with_every_row(window, qtbot, site):
    with ReservedPort() as closed:
        urls = [site.url("/page/1"), site.url("/page/2"), f"http://127.0.0.1:{closed.port}/",
                "ftp://nope.example/"]
        site.answers["2"] = (404, "gone")
        fetch(qtbot, window, "\n".join(urls))
    info = recorded(qtbot, window)
    assert (info.source, info.ended, info.total) == ("pasted", Ended.FINISHED, 4)
    assert (info.ok, info.http_error, info.failed, info.invalid) == (1, 1, 1, 1)
    assert stored_rows(info.id) == table_rows(window)
    with RunStore.open(db_path()) as store:
        assert [line.text for line in store.inputs(info.id)] == urls


def test_the_table_lets_go_of_each_result_once_written_and_shows_it_from_the_file(
        window, qtbot, site, tmp_path):
    site.answers["3"] = (404, "gone")
    urls = [site.url(f"/page/{n}") for n in range(40)]
    fetch(qtbot, window, "\n".join(urls))
    info = recorded(qtbot, window)
    rows = window.model.stored_rows
    assert rows is not None and rows.run_id == info.id
    qtbot.waitUntil(lambda: rows.held == 0, timeout=10_000)  # nothing kept in memory
    assert table_rows(window) == stored_rows(info.id)
    assert window.model.cell_text(3, COL_TITLE) == "gone"
    # A sort is the file's, and a retry's result is held until it too is written.
    with qtbot.waitSignal(window.model.arranged, timeout=10_000):
        window.model.sort(COL_STATUS, Qt.SortOrder.DescendingOrder)
    assert window.model.index_at(0) == 3
    site.answers["3"] = (200, "back")
    with qtbot.waitSignal(window.run_finished, timeout=30_000):
        window.retry([3])
    qtbot.waitUntil(lambda: rows.held == 0 and recorded(qtbot, window).ok == 40,
                    timeout=10_000)
    assert window.model.result(3).title == "back"
    with qtbot.waitSignal(window.model.arranged, timeout=10_000):
        window.model.sort(COL_STATUS, Qt.SortOrder.DescendingOrder)
    assert window.model.index_at(0) == 0  # all 200 now: input order (a stale order: row 3)
    # The export reads the run from the file, as the table shows it.
    path = tmp_path / "all.csv"
    with qtbot.waitSignal(window.export_finished, timeout=30_000) as done:
        window.export_csv(str(path))
    assert done.args == [str(path), ""]
    with path.open(newline="", encoding="utf-8") as stream:
        exported = list(csv.DictReader(stream))
    assert [row["url"] for row in exported] == urls and exported[3]["title"] == "back"


def test_retrying_many_selected_rows_asks_the_file_which_off_the_gui_thread(
        window, qtbot, site, monkeypatch):
    monkeypatch.setattr(results_pane, "ASK_FILE_FROM", 4)  # a million rows' path, on a few
    site.answers["2"] = (500, "down")
    urls = [site.url(f"/page/{n}") for n in range(10)]
    urls[4] = "not a url"
    urls[7] = "ftp://nope.example/"
    fetch(qtbot, window, "\n".join(urls))
    recorded(qtbot, window)
    qtbot.waitUntil(lambda: window.model.stored_rows.held == 0, timeout=10_000)
    window.results.table.selectAll()
    with qtbot.waitSignal(window.results.retry_requested, timeout=10_000) as asked:
        assert window.results.retry_selected() is not None  # asked of the file
    assert asked.args == [[0, 1, 2, 3, 5, 6, 8, 9]]  # every row but the invalid lines
    qtbot.waitUntil(lambda: not window.controller.running, timeout=30_000)


def test_without_a_history_the_table_holds_every_result(make_window, qtbot, site):
    window = make_window(keep_runs=False)
    fetch(qtbot, window, "\n".join(site.url(f"/page/{n}") for n in range(5)))
    assert window.model.stored_rows is None
    assert [window.model.result(i).title for i in range(5)] == [f"page {n}" for n in range(5)]


def test_a_retry_is_recorded_into_the_same_run(window, qtbot, site):
    site.answers["2"] = (503, "busy")
    fetch(qtbot, window, "\n".join(site.url(f"/page/{n}") for n in (1, 2, 3)))
    first = recorded(qtbot, window)
    assert first.http_error == 1
    site.answers["2"] = (200, "back")
    with qtbot.waitSignal(window.run_finished, timeout=30_000):
        window.retry([1])
    info = recorded(qtbot, window)
    assert info.id == first.id and (info.ok, info.http_error) == (3, 0)
    assert stored_rows(info.id)[1] == (1, Outcome.OK, 200, "back", "")
    with RunStore.open(db_path()) as store:
        assert [r.id for r in store.runs()] == [first.id]


def test_each_fetch_is_a_run_of_its_own_named_by_its_file(window, qtbot, site, tmp_path):
    fetch(qtbot, window, site.url("/page/1"))
    first = recorded(qtbot, window)
    listing = tmp_path / "list.csv"
    listing.write_text("url,owner\n" + "".join(f"{site.url(f'/page/{n}')},team {n}\n"
                                               for n in range(3)))
    run_async_task(qtbot, window.load_path(listing))
    assert window.form.is_big_list  # a table is kept apart from the editor: it has a path
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        window.start_run()
    second = recorded(qtbot, window)
    assert second.id != first.id and second.source == str(listing) and second.ok == 3
    assert second.columns == ("owner",)


def test_a_run_cancelled_by_closing_is_recorded_as_cancelled(window, qtbot, site):
    window.form.set_text("\n".join([site.url("/page/1")]
                                   + [site.url(f"/slow/{n}") for n in range(3)]))
    window.start_run()
    qtbot.waitUntil(lambda: window.model.result(0) is not None, timeout=10_000)
    window.cancel_and_close()
    qtbot.waitSignal(window.closed, timeout=15_000).wait()
    with RunStore.open(db_path()) as store:
        (info,) = store.runs()
        assert (info.ended, info.ok, info.cancelled) == (Ended.CANCELLED, 1, 3)


def test_without_keep_runs_nothing_is_recorded(make_window, qtbot, site):
    window = make_window(keep_runs=False)
    fetch(qtbot, window, site.url("/page/1"))
    close(qtbot, window)
    assert not db_path().exists()


def test_an_unusable_history_is_a_notice_and_the_run_completes(make_window, qtbot, site):
    # /sys refuses new files even to root.
    window = make_window(db_path="/sys/fetchdeck-test/runs.sqlite3")
    fetch(qtbot, window, "\n".join(site.url(f"/page/{n}") for n in range(3)))
    assert [r.outcome for r in window.model.results()] == [Outcome.OK] * 3
    qtbot.waitUntil(lambda: bool(window.notices), timeout=10_000)
    (notice,) = window.notices
    assert "results are kept in memory only" in notice and "/sys/fetchdeck-test" in notice
    assert window.notice_bar.isVisible()


def test_a_history_that_fills_the_disk_mid_run_is_a_notice_and_the_run_completes(
        make_window, qtbot, site, small_disk):
    window = make_window(db_path=str(small_disk / "runs.sqlite3"))
    assert run_async_task(qtbot, window.history.open()) is not None
    fillers = []
    try:  # the rest of the disk, taken, but for 256 KiB: the run starts, then fills it
        while True:
            filler = small_disk / f"filler{len(fillers)}"
            fillers.append(filler)
            filler.write_bytes(b"\0" * 65536)
    except OSError:
        pass
    for filler in fillers[-5:]:
        filler.unlink()
    urls = [site.url(f"/page/{n}?{'x' * 500}") for n in range(2000)]
    fetch(qtbot, window, "\n".join(urls), timeout=60_000)
    assert sum(r.outcome is Outcome.OK for r in window.model.results()) == 2000
    qtbot.waitUntil(lambda: bool(window.notices), timeout=10_000)
    (notice,) = window.notices
    assert "stopped recording" in notice and "disk is full" in notice
    assert "results are kept in memory only" in notice


def run_async_task(qtbot, task, timeout=30_000):
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


# -- helpers for runs made elsewhere -----------------------------------------------------------


INTERRUPTED = textwrap.dedent("""
    import sys, time
    from array import array
    from app.core.result import Result, Outcome
    from app.core.settings import Settings
    from app.core.store import RunStore
    from app.core.targets import TargetList
    db, done, urls = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    store = RunStore.open(db)
    targets = TargetList(urls, array("L", range(1, len(urls) + 1)))
    writer = store.start_run(source="list.txt", settings=Settings(retries=0), inputs=targets)
    for i in range(done):
        writer.add(Result.of(i, i + 1, urls[i], Outcome.OK, status=200, title=f"page {i}"))
    while writer.written < done:
        time.sleep(0.01)
    print(writer.run_id, flush=True)
    time.sleep(600)
""")


def interrupted_run(db: Path, urls: list[str], done: int) -> int:
    """A run of ``urls`` whose Fetchdeck died (SIGKILL) after ``done`` results were written."""
    db.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED, str(db), str(done), *urls],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        run_id = int(proc.stdout.readline())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    return run_id


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


# -- 2. open a run -----------------------------------------------------------------------------


def panel_state(window):
    window.error_panel.flush()
    return window.error_panel.model.counts()


def test_a_recorded_run_reopens_with_the_same_table_errors_and_details(make_window, qtbot,
                                                                       site):
    first = make_window()
    with ReservedPort() as closed:
        site.answers["2"] = (500, "broken")
        fetch(qtbot, first, "\n".join([site.url("/page/1"), site.url("/page/2"),
                                       f"http://127.0.0.1:{closed.port}/",
                                       "ftp://nope.example/", site.url("/page/5")]))
    info = recorded(qtbot, first)
    rows, errors = table_rows(first), panel_state(first)
    refused = first.model.result(2).failure
    close(qtbot, first)

    window = make_window()
    dialog = window.history_actions.show_open_dialog()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 1, timeout=10_000)
    assert dialog.open_button.isEnabled() and not dialog.compare_button.isEnabled()
    with qtbot.waitSignal(window.history_actions.run_opened, timeout=10_000):
        qtbot.mouseClick(dialog.open_button, Qt.MouseButton.LeftButton)
    assert table_rows(window) == rows
    assert panel_state(window) == errors == {"http_5xx": 1, "refused": 1,
                                             "unsupported_scheme": 1}
    failure = window.model.result(2).failure
    assert (failure.kind, failure.message, failure.traceback) == (
        refused.kind, refused.message, refused.traceback)
    window.select_row(1)
    assert window.details.isVisible() and window.selected_result().status == 500
    assert f"Run {info.id} of" in window.progress_label.text()
    assert window.export_action.isEnabled()


def test_a_run_opened_after_another_is_summarised_alone(make_window, qtbot, site):
    """The run summary of a window that fetched a run, then opened one, counts the opened
    run's rows only (it once added them to the first run's)."""
    window = make_window()
    site.answers["2"] = (500, "broken")
    fetch(qtbot, window, "\n".join(site.url(f"/page/{n}") for n in range(1, 6)))
    info = recorded(qtbot, window)
    assert window.summary.stats.total == 5
    with qtbot.waitSignal(window.history_actions.run_opened, timeout=10_000):
        window.history_actions.open_run(info.id)
    stats = window.summary.stats
    assert stats.total == 5
    assert stats.outcomes == {Outcome.OK: 4, Outcome.HTTP_ERROR: 1}
    assert stats.statuses == {200: 4, 500: 1}


def test_a_reopened_run_is_retried_into_itself(make_window, qtbot, site):
    first = make_window()
    site.answers["2"] = (503, "busy")
    fetch(qtbot, first, "\n".join(site.url(f"/page/{n}") for n in (1, 2, 3)))
    info = recorded(qtbot, first)
    close(qtbot, first)

    site.answers["2"] = (200, "back")
    window = make_window()
    run_async_task(qtbot, window.history_actions.open_run(info.id))
    site.seen.clear()
    with qtbot.waitSignal(window.run_finished, timeout=30_000):
        window._retry_all_failures()
    assert site.seen.count() == 1
    after = recorded(qtbot, window, info.id)
    assert (after.ok, after.http_error) == (3, 0)
    assert stored_rows(info.id)[1] == (1, Outcome.OK, 200, "back", "")
    with RunStore.open(db_path()) as store:
        assert len(store.runs()) == 1


def test_starting_a_run_while_a_stored_one_opens_keeps_the_new_one(make_window, qtbot, site):
    first = make_window()
    fetch(qtbot, first, "\n".join(site.url(f"/page/{n}") for n in range(30)))
    info = recorded(qtbot, first)
    close(qtbot, first)
    window = make_window()
    opening = window.history_actions.open_run(info.id)
    qtbot.waitUntil(lambda: window.history_actions.loading, timeout=10_000)
    fetch(qtbot, window, site.url("/page/x"))
    assert run_async_task(qtbot, opening) is None
    assert len(window.model) == 1 and window.model.result(0).title == "page x"


def test_runs_model_lists_runs_newest_first_in_words():
    from datetime import UTC, datetime

    from app.core.store import RunInfo
    from app.gui.history_dialog import (
        COL_ENDED,
        COL_FAILED,
        COL_ID,
        COL_OK,
        COL_SOURCE,
        COL_URLS,
        RunsModel,
    )

    started = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    runs = [RunInfo(1, started, datetime(2026, 12, 1, 10, 0, 12, tzinfo=UTC), Ended.FINISHED,
                    "list.txt", 1200, 1100, 50, 40, 10, 0, "0.1"),
            RunInfo(2, started, None, Ended.INTERRUPTED, "pasted", 5000, 300, 0, 0, 0, 0, "0.1"),
            RunInfo(3, started, started, Ended.CANCELLED, "pasted", 10, 4, 0, 1, 0, 5, "0.1")]
    model = RunsModel()
    model.set_runs(runs)
    text = [[model.index(row, col).data() for col in (COL_ID, COL_SOURCE, COL_URLS, COL_OK,
                                                      COL_FAILED, COL_ENDED)]
            for row in range(model.rowCount())]
    assert text == [["3", "pasted", "10", "4", "1", "cancelled (5 unfinished)"],
                    ["2", "pasted", "5,000", "300", "0", "interrupted (4,700 unfinished)"],
                    ["1", "list.txt", "1,200", "1,100", "100", "finished in 12 s"]]


def test_deleting_runs_asks_first_then_removes_them(make_window, qtbot, site):
    window = make_window()
    for n in range(3):
        fetch(qtbot, window, site.url(f"/page/{n}"))
        recorded(qtbot, window)
    dialog = window.history_actions.show_open_dialog()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 3, timeout=10_000)
    ids = [dialog.model.run_at(row).id for row in range(3)]
    dialog.select_runs(ids[:2])
    assert dialog.compare_button.isEnabled() and dialog.delete_button.isEnabled()
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(question_boxes(dialog)), timeout=5_000)
    box = question_boxes(dialog)[0]
    assert "cannot be undone" in box.text()
    (keep,) = [b for b in box.buttons() if b.text() == "Keep"]
    qtbot.mouseClick(keep, Qt.MouseButton.LeftButton)
    with RunStore.open(db_path()) as store:
        assert len(store.runs()) == 3
    qtbot.mouseClick(dialog.delete_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: bool(question_boxes(dialog)), timeout=5_000)
    box = question_boxes(dialog)[0]
    (delete,) = [b for b in box.buttons() if b.text() == "Delete"]
    qtbot.mouseClick(delete, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 1, timeout=10_000)
    with RunStore.open(db_path()) as store:
        assert [r.id for r in store.runs()] == [ids[2]]
        assert store.count(ids[0]) == store.count(ids[1]) == 0


def question_boxes(parent):
    from PySide6.QtWidgets import QMessageBox

    return [box for box in parent.findChildren(QMessageBox) if box.isVisible()]


# -- 3. resume ---------------------------------------------------------------------------------


def test_an_interrupted_run_is_offered_at_start_up_and_resumes_only_what_is_left(
        make_window, qtbot, site):
    urls = [site.url(f"/page/{n}") for n in range(6)]
    run_id = interrupted_run(db_path(), urls, done=2)
    site.seen.clear()
    window = make_window()
    bar = window.notice_bar
    qtbot.waitUntil(lambda: bar.offer_button.isVisible(), timeout=10_000)
    assert f"Run {run_id} (list.txt" in bar.text() and "4 of its 6 URLs" in bar.text()
    assert bar.offer_button.text() == "Resume"
    with qtbot.waitSignal(window.run_finished, timeout=30_000):
        qtbot.mouseClick(bar.offer_button, Qt.MouseButton.LeftButton)
    assert sorted(r.path for r in site.seen.requests()) == [f"/page/{n}" for n in range(2, 6)]
    assert [r.outcome for r in window.model.results()] == [Outcome.OK] * 6
    info = recorded(qtbot, window, run_id)
    assert (info.ended, info.ok, info.total) == (Ended.FINISHED, 6, 6)
    assert not bar.isVisible()


def test_a_finished_last_run_is_not_offered(make_window, qtbot, site):
    first = make_window()
    fetch(qtbot, first, site.url("/page/1"))
    recorded(qtbot, first)
    close(qtbot, first)
    window = make_window()
    run_async_task(qtbot, window.history_actions.offer_interrupted())
    assert not window.notice_bar.isVisible()


def test_file_resume_fetches_the_cancelled_lines_into_the_same_run(window, qtbot, site):
    window.form.set_text("\n".join([site.url("/page/1"), site.url("/page/2")]
                                   + [site.url(f"/slow/{n}") for n in range(3)]))
    window.start_run()
    qtbot.waitUntil(lambda: sum(r.outcome is Outcome.OK for r in window.model.results()) == 2,
                    timeout=10_000)
    with qtbot.waitSignal(window.run_finished, timeout=10_000):
        window.controller.cancel()
    first = recorded(qtbot, window)
    assert (first.ended, first.cancelled) == (Ended.CANCELLED, 3)
    site.gate.set()
    site.seen.clear()
    with qtbot.waitSignal(window.run_finished, timeout=30_000):
        window.resume_action.trigger()
    assert sorted(r.path for r in site.seen.requests()) == [f"/slow/{n}" for n in range(3)]
    info = recorded(qtbot, window, first.id)
    assert (info.ended, info.ok, info.cancelled) == (Ended.FINISHED, 5, 0)


def test_file_resume_opens_the_last_cancelled_run_of_an_earlier_session(make_window, qtbot,
                                                                        site):
    first = make_window()
    first.form.set_text("\n".join([site.url("/page/1")] + [site.url(f"/slow/{n}")
                                                           for n in range(2)]))
    first.start_run()
    qtbot.waitUntil(lambda: first.model.result(0) is not None, timeout=10_000)
    first.cancel_and_close()
    qtbot.waitSignal(first.closed, timeout=15_000).wait()
    site.gate.set()
    site.seen.clear()
    window = make_window()
    with qtbot.waitSignal(window.run_finished, timeout=30_000):
        window.resume_action.trigger()
    assert sorted(r.path for r in site.seen.requests()) == ["/slow/0", "/slow/1"]
    assert [r.outcome for r in window.model.results()] == [Outcome.OK] * 3


def test_resume_with_nothing_to_resume_says_so(window, qtbot, site):
    fetch(qtbot, window, site.url("/page/1"))
    recorded(qtbot, window)
    assert run_async_task(qtbot, window.history_actions.resume()) is False
    assert "no interrupted or cancelled run" in window.notices[-1]


# -- 4. compare --------------------------------------------------------------------------------


def test_two_runs_of_a_changed_site_compare_with_counts_and_export(window, qtbot, site,
                                                                  tmp_path):
    import csv

    from app.gui.compare_view import COL_AFTER, COL_BEFORE, COL_CHANGE, COL_FIELDS, COL_URL

    fetch(qtbot, window, "\n".join(site.url(f"/page/{n}") for n in (1, 2, 3, 4)))
    first = recorded(qtbot, window)
    site.answers["2"] = (404, "gone")
    site.answers["3"] = (200, "new title")
    fetch(qtbot, window, "\n".join(site.url(f"/page/{n}") for n in (1, 2, 3, 5)))
    second = recorded(qtbot, window)

    dialog = window.history_actions.show_open_dialog()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 2, timeout=10_000)
    dialog.select_runs([second.id])
    assert dialog.previous_button.isEnabled()
    with qtbot.waitSignal(window.history_actions.dialog_opened, timeout=10_000) as opened:
        qtbot.mouseClick(dialog.previous_button, Qt.MouseButton.LeftButton)
    view = opened.args[0]
    assert view.comparison.run_a == first.id and view.comparison.run_b == second.id
    rows = {view.model.text(r, COL_URL): [view.model.text(r, c) for c in (
        COL_CHANGE, COL_FIELDS, COL_BEFORE, COL_AFTER)] for r in range(view.model.rowCount())}
    assert rows == {
        site.url("/page/2"): ["changed", "outcome, status, title, error kind",
                              "outcome ok; status 200; title page 2; error kind none",
                              "outcome http_error; status 404; title gone; error kind http_4xx"],
        site.url("/page/3"): ["changed", "title", "page 3", "new title"],
        site.url("/page/4"): [f"only in run {first.id}", "",
                              "outcome ok; status 200; error kind none", "—"],
        site.url("/page/5"): [f"only in run {second.id}", "", "—",
                              "outcome ok; status 200; error kind none"],
    }
    summary = view.summary.text()
    assert "3 lines in both; 4 changed" in summary
    assert "1 status" in summary and "2 title" in summary
    assert f"1 only in run {first.id}" in summary and f"1 only in run {second.id}" in summary

    out = tmp_path / "changes.csv"
    with qtbot.waitSignal(window.history_actions.changes_exported, timeout=10_000) as done:
        view.export_requested.emit(str(out))
    assert done.args == [str(out), ""]
    with out.open(newline="", encoding="utf-8") as stream:
        exported = list(csv.DictReader(stream))
    assert sorted((r["change"], r["url"]) for r in exported) == [
        ("changed", site.url("/page/2")), ("changed", site.url("/page/3")),
        ("only_a", site.url("/page/4")), ("only_b", site.url("/page/5"))]


def test_compare_two_selected_runs_from_the_dialog(window, qtbot, site):
    fetch(qtbot, window, site.url("/page/1"))
    first = recorded(qtbot, window)
    site.answers["1"] = (500, "down")
    fetch(qtbot, window, site.url("/page/1") + "\n")
    second = recorded(qtbot, window)
    dialog = window.history_actions.show_open_dialog()
    qtbot.waitUntil(lambda: dialog.model.rowCount() == 2, timeout=10_000)
    dialog.select_runs([first.id, second.id])
    assert not dialog.open_button.isEnabled()
    with qtbot.waitSignal(window.history_actions.dialog_opened, timeout=10_000) as opened:
        qtbot.mouseClick(dialog.compare_button, Qt.MouseButton.LeftButton)
    view = opened.args[0]
    assert (view.comparison.run_a, view.comparison.run_b) == (first.id, second.id)
    assert view.comparison.counts == {"outcome": 1, "status": 1, "title": 1, "error_kind": 1}


# -- 5. exports --------------------------------------------------------------------------------


def test_export_every_row_as_xlsx_and_the_shown_rows_as_jsonl(window, qtbot, site, tmp_path):
    import openpyxl

    site.answers["2"] = (404, "gone")
    with ReservedPort() as closed:
        urls = [site.url("/page/1"), site.url("/page/2"), f"http://127.0.0.1:{closed.port}/"]
        fetch(qtbot, window, "\n".join(urls))
    book_path = tmp_path / "all.xlsx"
    with qtbot.waitSignal(window.export_finished, timeout=20_000) as done:
        window.export_results(str(book_path))
    assert done.args == [str(book_path), ""]
    sheet = openpyxl.load_workbook(book_path).worksheets[0]
    table = list(sheet.iter_rows(values_only=True))
    header = table[0]
    got = [(row[header.index("url")], row[header.index("outcome")], row[header.index("status")])
           for row in table[1:]]
    assert got == [(urls[0], "ok", 200), (urls[1], "http_error", 404), (urls[2], "failed", None)]

    window.outcome_filter.setCurrentIndex(1)  # Failures
    qtbot.waitUntil(lambda: window.model.rowCount() == 2, timeout=10_000)
    lines_path = tmp_path / "failures.jsonl"
    with qtbot.waitSignal(window.export_finished, timeout=20_000):
        window.export_results(str(lines_path), shown_only=True)
    records = read_jsonl(lines_path)
    assert [(r["url"], r["status"], r["error_kind"]) for r in records] == [
        (urls[1], 404, "http_4xx"), (urls[2], None, "refused")]


def test_export_never_writes_over_the_imported_list(window, qtbot, site, tmp_path):
    listing = tmp_path / "list.csv"
    listing.write_text(f"url\n{site.url('/page/1')}\n")
    run_async_task(qtbot, window.load_path(listing))
    with qtbot.waitSignal(window.run_finished, timeout=30_000):
        window.start_run()
    before = listing.read_bytes()
    with qtbot.waitSignal(window.export_finished, timeout=20_000) as done:
        window.export_results(str(listing), fmt="jsonl")
    assert "URL list being fetched" in done.args[1]
    assert listing.read_bytes() == before


def test_the_export_dialog_offers_csv_jsonl_and_xlsx(window, qtbot, site, tmp_path):
    from PySide6.QtWidgets import QFileDialog

    fetch(qtbot, window, site.url("/page/1"))
    window.choose_export_path(shown_only=True)
    (dialog,) = [d for d in window.findChildren(QFileDialog) if d.isVisible()]
    assert [f.split(" (")[0] for f in dialog.nameFilters()] == [
        "CSV files", "JSON Lines files", "Excel workbooks"]
    dialog.selectNameFilter(dialog.nameFilters()[2])
    dialog.filterSelected.emit(dialog.nameFilters()[2])
    assert dialog.defaultSuffix() == "xlsx"
    path = tmp_path / "shown.xlsx"
    with qtbot.waitSignal(window.export_finished, timeout=20_000) as done:
        dialog.fileSelected.emit(str(path))
    assert done.args == [str(path), ""] and path.read_bytes()[:2] == b"PK"
    dialog.reject()
