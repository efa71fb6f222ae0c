"""``python -m app``, unchanged, with a watch that prints when its window is usable.

    python -m tests.benchmarks.startup_probe

The only addition is a ``QApplication`` subclass that the app picks up when it imports
``PySide6.QtWidgets.QApplication``; it filters events until the main window's first paint, lets
the loop process one more event (a zero-ms timer: the window now answers input), prints
``{"result": {"painted": t, "usable": t}}`` with ``time.time()`` stamps, and closes the window,
so the app exits as a user's close would. The driver subtracts the time it spawned the process.
Nothing else is imported first, so the app pays for its own imports as it does when users start it.
"""

from __future__ import annotations

import json
import runpy
import sys
import time

import PySide6.QtWidgets as QtWidgets
from PySide6.QtCore import QEvent, QObject, QTimer


class _FirstPaint(QObject):
    def __init__(self, app: QtWidgets.QApplication) -> None:
        super().__init__(app)
        self._app = app
        self._painted = 0.0

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if (event.type() == QEvent.Type.Paint and not self._painted
                and isinstance(watched, QtWidgets.QMainWindow)):
            self._painted = time.time()
            self._app.removeEventFilter(self)
            QTimer.singleShot(0, lambda: self._usable(watched))
        return False

    def _usable(self, window: QtWidgets.QMainWindow) -> None:
        usable = time.time()
        print(json.dumps({"result": {"painted": self._painted, "usable": usable}}), flush=True)
        window.close()


class _WatchedApplication(QtWidgets.QApplication):
    def __init__(self, *args: object) -> None:
        super().__init__(*args)
        self._watch = _FirstPaint(self)
        self.installEventFilter(self._watch)


def main() -> None:
    QtWidgets.QApplication = _WatchedApplication  # type: ignore[misc]
    sys.argv = ["fetchdeck"]
    runpy.run_module("app", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
