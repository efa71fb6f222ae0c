"""Working from the keyboard: F6 / Shift+F6 move between the window's main areas, a ring shows
which area has focus, and Help → Keyboard shortcuts lists every shortcut the window's actions
have (read from the actions themselves, so the list cannot go stale)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import QEvent, QObject, QRect, Qt
from PySide6.QtGui import QAction, QKeySequence, QPainter, QPaintEvent, QPalette, QPen, QRegion
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QMainWindow,
    QMenu,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

__all__ = ["Area", "AreaCycle", "FocusRing", "ShortcutsDialog", "actions_with_shortcuts",
           "shortcut_rows"]

RING = 2  # px


class Area:
    """One main area: a name for people, and the widget that takes focus in it (``frame``,
    the widget the ring goes around, defaults to it)."""

    def __init__(self, name: str, focus: Callable[[], QWidget], frame: QWidget | None = None):
        self.name = name
        self._focus = focus
        self.frame = frame

    def widget(self) -> QWidget:
        return self._focus()

    def contains(self, widget: QWidget | None) -> bool:
        target = self.widget()
        outer = self.frame or target
        while widget is not None:
            if widget is target or widget is outer:
                return True
            widget = widget.parentWidget()
        return False

    def usable(self) -> bool:
        widget = self.widget()
        return (widget.isVisible() and widget.isEnabled()
                and widget.focusPolicy() != Qt.FocusPolicy.NoFocus)


class AreaCycle:
    """Moves focus to the next or previous main area that is shown, in a fixed order."""

    def __init__(self, areas: Sequence[Area]) -> None:
        self.areas = list(areas)

    def current(self) -> int | None:
        focused = QApplication.focusWidget()
        for position, area in enumerate(self.areas):
            if area.contains(focused):
                return position
        return None

    def move(self, step: int) -> Area | None:
        start = self.current()
        count = len(self.areas)
        position = (-1 if step > 0 else 0) if start is None else start
        for _ in range(count):
            position = (position + step) % count
            area = self.areas[position]
            if area.usable():
                area.widget().setFocus(Qt.FocusReason.TabFocusReason if step > 0
                                       else Qt.FocusReason.BacktabFocusReason)
                return area
        return None

    def next(self) -> Area | None:
        return self.move(1)

    def previous(self) -> Area | None:
        return self.move(-1)


class FocusRing(QWidget):
    """A ring in the palette's highlight colour around the main area that has focus.

    One transparent widget over the window, masked to the ring itself, so it takes no clicks and
    costs the table nothing when it repaints: only a focus change moves it.
    """

    def __init__(self, window: QWidget, areas: Iterable[Area]) -> None:
        super().__init__(window)
        self._window = window
        self._areas = list(areas)
        self.target: QWidget | None = None
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.setAttribute(Qt.WidgetAttribute.WA_NoSystemBackground)
        self.setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.hide()
        app = QApplication.instance()
        assert isinstance(app, QApplication)
        app.focusChanged.connect(self._on_focus)  # PySide disconnects it when this goes

    def _on_focus(self, _old: QWidget | None, new: QWidget | None) -> None:
        target = None
        for area in self._areas:
            if area.contains(new):
                target = area.frame or area.widget()
                break
        if target is not self.target:
            if self.target is not None:
                self.target.removeEventFilter(self)
            self.target = target
            if target is not None:
                target.installEventFilter(self)  # follow it as it moves or resizes
        self._follow()

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() in (QEvent.Type.Move, QEvent.Type.Resize, QEvent.Type.Show,
                            QEvent.Type.Hide):
            self._follow()
        return False

    def _follow(self) -> None:
        target = self.target
        if target is None or not target.isVisible() or target.window() is not self._window:
            self.hide()
            return
        top_left = target.mapTo(self._window, target.rect().topLeft())
        rect = QRect(top_left, target.size()).adjusted(-RING, -RING, RING, RING)
        self.setGeometry(rect)
        inner = self.rect().adjusted(RING, RING, -RING, -RING)
        self.setMask(QRegion(self.rect()).subtracted(QRegion(inner)))
        self.show()
        self.raise_()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 (Qt's name)
        painter = QPainter(self)
        colour = self.palette().color(QPalette.ColorGroup.Active, QPalette.ColorRole.Highlight)
        painter.setPen(QPen(colour, RING))
        painter.drawRect(self.rect().adjusted(RING // 2, RING // 2, -RING // 2, -RING // 2))


def actions_with_shortcuts(window: QMainWindow) -> list[QAction]:
    """Every action of ``window`` with a shortcut: its menus' in menu order, then the panes'."""
    ordered: list[QAction] = []

    def walk(menu: QMenu) -> None:
        for act in menu.actions():
            submenu = act.menu()
            if isinstance(submenu, QMenu):
                walk(submenu)
            elif not act.isSeparator():
                ordered.append(act)

    for act in window.menuBar().actions():
        if isinstance(act.menu(), QMenu):
            walk(act.menu())  # type: ignore[arg-type]
    ordered += window.findChildren(QAction)
    return [act for act in dict.fromkeys(ordered) if act.shortcuts()]


def shortcut_rows(actions: Iterable[QAction]) -> list[tuple[str, str, str]]:
    """(what, keys, where) for every action with a shortcut, in the order given, each once."""
    rows = []
    seen: set[int] = set()
    for act in actions:
        if id(act) in seen or not act.shortcuts():
            continue
        seen.add(id(act))
        keys = ", ".join(s.toString(QKeySequence.SequenceFormat.NativeText)
                         for s in act.shortcuts())
        what = act.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…")
        where = {Qt.ShortcutContext.WidgetShortcut: "in its pane",
                 Qt.ShortcutContext.WidgetWithChildrenShortcut: "in its pane"}.get(
            act.shortcutContext(), "anywhere")
        if act.property("where"):
            where = str(act.property("where"))
        rows.append((what, keys, where))
    return rows


class ShortcutsDialog(QDialog):
    """Help → Keyboard shortcuts: a list made from the actions it is given."""

    def __init__(self, actions: Iterable[QAction], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.list = QTreeWidget(self)
        self.list.setRootIsDecorated(False)
        self.list.setHeaderLabels(["Action", "Keys", "Where"])
        self.list.setAlternatingRowColors(True)
        for what, keys, where in shortcut_rows(actions):
            QTreeWidgetItem(self.list, [what, keys, where])
        header = self.list.header()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(self.list)
        layout.addWidget(buttons)
        self.resize(520, 420)

    def rows(self) -> list[tuple[str, str, str]]:
        return [tuple(self.list.topLevelItem(i).text(c) for c in range(3))  # type: ignore[misc]
                for i in range(self.list.topLevelItemCount())]
