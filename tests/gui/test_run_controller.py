"""The run controller's memory bound: headers and previews are kept for recent rows only."""

from __future__ import annotations

from app.core.result import Details, Outcome, Result
from app.core.settings import Settings
from app.core.targets import TargetList
from app.gui.results_model import ResultsModel
from app.gui.run_controller import KEEP_DETAILS, RunController


def test_only_the_most_recent_rows_keep_their_details(qapp):
    count = KEEP_DETAILS + 10
    model = ResultsModel()
    urls = "\n".join(f"https://h.example/{i}" for i in range(count))
    model.reset_rows(TargetList.from_text(urls))
    controller = RunController(model, Settings())
    for i in range(count):
        controller._store(Result(i, i + 1, f"https://h.example/{i}", Outcome.OK, status=200,
                                 details=Details(preview=b"x" * 100)))
    kept = [i for i in range(count) if model.result(i).details is not None]
    assert kept == list(range(10, count))
