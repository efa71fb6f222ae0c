"""Where the window was and how it was laid out, kept between starts in ``window.json`` beside
the settings (``$FETCHDECK_CONFIG_DIR``/``$FETCHDECK_STATE_DIR`` when set), and a first size
that fits the screen.

Qt writes each part (``saveGeometry``, ``saveState``, a splitter's or a header's state) as bytes;
the file keeps them as base64 under names. Reading never raises: a missing, damaged or foreign
file gives the default layout. Whatever was saved, the window is put back inside the screen it
is on now, smaller if it has to be: a window saved on a 4K monitor opens whole on a laptop.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from collections.abc import Mapping
from pathlib import Path

from PySide6.QtCore import QByteArray, QPoint, QRect, QSize
from PySide6.QtGui import QGuiApplication, QScreen
from PySide6.QtWidgets import QWidget

from app.core.config import config_dir

__all__ = ["DEFAULT_SIZE", "STATE_FILE", "fit_rect", "load_state", "save_state", "state_path",
           "place_on_screen"]

STATE_FILE = "window.json"
VERSION = 1
DEFAULT_SIZE = QSize(1280, 800)
# Room left for the title bar and frame the window manager adds around the window.
FRAME_ALLOWANCE = QSize(16, 40)


def state_path() -> Path:
    return config_dir() / STATE_FILE


def load_state(path: Path | None = None) -> dict[str, QByteArray]:
    """The saved parts by name; empty when there is no usable file."""
    path = state_path() if path is None else path
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError):
        return {}
    if not isinstance(document, dict) or document.get("version") != VERSION:
        return {}
    parts = document.get("parts")
    if not isinstance(parts, dict):
        return {}
    state = {}
    for name, text in parts.items():
        if isinstance(name, str) and isinstance(text, str):
            try:
                state[name] = QByteArray(base64.b64decode(text, validate=True))
            except (binascii.Error, ValueError):
                continue
    return state


def save_state(parts: Mapping[str, QByteArray], path: Path | None = None) -> Path:
    """Write ``parts`` atomically; raises OSError when it cannot (the caller decides)."""
    path = state_path() if path is None else path
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps({"version": VERSION, "parts": {
        name: base64.b64encode(bytes(data.data())).decode("ascii")
        for name, data in parts.items()}}, indent=1, sort_keys=True) + "\n"
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def fit_rect(rect: QRect, available: QRect, frame: QSize = FRAME_ALLOWANCE) -> QRect:
    """``rect`` made to fit in ``available`` (frame included): shrunk if too big, then moved
    the least distance that puts it wholly inside."""
    room = QSize(max(1, available.width() - frame.width()),
                 max(1, available.height() - frame.height()))
    size = rect.size().boundedTo(room)
    left = min(max(rect.left(), available.left() + frame.width() // 2),
               available.left() + available.width() - frame.width() // 2 - size.width())
    top = min(max(rect.top(), available.top() + frame.height() - frame.width() // 2),
              available.top() + available.height() - frame.width() // 2 - size.height())
    return QRect(QPoint(left, top), size)


def screen_for(widget: QWidget, point: QPoint | None = None) -> QScreen | None:
    """The screen at ``point`` (the window's centre), else the window's, else the primary."""
    if point is not None:
        screen = QGuiApplication.screenAt(point)
        if screen is not None:
            return screen
    return widget.screen() or QGuiApplication.primaryScreen()


def place_on_screen(window: QWidget, geometry: QByteArray | None = None) -> None:
    """Restore ``geometry`` (from ``saveGeometry``) if given and usable, else take the default
    size centred; either way the window ends up inside the available area of a screen that
    exists now, whatever its size and pixel ratio."""
    restored = bool(geometry) and window.restoreGeometry(geometry)
    maximized = window.isMaximized()
    if not restored:
        window.resize(DEFAULT_SIZE)
    rect = window.geometry()
    screen = screen_for(window, rect.center() if restored else None)
    if screen is None:
        return
    available = screen.availableGeometry()
    if not restored:
        rect.moveCenter(available.center())
    if not maximized:
        window.setGeometry(fit_rect(rect, available))
