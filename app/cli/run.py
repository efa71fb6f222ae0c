"""``fetchdeck run``: fetch a list without a window, results to a file or standard output.

Never imports Qt. Reads URL lists from files, standard input (``-``) or arguments, runs them
through the engine (:mod:`app.core.engine`), streams results in input order as CSV or JSON
Lines, shows progress on standard error when it is a terminal, and ends with a one-line summary
and an exit status a script can trust:

====  ===========================================================================
0     every URL ok
1     any URL failed, was invalid or cancelled (or a check failed)
2     a usage error, unreadable input or unwritable output
3     Fetchdeck itself failed (an internal error, a missing part)
130   stopped by Ctrl+C (SIGINT); every row so far is written, the rest cancelled
143   stopped by SIGTERM, likewise
====  ===========================================================================
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import stat
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from app import __version__
from app.cli.common import (
    FailedChecks,
    Progress,
    UsageError,
    exit_status_for,
    open_history,
    say,
    until_done,
)
from app.core.config import load_settings
from app.core.engine import Engine
from app.core.export import FORMATS, format_for
from app.core.imported import ImportedList
from app.core.options import add_setting_arguments, overrides_from_args
from app.core.output import OutputError, open_output
from app.core.settings import Settings, SettingsError
from app.core.sources import SourceError, read_path, read_stream
from app.core.store import Ended, RunStore, StoreError
from app.core.store_writer import RunWriter
from app.core.tally import (
    EXIT_FAILURES,
    EXIT_INTERNAL,
    EXIT_USAGE,
)
from app.core.targets import TargetList, list_from_bytes
from app.core.writer import MissingRows, ResultWriter

__all__ = ["main", "run_command"]

EXIT_STATUS_TEXT = (
    "exit status: 0 every URL ok; 1 any failed, invalid or cancelled; 2 usage error, "
    "unreadable input or unwritable output; 3 Fetchdeck itself failed; 130/143 stopped by "
    "SIGINT/SIGTERM (every row so far is written, the rest are cancelled)"
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fetchdeck run",
        description="Fetch every URL of a list without a window; write the results in input "
                    "order as CSV or JSON Lines.",
        epilog=EXIT_STATUS_TEXT,
    )
    parser.add_argument(
        "sources", nargs="*", metavar="SOURCE",
        help="a file of URLs (one per line), - for standard input, or a URL; several may be "
             "mixed, and rows keep their order (default: standard input when it is not a "
             "terminal)")
    parser.add_argument("-o", "--output", metavar="PATH",
                        help="where to write the results (- or nothing: standard output); "
                             "a regular file is replaced only when the run is complete")
    parser.add_argument("--format", choices=sorted(FORMATS),
                        help="csv or jsonl (default: by the output's extension, else csv)")
    parser.add_argument("--sitemap", action="append", default=[], metavar="URL",
                        help="fetch every page a sitemap (or sitemap index, or .xml.gz) lists; "
                             "repeatable, and may be mixed with SOURCEs")
    parser.add_argument("--sheet", metavar="NAME",
                        help="which sheet of a spreadsheet (XLSX, XLS, ODS) holds the list: its "
                             "name, or its number from 1 (default: the first visible sheet)")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress and no summary on standard error")
    parser.add_argument("--version", action="version", version=f"fetchdeck {__version__}")
    add_setting_arguments(parser)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return run_command(args, parser)


def run_command(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Run ``fetchdeck run`` with parsed arguments; returns the exit status."""
    saved, warnings = load_settings()
    for warning in warnings:
        print(f"fetchdeck: warning: {warning}", file=sys.stderr)
    try:
        settings = saved.replace(**overrides_from_args(args))
    except SettingsError as exc:
        parser.error(str(exc))
    try:
        targets, inputs = read_sources(args.sources, sys.stdin, sitemaps=args.sitemap,
                                       settings=settings, quiet=args.quiet, sheet=args.sheet)
    except UsageError as exc:
        print(f"fetchdeck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    return fetch_to(targets, settings, args.output, args.format, inputs=inputs,
                    quiet=args.quiet, source=_describe(args.sources, args.sitemap))


def _record(store: RunStore | None, targets: TargetList, settings: Settings,
            source: str) -> RunWriter | None:
    """The run history's writer for this run, or None (history off or unusable)."""
    if store is None:
        return None

    def failed(exc: StoreError) -> None:  # on the history's own thread
        say(f"the run history stopped recording ({exc}); the results still go to the output")

    try:
        return store.start_run(source=source or "pasted", settings=settings, inputs=targets,
                               columns=targets.columns, on_error=failed)
    except StoreError as exc:
        say(f"results are kept in memory only: {exc}")
        return None


def _describe(sources: Sequence[str], sitemaps: Sequence[str]) -> str:
    """The run's source as the history lists it."""
    names = [("standard input" if s == "-" else s) for s in sources]
    names += [f"sitemap {url}" for url in sitemaps]
    return ", ".join(names) or "standard input"


def read_sources(sources: Sequence[str], stdin: TextIO, *, sitemaps: Sequence[str] = (),
                 settings: Settings | None = None, quiet: bool = False,
                 sheet: str | None = None) -> tuple[TargetList, list[Path]]:
    """Every source's rows, in order (sitemaps last), and the files read (never to be
    overwritten). ``sheet`` (a name, or a number from 1) chooses the sheet of every
    spreadsheet among them; a usage error when none is one.

    Line numbers run on across sources, so each row's ``line`` is unique in the output.
    """
    chosen: str | int | None = sheet
    if sheet is not None and sheet.strip().isdecimal() and sheet.strip().isascii():
        chosen = int(sheet) - 1  # people count sheets from 1; a name made of digits still
        # matches when no sheet has that number (see below)
    spreadsheets = 0
    if not sources and sitemaps:
        sources = []
    elif not sources:
        if stdin.isatty():
            raise UsageError("give a file of URLs, - for standard input, or URLs "
                             "(fetchdeck run --help)")
        sources = ["-"]
    targets: TargetList | None = None
    inputs: list[Path] = []
    for source in sources:
        if source == "-":
            try:
                part = _read_stdin(stdin)
            except OSError as exc:
                raise UsageError(f"cannot read standard input: {exc.strerror or exc}") from None
            except SourceError as exc:
                raise UsageError(f"standard input: {exc}") from None
            name = "standard input"
            if _is_regular_file(stdin):  # `< urls.txt`: that file is the list being fetched
                inputs.append(Path("/dev/stdin"))
        elif "://" in source and not os.path.exists(source):
            part = TargetList.from_lines([source])
            name = ""
        else:
            path = Path(source)
            try:
                imported = _read_file(path, chosen, sheet)
            except IsADirectoryError:
                raise UsageError(f"{source} is a folder, not a list of URLs") from None
            except OSError as exc:
                raise UsageError(f"cannot read {source}: {exc.strerror or exc}") from None
            except SourceError as exc:
                raise UsageError(f"{source}: {exc}") from None
            spreadsheets += imported.kind in ("xlsx", "xls", "ods")
            part = TargetList.from_imported(imported)
            inputs.append(path)
            name = source
            table = imported.table
            if sheet is None and table is not None and len(table.sheets) > 1:
                part.notices = (*part.notices, "--sheet NAME reads another sheet")
        for notice in part.notices:
            print(f"fetchdeck: {name}: {notice}" if name else f"fetchdeck: {notice}",
                  file=sys.stderr)
        targets = _append(targets, part)
    if sheet is not None and not spreadsheets:
        raise UsageError(f"--sheet {sheet}: none of the sources is a spreadsheet")
    for url in sitemaps:
        part = _sitemap(url, settings or Settings(), quiet=quiet)
        for notice in part.notices:
            say(f"{url}: {notice}")
        targets = _append(targets, part)
    return (TargetList.empty() if targets is None else targets), inputs


def _read_stdin(stdin: TextIO) -> TargetList:
    """Standard input's list (nothing at all: no rows). A big plain list, piped or
    redirected, is read a chunk at a time, as a file is (a pipe through a temporary file)."""
    buffer = getattr(stdin, "buffer", None)
    if buffer is None:  # a text stream handed in (embedding, tests): read whole
        data = stdin.read().encode()
        return list_from_bytes(data, "-") if data.strip() else TargetList.empty()
    peek = getattr(buffer, "peek", None)
    if peek is not None and not peek(1):
        return TargetList.empty()
    return TargetList.from_imported(read_stream(buffer, "-"))


def _read_file(path: Path, chosen: str | int | None, given: str | None) -> ImportedList:
    """A file's list; ``chosen`` picks a spreadsheet's sheet (a 0-based number, or the name
    ``given`` when no sheet has that number)."""
    try:
        return read_path(path, sheet=chosen)  # a big plain list is read a chunk at a time
    except SourceError as by_number:
        if not isinstance(chosen, int) or given is None:
            raise
        try:
            return read_path(path, sheet=given)  # a sheet named "2024", say
        except SourceError:
            raise by_number from None


def _append(targets: TargetList | None, part: TargetList) -> TargetList:
    """``part`` after ``targets``: the first source is taken as it is (its texts are not
    copied: a list of ten million lines is ~460 MB)."""
    if targets is None:
        return part
    # Line numbers run on from one source to the next: each row's `line` is unique.
    offset = targets.lines[-1] if len(targets) else 0
    if offset:
        part.lines = type(part.lines)(part.lines.typecode, (n + offset for n in part.lines))
    targets.extend(part)
    return targets


def _sitemap(url: str, settings: Settings, *, quiet: bool) -> TargetList:
    """A sitemap's pages (an index's children fetched with the run's own settings), with
    progress on a terminal; a child that fails is a failed row of its own."""
    from app.core.sitemap import SitemapProgress, expand_sitemap  # noqa: PLC0415

    shown = not quiet and sys.stderr.isatty()

    def progress(p: SitemapProgress) -> None:
        if shown:
            print(f"\rfetchdeck: {url}: {p.sitemaps_done:,} / {p.sitemaps_total:,} sitemaps, "
                  f"{p.urls:,} URLs", end="", file=sys.stderr, flush=True)

    try:
        imported = asyncio.run(expand_sitemap(url, settings, progress=progress))
    except SourceError as exc:
        raise UsageError(f"sitemap {url}: {exc}") from None
    finally:
        if shown:
            print(file=sys.stderr)
    return TargetList.from_imported(imported)


def _is_regular_file(stream: TextIO) -> bool:
    try:
        return stat.S_ISREG(os.fstat(stream.fileno()).st_mode)
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return False


def fetch_to(targets: TargetList, settings: Settings, output: str | None, fmt_name: str | None,
             *, inputs: Sequence[Path] = (), quiet: bool = False, discard: bool = False,
             source: str = "") -> int:
    """Fetch ``targets`` and write every row to ``output`` (and to the run history); the exit
    status. ``discard`` writes no rows at all (the old ``--exit-when-done`` without
    ``--export-csv``)."""
    fmt = FORMATS[format_for(output, fmt_name)](settings, targets=targets)
    try:
        out = open_output(os.devnull if discard else output, protect=inputs)
    except OutputError as exc:
        print(f"fetchdeck: {exc}", file=sys.stderr)
        return EXIT_USAGE
    with out:
        store = open_history(settings)
        try:
            return asyncio.run(_fetch(targets, settings, out, fmt, quiet=quiet, store=store,
                                      source=source))
        finally:
            if store is not None:
                store.close()


async def _fetch(targets: TargetList, settings: Settings, out: Any, fmt: Any, *,
                 quiet: bool, store: RunStore | None, source: str) -> int:
    loop = asyncio.get_running_loop()
    engine = Engine(targets, settings)

    def write_failed(exc: BaseException) -> None:
        loop.call_soon_threadsafe(engine.cancel)

    writer = ResultWriter(out, fmt, len(targets), on_error=write_failed)
    engine.sinks.append(writer.add)
    history = _record(store, targets, settings, source)
    engine.keeper = history  # the last sink, and what a result must reach to be safe
    checks: FailedChecks | None = None
    if targets.expected is not None or targets.expected_status is not None:
        checks = FailedChecks()
        engine.sinks.append(checks.add)

    writer.start()
    started = time.monotonic()
    task = engine.start()
    for notice in engine.notices:
        say(notice)
    stopped_by = await until_done(
        engine, task, Progress(engine, enabled=not quiet and sys.stderr.isatty()))
    await asyncio.to_thread(writer.finish)
    if history is not None:
        run = engine.run
        history.close(Ended.CANCELLED if run is not None and run.cancelled else Ended.FINISHED)
        await asyncio.to_thread(history.join)
    elapsed = time.monotonic() - started
    status = engine.exit_status()
    internal = None if task.cancelled() else task.exception()
    if internal is not None:
        print(f"fetchdeck: internal error: {internal!r}", file=sys.stderr)
        status = EXIT_INTERNAL
    if isinstance(writer.error, MissingRows):
        print(f"fetchdeck: internal error: {writer.error}", file=sys.stderr)
        status = EXIT_INTERNAL
    elif writer.error is not None and not isinstance(writer.error, BrokenPipeError):
        error = writer.error
        reason = getattr(error, "strerror", None) or error
        print(f"fetchdeck: could not write {out.display}: {reason}", file=sys.stderr)
        status = EXIT_USAGE
    if not quiet:
        where = "" if out.streaming else f" -> {out.display}"
        if history is not None and history.error is None:
            where += f" (run {history.run_id} in the history)"
        say(f"{engine.tally.summary(elapsed, cancelled=stopped_by is not None)}{where}")
        if checks is not None and checks.codes:
            say(checks.summary())
    if stopped_by is not None:
        return exit_status_for(stopped_by)
    if writer.error is not None and isinstance(writer.error, BrokenPipeError):
        return EXIT_FAILURES if status == 0 else status
    return status
