"""The results pane: the filter bar, the table, and what the table offers on a row (its context
menu, Ctrl+C as tab-separated text). It shows and selects; the window decides what a retry or
"show error" does."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from itertools import islice

import shiboken6
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QVBoxLayout,
    QWidget,
)

from app.core.curl import curl_command
from app.core.export import neutralise
from app.core.result import Outcome, Result
from app.core.settings import Settings
from app.gui.results_model import (
    CHECKS_FAILED,
    COL_CHECK,
    COL_CONTENT_TYPE,
    COL_ERROR,
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
    HEADERS,
    REDIRECTED,
    ResultsModel,
    RowFilter,
)
from app.gui.results_view import ResultsView
from app.gui.threads import run_in_thread
from app.gui.widgets import ElideRight, action, browser_failure_text, copy_text, open_in_browser

__all__ = ["MAX_COPIED_ROWS", "OUTCOME_FILTERS", "ResultsPane"]

# Each entry's data: the outcomes shown, or a RowFilter.only token (rows of any outcome).
OUTCOME_FILTERS: tuple[tuple[str, frozenset[Outcome] | str], ...] = (
    ("All rows", frozenset()),
    ("Failures", frozenset({Outcome.HTTP_ERROR, Outcome.FAILED, Outcome.INVALID})),
    ("Checks failed", CHECKS_FAILED),
    ("Redirected", REDIRECTED),
    ("OK", frozenset({Outcome.OK})),
    ("HTTP errors", frozenset({Outcome.HTTP_ERROR})),
    ("Failed", frozenset({Outcome.FAILED})),
    ("Invalid", frozenset({Outcome.INVALID})),
    ("Cancelled", frozenset({Outcome.CANCELLED})),
    ("Queued", frozenset({Outcome.PENDING})),
)
COLUMN_WIDTHS = {COL_LINE: 50, COL_URL: 280, COL_OUTCOME: 80, COL_STATUS: 55, COL_ERROR: 260,
                 COL_TIME: 75, COL_SIZE: 75, COL_REDIRECTS: 70, COL_FINAL_URL: 200,
                 COL_CONTENT_TYPE: 130, COL_TITLE: 180, COL_CHECK: 55, COL_FIRST: 200}
MAX_COPIED_ROWS = 100_000  # more belongs in Export CSV, not the clipboard
MAX_OPENED = 10
# Selected rows from which a run read from its file is asked which may be retried, off the GUI
# thread (reading them a page at a time on it took ~6 s for a million).
ASK_FILE_FROM = 4_096
RETRYABLE = frozenset(Outcome) - {Outcome.INVALID, Outcome.PENDING}
FILTER_DELAY_MS = 200


class ResultsPane(QWidget):
    """Signals:
        current_changed(object): the current row's Result, None for no row or a queued one;
            also when that row's result changes.
        retry_requested(list): input indexes to fetch again.
        show_error_requested(int): show this row's failure in the error panel.
        notice(str): something asked for could not be done, or was only partly done.
    """

    current_changed = Signal(object)
    retry_requested = Signal(list)
    show_error_requested = Signal(int)
    notice = Signal(str)

    def __init__(self, model: ResultsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self._settings = Settings()
        self._pending_selection: int | None = None

        self.table = ResultsView()
        self.table.setObjectName("results")
        self.table.setModel(model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_LINE, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.setMinimumHeight(48)
        self.table.setTabKeyNavigation(False)  # Tab leaves the table; arrows move in it
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        vheader = self.table.verticalHeader()
        vheader.setVisible(False)
        vheader.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vheader.setDefaultSectionSize(self.fontMetrics().height() + 8)
        hheader = self.table.horizontalHeader()
        hheader.setStretchLastSection(True)
        hheader.setSectionsMovable(True)
        for column, width in COLUMN_WIDTHS.items():
            self.table.setColumnWidth(column, width)
        self.place_added_columns()
        self._elide_right = ElideRight(self.table)
        for column in (COL_ERROR, COL_TITLE, COL_CONTENT_TYPE):
            self.table.setItemDelegateForColumn(column, self._elide_right)

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText(
            "Filter rows by URL, error, title or status; status:404, host:example.org")
        self.filter_edit.setClearButtonEnabled(True)
        self.outcome_filter = QComboBox()
        self.outcome_filter.setToolTip("Show only rows with this outcome, whose check failed, "
                                       "or whose first answer was a redirect")
        for label, outcomes in OUTCOME_FILTERS:
            self.outcome_filter.addItem(label, outcomes)
        self.rows_label = QLabel()
        self.rows_label.setTextFormat(Qt.TextFormat.PlainText)
        bar = QHBoxLayout()
        bar.setContentsMargins(0, 0, 0, 0)
        bar.addWidget(self.filter_edit, 1)
        bar.addWidget(self.outcome_filter)
        bar.addWidget(self.rows_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(4)
        layout.addLayout(bar)
        layout.addWidget(self.table, 1)
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)

        self._build_actions()
        self.filter_edit.textChanged.connect(self._filter_timer.start)
        self._filter_timer.timeout.connect(self.apply_filter)
        self.outcome_filter.currentIndexChanged.connect(self.apply_filter)
        self.table.selectionModel().currentRowChanged.connect(self._emit_current)
        self.table.customContextMenuRequested.connect(self._context_menu)
        model.dataChanged.connect(self._on_data_changed)
        model.arranged.connect(self._on_arranged)
        model.modelReset.connect(self._on_arranged)
        model.modelReset.connect(self._show_check_column)

    # -- actions -------------------------------------------------------------------------------

    def _build_actions(self) -> None:
        self.copy_rows_action = action(
            self, "&Copy rows", self.copy_rows, shortcut=QKeySequence.StandardKey.Copy,
            tip="Copy the selected rows as tab-separated text: they paste into a spreadsheet "
                "as columns", name="copy_rows")
        # Only while the table has focus: elsewhere Ctrl+C copies what that widget holds.
        self.copy_rows_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.table.addAction(self.copy_rows_action)
        self.copy_with_header_action = action(
            self, "Copy rows with &header", lambda: self.copy_rows(header=True),
            tip="The same, with the column titles as the first line", name="copy_rows_header")
        self.copy_url_action = action(self, "Copy &URL", self.copy_urls,
                                      tip="Copy the selected rows' URLs, one per line",
                                      name="copy_url")
        self.open_action = action(self, "&Open in browser", self.open_selected,
                                  tip=f"Open the selected URLs in the web browser (at most "
                                      f"{MAX_OPENED})", name="open_in_browser")
        self.curl_action = action(self, "Copy as c&url", self.copy_as_curl,
                                  tip="Copy a curl command that repeats each selected request "
                                      "with this run's settings", name="copy_as_curl")
        self.retry_action = action(self, "&Retry", self.retry_selected,
                                   tip="Fetch the selected rows again", name="retry_rows")
        self.show_error_action = action(self, "Show &error", self.show_error,
                                        tip="Show this row's failure in the Errors panel",
                                        name="show_error")

    def actions_for_menu(self) -> list[QAction]:
        return [self.copy_url_action, self.copy_rows_action, self.copy_with_header_action,
                self.curl_action, self.open_action, self.retry_action, self.show_error_action]

    def context_menu(self) -> QMenu:
        """The table's right-click menu, its actions enabled for the current selection."""
        self._update_actions()
        menu = QMenu(self)
        menu.addActions([self.show_error_action, self.open_action])
        menu.addSeparator()
        menu.addActions([self.copy_url_action, self.copy_rows_action,
                         self.copy_with_header_action, self.curl_action])
        menu.addSeparator()
        menu.addAction(self.retry_action)
        menu.aboutToHide.connect(menu.deleteLater)
        return menu

    def _context_menu(self, position: QPoint) -> None:
        self.context_menu().popup(self.table.viewport().mapToGlobal(position))

    def _update_actions(self) -> None:
        rows = list(islice(self.selected_indexes(), MAX_OPENED * 100))
        results = [self.model.result(i) for i in rows]
        self.copy_rows_action.setEnabled(bool(rows))
        self.copy_with_header_action.setEnabled(bool(rows))
        self.copy_url_action.setEnabled(bool(rows))
        fetchable = any(r is None or r.outcome is not Outcome.INVALID for r in results)
        self.open_action.setEnabled(fetchable)
        self.curl_action.setEnabled(fetchable)
        self.retry_action.setEnabled(any(_retryable(r) for r in results))
        current = self.selected_result()
        self.show_error_action.setEnabled(current is not None and current.failure is not None)

    def set_settings(self, settings: Settings) -> None:
        """Copy as curl uses these options; copied cells follow their formula rule."""
        self._settings = settings

    # -- what the actions do -------------------------------------------------------------------

    def copy_rows(self, header: bool = False) -> None:
        indexes = list(islice(self.selected_indexes(), MAX_COPIED_ROWS + 1))
        if not indexes:
            return
        if len(indexes) > MAX_COPIED_ROWS:
            indexes = indexes[:MAX_COPIED_ROWS]
            self.notice.emit(f"Copied the first {MAX_COPIED_ROWS:,} selected rows; Export CSV "
                             "writes them all.")
        copy_text(self.rows_text(indexes, header=header))

    def rows_text(self, indexes: list[int], *, header: bool = False) -> str:
        """Input rows ``indexes`` as tab-separated lines, the columns as the table shows them
        (its order, hidden ones left out). Tabs and line breaks in a cell become spaces, and a
        cell a spreadsheet would run as a formula is made inert, as in the CSV export."""
        hheader = self.table.horizontalHeader()
        columns = [hheader.logicalIndex(v) for v in range(hheader.count())]
        columns = [c for c in columns if not hheader.isSectionHidden(c)]
        raw = self._settings.csv_raw
        lines = []
        if header:
            lines.append("\t".join(HEADERS[c] for c in columns))
        cell_text = self.model.cell_text
        for index in indexes:
            cells = (_one_line(cell_text(index, column)) for column in columns)
            lines.append("\t".join(cells if raw else map(neutralise, cells)))
        return "\n".join(lines) + "\n"

    def copy_urls(self) -> None:
        urls = [self.model.cell_text(i, COL_URL) for i in self.selected_indexes()]
        if urls:
            copy_text("\n".join(urls) + "\n")

    def copy_as_curl(self) -> None:
        commands = [curl_command(self.model.url(i), self._settings)
                    for i in self._fetchable(self.selected_indexes())]
        if commands:
            copy_text("\n".join(commands) + "\n")

    def open_selected(self) -> None:
        urls = [self.model.url(i) for i in islice(self._fetchable(self.selected_indexes()),
                                                  MAX_OPENED)]
        failed = open_in_browser(urls)
        if failed:
            self.notice.emit(browser_failure_text(failed, self.model.redactor.url))

    def retry_selected(self) -> asyncio.Future[list[int]] | None:
        """Fetch the selected rows again (those with a result that is not an invalid line).
        Many rows of a run read from its file (Ctrl+A on a million) are asked of the file
        off the GUI thread, not read a page at a time on it; the future says which."""
        selected = list(self.selected_indexes())
        model = self.model
        rows = model.stored_rows
        if rows is None or len(selected) < ASK_FILE_FROM:
            indexes = [i for i in selected if _retryable(model.result(i))]
            if indexes:
                self.retry_requested.emit(sorted(indexes))
            return None
        future = run_in_thread(model.indexes_where, RETRYABLE)

        def done(future: asyncio.Future[list[int]]) -> None:
            if future.cancelled():
                return
            exc = future.exception()
            if not shiboken6.isValid(self) or model.stored_rows is not rows:
                return  # another run is shown now: its outcome is taken and let go
            if exc is not None:
                future.get_loop().call_exception_handler({
                    "message": "Reading the selected rows failed", "exception": exc,
                    "future": future})
                return
            wanted = set(selected)
            indexes = [i for i in future.result() if i in wanted]
            if indexes:
                self.retry_requested.emit(indexes)

        future.add_done_callback(done)
        return future

    def show_error(self) -> None:
        result = self.selected_result()
        if result is not None and result.failure is not None:
            self.show_error_requested.emit(result.index)

    # -- selection and filter ------------------------------------------------------------------

    def selected_indexes(self) -> Iterator[int]:
        """Input indexes of the selected rows, top to bottom as shown. Read from the selection's
        ranges, so Ctrl+A on a million rows costs nothing until rows are taken."""
        ranges = sorted((r.top(), r.bottom()) for r in self.table.selectionModel().selection())
        seen_to = -1
        index_at = self.model.index_at
        for top, bottom in ranges:
            for row in range(max(top, seen_to + 1), bottom + 1):
                yield index_at(row)
            seen_to = max(seen_to, bottom)

    def selected_result(self) -> Result | None:
        current = self.table.selectionModel().currentIndex()
        if not current.isValid():
            return None
        return self.model.result(self.model.index_at(current.row()))

    def select_row(self, index: int) -> None:
        """Select input row ``index``, clearing a filter that hides it."""
        if self.model.row_of(index) is None and self.model.row_filter:
            self.clear_filter(quietly=True)
            self._pending_selection = index
            self.apply_filter()
            return
        row = self.model.row_of(index)
        if row is None:
            return
        cell = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            cell, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(cell, QAbstractItemView.ScrollHint.PositionAtCenter)

    def clear_filter(self, *, quietly: bool) -> None:
        """Empty the filter bar; ``quietly``: without filtering again (a new run resets)."""
        widgets = (self.filter_edit, self.outcome_filter)
        for widget in widgets:
            widget.blockSignals(quietly)
        self.filter_edit.clear()
        self.outcome_filter.setCurrentIndex(0)
        for widget in widgets:
            widget.blockSignals(False)

    def reset_for_run(self) -> None:
        """A new run: no filter, input order."""
        self.clear_filter(quietly=True)
        self.table.horizontalHeader().setSortIndicator(COL_LINE, Qt.SortOrder.AscendingOrder)

    def apply_filter(self) -> None:
        self._filter_timer.stop()
        chosen = self.outcome_filter.currentData() or frozenset()
        text = self.filter_edit.text().strip()
        if isinstance(chosen, str):  # "Checks failed", "Redirected": not outcomes
            self.model.set_filter(RowFilter.parse(text)._replace(only=chosen))
        else:
            self.model.set_filter(RowFilter.parse(text, chosen))

    def filter_by(self, what: tuple[str, object]) -> None:
        """Show only the rows a run-summary click stands for: an outcome, a status, a host.
        The filter bar shows it (``status:404``, ``host:example.org``), so it can be undone."""
        kind, value = what
        self.clear_filter(quietly=True)  # a click replaces the filter, as a new question
        if kind == "outcome":
            wanted = frozenset({Outcome(str(value))})
            for i in range(self.outcome_filter.count()):
                if self.outcome_filter.itemData(i) == wanted:
                    self.outcome_filter.setCurrentIndex(i)
                    break
        elif kind in ("status", "host"):
            self.filter_edit.setText(f"{kind}:{value}")
        self.apply_filter()

    def _on_arranged(self) -> None:
        shown, total = self.model.rowCount(), len(self.model)
        self.rows_label.setText(f"{shown:,} of {total:,} rows" if shown != total else "")
        self._emit_current()  # the selected row may have been filtered out
        if self._pending_selection is not None:
            index, self._pending_selection = self._pending_selection, None
            self.select_row(index)

    def place_added_columns(self) -> None:
        """Put the Check column after Outcome and First answer before Status: what a migration
        reviewer reads first, next to what the table always showed. Their numbers come after
        the older columns', so a layout saved before they existed restores them at the end,
        in number order; only then (or at first) are they moved. Check shows only for a list
        that expects answers."""
        header = self.table.horizontalHeader()
        if (header.visualIndex(COL_CHECK), header.visualIndex(COL_FIRST)) == (COL_CHECK,
                                                                              COL_FIRST):
            header.moveSection(header.visualIndex(COL_CHECK),
                               header.visualIndex(COL_OUTCOME) + 1)
            header.moveSection(header.visualIndex(COL_FIRST), header.visualIndex(COL_STATUS))
        self._show_check_column()

    def _show_check_column(self) -> None:
        """The Check column is shown for lists that say what rows must answer; empty for
        every other list, it would only take room."""
        self.table.setColumnHidden(COL_CHECK, not self.model.has_checks)

    def _emit_current(self, *_: object) -> None:
        self.current_changed.emit(self.selected_result())

    def _on_data_changed(self, top: QModelIndex, bottom: QModelIndex, *_: object) -> None:
        # Once per tick of a run, not per result: only the current row's change matters.
        current = self.table.selectionModel().currentIndex()
        if current.isValid() and top.row() <= current.row() <= bottom.row():
            self._emit_current()

    def _fetchable(self, indexes: Iterator[int]) -> Iterator[int]:
        for index in indexes:
            result = self.model.result(index)
            if result is None or result.outcome is not Outcome.INVALID:
                yield index


def _retryable(result: Result | None) -> bool:
    return result is not None and result.outcome not in (Outcome.INVALID, Outcome.PENDING)


def _one_line(text: str) -> str:
    if "\t" in text or "\n" in text or "\r" in text:
        return " ".join(text.replace("\t", " ").splitlines())
    return text
