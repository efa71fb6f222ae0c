"""The results table's view: a QTableView that repaints only rows a change actually shows."""

from __future__ import annotations

from collections.abc import Sequence

from PySide6.QtCore import QModelIndex, QPersistentModelIndex
from PySide6.QtWidgets import QTableView, QWidget

_Index = QModelIndex | QPersistentModelIndex


class ResultsView(QTableView):
    """A QTableView for a model that reports many rows changed at once.

    Qt 6.11's ``QAbstractItemView.dataChanged`` repaints the whole viewport for any change
    spanning more than one cell, even when none of the changed rows is on screen. A run reports
    the rows finished in each tick (50 ms) as one range, usually far below the visible rows, so
    the table was repainted at every tick for nothing: ~15 % of the GUI path's CPU during a
    fast run (docs/benchmarks.md). Here the range is cut to the rows on screen first, and a
    change with nothing on screen repaints nothing.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        # Held: without a Python reference PySide makes a new wrapper for the viewport at each
        # viewport() call, looking up its type by heuristics (~0.3 ms a call in the window).
        self._viewport = self.viewport()

    def setViewport(self, widget: QWidget) -> None:  # noqa: N802 (Qt's name)
        super().setViewport(widget)
        self._viewport = self.viewport()

    def dataChanged(  # noqa: N802 (Qt's name)
        self, top_left: _Index, bottom_right: _Index, roles: Sequence[int] = (),
    ) -> None:
        model = self.model()
        if model is None or not top_left.isValid() or not bottom_right.isValid():
            super().dataChanged(top_left, bottom_right, roles)
            return
        first = self.rowAt(0)
        if first < 0:  # no row at the top: the table is empty or shorter than the viewport
            first = 0
        last = self.rowAt(self._viewport.height() - 1)
        if last < 0:
            last = model.rowCount() - 1
        top = max(top_left.row(), first)
        bottom = min(bottom_right.row(), last)
        if top > bottom:
            return  # nothing on screen changed
        if top == top_left.row() and bottom == bottom_right.row():
            super().dataChanged(top_left, bottom_right, roles)
        else:
            super().dataChanged(model.index(top, top_left.column()),
                                model.index(bottom, bottom_right.column()), roles)
