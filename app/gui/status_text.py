"""The status bar's one line of text, which changes ten times a second during a run, and what
it says of a run's progress."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

from app.gui.plain import plain_tooltip


class StatusText(QWidget):
    """A line of plain text whose size does not depend on its text.

    ``QLabel.setText`` calls ``updateGeometry()``, and Qt answers each call with a layout of the
    status bar and then, because ``QLayout.activate`` always tells the parent, of the whole main
    window with its docks: ten times a second while a run reports progress. This widget takes
    the width the status bar gives it, so a new text only repaints the line. Text that does not
    fit is elided at its end, and the whole of it is in the tooltip.
    """

    def __init__(self, text: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._text = ""
        self._elided = ""
        self._elided_for: tuple[str, int] | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.setText(text)

    def text(self) -> str:
        return self._text

    def setText(self, text: str) -> None:  # noqa: N802 (QLabel's name)
        if text == self._text:
            return
        self._text = text
        self.setToolTip(plain_tooltip(text) or "")
        self.setAccessibleName(text)
        self.update()

    def sizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        metrics = self.fontMetrics()
        return QSize(metrics.averageCharWidth() * 60, metrics.height())

    def minimumSizeHint(self) -> QSize:  # noqa: N802 (Qt's name)
        metrics = self.fontMetrics()
        return QSize(metrics.averageCharWidth() * 10, metrics.height())

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.FontChange:
            self._elided_for = None  # elide again with the new font
            self.updateGeometry()  # the size hints follow the font, not the text
        super().changeEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        rect = self.contentsRect()
        key = (self._text, rect.width())
        if key != self._elided_for:  # eliding lays the text out: only when text or width change
            self._elided_for = key
            self._elided = self.fontMetrics().elidedText(
                self._text, Qt.TextElideMode.ElideRight, rect.width())
        group = QPalette.ColorGroup.Active if self.isEnabled() else QPalette.ColorGroup.Disabled
        painter = QPainter(self)
        painter.setPen(self.palette().color(group, QPalette.ColorRole.WindowText))
        painter.drawText(rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         self._elided)
