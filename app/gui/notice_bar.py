"""The notice bar: messages about the app itself (not about a URL), shown above everything until
dismissed, in colours that read on a light or a dark palette."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QWidget

from app.gui.colours import notice_colours

__all__ = ["NoticeBar"]

SHOWN = 5  # the most recent notices shown at once


class NoticeBar(QWidget):
    """Hidden until :meth:`show_notice`; Dismiss hides it and forgets what it said."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("notice")
        self.notices: list[str] = []
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.dismiss_button = QPushButton("Dismiss", self)
        self.dismiss_button.clicked.connect(self.dismiss)
        # What an offer (show_offer) proposes: hidden otherwise.
        self.offer_button = QPushButton(self)
        self.offer_button.setObjectName("notice_offer")
        self.offer_button.setVisible(False)
        self.offer_button.clicked.connect(self._take_offer)
        self._offer: Callable[[], object] | None = None
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 4, 10, 5)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.offer_button, 0, Qt.AlignmentFlag.AlignTop)
        layout.addWidget(self.dismiss_button, 0, Qt.AlignmentFlag.AlignTop)
        self.setAutoFillBackground(True)
        self._apply_colours()
        self.setVisible(False)

    def show_notice(self, text: str) -> None:
        self.notices.append(text)
        del self.notices[:-50]
        self.label.setText("\n".join(self.notices[-SHOWN:]))
        self.setVisible(True)

    def show_offer(self, text: str, button: str, accept: Callable[[], object]) -> None:
        """A notice with a button that does something about it (it goes once pressed)."""
        self._offer = accept
        self.offer_button.setText(button)
        self.offer_button.setVisible(True)
        self.show_notice(text)

    def text(self) -> str:
        return self.label.text()

    def dismiss(self) -> None:
        self.notices.clear()
        self.label.clear()
        self._offer = None
        self.offer_button.setVisible(False)
        self.setVisible(False)

    def _take_offer(self) -> None:
        accept = self._offer
        self.dismiss()
        if accept is not None:
            accept()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange and not self._applying:
            self._apply_colours()

    _applying = False

    def _apply_colours(self) -> None:
        # From the palette the window inherits, not a fixed style sheet: pale yellow with dark
        # text on a light theme, dark amber with light text on a dark one.
        self._applying = True
        try:
            parent = self.parentWidget()
            palette = QPalette(parent.palette() if parent is not None else self.palette())
            colours = notice_colours(palette)
            palette.setColor(QPalette.ColorRole.Window, colours.background)
            palette.setColor(QPalette.ColorRole.WindowText, colours.text)
            self.setPalette(palette)
            self.label.setPalette(palette)
            self._border = colours.border
        finally:
            self._applying = False

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        super().paintEvent(event)
        painter = QPainter(self)
        painter.setPen(QPen(self._border, 1))
        painter.drawLine(0, self.height() - 1, self.width(), self.height() - 1)
