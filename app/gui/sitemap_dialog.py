"""File → Import sitemap from URL…: a small dialog that asks for the address of a sitemap or a
sitemap index. The reading itself is the form's (its progress shows in the form's summary line,
and Stop cancels it)."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLineEdit, QVBoxLayout, QWidget

from app.core.targets import check_url
from app.gui.colours import error_colour
from app.gui.widgets import plain_label, secondary

__all__ = ["SitemapDialog"]


class SitemapDialog(QDialog):
    """Ask for a sitemap's URL. Open it with ``open()``, never ``exec()`` (qasync).

    Signals:
        url_chosen(str): the URL to read, once it is an http(s) URL; not emitted on Cancel.
    """

    url_chosen = Signal(str)

    def __init__(self, parent: QWidget | None = None, url: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("sitemap_dialog")
        self.setWindowTitle("Import sitemap from URL")
        self.url_edit = QLineEdit(url)
        self.url_edit.setObjectName("sitemap_url")
        self.url_edit.setPlaceholderText("https://example.com/sitemap.xml")
        self.url_edit.setClearButtonEnabled(True)
        self.url_edit.setMinimumWidth(420)
        explain = secondary(plain_label(
            "A sitemap, a sitemap index or a .xml.gz. An index is expanded: each sitemap it "
            "lists is fetched with the current settings (timeouts, certificates, proxy, size "
            "cap), and one that cannot be read becomes a failed row of its own.",
            "sitemap_explain"))
        explain.setWordWrap(True)
        self.problem = plain_label("", "sitemap_problem")
        self.problem.setWordWrap(True)
        palette = self.problem.palette()
        palette.setColor(QPalette.ColorRole.WindowText, error_colour(palette))
        self.problem.setPalette(palette)
        self.problem.setVisible(False)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok
                                        | QDialogButtonBox.StandardButton.Cancel)
        self.import_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.import_button.setText("Import")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(plain_label("Sitemap URL:", selectable=False))
        layout.addWidget(self.url_edit)
        layout.addWidget(explain)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        self.url_edit.textChanged.connect(self._edited)
        self._edited()

    def url(self) -> str:
        return self.url_edit.text().strip()

    def accept(self) -> None:
        url, failure = check_url(self.url())
        if url is None:
            assert failure is not None
            self.problem.setText(f"{failure.message[0].upper()}{failure.message[1:]}")
            self.problem.setVisible(True)
            return
        super().accept()
        self.url_chosen.emit(self.url())

    def _edited(self) -> None:
        self.problem.setVisible(False)
        self.import_button.setEnabled(bool(self.url()))
