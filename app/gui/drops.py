"""Drag and drop onto the window: files dropped become the URL list (one file or several), and
so does text dropped outside the editor (the editor takes text where it falls, as editors do).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QMimeData, QObject, Qt, Signal
from PySide6.QtGui import QDropEvent
from PySide6.QtWidgets import QWidget

__all__ = ["ListDrops", "dropped_files", "dropped_text"]

_TAKES_TEXT = "fetchdeckDropsText"  # widget property: text dropped here becomes the list


def dropped_files(mime: QMimeData) -> list[str]:
    """The local files a drop carries, in the order given; none for web links."""
    if not mime.hasUrls():
        return []
    return [url.toLocalFile() for url in mime.urls() if url.isLocalFile()]


def dropped_text(mime: QMimeData) -> str:
    """The text a drop carries: its plain text, or the web links it carries, one a line."""
    if mime.hasText() and mime.text().strip():
        return mime.text()
    if mime.hasUrls():
        links = [url.toString() for url in mime.urls() if not url.isLocalFile()]
        return "\n".join(links) + ("\n" if links else "")
    return ""


class ListDrops(QObject):
    """An event filter on the widgets that take drops.

    Signals:
        files_dropped(list): the local paths of the files dropped.
        text_dropped(str): text dropped on a widget that takes text (not the editor).
    """

    files_dropped = Signal(list)
    text_dropped = Signal(str)

    def watch(self, widget: QWidget, *, text: bool = True) -> None:
        """Take drops on ``widget``: files always, text only if ``text``, so that a text
        editor keeps its own way with dropped text."""
        widget.setAcceptDrops(True)
        widget.setProperty(_TAKES_TEXT, text)
        widget.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, QDropEvent)  # QDragMoveEvent derives from QDropEvent
            if not self._wanted(watched, event.mimeData()):
                return False
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            return True
        if kind == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            mime = event.mimeData()
            if not self._wanted(watched, mime):
                return False
            event.setDropAction(Qt.DropAction.CopyAction)
            event.accept()
            files = dropped_files(mime)
            if files:
                self.files_dropped.emit(files)
            else:
                self.text_dropped.emit(dropped_text(mime))
            return True
        return False

    @staticmethod
    def _wanted(watched: QObject, mime: QMimeData) -> bool:
        if dropped_files(mime):
            return True
        return bool(watched.property(_TAKES_TEXT)) and bool(dropped_text(mime).strip())
