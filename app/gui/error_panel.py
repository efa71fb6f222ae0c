"""The Errors dock: every failure of the run grouped by kind, and every failed redirect-map
check grouped by what failed; what each one means in plain words, its exception chain and
traceback, and what to do next (retry, copy, reproduce with curl, open, find in the table).

Everything a server or an exception says is shown as plain text: tree cells are plain by
nature, the details pane is a ``QPlainTextEdit``, labels are ``Qt.PlainText`` and tooltips are
escaped before Qt could take them for HTML.
"""

from __future__ import annotations

import html
import time
from collections import deque
from collections.abc import Iterable, Iterator
from itertools import islice
from typing import Any

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    QPoint,
    QSize,
    QSortFilterProxyModel,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QAction, QFontDatabase, QHelpEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QApplication,
    QDockWidget,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QPlainTextEdit,
    QSplitter,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolBar,
    QToolTip,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from app.core.curl import curl_command
from app.core.result import Outcome, Result
from app.core.settings import Settings
from app.gui.check_groups import GroupKey, group_from_token, group_info
from app.gui.errors_model import (
    COL_ATTEMPTS,
    COL_KIND,
    COL_MESSAGE,
    COL_STATUS,
    COL_URL,
    FILTER_ROLE,
    KIND_ROLE,
    Entry,
    ErrorsModel,
    group_title,
)
from app.gui.failure_details import failure_details
from app.gui.widgets import browser_failure_text, open_in_browser

__all__ = ["ErrorPanel"]

# A batch is applied in chunks until this much time has gone, then the rest waits for the next
# turn of the event loop, so that 10,000 failures arriving at once never freeze the window.
SLICE_SECONDS = 0.025
CHUNK = 250
FILTER_DELAY_MS = 150
MAX_OPEN_IN_BROWSER = 10
GROUP_PREVIEW_LINES = 200


class ErrorPanel(QDockWidget):
    """The "Errors" dock.

    Feed it with :meth:`update_results` (batches of finished results, any outcome) and
    :meth:`add_internal`; start a new run with :meth:`clear`.

    Retry acts on what is shown: the selected failures, a selected group's failures that pass
    the filter, or (Retry all) every failure that passes it, cancelled rows included. Lines
    that are not URLs are never retried (the same text would fail the same way) and internal
    errors belong to no row.

    Signals:
        retry_requested(list): result indexes to fetch again (never invalid lines).
        row_selected(int): a failure was selected or "Show in table" chosen: its result index.
        notice(str): something the user asked for could not be done (no browser opened).
    """

    retry_requested = Signal(list)
    row_selected = Signal(int)
    notice = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__("Errors", parent)
        self.setObjectName("errors")
        self._settings = Settings()
        self._updating = False
        self._queue: deque[Result] = deque()
        # Rows that were ever sent here as failures (since the last clear): only for those can
        # an ok result change the panel, so the ok results of a fast run skip the queue.
        self._failed_rows: set[int] = set()
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setInterval(0)
        self._drain_timer.timeout.connect(self._drain)

        self.model = ErrorsModel(self)
        self.proxy = QSortFilterProxyModel(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setRecursiveFilteringEnabled(True)
        self.proxy.setFilterRole(FILTER_ROLE)
        self.proxy.setFilterKeyColumn(COL_URL)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)

        self._build_actions()
        self._build_widgets()
        self._connect()
        self._refresh_summary()
        self._update_actions()

    # -- public API ----------------------------------------------------------------------------

    def update_results(self, results: Iterable[Result]) -> None:
        """Take a batch of finished results: failures are listed, results now ok leave."""
        failed = self._failed_rows
        relevant = []
        for result in results:
            if result.outcome is not Outcome.OK or result.check == "fail":
                failed.add(result.index)
                relevant.append(result)
            elif result.index in failed:
                relevant.append(result)
        if relevant:
            self._queue.extend(relevant)
            self._drain()

    def update(self, *args: Any) -> None:
        """``update(results)`` is :meth:`update_results`; ``update()`` repaints, as QWidget's.

        The main window connects its ``results_arrived(list)`` here; without this override the
        connection would reach QWidget.update and drop every batch without a word.
        """
        if len(args) == 1 and isinstance(args[0], list):
            self.update_results(args[0])
        else:
            super().update(*args)

    def add_internal(self, failure: Any) -> None:
        """An error that belongs to no URL (a bug): listed under "Internal error"."""
        self.model.add_internal(failure)

    def clear(self) -> None:
        """Forget every failure: a new run starts. The filter text stays."""
        self._queue.clear()
        self._failed_rows.clear()
        self._drain_timer.stop()
        self._updating = True
        try:
            self.model.clear()
        finally:
            self._updating = False
        self.details.clear()

    def set_settings(self, settings: Settings) -> None:
        """Password masking (URLs, messages, tracebacks) and the options Copy as curl uses."""
        self._settings = settings
        self.model.set_settings(settings)
        self._show_current()

    def settings(self) -> Settings:
        return self._settings

    def pending(self) -> int:
        """Results received but not yet listed (a big batch is applied over several turns)."""
        return len(self._queue)

    def flush(self) -> None:
        """List everything received, now."""
        while self._queue:
            self._apply_chunk()
        self._drain_timer.stop()
        self._show_current()

    def selected_entries(self) -> list[Entry]:
        """The selected failures; a selected group stands for all of its visible failures."""
        return list(self._iter_selected())

    def visible_entries(self) -> list[Entry]:
        """Every failure the filter lets through, in display order."""
        return [entry for row in range(self.proxy.rowCount())
                for entry in self._entries_under(self.proxy.index(row, 0))]

    def select_first_failure(self) -> bool:
        """Make the first failure listed the current one (as a click would); False if none."""
        for row in range(self.proxy.rowCount()):
            group = self.proxy.index(row, 0)
            if self.proxy.rowCount(group):
                self.tree.setCurrentIndex(self.proxy.index(0, 0, group))
                return True
        return False

    def details_text(self) -> str:
        return self.details.toPlainText()

    def summary_text(self) -> str:
        return self.summary.text()

    # -- actions -------------------------------------------------------------------------------

    def retry_selected(self) -> None:
        self._emit_retry(self.selected_entries())

    def retry_all(self) -> None:
        self._emit_retry(self.visible_entries())

    def copy_details(self) -> None:
        text = self._selection_text()
        if text:
            QApplication.clipboard().setText(text)

    def copy_as_curl(self) -> None:
        commands = [curl_command(e.fetchable_url, self._settings)
                    for e in self.selected_entries() if e.fetchable_url]
        if commands:
            QApplication.clipboard().setText("\n".join(commands))

    def open_in_browser(self) -> None:
        failed = open_in_browser(e.fetchable_url for e in self._openable())
        if failed:
            self.notice.emit(browser_failure_text(failed, self.model.masker.url))

    def select_row_failure(self, index: int) -> bool:
        """Show the failure of results row ``index`` (the table's selection), clearing a filter
        that hides it; with no failure for that row, show none. Emits nothing: the table
        already shows that row. Returns whether the row has a failure listed."""
        self.flush()  # a failure still queued for listing must be found
        entry = self.model.entry_for(index) or self.model.check_entry_for(index)
        if entry is None:
            self._updating = True
            try:
                self.tree.selectionModel().clear()
            finally:
                self._updating = False
            self._show_current()
            self._update_actions()
            return False
        proxy_index = self.proxy.mapFromSource(self.model.index_of(entry))
        if not proxy_index.isValid() and self.filter.text():
            self.filter.clear()
            self._apply_filter()
            proxy_index = self.proxy.mapFromSource(self.model.index_of(entry))
        if not proxy_index.isValid():
            return False
        self._updating = True
        try:
            self.tree.expand(proxy_index.parent())
            self.tree.selectionModel().setCurrentIndex(
                proxy_index, QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows)
        finally:
            self._updating = False
        self.tree.scrollTo(proxy_index)
        self._show_current()
        return True

    def show_in_table(self) -> None:
        entry = self.model.entry(self.proxy.mapToSource(self.tree.currentIndex()))
        if entry is not None and entry.row is not None:
            self.row_selected.emit(entry.row)

    # -- construction --------------------------------------------------------------------------

    def _build_actions(self) -> None:
        style = self.style()
        icon = style.standardIcon
        pix = QStyle.StandardPixmap

        def action(text: str, slot: Any, tip: str, pixmap: QStyle.StandardPixmap) -> QAction:
            act = QAction(icon(pixmap), text, self)
            act.setToolTip(tip)
            act.setStatusTip(tip)
            act.triggered.connect(slot)
            return act

        self.retry_action = action(
            "Retry", self.retry_selected,
            "Fetch the selected failures again (a selected group: all of its failures)",
            pix.SP_BrowserReload)
        self.retry_all_action = action(
            "Retry all", self.retry_all, "Fetch every failure listed again",
            pix.SP_MediaSeekForward)
        self.copy_action = action(
            "Copy details", self.copy_details,
            "Copy everything about the selected failures as text (Ctrl+C)",
            pix.SP_FileDialogDetailedView)
        self.copy_action.setShortcut(QKeySequence.StandardKey.Copy)
        self.copy_action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
        self.curl_action = action(
            "Copy as curl", self.copy_as_curl,
            "Copy a curl command that repeats the request, with this run's settings",
            pix.SP_ComputerIcon)
        self.open_action = action(
            "Open in browser", self.open_in_browser,
            f"Open the selected URLs in the web browser (at most {MAX_OPEN_IN_BROWSER})",
            pix.SP_DirLinkIcon)
        self.show_action = action(
            "Show in table", self.show_in_table, "Select this URL's row in the results (Enter)",
            pix.SP_ArrowRight)

    def _build_widgets(self) -> None:
        body = QWidget(self)
        layout = QVBoxLayout(body)
        layout.setContentsMargins(4, 2, 4, 4)
        layout.setSpacing(2)

        top = QHBoxLayout()
        top.setSpacing(6)
        self.summary = QLabel(body)
        self.summary.setContentsMargins(2, 0, 0, 0)
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        font = self.summary.font()
        font.setBold(True)
        self.summary.setFont(font)
        self.toolbar = QToolBar(body)
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        self.toolbar.setIconSize(QSize(size, size))
        self.toolbar.addActions([self.retry_action, self.retry_all_action])
        self.toolbar.addSeparator()
        self.toolbar.addActions([self.copy_action, self.curl_action, self.open_action,
                                 self.show_action])
        self.filter = QLineEdit(body)
        self.filter.setPlaceholderText("Filter by URL, message or kind")
        self.filter.setClearButtonEnabled(True)
        self.filter.setMinimumWidth(220)
        top.addWidget(self.toolbar, 1)
        top.addWidget(self.filter)
        layout.addLayout(top)

        # The summary is the tree's caption; the details pane beside them is full height.
        listing = QWidget(body)
        listing_layout = QVBoxLayout(listing)
        listing_layout.setContentsMargins(0, 0, 0, 0)
        listing_layout.setSpacing(2)
        self.tree = _FailureTree(listing)
        self.tree.setModel(self.proxy)
        self.tree.setMinimumHeight(40)  # small screens: the panel shrinks before the window grows
        listing_layout.addWidget(self.summary)
        listing_layout.addWidget(self.tree, 1)
        self.details = QPlainTextEdit(body)
        self.details.setReadOnly(True)
        self.details.setMinimumHeight(40)
        self.details.setUndoRedoEnabled(False)
        self.details.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.details.setPlaceholderText("Select a failure to see what happened, why, and what "
                                        "to try.")
        self.splitter = QSplitter(Qt.Orientation.Horizontal, body)
        self.splitter.addWidget(listing)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 2)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setSizes([650, 350])  # proportions until the user drags
        self.splitter.setChildrenCollapsible(False)
        layout.addWidget(self.splitter, 1)
        self.setWidget(body)

        self.tree.addAction(self.copy_action)  # Ctrl+C when the tree has focus
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(FILTER_DELAY_MS)

    def _connect(self) -> None:
        self.model.counts_changed.connect(self._refresh_summary)
        self.model.counts_changed.connect(self._update_actions)
        self.proxy.rowsInserted.connect(self._on_rows_inserted)
        self.proxy.layoutChanged.connect(self._span_groups)
        self.proxy.modelReset.connect(self._span_groups)
        self.tree.selectionModel().currentChanged.connect(self._on_current_changed)
        self.tree.selectionModel().selectionChanged.connect(self._update_actions)
        self.tree.activated.connect(self._on_activated)
        self.tree.customContextMenuRequested.connect(self._context_menu)
        self.tree.header().sortIndicatorChanged.connect(self.model.sort)
        self.filter.textChanged.connect(lambda _text: self._filter_timer.start())
        self.filter.returnPressed.connect(self._apply_filter)
        self._filter_timer.timeout.connect(self._apply_filter)

    # -- feeding -------------------------------------------------------------------------------

    def _drain(self) -> None:
        deadline = time.perf_counter() + SLICE_SECONDS
        while self._queue:
            self._apply_chunk()
            if time.perf_counter() >= deadline:
                break
        if self._queue:
            self._drain_timer.start()
        self._show_current()  # the selected failure may have been retried meanwhile

    def _apply_chunk(self) -> None:
        count = min(CHUNK, len(self._queue))
        batch = [self._queue.popleft() for _ in range(count)]
        self._updating = True
        try:
            self.model.update(batch)
        finally:
            self._updating = False

    # -- reacting ------------------------------------------------------------------------------

    def _apply_filter(self) -> None:
        self._filter_timer.stop()
        self.proxy.setFilterFixedString(self.filter.text().strip())
        self._span_groups()
        for row in range(self.proxy.rowCount()):
            self.tree.expand(self.proxy.index(row, 0))
        self._refresh_summary()
        self._update_actions()

    def _on_rows_inserted(self, parent: QModelIndex, first: int, last: int) -> None:
        if parent.isValid():
            return
        for row in range(first, last + 1):
            index = self.proxy.index(row, 0)
            self.tree.setFirstColumnSpanned(row, QModelIndex(), True)
            self.tree.expand(index)

    def _span_groups(self) -> None:
        for row in range(self.proxy.rowCount()):
            self.tree.setFirstColumnSpanned(row, QModelIndex(), True)

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._show_current()
        if self._updating:
            # Qt moved the current row because rows left: the user chose nothing, so the
            # results table must not jump.
            return
        entry = self.model.entry(self.proxy.mapToSource(current))
        if entry is not None and entry.row is not None:
            self.row_selected.emit(entry.row)

    def _on_activated(self, index: QModelIndex) -> None:
        if self.model.group_kind(self.proxy.mapToSource(index)) is not None:
            self.tree.setExpanded(index, not self.tree.isExpanded(index))
        else:
            self.show_in_table()

    def _show_current(self) -> None:
        source = self.proxy.mapToSource(self.tree.currentIndex())
        entry = self.model.entry(source)
        if entry is not None:
            text = failure_details(entry, self.model.masker)
        elif (kind := self.model.group_kind(source)) is not None:
            # Shown again after every batch while selected: a 10,000-line text would stall.
            text = self._group_text(kind, source, limit=GROUP_PREVIEW_LINES)
        else:
            text = ""
        if text != self.details.toPlainText():
            self.details.setPlainText(text)

    def _refresh_summary(self) -> None:
        failures = self.model.failure_count()
        kinds = self.model.kind_count()
        cancelled = self.model.cancelled_count()
        checks = self.model.check_count()
        if not failures and not cancelled:
            text = "No failures"
        else:
            text = (f"{failures:,} {_plural(failures, 'failure')} in {kinds} "
                    f"{_plural(kinds, 'kind')}")
        if checks:  # the status line's words: "12 checks failed"
            text += f", {checks:,} {_plural(checks, 'check')} failed"
        if cancelled:
            text += f", {cancelled:,} cancelled (not counted)"
        if self.proxy.filterRegularExpression().pattern():
            shown = sum(self.proxy.rowCount(self.proxy.index(row, 0))
                        for row in range(self.proxy.rowCount()))
            text += f" \u2014 {shown:,} shown by the filter"
        self.summary.setText(text)

    def _update_actions(self) -> None:
        # Lazy: a selected group of 10,000 is not walked to learn that its first one counts.
        self.retry_action.setEnabled(any(e.retryable for e in self._iter_selected()))
        self.retry_all_action.setEnabled(self.model.rowCount() > 0)
        self.copy_action.setEnabled(bool(self._selected_rows()))
        self.curl_action.setEnabled(any(e.fetchable_url for e in self._iter_selected()))
        self.open_action.setEnabled(any(e.fetchable_url for e in self._iter_selected()))
        current = self.model.entry(self.proxy.mapToSource(self.tree.currentIndex()))
        self.show_action.setEnabled(current is not None and current.row is not None)

    def context_menu(self) -> QMenu:
        """The tree's right-click menu (the toolbar's actions, most specific first)."""
        menu = QMenu(self)
        menu.addActions([self.show_action, self.open_action])
        menu.addSeparator()
        menu.addActions([self.copy_action, self.curl_action])
        menu.addSeparator()
        menu.addActions([self.retry_action, self.retry_all_action])
        menu.aboutToHide.connect(menu.deleteLater)
        return menu

    def _context_menu(self, position: QPoint) -> None:
        self.context_menu().popup(self.tree.viewport().mapToGlobal(position))

    # -- helpers -------------------------------------------------------------------------------

    def _selected_rows(self) -> list[QModelIndex]:
        rows = self.tree.selectionModel().selectedRows(COL_URL)
        current = self.tree.currentIndex()
        if not rows and current.isValid() and self.tree.selectionModel().isSelected(current):
            rows = [current.siblingAtColumn(COL_URL)]
        return sorted(rows, key=lambda i: (i.parent().row(), i.row()))

    def _iter_selected(self) -> Iterator[Entry]:
        seen: set[int] = set()
        for index in self._selected_rows():
            for entry in self._entries_under(index):
                if entry.key not in seen:
                    seen.add(entry.key)
                    yield entry

    def _entries_under(self, proxy_index: QModelIndex) -> Iterator[Entry]:
        """The failure at a proxy index, or a group's visible failures."""
        source = self.proxy.mapToSource(proxy_index)
        entry = self.model.entry(source)
        if entry is not None:
            yield entry
            return
        if self.model.group_kind(source) is None:
            return
        for row in range(self.proxy.rowCount(proxy_index)):
            child = self.model.entry(self.proxy.mapToSource(self.proxy.index(row, 0, proxy_index)))
            if child is not None:
                yield child

    def _openable(self) -> list[Entry]:
        return list(islice((e for e in self._iter_selected() if e.fetchable_url),
                           MAX_OPEN_IN_BROWSER))

    def _emit_retry(self, entries: list[Entry]) -> None:
        rows = sorted({e.row for e in entries if e.retryable and e.row is not None})
        if rows:
            self.retry_requested.emit(rows)

    def _selection_text(self) -> str:
        parts = []
        for index in self._selected_rows():
            source = self.proxy.mapToSource(index)
            entry = self.model.entry(source)
            if entry is not None:
                parts.append(failure_details(entry, self.model.masker))
            elif (kind := self.model.group_kind(source)) is not None:
                parts.append(self._group_text(kind, source, proxy_index=index))
        return ("\n" + "-" * 72 + "\n\n").join(parts)

    def _group_text(self, kind: GroupKey, source: QModelIndex,
                    proxy_index: QModelIndex | None = None, limit: int | None = None) -> str:
        """A group explained, then its visible failures one per line (the first ``limit``)."""
        info = group_info(kind)
        count = self.model.rowCount(source)
        lines = [group_title(kind, count), "", info.explanation, "", f"Hint: {info.hint}", ""]
        if proxy_index is None:
            proxy_index = self.proxy.mapFromSource(source)
        listed = 0
        for entry in islice(self._entries_under(proxy_index), limit):
            lines.append(f"{entry.url}  \u2014  {entry.message}" if entry.row is not None
                         else entry.message)
            listed += 1
        rest = self.proxy.rowCount(proxy_index) - listed
        if rest:
            lines.append(f"\u2026 and {rest:,} more (Copy details copies them all)")
        return "\n".join(lines).rstrip() + "\n"


class _FailureTree(QTreeView):
    """The tree, with tooltips that never render server text as HTML."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setUniformRowHeights(True)  # thousands of rows: no per-row height query
        self.setAlternatingRowColors(True)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setAllColumnsShowFocus(True)
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setItemDelegate(_CellDelegate(self))
        header = self.header()
        header.setStretchLastSection(False)
        header.setSortIndicatorShown(True)
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # table order until clicked
        header.setSectionsClickable(True)
        header.setMinimumSectionSize(36)

    def setModel(self, model: Any) -> None:  # noqa: N802 - Qt's name
        super().setModel(model)
        # Sections exist once there is a model; modes set before are lost.
        header = self.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setSectionResizeMode(COL_MESSAGE, QHeaderView.ResizeMode.Stretch)
        widths = {COL_URL: 300, COL_KIND: 125, COL_STATUS: 48, COL_ATTEMPTS: 66}
        for column, width in widths.items():
            self.setColumnWidth(column, width)

    def viewportEvent(self, event: QEvent) -> bool:  # noqa: N802 - Qt's name
        if event.type() == QEvent.Type.ToolTip and isinstance(event, QHelpEvent):
            index = self.indexAt(event.pos())
            text = _tooltip(index)
            if text:
                QToolTip.showText(event.globalPos(), _escaped(text), self.viewport())
            else:
                QToolTip.hideText()
                event.ignore()
            return True
        return super().viewportEvent(event)


class _CellDelegate(QStyledItemDelegate):
    """URLs elide in the middle (host and last path segment stay), numbers align right."""

    def initStyleOption(self, option: QStyleOptionViewItem,  # noqa: N802 - Qt's name
                        index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        column = index.column()
        if column == COL_URL and index.parent().isValid():
            option.textElideMode = Qt.TextElideMode.ElideMiddle
        elif column in (COL_STATUS, COL_ATTEMPTS):
            option.displayAlignment = (
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)


def _tooltip(index: QModelIndex) -> str:
    if not index.isValid():
        return ""
    if not index.parent().isValid():
        token = index.siblingAtColumn(COL_URL).data(KIND_ROLE)
        if not token:
            return ""
        info = group_info(group_from_token(token))
        return f"{info.explanation}\n\n{info.hint}"
    text = index.data(Qt.ItemDataRole.DisplayRole)
    return "" if text is None else str(text)


def _escaped(text: str) -> str:
    """Tooltips take HTML if the text looks like it; escaped, it is shown as written."""
    return "<qt>" + html.escape(text).replace("\n", "<br>") + "</qt>"


def _plural(count: int, word: str) -> str:
    return word if count == 1 else word + "s"
