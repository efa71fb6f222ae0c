"""File → Open run…: the runs in the history, newest first, to open, compare or delete.

The dialog shows and asks; what opening, comparing or deleting does is the window's
(:mod:`app.gui.history_actions`). Its table is :class:`RunsModel`, one row per run.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.store import Ended, RunInfo
from app.core.tally import format_duration
from app.gui.widgets import ElideRight, plain_label, secondary

__all__ = ["COL_ENDED", "COL_FAILED", "COL_ID", "COL_OK", "COL_SOURCE", "COL_STARTED",
           "COL_URLS", "HEADERS", "OpenRunDialog", "RunsModel", "ended_text"]

COL_ID = 0
COL_STARTED = 1
COL_SOURCE = 2
COL_URLS = 3
COL_OK = 4
COL_FAILED = 5
COL_ENDED = 6
HEADERS = {COL_ID: "Run", COL_STARTED: "Started", COL_SOURCE: "Source", COL_URLS: "URLs",
           COL_OK: "OK", COL_FAILED: "Failed", COL_ENDED: "How it ended"}
_NUMBERS = frozenset({COL_ID, COL_URLS, COL_OK, COL_FAILED})


def ended_text(info: RunInfo) -> str:
    """How a run ended, in words: ``finished in 12 s``, ``cancelled (30 unfinished)``."""
    unfinished = max(0, info.total - info.done) + info.cancelled
    if info.ended is Ended.RUNNING:
        return "running (in another Fetchdeck)"
    took = "" if info.ended_at is None else format_duration(
        (info.ended_at - info.started).total_seconds())
    if info.ended is Ended.FINISHED and not unfinished:
        return f"finished in {took}" if took else "finished"
    return f"{info.ended.value} ({unfinished:,} unfinished)"


class RunsModel(QAbstractTableModel):
    """The history's runs, newest first."""

    RunRole = Qt.ItemDataRole.UserRole + 1

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._runs: list[RunInfo] = []

    def set_runs(self, runs: list[RunInfo]) -> None:
        self.beginResetModel()
        self._runs = sorted(runs, key=lambda info: info.id, reverse=True)
        self.endResetModel()

    def run_at(self, row: int) -> RunInfo:
        return self._runs[row]

    def row_of(self, run_id: int) -> int | None:
        return next((row for row, info in enumerate(self._runs) if info.id == run_id), None)

    def runs(self) -> list[RunInfo]:
        return list(self._runs)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS.get(section)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        info = self._runs[index.row()]
        column = index.column()
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.text(info, column)
        if role == Qt.ItemDataRole.TextAlignmentRole and column in _NUMBERS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == self.RunRole:
            return info
        return None

    @staticmethod
    def text(info: RunInfo, column: int) -> str:
        if column == COL_ID:
            return str(info.id)
        if column == COL_STARTED:
            return info.started.astimezone().strftime("%Y-%m-%d %H:%M")
        if column == COL_SOURCE:
            return info.source
        if column == COL_URLS:
            return f"{info.total:,}"
        if column == COL_OK:
            return f"{info.ok:,}"
        if column == COL_FAILED:
            return f"{info.http_error + info.failed + info.invalid:,}"
        if column == COL_ENDED:
            return ended_text(info)
        return ""


class OpenRunDialog(QDialog):
    """Signals:
        open_requested(int): open this run in the window.
        compare_requested(int, int): compare run A (older) with run B.
        compare_previous_requested(int): compare this run with the previous run of its list.
        delete_requested(list): delete these runs (the window asks first).
    """

    open_requested = Signal(int)
    compare_requested = Signal(int, int)
    compare_previous_requested = Signal(int)
    delete_requested = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Open run")
        self.setObjectName("open_run")
        self.resize(860, 420)
        self.model = RunsModel(self)
        self.table = QTableView()
        self.table.setObjectName("runs")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.table.horizontalHeader()
        for column, width in ((COL_ID, 50), (COL_STARTED, 130), (COL_SOURCE, 230),
                              (COL_URLS, 75), (COL_OK, 75), (COL_FAILED, 60)):
            self.table.setColumnWidth(column, width)
        self._elide_right = ElideRight(self.table)
        self.table.setItemDelegateForColumn(COL_ENDED, self._elide_right)
        header.setStretchLastSection(True)
        self.status = secondary(plain_label("", "runs_status"))

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.open_button = self._button("&Open", "Show this run's table, errors and details "
                                        "as they were; retries fetch into it")
        self.compare_button = self._button("&Compare", "What changed between the two selected "
                                           "runs")
        self.previous_button = self._button("Compare with &previous",
                                            "What changed since the previous run of the same "
                                            "list (the same source)")
        self.delete_button = self._button("&Delete…", "Remove the selected runs and all "
                                          "they stored from the history")
        self.open_button.setDefault(True)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)

        self.buttons.rejected.connect(self.reject)
        self.open_button.clicked.connect(self._open)
        self.compare_button.clicked.connect(self._compare)
        self.previous_button.clicked.connect(self._compare_previous)
        self.delete_button.clicked.connect(self._delete)
        self.table.doubleClicked.connect(self._open)
        self.table.selectionModel().selectionChanged.connect(self._update_buttons)
        self.model.modelReset.connect(self._update_buttons)
        self._update_buttons()

    def _button(self, text: str, tip: str) -> QPushButton:
        button = self.buttons.addButton(text, QDialogButtonBox.ButtonRole.ActionRole)
        button.setToolTip(tip)
        return button

    def set_runs(self, runs: list[RunInfo], where: str = "") -> None:
        """Show ``runs``; ``where`` names the history's file."""
        self.model.set_runs(runs)
        count = len(runs)
        self.status.setText(
            (f"{count:,} run{'s' if count != 1 else ''}" if count else "No run recorded yet")
            + (f" in {where}" if where else ""))
        if count:
            self.select_runs([self.model.run_at(0).id])

    def select_runs(self, run_ids: list[int]) -> None:
        selection = self.table.selectionModel()
        selection.clearSelection()
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        for run_id in run_ids:
            row = self.model.row_of(run_id)
            if row is not None:
                selection.select(self.model.index(row, 0), flags)
                selection.setCurrentIndex(self.model.index(row, 0), flags)

    def selected_runs(self) -> list[RunInfo]:
        rows = sorted({index.row() for index in self.table.selectionModel().selectedRows()})
        return [self.model.run_at(row) for row in rows]

    def _update_buttons(self) -> None:
        selected = self.selected_runs()
        runs = self.model.runs()
        self.open_button.setEnabled(len(selected) == 1)
        self.compare_button.setEnabled(len(selected) == 2)
        self.previous_button.setEnabled(len(selected) == 1 and any(
            info.source == selected[0].source and info.id < selected[0].id for info in runs))
        self.delete_button.setEnabled(bool(selected) and all(
            info.ended is not Ended.RUNNING for info in selected))

    def _open(self) -> None:
        selected = self.selected_runs()
        if len(selected) == 1:
            self.open_requested.emit(selected[0].id)
            self.accept()

    def _compare(self) -> None:
        selected = self.selected_runs()
        if len(selected) == 2:
            older, newer = sorted(info.id for info in selected)
            self.compare_requested.emit(older, newer)

    def _compare_previous(self) -> None:
        selected = self.selected_runs()
        if len(selected) == 1:
            self.compare_previous_requested.emit(selected[0].id)

    def _delete(self) -> None:
        selected = self.selected_runs()
        if selected:
            self.delete_requested.emit([info.id for info in selected])
