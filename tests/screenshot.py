"""Make the README's screenshots from the real window: run the built-in demo, select a failed
row (its details and its failure show side by side), and grab the window.

    python -m tests.screenshot docs/screenshot.png
    python -m tests.screenshot --dark docs/screenshot-dark.png

Offscreen unless ``QT_QPA_PLATFORM`` says otherwise; the Fusion style, so that a light and a
dark grab differ only in the palette. The layout is the default one: nothing saved is read.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


async def _shoot(path: Path, size: tuple[int, int], row_kind: str,
                 summary: bool = False) -> None:
    from app.core.settings import Settings
    from app.gui.main_window import MainWindow

    window = MainWindow(Settings())
    window.resize(*size)
    window.show()
    if summary:  # the run summary docked and shown, so that the run feeds its charts
        window.summary_dock.show()
    window.start_demo()
    finished = asyncio.get_running_loop().create_future()
    window.run_finished.connect(lambda p: finished.done() or finished.set_result(p))
    window.start_run()
    await finished
    # A failed row, selected in the table as a user would: details and failure both show.
    entries = [e for e in window.error_panel.model.entries()
               if e.row is not None and e.failure.kind.value == row_kind]
    target = entries[0].row if entries else window.error_panel.model.entries()[0].row
    window.select_row(target)
    window.table.setFocus()
    await asyncio.sleep(0.3)
    path.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(path))
    # Closed as a user closes it: the run history's writer is finished before the loop ends.
    closed = asyncio.get_running_loop().create_future()
    window.closed.connect(lambda: closed.done() or closed.set_result(None))
    window.close()
    await asyncio.wait_for(closed, 30)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.screenshot")
    parser.add_argument("path", nargs="?", default="docs/screenshot.png")
    parser.add_argument("--dark", action="store_true", help="a dark palette (Fusion)")
    parser.add_argument("--size", default="1280x800", help="window size, WIDTHxHEIGHT")
    parser.add_argument("--summary", action="store_true",
                        help="show the run summary (charts, per-host table) beside the table")
    parser.add_argument("--row", default="http_5xx",
                        help="the failure kind whose row is selected (default http_5xx)")
    args = parser.parse_args(argv[1:])
    width, height = (int(n) for n in args.size.lower().split("x"))
    # Never the user's saved layout, and leave none behind.
    os.environ["FETCHDECK_CONFIG_DIR"] = tempfile.mkdtemp(prefix="fetchdeck-shot-")
    os.environ["FETCHDECK_DATA_DIR"] = os.environ["FETCHDECK_CONFIG_DIR"]

    from PySide6.QtWidgets import QApplication

    from app.gui.colours import dark_palette
    from app.gui.loop import make_loop

    app = QApplication([argv[0]])
    app.setQuitOnLastWindowClosed(False)  # as the app: the window closes, then the loop ends
    app.setStyle("Fusion")
    app.setPalette(dark_palette() if args.dark else app.style().standardPalette())
    loop = make_loop(app)
    asyncio.set_event_loop(loop)
    try:
        loop.run_until_complete(_shoot(Path(args.path), (width, height), args.row,
                                       summary=args.summary))
    finally:
        loop.close()
    print(f"saved {args.path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
