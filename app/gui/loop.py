"""The asyncio loop inside Qt (placeholder: stock qasync until the fast loop lands)."""

from __future__ import annotations

import qasync
from PySide6.QtWidgets import QApplication


def make_loop(app: QApplication, *, already_running: bool = False) -> qasync.QEventLoop:
    return qasync.QEventLoop(app, already_running=already_running)
