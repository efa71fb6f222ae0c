"""Small widget helpers every pane uses: plain-text labels and views, named widgets, actions,
the browser, and the clipboard. Server text shown through these is never taken for markup."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, QTimer, QUrl
from PySide6.QtGui import QAction, QDesktopServices, QFont, QKeySequence, QPalette
from PySide6.QtWidgets import (
    QApplication,
    QLabel,
    QMessageBox,
    QPlainTextEdit,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

__all__ = ["ElideRight", "action", "ask", "browser_failure_text", "copy_text", "named",
           "open_in_browser", "plain_label", "secondary", "text_view"]

W = TypeVar("W", bound=QWidget)


def named(widget: W, name: str) -> W:
    """``widget`` with its object name set (tests and style sheets find it by that name)."""
    if name:
        widget.setObjectName(name)
    return widget


def plain_label(text: str = "", name: str = "", *, selectable: bool = True) -> QLabel:
    """A label that shows ``text`` exactly: never as rich text."""
    label = named(QLabel(), name)
    label.setTextFormat(Qt.TextFormat.PlainText)
    if selectable:
        label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setText(text)
    return label


def secondary(label: QLabel) -> QLabel:
    """Explanations: greyed like placeholder text, but still readable (a disabled label is not)."""
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText,
                     palette.color(QPalette.ColorRole.PlaceholderText))
    label.setPalette(palette)
    return label


def text_view(name: str, font: QFont) -> QPlainTextEdit:
    """A read-only plain-text pane (headers, bodies, chains) in ``font``, not wrapped."""
    view = named(QPlainTextEdit(readOnly=True), name)
    view.setFont(font)
    view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
    view.setUndoRedoEnabled(False)
    return view


def action(parent: QWidget, text: str, slot: Callable[..., Any] | None = None, *,
           shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None,
           tip: str = "", name: str = "") -> QAction:
    """A QAction; its tooltip is also what Help → Keyboard shortcuts says of it."""
    act = QAction(text, parent)
    if name:
        act.setObjectName(name)
    if shortcut is not None:
        act.setShortcut(QKeySequence(shortcut))
    if tip:
        act.setToolTip(tip)
    if slot is not None:
        act.triggered.connect(slot)
    return act


def open_in_browser(urls: Iterable[str]) -> list[str]:
    """Open each URL in the desktop's web browser; returns those that could not be opened
    (no browser, or no way to start one) so that the caller can say so."""
    return [url for url in urls if not QDesktopServices.openUrl(QUrl(url))]


def browser_failure_text(urls: list[str], shown: Callable[[str], str] = str) -> str:
    """What to say when :func:`open_in_browser` could not open ``urls``."""
    first = shown(urls[0])
    more = f" (and {len(urls) - 1:,} more)" if len(urls) > 1 else ""
    return (f"No web browser could be opened for {first}{more}. Copy the URL and open it "
            "yourself, or set a default browser for this desktop.")


def ask(parent: QWidget, title: str, text: str, yes: str, no: str,
        on_yes: Callable[[], object]) -> QMessageBox:
    """A question with two answers, opened with ``open()`` (``exec()`` would run a nested loop,
    which hangs qasync); ``on_yes`` runs once the box has closed, if ``yes`` was chosen."""
    box = QMessageBox(QMessageBox.Icon.Question, title, text, QMessageBox.StandardButton.NoButton,
                      parent)
    box.setTextFormat(Qt.TextFormat.PlainText)
    yes_button = box.addButton(yes, QMessageBox.ButtonRole.DestructiveRole)
    no_button = box.addButton(no, QMessageBox.ButtonRole.RejectRole)
    box.setDefaultButton(no_button)
    box.setEscapeButton(no_button)

    def answered() -> None:
        if box.clickedButton() is yes_button:
            QTimer.singleShot(0, on_yes)  # after the box is gone

    box.finished.connect(answered)
    box.finished.connect(box.deleteLater)
    box.open()
    return box


def copy_text(text: str) -> None:
    QApplication.clipboard().setText(text)


class ElideRight(QStyledItemDelegate):
    """Messages read left to right: cut their end, not their middle as URLs are."""

    def initStyleOption(self, option: QStyleOptionViewItem,  # noqa: N802 (Qt's name)
                        index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideRight
