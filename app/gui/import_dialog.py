"""The column dialog: a table's first rows, with the columns Fetchdeck would read the URLs, the
expected targets and the expected statuses from, for the user to confirm or change. Opened
when no column could be told to hold URLs, and from the form's Columns… button for any table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import shiboken6
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFont, QPalette
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHeaderView,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.imported import SourceError, TableColumns, TablePreview
from app.gui.colours import error_colour
from app.gui.widgets import plain_label, secondary

__all__ = ["ColumnDialog"]

NONE = -1  # the "(none)" entry of the expected-answer choosers
_ROLES = ("URLs", "expected target", "expected status")


class ColumnDialog(QDialog):
    """Choose a table's URL column, and optionally where its expected answers are.

    Open it with ``open()`` (``exec()`` would run a nested event loop, which hangs qasync).

    Signals:
        chosen(object): the :class:`TableColumns` accepted; not emitted on Cancel.
    """

    chosen = Signal(object)

    def __init__(self, preview: TablePreview, name: str, parent: QWidget | None = None, *,
                 message: str = "",
                 load_sheet: Callable[[str], Awaitable[TablePreview]] | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("column_dialog")
        self.setWindowTitle(f"Columns of {name}" if name else "Columns of the table")
        self.preview = preview
        self._load_sheet = load_sheet
        self._loading: asyncio.Task[None] | None = None

        intro = plain_label(message or (
            "Fetchdeck reads the URLs from the column below; a redirect map may also say where "
            "each URL must end and the status its first answer must have. Change them if they "
            "are wrong."), "column_intro")
        intro.setWordWrap(True)

        # A spreadsheet with several sheets: which one holds the list.
        self.sheet_choice = QComboBox()
        self.sheet_choice.setObjectName("sheet_choice")
        self.sheet_choice.addItems(list(preview.sheets))
        if preview.sheet is not None:
            self.sheet_choice.setCurrentText(preview.sheet)
        self.sheet_choice.setToolTip("The sheet of the workbook the list is read from")
        sheets = QFormLayout()
        sheets.addRow("Sheet:", self.sheet_choice)
        self.sheet_row = QWidget()
        self.sheet_row.setLayout(sheets)
        sheets.setContentsMargins(0, 0, 0, 0)
        self.sheet_row.setVisible(len(preview.sheets) > 1 and load_sheet is not None)

        self.table = QTableWidget()
        self.table.setObjectName("column_preview")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectColumns)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().setVisible(False)  # its numbers are not the file's rows
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setMinimumSectionSize(60)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(180)

        self.url_choice = self._chooser("url_column")
        self.expected_choice = self._chooser("expected_column")
        self.status_choice = self._chooser("status_column")
        choices = QFormLayout()
        choices.addRow("URLs:", self.url_choice)
        choices.addRow("Expected target (where it must end):", self.expected_choice)
        choices.addRow("Expected status (of its first answer):", self.status_choice)

        self.rows_note = secondary(plain_label("", "column_rows_note"))
        self.problem = plain_label("", "column_problem")
        self.problem.setWordWrap(True)
        palette = self.problem.palette()
        palette.setColor(QPalette.ColorRole.WindowText, error_colour(palette))
        self.problem.setPalette(palette)

        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setText("Use these columns")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)

        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.sheet_row)
        layout.addWidget(self.table, 1)
        layout.addWidget(self.rows_note)
        layout.addLayout(choices)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.resize(760, 480)

        self._show(preview)
        for chooser in (self.url_choice, self.expected_choice, self.status_choice):
            chooser.currentIndexChanged.connect(self._update)
        self.table.horizontalHeader().sectionClicked.connect(self._header_clicked)
        self.sheet_choice.currentTextChanged.connect(self._sheet_chosen)
        self.finished.connect(self._stop_loading)
        self._update()

    # -- public API ----------------------------------------------------------------------------

    def columns(self) -> TableColumns | None:
        """The columns chosen, or None while the choice cannot be used."""
        url = self.url_choice.currentData()
        expected = self.expected_choice.currentData()
        status = self.status_choice.currentData()
        if url is None or url == NONE:
            return None
        picked = [c for c in (url, expected, status) if c != NONE]
        if len(set(picked)) != len(picked):
            return None
        return TableColumns(url, None if expected == NONE else expected,
                            None if status == NONE else status, sheet=self.preview.sheet)

    def choose(self, url: int, expected: int | None = None,
               expected_status: int | None = None) -> None:
        """Set the three choices (what a user does with the three lists)."""
        self._select(self.url_choice, url)
        self._select(self.expected_choice, expected)
        self._select(self.status_choice, expected_status)

    def accept(self) -> None:
        columns = self.columns()
        if columns is None or self.reading:
            return
        super().accept()
        self.chosen.emit(columns)

    # -- mechanics -----------------------------------------------------------------------------

    @staticmethod
    def _chooser(name: str) -> QComboBox:
        box = QComboBox()
        box.setObjectName(name)
        return box

    def _show(self, preview: TablePreview) -> None:
        """Fill the table and the three choosers from ``preview`` (a sheet read anew)."""
        self.preview = preview
        header = preview.header
        self.table.clear()
        self.table.setRowCount(len(preview.rows))
        self.table.setColumnCount(len(header))
        for row, cells in enumerate(preview.rows):
            for column, value in enumerate(cells[:len(header)]):
                item = QTableWidgetItem(" ".join(value.split()))
                item.setToolTip(value if len(value) > 40 else "")
                self.table.setItem(row, column, item)
        for column in range(len(header)):
            self.table.setColumnWidth(column, 180 if len(header) <= 4 else 140)
        detected = preview.columns
        for box, with_none, column in (
                (self.url_choice, False, detected.url if detected else None),
                (self.expected_choice, True, detected.expected if detected else None),
                (self.status_choice, True, detected.expected_status if detected else None)):
            box.blockSignals(True)
            box.clear()
            if with_none:
                box.addItem("(none)", NONE)
            elif detected is None:
                box.addItem("(choose a column)", None)
            for index, title in enumerate(header):
                box.addItem(title, index)
            self._select(box, column)
            box.blockSignals(False)
        count = len(preview.rows)
        shown = (f"The first {count:,} rows" if count > 1 else "The first row" if count
                 else "No rows")
        shown += " under the header row." if preview.has_header else \
            " (the table has no header row: its columns are numbered)."
        self.rows_note.setText(shown)

    def _sheet_chosen(self, sheet: str) -> None:
        if self._load_sheet is None or not sheet:
            return
        self._stop_loading()  # a sheet chosen before the last one was read replaces it
        if sheet == self.preview.sheet:  # back to the sheet shown
            self._update()
            return
        self.problem.setText(f"Reading the sheet {sheet!r}…")
        self.problem.setVisible(True)
        self._loading = asyncio.ensure_future(self._read_sheet(sheet))
        self._loading.add_done_callback(self._sheet_read)
        self._update()  # OK waits for the sheet

    async def _read_sheet(self, sheet: str) -> None:
        assert self._load_sheet is not None
        try:
            preview = await self._load_sheet(sheet)
            if not shiboken6.isValid(self):  # deleted while it read
                return
        except SourceError as exc:
            self._loading = None
            # Back to the sheet still shown, which the choices are of.
            self.sheet_choice.blockSignals(True)
            self.sheet_choice.setCurrentText(self.preview.sheet or "")
            self.sheet_choice.blockSignals(False)
            self._update()
            self.problem.setText(f"The sheet {sheet!r} cannot be read: {exc}")
            self.problem.setVisible(True)
            return
        self._loading = None
        self._show(preview)
        self._update()

    def _sheet_read(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            # Not a file problem (those are said above): a bug, for the exception router.
            asyncio.get_running_loop().call_exception_handler({
                "message": "Reading a sheet for the column dialog failed",
                "exception": task.exception(), "future": task})

    def _stop_loading(self, *_args: object) -> None:
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
        self._loading = None

    @staticmethod
    def _select(box: QComboBox, column: int | None) -> None:
        at = box.findData(NONE if column is None else column)
        if at < 0 and column is None:
            at = 0
        if at >= 0:
            box.setCurrentIndex(at)

    def _header_clicked(self, column: int) -> None:
        # A click on a column's title makes it the URL column: the most common change.
        self._select(self.url_choice, column)

    @property
    def reading(self) -> bool:
        """Another sheet is being read; the choices shown are not yet its."""
        return self._loading is not None and not self._loading.done()

    def _update(self) -> None:
        if self.reading:
            self.ok_button.setEnabled(False)
            return
        roles: dict[int, list[str]] = {}
        for role, box in zip(_ROLES, (self.url_choice, self.expected_choice,
                                      self.status_choice), strict=True):
            column = box.currentData()
            if column is not None and column != NONE:
                roles.setdefault(column, []).append(role)
        for column, title in enumerate(self.preview.header):
            item = QTableWidgetItem(title + ("\n" + " + ".join(roles[column])
                                             if column in roles else "\n"))
            font = QFont(self.table.font())
            font.setBold(column in roles)
            item.setFont(font)
            self.table.setHorizontalHeaderItem(column, item)
        problem = ""
        url = self.url_choice.currentData()
        if url is None:
            problem = "Choose the column that holds the URLs."
        elif any(len(chosen) > 1 for chosen in roles.values()):
            problem = "A column can hold only one of these."
        elif self.preview.rows and not any(_looks_like_url(row[url]) for row in
                                           self.preview.rows if url < len(row)):
            problem = (f"None of the first rows of {self.preview.header[url]!r} look like "
                       "URLs; those rows will be listed as invalid.")
        self.problem.setText(problem)
        self.problem.setVisible(bool(problem))
        self.ok_button.setEnabled(self.columns() is not None)
        if url is not None:
            self.table.scrollTo(self.table.model().index(0, url))


def _looks_like_url(cell: str) -> bool:
    return cell.strip()[:8].lower().startswith(("http://", "https://", "www.", "/"))
