"""A reopened run of a few thousand rows, its table read from the store a page at a time: the
same rows, the same sorts and filters, the same error panel and the same export of the shown
rows as the run held in memory."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from PySide6.QtCore import Qt

from app.core.export import write_csv
from app.core.result import Outcome
from app.core.settings import Settings
from app.core.stats import RunStats
from app.core.store import RunStore
from app.core.stored_rows import StoredRows
from app.core.tally import Tally
from app.gui.errors_model import ErrorsModel
from app.gui.main_window import MainWindow
from app.gui.results_model import (
    CHECKS_FAILED,
    COL_ATTEMPTS,
    COL_CONTENT_TYPE,
    COL_ERROR,
    COL_ERROR_KIND,
    COL_FINAL_URL,
    COL_FIRST,
    COL_LINE,
    COL_OUTCOME,
    COL_REDIRECTS,
    COL_SIZE,
    COL_STATUS,
    COL_TIME,
    COL_TITLE,
    COL_URL,
    REDIRECTED,
    ResultsModel,
    RowFilter,
)
from tests.core.test_store import everything
from tests.servers import ReservedPort
from tests.stored_runs import record_fetched, varied_site, varied_urls

pytestmark = pytest.mark.timeout(120)
COUNT = 2_000
FAILURES = frozenset({Outcome.HTTP_ERROR, Outcome.FAILED, Outcome.INVALID})


@pytest.fixture
def reopened(qtbot, loop, monkeypatch, tmp_path):
    """A window showing a stored run of COUNT rows it just opened; the run's stored results
    and list."""
    monkeypatch.setenv("FETCHDECK_CONFIG_DIR", str(tmp_path / "config"))
    db = Path(os.environ["FETCHDECK_DATA_DIR"]) / "runs.sqlite3"
    with varied_site() as site, ReservedPort() as refused:
        run_id, results, targets = record_fetched(db, varied_urls(site, refused, COUNT))
    window = MainWindow(Settings(retries=0, timeout=5))
    qtbot.addWidget(window)
    window.show()
    with qtbot.waitSignal(window.history_actions.run_opened, timeout=30_000):
        window.history_actions.open_run(run_id)
    yield window, results, targets
    if window.isVisible():
        with qtbot.waitSignal(window.closed, timeout=15_000):
            window.close()
    else:  # pytest-qt closed it: its history closes the store once written
        qtbot.waitUntil(lambda: window.history.store is None, timeout=15_000)


def test_the_table_reads_the_stored_rows_and_shows_them_as_they_were(reopened, qtbot):
    window, results, _ = reopened
    assert isinstance(window.model.snapshot(), StoredRows)  # no result held per row
    assert len(window.model) == COUNT
    for index in (COUNT - 1, 0, 1, COUNT // 2, 77):
        assert everything(window.model.result(index)) == everything(results[index])
    shown = [everything(window.model.result(i)) for i in range(COUNT)]
    assert shown == [everything(r) for r in results]
    # What the view paints: a row not read yet fills in once its page arrives.
    view = window.table
    view.scrollTo(window.model.index(COUNT - 5, COL_TITLE))
    cell = window.model.index(COUNT - 5, COL_TITLE)
    qtbot.waitUntil(lambda: window.model.data(cell) == results[COUNT - 5].title,
                    timeout=10_000)


def test_the_error_panel_lists_the_run_s_failures(reopened):
    window, results, _ = reopened
    expected = ErrorsModel()
    expected.update(results)
    window.error_panel.flush()
    assert window.error_panel.model.counts() == expected.counts()
    assert window.error_panel.model.failure_count() == sum(
        r.outcome in FAILURES for r in results) > 50


def test_the_summary_and_the_counts_are_those_of_the_run_in_memory(reopened):
    """Reopening counts ok rows from light stored rows, and rebuilds only the others: the
    summary and the status line count what the whole results would."""
    window, results, _ = reopened
    expected = RunStats(started=0.0)
    expected.add(results, now=0.0)
    shown = window.summary.stats
    assert (shown.outcomes, shown.statuses, shown.times.bins()) == (
        expected.outcomes, expected.statuses, expected.times.bins())
    assert shown.host_rows(now=0.0) == expected.host_rows(now=0.0)
    tally = Tally(len(results))
    for result in results:
        tally.add(result)
    assert window.controller.engine.tally.counts == tally.counts
    assert sum(r.outcome is Outcome.OK for r in results) > COUNT // 2


def in_memory(results, targets) -> ResultsModel:
    model = ResultsModel()
    model.reset_rows(targets)
    model.store_all(list(results))
    model.flush()
    return model


def arranged(qtbot, model: ResultsModel, change, *args) -> list[int]:
    """``change(*args)`` (a sort or filter of ``model``); the rows shown once it applies."""
    with qtbot.waitSignal(model.arranged, timeout=30_000):
        change(*args)
    return [model.index_at(row) for row in range(model.rowCount())]


COLUMNS = [COL_LINE, COL_URL, COL_OUTCOME, COL_STATUS, COL_ERROR, COL_TIME, COL_SIZE,
           COL_REDIRECTS, COL_FINAL_URL, COL_CONTENT_TYPE, COL_TITLE, COL_ERROR_KIND,
           COL_ATTEMPTS, COL_FIRST]


def test_every_sort_and_filter_is_that_of_the_run_in_memory(reopened, qtbot):
    window, results, targets = reopened
    stored, memory = window.model, in_memory(results, targets)
    filters = [RowFilter(), RowFilter(outcomes=FAILURES), RowFilter("beta"),
               RowFilter.parse("status:404"), RowFilter.parse("host:localhost"),
               RowFilter("ÜNÏ", frozenset({Outcome.OK})), RowFilter(only=REDIRECTED),
               RowFilter(only=CHECKS_FAILED), RowFilter("refused"), RowFilter("GONE/"),
               RowFilter("nope")]
    for order in (Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder):
        for column in COLUMNS:
            want = arranged(qtbot, memory, memory.sort, column, order)
            got = arranged(qtbot, stored, stored.sort, column, order)
            assert got == want, (column, order)
    stored.sort(COL_TIME, Qt.SortOrder.DescendingOrder)
    memory.sort(COL_TIME, Qt.SortOrder.DescendingOrder)
    for row_filter in filters:
        want = arranged(qtbot, memory, memory.set_filter, row_filter)
        got = arranged(qtbot, stored, stored.set_filter, row_filter)
        assert got == want, row_filter
        assert want or row_filter.only == CHECKS_FAILED, row_filter


def test_a_row_retried_since_sorts_by_its_new_result(reopened, qtbot):
    window, results, targets = reopened
    stored, memory = window.model, in_memory(results, targets)
    fastest = min((r for r in results if r.elapsed_ms is not None),
                  key=lambda r: r.elapsed_ms)
    slowest = max((r for r in results if r.elapsed_ms is not None),
                  key=lambda r: r.elapsed_ms)
    for model in (stored, memory):  # the slowest row answers as fast as the fastest now
        model.requeue([slowest.index])
        model.store_all([fastest.__class__(
            slowest.index, slowest.line, slowest.url, fastest.outcome, fastest.failure,
            fastest.response)])
        model.flush()
    want = arranged(qtbot, memory, memory.sort, COL_TIME)
    got = arranged(qtbot, stored, stored.sort, COL_TIME)
    assert got == want and got.index(slowest.index) < 2


def test_export_of_the_shown_rows_is_those_rows(reopened, qtbot, tmp_path):
    window, results, targets = reopened
    window.outcome_filter.setCurrentIndex(1)  # Failures
    failed = [r for r in results if r.outcome in FAILURES]
    qtbot.waitUntil(lambda: window.model.rowCount() == len(failed), timeout=20_000)
    path = tmp_path / "shown.csv"
    with qtbot.waitSignal(window.export_finished, timeout=30_000) as done:
        window.export_results(str(path), shown_only=True)
    assert done.args == [str(path), ""]
    write_csv(tmp_path / "want.csv", failed, window.settings, targets=targets)
    assert path.read_bytes() == (tmp_path / "want.csv").read_bytes()
    with path.open(newline="", encoding="utf-8") as stream:
        assert len(list(csv.DictReader(stream))) == len(failed)

    every = tmp_path / "every.csv"
    with qtbot.waitSignal(window.export_finished, timeout=30_000):
        window.export_results(str(every))
    write_csv(tmp_path / "all.csv", results, window.settings, targets=targets)
    assert every.read_bytes() == (tmp_path / "all.csv").read_bytes()


def test_the_shown_rows_are_handed_to_an_export_unread(reopened, qtbot, tmp_path):
    window, results, targets = reopened
    model = window.model
    arranged(qtbot, model, model.sort, COL_TIME, Qt.SortOrder.DescendingOrder)
    arranged(qtbot, model, model.set_filter, RowFilter(outcomes=FAILURES))
    shown = model.shown_snapshot()
    failed = [r for r in results if r.outcome in FAILURES]
    assert len(shown) == len(failed) and not isinstance(shown, list)
    assert [everything(r) for r in (shown[0], shown[-1])] == [
        everything(failed[0]), everything(failed[-1])]
    path = tmp_path / "shown.csv"
    with qtbot.waitSignal(window.exports.finished, timeout=30_000) as done:
        window.exports.start(str(path), shown, window.settings, targets=targets)
    assert done.args == [str(path), ""]
    write_csv(tmp_path / "want.csv", failed, window.settings, targets=targets)
    assert path.read_bytes() == (tmp_path / "want.csv").read_bytes()
    memory = in_memory(results, targets)
    arranged(qtbot, memory, memory.set_filter, RowFilter("beta"))
    assert [r.index for r in memory.shown_snapshot()] == [
        r.index for r in results if "beta" in r.title.lower()]


def test_deleting_the_run_shown_keeps_its_rows_in_the_table(reopened, qtbot):
    window, results, _ = reopened
    model = window.model
    run_id = window.history.run_id
    arranged(qtbot, model, model.set_filter, RowFilter(outcomes=FAILURES))
    shown = [model.index_at(row) for row in range(model.rowCount())]
    qtbot.waitUntil(window.history_actions.delete([run_id]).done, timeout=30_000)
    with RunStore.open(Path(os.environ["FETCHDECK_DATA_DIR"]) / "runs.sqlite3") as store:
        assert store.count(run_id) == 0
    assert model.stored_rows is None
    assert [model.index_at(row) for row in range(model.rowCount())] == shown
    assert [everything(model.result(i)) for i in range(COUNT)] == [
        everything(r) for r in results]


def test_a_page_read_failing_after_another_run_is_shown_is_taken_quietly(qtbot, loop, tmp_path):
    # A stored run's page is being read when another run takes the table (which closes the
    # stored run's file): the read fails, for rows nobody shows now. Its outcome must still be
    # taken: no "Future exception was never retrieved" (the no_loop_errors fixture checks).
    import gc

    from app.core.targets import TargetList

    model = ResultsModel()
    stored = StoredRows(tmp_path / "gone.sqlite3", 1, 3)  # no such file: its reads fail
    model.reset_rows(TargetList.from_lines([f"http://a.example/{n}" for n in range(3)]), stored)
    model._wanted.add(0)
    read = model._read_wanted(stored, loop)
    assert read is not None
    model.reset_rows(TargetList.from_lines(["http://b.example/"]))  # another run, at once
    qtbot.waitUntil(read.done)
    qtbot.waitUntil(lambda: not read._callbacks)  # the model's own callback has run too
    assert read._exception is not None  # it failed (read without marking it taken)
    read = None  # the last reference: collected now, it would log were it untaken
    gc.collect()
    assert model.rowCount() == 1 and model.result(0) is None
