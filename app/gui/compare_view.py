"""What changed between two runs: one row per line whose outcome, status, final URL, redirect
count, title or error kind changed, or that is in one run only, with counts per kind of change.
Export writes them all as CSV (core's ``write_changes_csv``); the window does the writing."""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHeaderView,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from app.core.compare import COMPARED, Change, ChangeKind
from app.core.history import Comparison
from app.core.redact import MASKING, Redactor
from app.gui.widgets import ElideRight, plain_label

__all__ = ["COL_AFTER", "COL_BEFORE", "COL_CHANGE", "COL_FIELDS", "COL_LINES", "COL_URL",
           "ChangesModel", "CompareDialog", "FIELD_NAMES", "counts_text"]

COL_CHANGE = 0
COL_URL = 1
COL_LINES = 2
COL_FIELDS = 3
COL_BEFORE = 4
COL_AFTER = 5
HEADERS = {COL_CHANGE: "Change", COL_URL: "URL", COL_LINES: "Lines", COL_FIELDS: "Changed",
           COL_BEFORE: "Before", COL_AFTER: "After"}
FIELD_NAMES = {"outcome": "outcome", "status": "status", "final_url": "final URL",
               "redirects": "redirects", "title": "title", "error_kind": "error kind"}


def counts_text(comparison: Comparison) -> str:
    """``Run 3 → run 5: 120 lines in both, 7 changed: 3 status, 2 title; 1 only in run 3``."""
    counts = comparison.counts
    a, b = comparison.run_a, comparison.run_b
    fields = [f"{counts[name]:,} {FIELD_NAMES[name]}" for name in COMPARED if counts.get(name)]
    only = [f"{counts[key]:,} only in run {run}"
            for key, run in (("only_a", a), ("only_b", b)) if counts.get(key)]
    text = f"Run {a} → run {b}: {comparison.compared:,} lines in both"
    if not comparison.changed:
        return text + ", nothing changed"
    text += f"; {comparison.changed:,} changed"
    if fields or only:
        text += ": " + ", ".join(fields + only)
    if not comparison.complete:
        text += f" (the first {len(comparison.changes):,} are listed; Export writes them all)"
    return text


class ChangesModel(QAbstractTableModel):
    """One row per :class:`Change`; URLs masked by the settings' Redactor."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._changes: list[Change] = []
        self._run_a = self._run_b = 0
        self.redactor: Redactor = MASKING

    def set_comparison(self, comparison: Comparison) -> None:
        self.beginResetModel()
        # In list order (the comparison reads them in URL order).
        self._changes = sorted(comparison.changes, key=_place)
        self._run_a, self._run_b = comparison.run_a, comparison.run_b
        self.endResetModel()

    def change(self, row: int) -> Change:
        return self._changes[row]

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(self._changes)

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
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.ToolTipRole):
            return self.text(index.row(), index.column())
        return None

    def text(self, row: int, column: int) -> str:
        change = self._changes[row]
        if column == COL_CHANGE:
            if change.kind is ChangeKind.ONLY_A:
                return f"only in run {self._run_a}"
            if change.kind is ChangeKind.ONLY_B:
                return f"only in run {self._run_b}"
            return "changed"
        if column == COL_URL:
            return self.redactor.url(change.url)
        if column == COL_LINES:
            a, b = change.line_a, change.line_b
            if a is not None and b is not None:
                return str(a) if a == b else f"{a} → {b}"
            return str(a if a is not None else b)
        if column == COL_FIELDS:
            return ", ".join(FIELD_NAMES[name] for name in change.fields)
        if column in (COL_BEFORE, COL_AFTER):
            return self._side(change, before=column == COL_BEFORE)
        return ""

    def _side(self, change: Change, *, before: bool) -> str:
        snapshot = change.before if before else change.after
        if snapshot is None:
            return "—"
        names = change.fields or ("outcome", "status", "error_kind")
        parts = []
        for name in names:
            value = getattr(snapshot, name)
            if value in (None, ""):
                value = "none"
            elif name == "final_url":
                value = self.redactor.url(str(value))
            parts.append(f"{FIELD_NAMES[name]} {value}" if len(names) > 1 or not change.fields
                         else str(value))
        return "; ".join(parts)


def _place(change: Change) -> tuple[int, int]:
    return (change.line_a if change.line_a is not None else change.line_b or 0,
            0 if change.line_a is not None else 1)


class CompareDialog(QDialog):
    """Signals:
        export_requested(str): write every change of this comparison as CSV to this path.
    """

    export_requested = Signal(str)

    def __init__(self, comparison: Comparison, redactor: Redactor,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.comparison = comparison
        self.setObjectName("compare_runs")
        self.setWindowTitle(f"Compare run {comparison.run_a} with run {comparison.run_b}")
        self.resize(1100, 480)
        self.model = ChangesModel(self)
        self.model.redactor = redactor
        self.model.set_comparison(comparison)
        self.summary = plain_label(counts_text(comparison), "compare_summary")
        self.summary.setWordWrap(True)
        self.table = QTableView()
        self.table.setObjectName("changes")
        self.table.setModel(self.model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        for column, width in ((COL_CHANGE, 100), (COL_URL, 260), (COL_LINES, 60),
                              (COL_FIELDS, 190), (COL_BEFORE, 230)):
            self.table.setColumnWidth(column, width)
        self._elide_right = ElideRight(self.table)  # words read left to right: cut their end
        for column in (COL_CHANGE, COL_FIELDS, COL_BEFORE, COL_AFTER):
            self.table.setItemDelegateForColumn(column, self._elide_right)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close)
        self.export_button = self.buttons.addButton("&Export CSV…",
                                                    QDialogButtonBox.ButtonRole.ActionRole)
        self.export_button.setEnabled(comparison.changed > 0)
        self.export_button.clicked.connect(self.choose_export_path)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.buttons)

    def choose_export_path(self) -> QFileDialog:
        dialog = QFileDialog(self, "Export the changes as CSV")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")
        dialog.setNameFilters(["CSV files (*.csv)", "All files (*)"])
        dialog.selectFile(f"changes-run{self.comparison.run_a}-run{self.comparison.run_b}-"
                          f"{time.strftime('%Y%m%d-%H%M%S')}.csv")
        dialog.fileSelected.connect(self.export_requested)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog
