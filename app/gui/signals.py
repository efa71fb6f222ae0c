"""SIGINT and SIGTERM in the window: a cancel, never a ``KeyboardInterrupt`` in a random slot.

Python runs a signal handler only between bytecodes; while Qt's C++ event loop waits, a signal
would sit unhandled (and Ctrl+C used to land as a ``KeyboardInterrupt`` inside a Qt slot, the
loop or aiohttp). The handler here only records the signal; ``signal.set_wakeup_fd`` writes a
byte to a socket pair that a ``QSocketNotifier`` watches, so Qt wakes, Python runs the handler,
and the callback is scheduled on the asyncio loop like any other event.
"""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable

from PySide6.QtCore import QObject, QSocketNotifier

__all__ = ["SignalCancel"]

HANDLED = (signal.SIGINT, signal.SIGTERM)


class SignalCancel(QObject):
    """While installed, SIGINT and SIGTERM call ``on_signal(signum)`` on the GUI thread."""

    def __init__(self, on_signal: Callable[[int], None]) -> None:
        super().__init__()
        self._on_signal = on_signal
        self._pending: list[int] = []
        self._reader, self._writer = socket.socketpair()
        for sock in (self._reader, self._writer):
            sock.setblocking(False)
        self._notifier = QSocketNotifier(self._reader.fileno(), QSocketNotifier.Type.Read, self)
        self._notifier.activated.connect(self._drain)
        self._previous: dict[int, object] = {}
        self._old_wakeup = -1
        self.received: list[int] = []

    def install(self) -> None:
        self._old_wakeup = signal.set_wakeup_fd(self._writer.fileno(), warn_on_full_buffer=False)
        for signum in HANDLED:
            self._previous[signum] = signal.signal(signum, self._handle)

    def uninstall(self) -> None:
        for signum, handler in self._previous.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._previous.clear()
        signal.set_wakeup_fd(self._old_wakeup)
        self._notifier.setEnabled(False)
        self._reader.close()
        self._writer.close()

    def _handle(self, signum: int, frame: object) -> None:
        # Runs between two bytecodes of whatever Python code was running: only note it.
        self._pending.append(signum)

    def _drain(self) -> None:
        try:
            while self._reader.recv(512):
                pass
        except (BlockingIOError, InterruptedError):
            pass
        pending, self._pending = self._pending, []
        for signum in pending:
            self.received.append(signum)
            self._on_signal(signum)
