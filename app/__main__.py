"""Entry point: parse the command line, then run the window (interactive or batch)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from app import __version__
from app.core.settings import METHODS, Settings, SettingsError

EXIT_OK = 0
EXIT_FAILURES = 1
EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fetchdeck",
        description="Fetch many URLs at once and see exactly what happened to each.",
        epilog="Exit status with --exit-when-done: 0 when every URL succeeded, 1 when any failed "
               "or was invalid, 2 on a usage error or an export that could not be written.",
    )
    parser.add_argument("url_file", nargs="?", metavar="URL_FILE",
                        help="text file with one URL per line (UTF-8, with or without BOM)")
    parser.add_argument("--run", action="store_true", help="start fetching at once")
    parser.add_argument("--export-csv", metavar="PATH",
                        help="write the results as CSV when the run ends (implies --run)")
    parser.add_argument("--exit-when-done", action="store_true",
                        help="quit when the run (and export) ends (implies --run)")
    parser.add_argument("--demo", action="store_true",
                        help="start the built-in demo server on 127.0.0.1 and load its URLs")
    parser.add_argument("--version", action="version", version=f"fetchdeck {__version__}")

    net = parser.add_argument_group(
        "fetching (defaults come from the saved settings; a flag applies to this session only "
        "and is not saved)")
    net.add_argument("--concurrency", type=int, metavar="N", help="requests in flight (50)")
    net.add_argument("--per-host", type=int, metavar="N",
                     help="requests in flight per host, 0 = no limit (6)")
    net.add_argument("--rate", type=float, metavar="R",
                     help="max requests per second per host, 0 = no limit (0)")
    net.add_argument("--timeout", type=float, metavar="SECONDS",
                     help="total time per attempt (20)")
    net.add_argument("--connect-timeout", type=float, metavar="SECONDS",
                     help="time to connect (10)")
    net.add_argument("--retries", type=int, metavar="N",
                     help="retries on connect errors, timeouts, 429, 502, 503, 504 (2)")
    net.add_argument("--method", choices=METHODS, help="request method (get)")
    net.add_argument("--no-redirects", action="store_true", help="do not follow redirects")
    net.add_argument("--max-redirects", type=int, metavar="N", help="redirects followed (10)")
    net.add_argument("--header", action="append", metavar="'Name: value'", default=[],
                     help="extra request header (repeatable)")
    net.add_argument("--user-agent", metavar="S", help=f"User-Agent (Fetchdeck/{__version__})")
    net.add_argument("--cookies", action=argparse.BooleanOptionalAction, default=None,
                     help="keep cookies between requests of a run (on)")
    net.add_argument("--auth", metavar="USER:PASS", help="HTTP basic auth for every URL")
    net.add_argument("--proxy", metavar="URL",
                     help="HTTP proxy (default: the environment's proxies)")
    net.add_argument("--insecure", action="store_true", help="do not verify TLS certificates")
    net.add_argument("--ca-file", metavar="PATH", help="extra CA bundle to trust (PEM)")
    net.add_argument("--max-body", type=int, metavar="BYTES",
                     help="body bytes read, after decompression (10 MiB)")
    net.add_argument("--retry-after-cap", type=float, metavar="SECONDS",
                     help="longest Retry-After wait honoured (120)")
    out = parser.add_argument_group("display and export")
    out.add_argument("--mask-passwords", action=argparse.BooleanOptionalAction, default=None,
                     help="hide URL passwords in the table, panel, logs and CSV (on)")
    out.add_argument("--csv-raw", action=argparse.BooleanOptionalAction, default=None,
                     help="export cells exactly, without neutralising spreadsheet formulas (off)")
    return parser


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The settings fields the command line sets, by name.

    They stay apart from the saved settings: they apply to this session only, and the Settings
    dialog must not save them unless the user changes that field there.
    """
    changes: dict[str, Any] = {}
    for flag, field in (
        ("concurrency", "concurrency"), ("per_host", "per_host"), ("rate", "rate"),
        ("timeout", "timeout"), ("connect_timeout", "connect_timeout"),
        ("retries", "retries"), ("method", "method"), ("max_redirects", "max_redirects"),
        ("user_agent", "user_agent"), ("cookies", "cookies"), ("auth", "auth"),
        ("proxy", "proxy"), ("ca_file", "ca_file"), ("max_body", "max_body"),
        ("retry_after_cap", "retry_after_cap"), ("mask_passwords", "mask_passwords"),
        ("csv_raw", "csv_raw"),
    ):
        value = getattr(args, flag)
        if value is not None:
            changes[field] = value
    if args.no_redirects:
        changes["follow_redirects"] = False
    if args.insecure:
        changes["verify_tls"] = False
    if args.header:
        headers = []
        for item in args.header:
            name, sep, value = item.partition(":")
            if not sep or not name.strip():
                raise SettingsError(f"--header {item!r} must look like 'Name: value'")
            headers.append((name.strip(), value.strip()))
        changes["headers"] = tuple(headers)
    if args.ca_file and not Path(args.ca_file).is_file():
        raise SettingsError(f"--ca-file {args.ca_file}: no such file")
    return changes


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.export_csv or args.exit_when_done:
        args.run = True
    if args.url_file and not Path(args.url_file).is_file():
        parser.error(f"{args.url_file}: no such file")
    if args.run and not args.url_file and not args.demo:
        parser.error("--run needs a URL_FILE (or --demo)")
    if args.export_csv:
        folder = Path(args.export_csv).resolve().parent
        if not folder.is_dir():
            parser.error(f"--export-csv {args.export_csv}: folder {folder} does not exist")

    from app.gui.config import load_settings

    saved, warnings = load_settings()
    try:
        overrides = overrides_from_args(args)
        saved.replace(**overrides)  # refuse a bad value now, with a usage error
    except SettingsError as exc:
        parser.error(str(exc))
    return run_gui(args, saved, overrides, warnings)


def run_gui(args: argparse.Namespace, saved: Settings, overrides: dict[str, Any],
            warnings: list[str]) -> int:
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
    try:
        return loop.run_until_complete(_session(args, saved, overrides, warnings, router))
    finally:
        router.uninstall()
        loop.close()
        asyncio.set_event_loop(None)


async def _session(args: argparse.Namespace, saved: Settings, overrides: dict[str, Any],
                   warnings: list[str], router: object) -> int:
    from app.gui.main_window import MainWindow

    window = MainWindow(saved, warnings, overrides=overrides)
    window.attach_router(router)  # type: ignore[arg-type]
    closed = asyncio.Event()
    window.closed.connect(closed.set)
    window.show()
    # Start-up objects (Qt wrappers, modules) live as long as the app: keep them out of every
    # future garbage collection (the pattern the gc docs recommend after start-up).
    gc.freeze()
    if args.demo:
        window.start_demo()
    if args.url_file:
        await window.load_path(args.url_file)
    code = EXIT_OK
    if args.run:
        finished: asyncio.Future[object] = asyncio.get_running_loop().create_future()
        window.run_finished.connect(lambda p: finished.done() or finished.set_result(p))
        window.start_run()
        if not window.controller.running:
            # Nothing to fetch (an empty list, or a file that could not be read): the window
            # already says why; a script gets a failure status instead of a wait forever.
            print("fetchdeck: there are no URLs to fetch", file=sys.stderr)
            if args.exit_when_done:
                window.close()
                await closed.wait()
                return EXIT_FAILURES
        elif args.exit_when_done or args.export_csv:
            await finished
            code = _batch_status(window)
            if args.export_csv:
                export = window.export_csv(args.export_csv)
                await asyncio.wait([export])
                if export.cancelled() or export.exception() is not None:
                    exc = None if export.cancelled() else export.exception()
                    print(f"fetchdeck: could not write {args.export_csv}: {exc}",
                          file=sys.stderr)
                    code = EXIT_USAGE
            if args.exit_when_done:
                _print_summary(window)
                window.close()
    await closed.wait()
    return code


def _batch_status(window: object) -> int:
    model = window.model  # type: ignore[attr-defined]
    rows = len(model)
    results = list(model.results())
    if rows == 0 or len(results) < rows:
        return EXIT_FAILURES
    return EXIT_OK if all(r.outcome.value == "ok" for r in results) else EXIT_FAILURES


def _print_summary(window: object) -> None:
    progress = window.controller.last_progress  # type: ignore[attr-defined]
    if progress is None:
        return
    print(
        f"fetchdeck: {progress.total:,} URLs: {progress.ok:,} ok, "
        f"{progress.http_error:,} HTTP errors, {progress.failed:,} failed, "
        f"{progress.invalid:,} invalid, {progress.cancelled:,} cancelled "
        f"in {progress.elapsed:.1f} s",
        file=sys.stderr,
    )


if __name__ == "__main__":
    os.environ.setdefault("QT_ENABLE_HIGHDPI_SCALING", "1")
    sys.exit(main())
