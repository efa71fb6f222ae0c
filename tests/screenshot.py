"""Make the README's screenshot from the real window: run the built-in demo offscreen, select a
failure in the error panel, and grab the window.

    python -m tests.screenshot docs/screenshot.png
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


async def _shoot(path: Path) -> None:
    from app.core.settings import Settings
    from app.gui.main_window import MainWindow

    window = MainWindow(Settings())
    window.resize(1400, 860)
    window.show()
    window.start_demo()
    finished = asyncio.get_running_loop().create_future()
    window.run_finished.connect(lambda p: finished.done() or finished.set_result(p))
    window.start_run()
    await finished
    window.error_panel.select_first_failure()  # also selects its row in the table
    await asyncio.sleep(0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(path))
    window.close()
    if window.demo_server is not None:
        window.demo_server.stop()


def main(argv: list[str]) -> int:
    from PySide6.QtWidgets import QApplication

    from app.gui.loop import make_loop

    path = Path(argv[1] if len(argv) > 1 else "docs/screenshot.png")
    app = QApplication([argv[0]])
    loop = make_loop(app)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_shoot(path))
    finally:
        loop.close()
    print(f"saved {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
