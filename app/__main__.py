"""Entry point: ``fetchdeck run …`` fetches without a window (:mod:`app.cli`, no Qt);
anything else opens the window, or runs the old batch flags headless through the same engine.

Exit status 3 means Fetchdeck itself could not work (a part missing, Qt unable to start), so a
script can tell it from 1, "some URLs failed".
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app import __version__

EXIT_USAGE = 2
EXIT_INTERNAL = 3
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
EXIT_DISPLAY_LOST = 1  # the session was cut short, as a cancelled run is



def build_parser() -> argparse.ArgumentParser:
    from app.core.options import add_setting_arguments

    parser = argparse.ArgumentParser(
        prog="fetchdeck",
        description="Fetch many URLs at once and see exactly what happened to each. "
                    "`fetchdeck run --help` fetches without a window.",
        epilog="With --exit-when-done, Fetchdeck runs without a window and exits: 0 when every "
               "URL succeeded, 1 when any failed or was invalid, 2 on a usage error or an "
               "export that could not be written, 3 when Fetchdeck itself failed.",
    )
    parser.add_argument("url_file", nargs="?", metavar="URL_FILE",
                        help="text file with one URL per line (UTF-8, with or without BOM)")
    parser.add_argument("--run", action="store_true", help="start fetching at once")
    parser.add_argument("--export-csv", metavar="PATH",
                        help="write the results as CSV when the run ends (implies --run)")
    parser.add_argument("--exit-when-done", action="store_true",
                        help="fetch without a window and exit when done (implies --run); "
                             "the same as `fetchdeck run URL_FILE -o PATH`")
    parser.add_argument("--demo", action="store_true",
                        help="start the built-in demo server on 127.0.0.1 and load its URLs")
    parser.add_argument("--version", action="version", version=f"fetchdeck {__version__}")
    add_setting_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    try:
        from app.cli import COMMANDS

        if arguments[:1] and arguments[0] in COMMANDS:
            from app.cli import main as command

            return command(arguments[0], arguments[1:])
        return window_main(arguments)
    except ImportError as exc:
        print(f"fetchdeck: a part of Fetchdeck is missing: {exc}. Reinstall it "
              "(pip install --force-reinstall fetchdeck).", file=sys.stderr)
        return EXIT_INTERNAL
    except KeyboardInterrupt:
        return 130
    except Exception:  # a bug: say so, with what a report needs, and exit 3 (not 1)
        traceback.print_exc()
        print(f"fetchdeck {__version__}: this is a bug in Fetchdeck (exit status 3); the "
              "traceback above is what a bug report needs.", file=sys.stderr)
        return EXIT_INTERNAL


def window_main(argv: Sequence[str]) -> int:
    from app.core.config import load_settings
    from app.core.options import overrides_from_args
    from app.core.settings import SettingsError

    parser = build_parser()
    args = parser.parse_args(argv)
    if args.export_csv or args.exit_when_done:
        args.run = True
    if args.url_file and not Path(args.url_file).is_file():
        parser.error(f"{args.url_file}: no such file")
    if args.run and not args.url_file and not args.demo:
        parser.error("--run needs a URL_FILE (or --demo)")
    saved, warnings = load_settings()
    try:
        overrides = overrides_from_args(args)
        saved.replace(**overrides)  # refuse a bad value now, with a usage error
    except SettingsError as exc:
        parser.error(str(exc))
    if args.exit_when_done:
        return batch(args, saved.replace(**overrides), warnings)
    try:
        import PySide6.QtWidgets  # noqa: F401
    except ImportError as exc:
        print(f"fetchdeck: the window needs Qt (PySide6), which cannot be loaded: {exc}. "
              "Without a window, `fetchdeck run URL_FILE -o results.csv` fetches a list.",
              file=sys.stderr)
        return EXIT_INTERNAL
    return run_gui(args, saved, overrides, warnings)


def batch(args: argparse.Namespace, settings: Any, warnings: list[str]) -> int:
    """The old batch flags, ``URL_FILE --export-csv PATH --exit-when-done``: headless, through
    the same engine as ``fetchdeck run``."""
    from app.cli.run import fetch_to, read_sources
    from app.core.demo import DemoServer
    from app.core.targets import TargetList

    for warning in warnings:
        print(f"fetchdeck: warning: {warning}", file=sys.stderr)
    demo: DemoServer | None = None
    try:
        if args.demo:
            demo = DemoServer()
            demo.start()
            targets = TargetList.from_text(demo.sample_text())
            inputs: list[Path] = []
            if args.url_file:
                more, inputs = read_sources([args.url_file], sys.stdin)
                targets.extend(more)
        else:
            targets, inputs = read_sources([args.url_file], sys.stdin)
        if not len(targets):  # still a valid CSV: its header row, and exit 1
            print("fetchdeck: there are no URLs to fetch", file=sys.stderr)
        return fetch_to(targets, settings, args.export_csv, "csv", inputs=inputs,
                        discard=not args.export_csv,
                        source="demo" if args.demo else str(args.url_file))
    finally:
        if demo is not None:
            demo.stop()


def run_gui(args: argparse.Namespace, saved: Any, overrides: dict[str, Any],
            warnings: list[str]) -> int:
    from app.gui.platform_check import DisplayWatch, exit_if_qt_cannot_start

    # On an X display whose platform plugin cannot load, Qt aborts (SIGABRT) with a message
    # that names the wrong library: say what to install instead, and exit 3.
    exit_if_qt_cannot_start()
    from PySide6.QtWidgets import QApplication

    from app.gui.exceptions import ExceptionRouter
    from app.gui.loop import make_loop

    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setApplicationName("Fetchdeck")
    app.setApplicationVersion(__version__)
    app.setDesktopFileName("io.github.fetchdeck.Fetchdeck")
    # The window decides when to quit: closing it mid-run first cancels and drains the run.
    app.setQuitOnLastWindowClosed(False)
    loop = make_loop(app)
    asyncio.set_event_loop(loop)
    router = ExceptionRouter()
    router.install(loop)
    display = DisplayWatch().install()
    windows: list[Any] = []
    session = asyncio.ensure_future(
        _session(args, saved, overrides, warnings, router, windows), loop=loop)
    try:
        return loop.run_until_complete(session)
    except RuntimeError:
        if display.lost is None or session.done():
            raise
        # Not a bug: the window system went away, and Qt stopped the loop (and stops it again
        # at every turn: nothing more runs on it). Every result that arrived is written, and
        # the run going ends as interrupted, here, without the loop or the screen.
        for window in windows:
            window.display_lost()
        print(f"fetchdeck: the window lost its display ({display.lost}). A run that was going "
              "is kept in the run history as interrupted: File > Resume, or `fetchdeck "
              "resume`, fetches the rest.", file=sys.stderr)
        # What is still pending (the run's requests, the session) was left with a loop that
        # can no longer run it: finalising those coroutines would run their clean-up against
        # Qt objects already gone. What had to be kept is written: leave now.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(EXIT_DISPLAY_LOST)
    finally:
        display.uninstall()
        router.uninstall()
        loop.close()
        asyncio.set_event_loop(None)


async def _session(args: argparse.Namespace, saved: Any, overrides: dict[str, Any],
                   warnings: list[str], router: object, windows: list[Any]) -> int:
    from app.gui.main_window import MainWindow
    from app.gui.signals import SignalCancel

    window = MainWindow(saved, warnings, overrides=overrides)
    windows.append(window)
    window.attach_router(router)  # type: ignore[arg-type]
    closed = asyncio.Event()
    window.closed.connect(closed.set)
    # Ctrl+C or SIGTERM: cancel the run, keep every row, close, exit 130/143.
    signals = SignalCancel(lambda signum: window.cancel_and_close())
    signals.install()
    window.show()
    # Start-up objects (Qt wrappers, modules) live as long as the app: keep them out of every
    # future garbage collection (the pattern the gc docs recommend after start-up).
    gc.freeze()
    if args.demo:
        window.start_demo()
    if args.url_file:
        await window.load_path(args.url_file)
    if args.run:
        finished: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        window.run_finished.connect(lambda p: finished.done() or finished.set_result(p))
        window.start_run()
        if window.controller.running and args.export_csv:
            await finished
            export = window.export_csv(args.export_csv)
            await asyncio.wait([export])
    try:
        await closed.wait()
    finally:
        signals.uninstall()
    if signals.received:
        return EXIT_SIGINT if signals.received[0] == signal.SIGINT else EXIT_SIGTERM
    return 0


if __name__ == "__main__":
    os.environ.setdefault("QT_ENABLE_HIGHDPI_SCALING", "1")
    sys.exit(main())
