"""The run summary: its per-host model without a view, its charts fed by a real run, clicks that
ask for a table filter, and redraws that stay rare and skip a hidden summary."""

from __future__ import annotations

import faulthandler
import os
import subprocess
import sys

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QColor, QPalette

from app.core.result import Outcome, Result
from app.core.settings import Settings
from app.core.stats import OTHER_HOSTS, HostRow
from app.core.targets import TargetList
from app.gui.colours import outcome_colour
from app.gui.results_model import ResultsModel
from app.gui.run_controller import RunController
from app.gui.run_summary import (
    COL_DONE,
    COL_FAILED,
    COL_HOST,
    COL_IN_FLIGHT,
    COL_MEDIAN,
    COL_P90,
    COL_THROTTLED,
    COL_WAITS,
    HostTableModel,
    RunSummary,
)

DISPLAY = Qt.ItemDataRole.DisplayRole


def cell(model, row, col):
    return model.data(model.index(row, col), DISPLAY)


def times(host: str) -> tuple[float, float]:
    median = {"a.example": 12.0, "b.example": 1500.0}.get(host, 0.4)
    return median, median * 2


# -- the host model, without a view ------------------------------------------------------------


def test_host_rows_show_counts_times_and_pauses(qapp):
    model = HostTableModel()
    model.set_rows([
        HostRow("a.example", in_flight=3, done=1200, ok=1100, failed=100, throttled=7,
                retry_after_waits=2, paused_for=11.2),
        HostRow("b.example", done=5, ok=5),
    ], times)
    assert model.rowCount() == 2
    assert [cell(model, 0, c) for c in (COL_HOST, COL_IN_FLIGHT, COL_DONE, COL_FAILED,
                                        COL_THROTTLED)] == ["a.example", "3", "1,200", "100",
                                                            "7"]
    assert cell(model, 0, COL_WAITS) == "2, waiting 12 s"
    assert cell(model, 1, COL_WAITS) == "0"
    assert (cell(model, 0, COL_MEDIAN), cell(model, 0, COL_P90)) == ("12 ms", "24 ms")
    assert (cell(model, 1, COL_MEDIAN), cell(model, 1, COL_P90)) == ("1.5 s", "3.0 s")


def test_host_rows_keep_their_selection_as_hosts_arrive_and_reorder(qapp):
    model = HostTableModel()
    model.set_rows([HostRow("a.example", done=5), HostRow("b.example", done=3)], times)
    selected = model.index(1, COL_HOST)  # b.example, as a view's selection holds it
    from PySide6.QtCore import QPersistentModelIndex

    kept = QPersistentModelIndex(selected)
    inserted = []
    model.rowsInserted.connect(lambda parent, first, last: inserted.append((first, last)))
    model.set_rows([HostRow("c.example", done=9), HostRow("b.example", done=8),
                    HostRow("a.example", done=6)], times)
    assert inserted == [(2, 2)]
    assert [model.host_at(r) for r in range(3)] == ["c.example", "b.example", "a.example"]
    assert kept.row() == 1 and model.host_at(kept.row()) == "b.example"
    model.sort(COL_HOST, Qt.SortOrder.AscendingOrder)
    assert [model.host_at(r) for r in range(3)] == ["a.example", "b.example", "c.example"]
    model.set_rows([HostRow("c.example", done=10), HostRow("a.example", done=6),
                    HostRow("b.example", done=8)], times)
    assert [model.host_at(r) for r in range(3)] == ["a.example", "b.example", "c.example"]
    model.sort(COL_MEDIAN, Qt.SortOrder.DescendingOrder)
    assert [model.host_at(r) for r in range(3)] == ["b.example", "a.example", "c.example"]
    model.set_rows([HostRow("x.example", done=1)], times)  # a new run: fewer hosts
    assert model.rowCount() == 1 and model.row_of("x.example") == 0


# -- the widget fed by a real run --------------------------------------------------------------


@pytest.fixture
def server():
    from tests.servers import ThreadedServer

    with ThreadedServer() as running:
        yield running


@pytest.fixture
def summary(qtbot):
    widget = RunSummary()
    qtbot.addWidget(widget)
    widget.resize(1000, 760)
    return widget


def run_into(qtbot, summary: RunSummary, urls: list[str]) -> RunController:
    targets = TargetList.from_text("\n".join(urls))
    model = ResultsModel()
    controller = RunController(model, Settings(retries=0, concurrency=4))
    controller.started.connect(summary.start)
    controller.results_arrived.connect(summary.add)
    with qtbot.waitSignal(controller.finished, timeout=20_000):
        model.reset_rows(targets)
        controller.start(targets)
    return controller


def test_a_real_run_fills_every_chart_and_the_host_table(qtbot, loop, server, summary):
    summary.show()
    local = server.url("/").replace("127.0.0.1", "localhost")
    urls = ([server.url(f"/ok?n={i}") for i in range(12)]
            + [server.url(f"/status/404?n={i}") for i in range(3)]
            + [server.url("/status/500"), server.url("/slow?seconds=1.2")]
            + [f"{local}ok?n={i}" for i in range(3)])
    run_into(qtbot, summary, urls)
    qtbot.waitUntil(lambda: summary._drawn == (id(summary.stats), summary.stats.generation))
    charts = summary._charts
    assert charts is not None
    assert [charts.outcome_sets[o].at(i) for i, o in enumerate(charts.outcome_sets)] == [
        16, 4, 0, 0, 0]
    assert charts.status_codes == [200, 404, 500]
    assert charts.time_line.count() >= 4  # a step per time bucket used
    assert [mark.count() for mark in charts.marks] == [2, 2, 2]
    assert charts.marks[2].at(0).x() >= 1000  # p99: the 1.2 s page
    assert charts.rate_line.count() >= 2  # from 0 to the rate of the second that passed
    assert summary.hosts.rowCount() == 2
    assert cell(summary.hosts, 0, COL_HOST) == "127.0.0.1"
    assert cell(summary.hosts, 0, COL_DONE) == "17"
    assert "20 results" in summary.headline.text()


def bar_position(charts, chart_view, series, x: float, y: float) -> QPoint:
    scene = chart_view.chart().mapToScene(chart_view.chart().mapToPosition(QPointF(x, y), series))
    return chart_view.mapFromScene(scene)


def test_clicking_bars_and_hosts_asks_for_a_filter(qtbot, qapp, summary):
    summary.show()
    qtbot.waitExposed(summary)
    summary.start(started=0.0)
    summary.add([Result.of(0, 1, "https://a.example/", Outcome.OK, status=200, elapsed_ms=5.0)] * 40
                + [Result.of(1, 2, "https://b.example/x", Outcome.HTTP_ERROR, status=404,
                          elapsed_ms=9.0)] * 30)
    summary.redraw()
    qapp.processEvents()  # the charts lay out their new axes before bars can be found
    charts = summary._charts
    outcomes_view, status_view = charts.views[0], charts.views[1]
    # The http error bar: category 1 of the horizontal outcome chart, 30 long.
    where = bar_position(charts, outcomes_view, charts.outcome_series, 15, 1)
    with qtbot.waitSignal(summary.filter_requested) as asked:
        qtbot.mouseClick(outcomes_view.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert asked.args == [("outcome", "http_error")]
    where = bar_position(charts, status_view, charts.status_series,
                         charts.status_codes.index(404), 15)
    with qtbot.waitSignal(summary.filter_requested) as asked:
        qtbot.mouseClick(status_view.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert asked.args == [("status", 404)]
    row = summary.hosts.row_of("b.example")
    where = summary.host_table.visualRect(summary.hosts.index(row, COL_DONE)).center()
    with qtbot.waitSignal(summary.filter_requested) as asked:
        qtbot.mouseClick(summary.host_table.viewport(), Qt.MouseButton.LeftButton, pos=where)
    assert asked.args == [("host", "b.example")]


def test_the_other_hosts_row_asks_for_no_filter(qtbot, summary):
    summary.show()
    summary.hosts.set_rows([HostRow(OTHER_HOSTS, done=4), HostRow("a.example", done=1)], times)
    asked = []
    summary.filter_requested.connect(asked.append)
    summary._host_clicked(summary.hosts.index(0, COL_HOST))
    summary._host_clicked(summary.hosts.index(1, COL_HOST))
    assert asked == [("host", "a.example")]


# -- redrawing ---------------------------------------------------------------------------------


def batch(n: int, start: int = 0) -> list[Result]:
    return [Result.of(i, i + 1, f"https://a.example/{i}", Outcome.OK, status=200,
                   elapsed_ms=10.0 + i % 50) for i in range(start, start + n)]


def test_a_hidden_summary_counts_but_does_not_redraw_until_shown(qtbot, summary):
    summary.start()
    for k in range(20):
        summary.add(batch(50, k * 50))
    assert summary.stats.total == 1000
    assert summary.redraws == 0 and not summary._timer.isActive()
    assert summary._charts is None  # nothing drawn, and Qt Charts not even built
    summary.show()  # catches up at once
    assert summary.redraws == 1
    assert "1,000 results" in summary.headline.text()
    summary.hide()
    summary.add(batch(50, 1000))
    assert summary.redraws == 1 and not summary._timer.isActive()


def test_a_visible_summary_redraws_once_for_many_batches_a_part_at_a_time(qtbot, summary):
    from app.gui.run_summary import PARTS

    summary.show()
    drawn = summary.redraws
    for k in range(30):  # thirty ticks' worth arriving within one redraw interval
        summary.add(batch(20, k * 20))
    assert summary._timer.isActive()
    qtbot.waitUntil(lambda: 1 <= summary._step <= PARTS)
    # The outcome chart is drawn, the table (the last part) not yet.
    assert summary._charts.outcome_sets[Outcome.OK].at(0) == 600
    assert summary.hosts.rowCount() == 0
    qtbot.waitUntil(lambda: summary.redraws == drawn + 1)
    assert summary.hosts.rowCount() == 1
    assert not summary._timer.isActive()  # nothing new: no further redraw is due
    assert "600 results" in summary.headline.text()


def test_axes_follow_counts_from_one_to_a_hundred_thousand(qtbot, qapp, summary):
    summary.show()
    summary.add(batch(1))
    summary.redraw()
    qapp.processEvents()  # laid out: the axes have labels to redo
    summary.add(batch(1) * 100_000)  # the same result, counted 100,000 times
    # This once laid out a tick label per old step, for minutes, inside Qt with the GIL held:
    # pytest-timeout cannot end that, faulthandler's C watchdog can (it ends the session).
    faulthandler.dump_traceback_later(60, exit=True)
    try:
        summary.redraw()
    finally:
        faulthandler.cancel_dump_traceback_later()
    charts = summary._charts
    assert charts.outcome_values.max() == 125_000
    assert charts.outcome_values.tickInterval() == 25_000
    assert charts.count_axis.max() >= 100_001


def test_charts_take_their_colours_from_the_palette(qtbot, summary):
    summary.show()
    summary.add(batch(10))
    summary.redraw()
    charts = summary._charts
    light_ok = charts.outcome_sets[Outcome.OK].color()
    dark = QPalette(summary.palette())
    dark.setColor(QPalette.ColorRole.Window, QColor("#202020"))
    dark.setColor(QPalette.ColorRole.Base, QColor("#181818"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#e8e8e8"))
    summary.setPalette(dark)
    assert charts.outcomes.backgroundBrush().color() == QColor("#181818")
    assert charts.outcomes.titleBrush().color() == QColor("#e8e8e8")
    assert charts.outcome_sets[Outcome.OK].color() == outcome_colour(Outcome.OK, dark)
    assert charts.outcome_sets[Outcome.OK].color() != light_ok


def test_qt_charts_is_imported_only_when_the_summary_is_first_shown():
    code = (
        "import sys\n"
        "from PySide6.QtWidgets import QApplication\n"
        "app = QApplication([])\n"
        "from app.gui.run_summary import RunSummary\n"
        "summary = RunSummary()\n"
        "print('PySide6.QtCharts' in sys.modules)\n"
        "summary.show()\n"
        "print('PySide6.QtCharts' in sys.modules)\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=60, check=True).stdout.split()
    assert out == ["False", "True"]


@pytest.mark.parametrize(("value", "top", "step"), [
    (0, 1, 1), (1, 2, 1), (2, 3, 1), (4, 5, 1), (5, 6, 2), (11, 15, 5), (30, 40, 10),
    (20_000, 25_000, 5_000), (110, 125, 25),
])
def test_a_count_axis_ticks_whole_numbers(qtbot, value, top, step):
    """Every summary axis counts whole things ("%d"): a small top once ticked every 0.2 and
    read "0, 0, 0, 0, 1" (seen on a reopened demo run's rate chart)."""
    from PySide6 import QtCharts

    from app.gui.run_summary import _set_top

    axis = QtCharts.QValueAxis()
    assert _set_top(axis, value) == top
    assert (axis.min(), axis.max(), axis.tickInterval()) == (0, top, step)
