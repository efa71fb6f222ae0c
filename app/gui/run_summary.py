"""A run at a glance: live charts of the run's outcomes, status codes, response times and rate,
and a per-host table. A click on a bar or a host row asks the window to filter the results
table (:attr:`RunSummary.filter_requested`).

Charts are Qt Charts (PySide6-Addons), not pyqtgraph. Measured on this project's machine kind
(2 cores, CPython 3.11, PySide6 6.11.3, pyqtgraph 0.14.0, numpy 2.4.6), a window of the same
four charts (two bar charts, a 180-bar histogram, a 600-point line), each in a fresh venv:

==========================  =======================================  ========================
                            Qt Charts (PySide6-Addons 6.11.3)        pyqtgraph 0.14 + numpy
==========================  =======================================  ========================
import, after QtWidgets     4-18 ms                                  680-920 ms
download / installed        175 MB wheel / +417 MB site-packages     19 MB / +83 MB
in a PyInstaller bundle     +3.3 MB (libQt6Charts, binding)          ~+40 MB (numpy, pyqtgraph)
update + repaint, 900x900   21-36 ms                                 29-32 ms
bar click                   ``QBarSet.clicked(index)``               map scene pos to a bar
look                        Qt widgets' look, palette-driven         plotting-tool look
==========================  =======================================  ========================

The import time decides it: the summary is imported when first shown, which may be mid-run,
and pyqtgraph's ~0.7 s import there would freeze the window long past the GUI lag target
(max 100 ms). The cost is the Addons wheel (pip installs all of it; the bundle takes only
Qt Charts), whose version must equal PySide6-Essentials' exactly: pip keeps them together
because each Addons release requires its own Essentials version, and pyproject gives both the
same bounds.

Redraws happen a part at a time (a chart, or the table), one part every :data:`STEP_MS`, so
each part is redrawn ~2.5 times a second whatever the tick rate and no step holds the GUI
thread more than a few ms; only while the summary is visible (a hidden dock tab costs one
``RunStats.add`` per tick, nothing more), and only while something changed. A redraw's cost
does not grow with the number of results, only with the number of hosts (the table shows the
:data:`MAX_TABLE_HOSTS` busiest).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QEvent,
    QMargins,
    QModelIndex,
    QPersistentModelIndex,
    QPointF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPalette, QPen
from PySide6.QtWidgets import (
    QAbstractItemView,
    QGridLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.result import Outcome, Result
from app.core.stats import OTHER_HOSTS, HostLive, HostRow, RunStats
from app.gui.colours import outcome_colour, status_class_colour

if TYPE_CHECKING:  # Qt Charts is imported when the summary is first shown
    from PySide6 import QtCharts

__all__ = [
    "COL_DONE", "COL_FAILED", "COL_HOST", "COL_IN_FLIGHT", "COL_MEDIAN", "COL_OK", "COL_P90",
    "COL_THROTTLED", "COL_WAITS", "HostTableModel", "RunSummary",
]

# A redraw is done in steps, one part at a time (each chart, then the table and headline), one
# step every STEP_MS while there is something new: each part is redrawn ~2.5 times a second,
# and no step holds the GUI thread long (one part costs 2-5 ms; all at once cost 20-45 ms,
# over the 16 ms lag target).
STEP_MS = 80
REDRAW_MS = STEP_MS * 5
# The table shows this many hosts, the busiest; sorting by a column sorts those.
MAX_TABLE_HOSTS = 500
PARTS = 4  # charts, each drawn in a step of its own
TABLE_SHARE = 20  # the host table takes at most 1/20 of the GUI thread's time
MAX_STATUS_BARS = 12  # the most frequent codes, shown in code order

_PERCENTILES = ((0.5, "p50", Qt.PenStyle.SolidLine), (0.9, "p90", Qt.PenStyle.DashLine),
                (0.99, "p99", Qt.PenStyle.DotLine))
SHOWN_OUTCOMES = (Outcome.OK, Outcome.HTTP_ERROR, Outcome.FAILED, Outcome.INVALID,
                  Outcome.CANCELLED)
OUTCOME_LABELS = {Outcome.OK: "ok", Outcome.HTTP_ERROR: "http error", Outcome.FAILED: "failed",
                  Outcome.INVALID: "invalid", Outcome.CANCELLED: "cancelled"}

Filter = tuple[str, object]  # ("outcome", "http_error"), ("status", 404), ("host", "a.org")


def format_ms(ms: float | None) -> str:
    if ms is None:
        return ""
    if ms >= 10_000:
        return f"{ms / 1000:.0f} s"
    if ms >= 1000:
        return f"{ms / 1000:.1f} s"
    return f"{ms:.0f} ms" if ms >= 10 else f"{ms:.1f} ms"


# -- the per-host table ------------------------------------------------------------------------

COL_HOST = 0
COL_IN_FLIGHT = 1
COL_DONE = 2
COL_OK = 3
COL_FAILED = 4
COL_THROTTLED = 5
COL_WAITS = 6
COL_MEDIAN = 7
COL_P90 = 8
HOST_HEADERS = {
    COL_HOST: "Host", COL_IN_FLIGHT: "In flight", COL_DONE: "Done", COL_OK: "OK",
    COL_FAILED: "Failed", COL_THROTTLED: "429s", COL_WAITS: "Retry-After",
    COL_MEDIAN: "Median", COL_P90: "p90",
}
_TIME_INDEX = {COL_MEDIAN: 0, COL_P90: 1}
_COUNT_FIELD = {COL_IN_FLIGHT: "in_flight", COL_DONE: "done", COL_OK: "ok",
                COL_FAILED: "failed", COL_THROTTLED: "throttled", COL_WAITS: "retry_after_waits"}
_HOST_TIPS = {
    COL_FAILED: "HTTP errors and failed requests, as the status line counts failures",
    COL_THROTTLED: "429 Too Many Requests answers, retried ones included",
    COL_WAITS: "How many times a Retry-After answer paused this host, and how long the "
               "current pause has left",
}
Times = Callable[[str], "tuple[float | None, ...]"]  # a host's (median, p90) in ms


class HostTableModel(QAbstractTableModel):
    """One row per host, busiest first unless the view sorts by another column.

    Counts come from :meth:`set_rows`; median and p90 times are asked of ``times`` (a host ->
    its median and p90) only for rows a view shows, and kept until the next :meth:`set_rows`.
    """

    HostRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[HostRow] = []
        self._times: Times = lambda host: (None, None)
        self._time_cache: dict[str, tuple[float | None, ...]] = {}
        self._sort: tuple[int, Qt.SortOrder] | None = None  # None: busiest first

    def set_rows(self, rows: Sequence[HostRow], times: Times) -> None:
        """Show these rows (in the order given, unless sorted); keep selection by host."""
        self._times, self._time_cache = times, {}
        rows = self._sorted(list(rows))
        old = [row.host for row in self._rows]
        new = [row.host for row in rows]
        if old == new:
            self._rows = rows
            if rows:
                self.dataChanged.emit(self.index(0, 0),
                                      self.index(len(rows) - 1, len(HOST_HEADERS) - 1))
            return
        if len(new) < len(old) or not set(old) <= set(new):  # hosts went: a new run
            self.beginResetModel()
            self._rows = rows
            self.endResetModel()
            return
        if len(new) > len(old):  # rows come first, in the old order, then move into place
            self.beginInsertRows(QModelIndex(), len(old), len(new) - 1)
            known = set(old)
            self._rows = self._rows + [row for row in rows if row.host not in known]
            self.endInsertRows()
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        hosts = [self._rows[p.row()].host for p in persistent]
        self._rows = rows
        where = {host: i for i, host in enumerate(new)}
        self.changePersistentIndexList(
            persistent, [self.index(where[h], p.column()) for h, p in zip(hosts, persistent,
                                                                             strict=True)])
        self.layoutChanged.emit()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows = []
        self._time_cache = {}
        self.endResetModel()

    def host_at(self, row: int) -> str:
        return self._rows[row].host

    def row_of(self, host: str) -> int | None:
        return next((i for i, row in enumerate(self._rows) if row.host == host), None)

    def time(self, host: str, column: int) -> float | None:
        """The median (COL_MEDIAN) or p90 (COL_P90) time of a host, in ms."""
        times = self._time_cache.get(host)
        if times is None:
            times = self._time_cache[host] = self._times(host)
        return times[_TIME_INDEX[column]]

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        self._sort = (column, order)
        self.layoutAboutToBeChanged.emit()
        persistent = self.persistentIndexList()
        hosts = [self._rows[p.row()].host for p in persistent]
        self._rows = self._sorted(self._rows)
        where = {row.host: i for i, row in enumerate(self._rows)}
        self.changePersistentIndexList(
            persistent, [self.index(where[h], p.column()) for h, p in zip(hosts, persistent,
                                                                             strict=True)])
        self.layoutChanged.emit()

    def _sorted(self, rows: list[HostRow]) -> list[HostRow]:
        if self._sort is None:
            return rows
        column, order = self._sort
        key: Callable[[HostRow], Any]
        if column == COL_HOST:
            key = _host_of
        elif column in _TIME_INDEX:
            key = lambda row: _or_inf(self.time(row.host, column))  # noqa: E731
        else:
            key = _field_getter(_COUNT_FIELD[column])
        return sorted(rows, key=key, reverse=order == Qt.SortOrder.DescendingOrder)

    # -- Qt model interface --------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(HOST_HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal:
            return None
        if role == Qt.ItemDataRole.DisplayRole:
            return HOST_HEADERS.get(section)
        if role == Qt.ItemDataRole.ToolTipRole:
            return _HOST_TIPS.get(section)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if role not in _ROLES or not index.isValid():
            return None  # most of a repaint's questions (font, colours, icon...): answered fast
        row, col = self._rows[index.row()], index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col)
        if role == Qt.ItemDataRole.TextAlignmentRole and col != COL_HOST:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_HOST and row.host == OTHER_HOSTS:
                return "Hosts past the first 10,000 are counted together"
            return row.host if col == COL_HOST else _HOST_TIPS.get(col)
        if role == self.HostRole:
            return row.host
        return None

    def _display(self, row: HostRow, col: int) -> str:
        if col == COL_HOST:
            return row.host
        if col in _TIME_INDEX:
            return format_ms(self.time(row.host, col))
        if col == COL_WAITS and row.paused_for >= 0.5:
            return f"{row.retry_after_waits:,}, waiting {math.ceil(row.paused_for):,} s"
        return f"{getattr(row, _COUNT_FIELD[col]):,}"


_ROLES = frozenset({Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.TextAlignmentRole,
                    Qt.ItemDataRole.ToolTipRole, HostTableModel.HostRole})


def _host_of(row: HostRow) -> str:
    return row.host


def _field_getter(name: str) -> Callable[[HostRow], int]:
    return lambda row: int(getattr(row, name))


def _or_inf(value: float | None) -> float:
    return math.inf if value is None else value


# -- the widget --------------------------------------------------------------------------------


class RunSummary(QWidget):
    """Charts and a per-host table of one run, fed batch by batch (:meth:`add`).

    Signals:
        filter_requested(object): a bar or host was clicked; the filter it stands for, as
            ``("outcome", "http_error")``, ``("status", 404)`` or ``("host", "example.org")``.
    """

    filter_requested = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.stats = RunStats()
        self.redraws = 0  # complete redraws so far (for tests and benchmarks)
        self._drawn: tuple[int, int] | None = None  # (stats object, generation) last drawn
        self._step = 0  # the part the timer draws next: PARTS of the charts, then the table
        self._round: tuple[int, int] | None = None  # what the current round of steps draws
        self._charts: _Charts | None = None
        self._table_drawn = 0.0  # time.perf_counter() of the last table refresh
        self._table_cost = 0.0  # and how long it took, in s
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(STEP_MS)
        self._timer.timeout.connect(self._draw_step)

        self.headline = QLabel("No run yet")
        self.headline.setTextFormat(Qt.TextFormat.PlainText)
        self.headline.setWordWrap(True)
        self.chart_area = QWidget()
        self._grid = QGridLayout(self.chart_area)
        self._grid.setContentsMargins(0, 0, 0, 0)
        self._grid.setSpacing(4)
        self._columns = 0
        self.hosts = HostTableModel(self)
        self.host_table = QTableView()
        self.host_table.setModel(self.hosts)
        self.host_table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.host_table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        # Busiest first; sorting by another column is the model's (a proxy would re-sort
        # thousands of rows in Python at each refresh).
        self.host_table.horizontalHeader().setSortIndicator(COL_DONE,
                                                            Qt.SortOrder.DescendingOrder)
        self.host_table.setSortingEnabled(True)
        self.host_table.verticalHeader().setVisible(False)
        self.host_table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.host_table.horizontalHeader().setSectionResizeMode(
            COL_HOST, QHeaderView.ResizeMode.Stretch)
        self.host_table.setToolTip("Click a host to show only its rows in the results table")
        self.host_table.clicked.connect(self._host_clicked)
        self.host_table.activated.connect(self._host_clicked)
        splitter = QSplitter(Qt.Orientation.Vertical)
        splitter.addWidget(self.chart_area)
        splitter.addWidget(self.host_table)
        splitter.setStretchFactor(0, 3)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([700, 300])  # scaled to the room there is: charts get most of it
        splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.headline)
        layout.addWidget(splitter, 1)

    # -- feeding -------------------------------------------------------------------------------

    def start(self, started: float | None = None) -> None:
        """Summarise a new run from scratch (``started``: its ``time.monotonic()`` start)."""
        self.stats = RunStats(started)
        self.hosts.clear()
        self._drawn = None
        self._schedule()

    def add(self, results: list[Result]) -> None:
        """Count a batch of finished results (connect ``RunController.results_arrived``)."""
        self.stats.add(results)
        self._schedule()

    def watch_hosts(self, live: Mapping[str, HostLive] | None) -> None:
        """Read hosts' in-flight counts and Retry-After pauses from ``live`` at each redraw."""
        self.stats.watch_hosts(live)
        self._schedule()

    def _schedule(self) -> None:
        if not self._timer.isActive() and self.isVisible():
            self._timer.start()

    def _draw_step(self) -> None:
        """Draw the next part; go on while a round is under way or something new came."""
        if not self.isVisible():
            return
        stats = self.stats
        if self._step == 0:
            self._round = (id(stats), stats.generation)
        self._ensure_charts()
        assert self._charts is not None
        if self._step < PARTS:
            self._charts.draw_part(self._step, stats, self.palette())
            self._step += 1
        else:
            # The table walks every host's counts: ~10 ms for a thousand hosts. Redrawn no
            # more than 1/TABLE_SHARE of the time, so many hosts slow the table, not the window.
            if time.perf_counter() - self._table_drawn >= self._table_cost * TABLE_SHARE:
                self._draw_table(stats)
            else:
                self.headline.setText(_headline(stats))
            self._step = 0
            self._drawn = self._round
            self.redraws += 1
        if self._step or self._drawn != (id(stats), stats.generation):
            self._timer.start()

    def showEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().showEvent(event)
        if self._drawn != (id(self.stats), self.stats.generation):
            self.redraw()  # catch up at once with what came while hidden

    def hideEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        self._timer.stop()
        super().hideEvent(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and self._charts is not None:
            self._charts.style(self.palette())
            self._drawn = None
            self._schedule()

    def resizeEvent(self, event: Any) -> None:  # noqa: N802 (Qt's name)
        super().resizeEvent(event)
        self._reflow()

    # -- drawing -------------------------------------------------------------------------------

    def redraw(self) -> None:
        """Draw every chart and the host table now, at once (the timer draws a part a step)."""
        self._ensure_charts()
        assert self._charts is not None
        stats = self.stats
        for part in range(PARTS):
            self._charts.draw_part(part, stats, self.palette())
        self._draw_table(stats)
        self._step = 0
        self._drawn = (id(stats), stats.generation)
        self.redraws += 1

    def _ensure_charts(self) -> None:
        if self._charts is None:
            self._charts = _Charts(self)
            self._reflow()

    def _draw_table(self, stats: RunStats) -> None:
        started = time.perf_counter()
        self.hosts.set_rows(stats.host_rows(limit=MAX_TABLE_HOSTS), stats.host_times)
        self.headline.setText(_headline(stats))
        self._table_drawn = time.perf_counter()
        self._table_cost = self._table_drawn - started

    def _reflow(self) -> None:
        """Charts side by side as width allows: four, two or one a row."""
        if self._charts is None:
            return
        width = self.chart_area.width() or self.width()
        columns = 4 if width >= 1400 else 2 if width >= 620 else 1
        if columns == self._columns:
            return
        self._columns = columns
        for i, view in enumerate(self._charts.views):
            self._grid.removeWidget(view)
            self._grid.addWidget(view, i // columns, i % columns)

    # -- clicks --------------------------------------------------------------------------------

    def _outcome_clicked(self, outcome: Outcome, _index: int) -> None:
        self.filter_requested.emit(("outcome", outcome.value))

    def _status_clicked(self, index: int) -> None:
        if self._charts is not None and 0 <= index < len(self._charts.status_codes):
            self.filter_requested.emit(("status", self._charts.status_codes[index]))

    def _host_clicked(self, index: QModelIndex) -> None:
        if index.isValid():
            host = self.hosts.host_at(index.row())
            if host != OTHER_HOSTS:
                self.filter_requested.emit(("host", host))


def _headline(stats: RunStats) -> str:
    if not stats.total:
        return "No results yet"
    parts = [f"{stats.total:,} results"]
    times = stats.times
    for q, name, _ in _PERCENTILES:
        value = times.percentile(q)
        if value is not None:
            parts.append(f"{name} {format_ms(value)}")
    rate = stats.rate_series()
    if rate:
        parts.append(f"{rate[-1][1]:,.0f} requests/s lately")
    return " · ".join(parts)


class _Charts:
    """The four charts, made when the summary is first shown (Qt Charts is imported then)."""

    def __init__(self, owner: RunSummary) -> None:
        from PySide6 import QtCharts as qc  # ~5-15 ms, once; see the module docstring

        self.qc = qc
        self.status_codes: list[int] = []
        self._status_classes: list[int] = []

        self.outcomes = self._chart("Outcomes")
        self.outcome_series = qc.QHorizontalStackedBarSeries()
        self.outcome_sets: dict[Outcome, QtCharts.QBarSet] = {}
        for outcome in SHOWN_OUTCOMES:
            bar_set = qc.QBarSet(OUTCOME_LABELS[outcome])
            bar_set.append([0.0] * len(SHOWN_OUTCOMES))
            bar_set.clicked.connect(partial(owner._outcome_clicked, outcome))
            self.outcome_sets[outcome] = bar_set
            self.outcome_series.append(bar_set)
        self.outcomes.addSeries(self.outcome_series)
        self.outcome_axis = qc.QBarCategoryAxis()
        self.outcome_axis.append([OUTCOME_LABELS[o] for o in SHOWN_OUTCOMES])
        self.outcome_values = qc.QValueAxis()
        self.outcome_values.setLabelFormat("%d")
        self._attach(self.outcomes, self.outcome_series, self.outcome_values,
                     self.outcome_axis)

        self.status = self._chart("Status codes")
        self.status_series = qc.QStackedBarSeries()
        self.status_series.clicked.connect(lambda index, _set: owner._status_clicked(index))
        self.status.addSeries(self.status_series)
        self.status_axis = qc.QBarCategoryAxis()
        self.status_values = qc.QValueAxis()
        self.status_values.setLabelFormat("%d")
        self._attach(self.status, self.status_series, self.status_axis, self.status_values)

        self.times = self._chart("Response time")
        self.time_line = qc.QLineSeries()
        self.time_area = qc.QAreaSeries(self.time_line)
        self.times.addSeries(self.time_area)
        self.marks: list[QtCharts.QLineSeries] = []
        for _, name, _style in _PERCENTILES:
            mark = qc.QLineSeries()
            mark.setName(name)
            self.marks.append(mark)
            self.times.addSeries(mark)
        self.time_axis = qc.QLogValueAxis()
        self.time_axis.setBase(10)
        self.time_axis.setLabelFormat("%g ms")
        self.time_axis.setMinorTickCount(0)
        self.count_axis = qc.QValueAxis()
        self.count_axis.setLabelFormat("%d")
        self._attach(self.times, self.time_area, self.time_axis, self.count_axis)
        for mark in self.marks:
            mark.attachAxis(self.time_axis)
            mark.attachAxis(self.count_axis)
        self.times.legend().setVisible(True)
        self.times.legend().setMarkerShape(qc.QLegend.MarkerShape.MarkerShapeFromSeries)
        self.times.legend().setAlignment(Qt.AlignmentFlag.AlignTop)
        self.times.legend().markers(self.time_area)[0].setVisible(False)

        self.rate = self._chart("Requests per second")
        self.rate_line = qc.QLineSeries()
        self.rate_area = qc.QAreaSeries(self.rate_line)
        self.rate.addSeries(self.rate_area)
        self.rate_axis = qc.QValueAxis()
        self.rate_axis.setLabelFormat("%d s")
        self.rate_values = qc.QValueAxis()
        self.rate_values.setLabelFormat("%d")
        self._attach(self.rate, self.rate_area, self.rate_axis, self.rate_values)

        self.charts = [self.outcomes, self.status, self.times, self.rate]
        self.views: list[QtCharts.QChartView] = []
        for chart, tip in zip(self.charts, (
                "Click a bar to show only those rows in the results table",
                "Final status of every response, failures included (a body over the size "
                "cap keeps its 200); click a bar to show only rows with that status",
                "How long requests took, on a log scale; p50, p90 and p99 marked",
                "Requests finished per second since the run started"), strict=True):
            view = qc.QChartView(chart)
            view.setRenderHint(QPainter.RenderHint.Antialiasing)
            view.setMinimumSize(260, 190)
            view.setToolTip(tip)
            self.views.append(view)
        self.style(owner.palette())

    def _chart(self, title: str) -> QtCharts.QChart:
        chart = self.qc.QChart()
        chart.setTitle(title)
        chart.legend().setVisible(False)
        chart.setBackgroundRoundness(0)
        chart.setMargins(QMargins(2, 2, 2, 2))
        chart.layout().setContentsMargins(0, 0, 0, 0)
        return chart

    @staticmethod
    def _attach(chart: QtCharts.QChart, series: QtCharts.QAbstractSeries,
                x_axis: QtCharts.QAbstractAxis, y_axis: QtCharts.QAbstractAxis) -> None:
        chart.addAxis(x_axis, Qt.AlignmentFlag.AlignBottom)
        chart.addAxis(y_axis, Qt.AlignmentFlag.AlignLeft)
        series.attachAxis(x_axis)
        series.attachAxis(y_axis)

    # -- look ----------------------------------------------------------------------------------

    def style(self, palette: QPalette) -> None:
        """Colours from the palette, so a dark theme reads as well as a light one."""
        base = palette.color(QPalette.ColorRole.Base)
        text = palette.color(QPalette.ColorRole.Text)
        grid = QColor(text)
        grid.setAlphaF(0.15)
        line = QColor(text)
        line.setAlphaF(0.45)
        title_font = QFont()
        title_font.setBold(True)
        for chart in self.charts:
            chart.setBackgroundBrush(QBrush(base))
            chart.setBackgroundPen(QPen(palette.color(QPalette.ColorRole.Mid)))
            chart.setTitleBrush(QBrush(text))
            chart.setTitleFont(title_font)
            chart.legend().setLabelColor(text)
            for axis in chart.axes():
                axis.setLabelsBrush(QBrush(text))
                axis.setGridLineColor(grid)
                axis.setLinePenColor(line)
                axis.setShadesVisible(False)
                axis.setMinorGridLineColor(grid)
        for outcome, bar_set in self.outcome_sets.items():
            colour = outcome_colour(outcome, palette)
            bar_set.setColor(colour)
            bar_set.setBorderColor(colour)
            bar_set.setLabelColor(text)
        for bar_set in self.status_series.barSets():
            colour = status_class_colour(int(bar_set.label()[0]), palette)
            bar_set.setColor(colour)
            bar_set.setBorderColor(colour)
        accent = palette.color(QPalette.ColorRole.Highlight)
        fill = QColor(accent)
        fill.setAlphaF(0.35)
        for area in (self.time_area, self.rate_area):
            area.setColor(fill)
            area.setBorderColor(accent)
            area.setPen(QPen(accent, 1.5))
        for mark, (_, _, style) in zip(self.marks, _PERCENTILES, strict=True):
            mark.setPen(QPen(text, 1.5, style))
        self._palette = palette

    # -- data ----------------------------------------------------------------------------------

    def draw_part(self, part: int, stats: RunStats, palette: QPalette) -> None:
        """Draw chart number ``part`` (0 to PARTS - 1) from ``stats``."""
        if part == 0:
            self._draw_outcomes(stats)
        elif part == 1:
            self._draw_statuses(stats, palette)
        elif part == 2:
            self._draw_times(stats)
        else:
            self._draw_rate(stats)

    def _draw_outcomes(self, stats: RunStats) -> None:
        counts = stats.outcomes
        top = 0
        for i, outcome in enumerate(SHOWN_OUTCOMES):
            value = counts.get(outcome, 0)
            self.outcome_sets[outcome].replace(i, value)
            top = max(top, value)
        self.outcome_axis.setCategories(
            [f"{OUTCOME_LABELS[o]} {counts.get(o, 0):,}" for o in SHOWN_OUTCOMES])
        _set_top(self.outcome_values, top)

    def _draw_statuses(self, stats: RunStats, palette: QPalette) -> None:
        counts = stats.statuses
        codes = sorted(sorted(counts, key=lambda c: -counts[c])[:MAX_STATUS_BARS])
        classes = sorted({code // 100 for code in codes})
        if codes != self.status_codes or classes != self._status_classes:
            self.status_codes, self._status_classes = codes, classes
            self.status_series.clear()
            for status_class in classes:
                bar_set = self.qc.QBarSet(f"{status_class}xx")
                bar_set.append([0.0] * len(codes))
                colour = status_class_colour(status_class, palette)
                bar_set.setColor(colour)
                bar_set.setBorderColor(colour)
                self.status_series.append(bar_set)
            self.status_axis.setCategories([str(code) for code in codes])
        self.status_axis.setCategories([f"{code}<br>{counts[code]:,}" for code in codes])
        for bar_set, status_class in zip(self.status_series.barSets(), classes, strict=True):
            for i, code in enumerate(codes):
                bar_set.replace(i, counts[code] if code // 100 == status_class else 0)
        _set_top(self.status_values, max((counts[c] for c in codes), default=0))

    def _draw_times(self, stats: RunStats) -> None:
        times = stats.times
        bins = times.bins()
        if not bins:
            self.time_line.clear()
            for mark in self.marks:
                mark.clear()
            return
        points = [QPointF(bins[0][0], 0)]
        top = 0
        for low, high, count in bins:
            points += [QPointF(low, count), QPointF(high, count)]
            top = max(top, count)
        points.append(QPointF(bins[-1][1], 0))
        self.time_line.replace(points)
        ceiling = _set_top(self.count_axis, top)
        for mark, (q, name, _) in zip(self.marks, _PERCENTILES, strict=True):
            value = times.percentile(q)
            assert value is not None
            mark.replace([QPointF(value, 0), QPointF(value, ceiling)])
            mark.setName(f"{name} {format_ms(value)}")
        low = 10 ** math.floor(math.log10(bins[0][0]))
        high = 10 ** math.ceil(math.log10(bins[-1][1]))
        self.time_axis.setRange(low, max(high, low * 10))

    def _draw_rate(self, stats: RunStats) -> None:
        series = stats.rate_series()
        points = [QPointF(0, 0)] + [QPointF(x, y) for x, y in series]
        self.rate_line.replace(points)
        end = series[-1][0] if series else 0
        _set_top(self.rate_axis, max(10.0, end), headroom=1.0)
        _set_top(self.rate_values, max((y for _, y in series), default=0))


def _set_top(axis: QtCharts.QValueAxis, value: float, headroom: float = 1.05) -> float:
    """Range the axis from 0 to a round top above ``value``, a tick every round step (1, 2,
    2.5 or 5 times a power of ten, at most five of them, and always a whole number: every
    axis here counts whole things and labels them "%d", so steps of 0.2 read "0, 0, 0, 0, 1");
    returns the top."""
    value = max(value * headroom, 1.0)
    base = 10 ** math.floor(math.log10(value / 5))
    # Whole steps only: 2.5 ticks read "0, 2, 5, 7, 10, 12" with %d labels.
    step = next(s * base for s in (1, 2, 2.5, 5, 10)
                if s * base >= value / 5 and float(s * base).is_integer())
    top = math.ceil(value / step) * step
    # Fixed ticks while range and step change: a new range under the old step (a run of 1 then
    # of 100,000) would otherwise lay out a label per old step, which took minutes.
    axis.setTickType(axis.TickType.TicksFixed)
    axis.setRange(0, top)
    axis.setTickAnchor(0)
    axis.setTickInterval(step)
    axis.setTickType(axis.TickType.TicksDynamic)
    return float(top)
