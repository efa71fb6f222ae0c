"""The column dialog: a table's first rows, with the columns Fetchdeck would read the URLs, the
expected targets and the expected statuses from, for the user to confirm or change. Opened
when no column could be told to hold URLs, and from the form's Columns… button for any table.
"""

from __future__ import annotations

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

from app.core.imported import TableColumns, TablePreview
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
                 message: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("column_dialog")
        self.setWindowTitle(f"Columns of {name}" if name else "Columns of the table")
        self.preview = preview
        header = preview.header

        intro = plain_label(message or (
            "Fetchdeck reads the URLs from the column below; a redirect map may also say where "
            "each URL must end and the status its first answer must have. Change them if they "
            "are wrong."), "column_intro")
        intro.setWordWrap(True)

        self.table = QTableWidget(len(preview.rows), len(header))
        self.table.setObjectName("column_preview")
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectColumns)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.table.verticalHeader().setVisible(False)  # its numbers are not the file's rows
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 6)
        for row, cells in enumerate(preview.rows):
            for column, value in enumerate(cells[:len(header)]):
                item = QTableWidgetItem(" ".join(value.split()))
                item.setToolTip(value if len(value) > 40 else "")
                self.table.setItem(row, column, item)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeader().setMinimumSectionSize(60)
        for column in range(len(header)):
            self.table.setColumnWidth(column, 180 if len(header) <= 4 else 140)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.setMinimumHeight(180)

        self.url_choice = self._chooser("url_column", with_none=False)
        self.expected_choice = self._chooser("expected_column", with_none=True)
        self.status_choice = self._chooser("status_column", with_none=True)
        detected = preview.columns
        self._select(self.url_choice, detected.url if detected else None)
        self._select(self.expected_choice, detected.expected if detected else None)
        self._select(self.status_choice, detected.expected_status if detected else None)
        choices = QFormLayout()
        choices.addRow("URLs:", self.url_choice)
        choices.addRow("Expected target (where it must end):", self.expected_choice)
        choices.addRow("Expected status (of its first answer):", self.status_choice)

        shown = (f"The first {len(preview.rows):,} rows" if preview.rows else "No rows")
        shown += " under the header row." if preview.has_header else \
            " (the table has no header row: its columns are numbered)."
        self.rows_note = secondary(plain_label(shown, "column_rows_note"))
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
        layout.addWidget(self.table, 1)
        layout.addWidget(self.rows_note)
        layout.addLayout(choices)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.resize(760, 480)

        for chooser in (self.url_choice, self.expected_choice, self.status_choice):
            chooser.currentIndexChanged.connect(self._update)
        self.table.horizontalHeader().sectionClicked.connect(self._header_clicked)
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
                            None if status == NONE else status)

    def choose(self, url: int, expected: int | None = None,
               expected_status: int | None = None) -> None:
        """Set the three choices (what a user does with the three lists)."""
        self._select(self.url_choice, url)
        self._select(self.expected_choice, expected)
        self._select(self.status_choice, expected_status)

    def accept(self) -> None:
        columns = self.columns()
        if columns is None:
            return
        super().accept()
        self.chosen.emit(columns)

    # -- mechanics -----------------------------------------------------------------------------

    def _chooser(self, name: str, *, with_none: bool) -> QComboBox:
        box = QComboBox()
        box.setObjectName(name)
        if with_none:
            box.addItem("(none)", NONE)
        elif self.preview.columns is None:
            box.addItem("(choose a column)", None)
        for index, title in enumerate(self.preview.header):
            box.addItem(f"{title}" if self.preview.has_header else title, index)
        return box

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

    def _update(self) -> None:
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
