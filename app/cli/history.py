"""The run history on the command line: ``fetchdeck runs``, ``resume``, ``export`` and ``diff``.

A run is named by its number, ``last``, or ``last~N`` (the Nth run before the last), here as
in the window.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections.abc import Sequence

from app.cli.common import Progress, UsageError, exit_status_for, open_history, say, until_done
from app.core.config import load_settings
from app.core.engine import Engine
from app.core.errors import Failure
from app.core.export import FORMATS
from app.core.history import export_list, plan_resume, run_settings, write_results
from app.core.options import add_setting_arguments, overrides_from_args
from app.core.output import OutputError
from app.core.settings import Settings, SettingsError
from app.core.store import Ended, RunInfo, RunStore, StoreError
from app.core.tally import (
    EXIT_FAILURES,
    EXIT_INTERNAL,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_USAGE,
    format_duration,
)
from app.core.targets import TargetList

__all__ = ["main"]

RUN_HELP = "a run's number, last, or last~N (the Nth run before the last)"


def build_parser(command: str) -> argparse.ArgumentParser:
    describe = {
        "runs": "List the runs in the run history.",
        "resume": "Fetch the lines an interrupted or cancelled run did not finish, into the "
                  "same run.",
        "export": "Write a run from the history as CSV, JSON Lines or XLSX.",
        "diff": "What changed between two runs: outcome, status, final URL, redirects, title "
                "or error kind, and lines only in one run. Exit 1 when anything changed.",
    }
    parser = argparse.ArgumentParser(prog=f"fetchdeck {command}", description=describe[command])
    if command == "resume":
        parser.add_argument("run", nargs="?", default="last", metavar="RUN",
                            help=f"{RUN_HELP} (default: last)")
        parser.add_argument("-o", "--output", metavar="PATH",
                            help="also write the whole run (every line) here once it is done")
        parser.add_argument("--format", choices=[*sorted(FORMATS), "xlsx"])
        parser.add_argument("-q", "--quiet", action="store_true")
        add_setting_arguments(parser)
        return parser
    if command == "export":
        parser.add_argument("run", metavar="RUN", help=RUN_HELP)
        parser.add_argument("-o", "--output", metavar="PATH",
                            help="where to write (- or nothing: standard output)")
        parser.add_argument("--format", choices=[*sorted(FORMATS), "xlsx"],
                            help="csv, jsonl or xlsx (default: by the extension, else csv)")
    elif command == "diff":
        parser.add_argument("run_a", metavar="RUN_A", help=RUN_HELP)
        parser.add_argument("run_b", metavar="RUN_B", help=RUN_HELP)
        parser.add_argument("-o", "--output", metavar="PATH",
                            help="also write every change as CSV here")
    parser.add_argument("--db", metavar="PATH", help="the run history's database file")
    return parser


def main(command: str, argv: Sequence[str]) -> int:
    parser = build_parser(command)
    args = parser.parse_args(argv)
    saved, warnings = load_settings()
    for warning in warnings:
        say(f"warning: {warning}")
    try:
        settings = saved.replace(**overrides_from_args(args))
        if command != "resume" and args.db:
            settings = settings.replace(db_path=args.db)
    except SettingsError as exc:
        parser.error(str(exc))
    try:
        store = open_history(settings, required=True)
        assert store is not None
    except StoreError as exc:
        say(str(exc))
        return EXIT_USAGE
    try:
        if command == "runs":
            return _runs(store)
        if command == "export":
            return _export(store, args.run, args.output, args.format, settings)
        if command == "diff":
            return _diff(store, args.run_a, args.run_b, args.output, settings)
        return _resume(store, args, settings)
    except (StoreError, UsageError, OutputError) as exc:
        say(str(exc))
        return EXIT_USAGE
    finally:
        store.close()


# -- runs --------------------------------------------------------------------------------------

def _runs(store: RunStore) -> int:
    """A table of every run, oldest first, on standard output."""
    runs = store.runs()
    header = ("run", "started", "took", "how it ended", "URLs", "ok", "failed", "cancelled",
              "source")
    rows = [header, *(_run_row(info) for info in runs)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        cells = [cell.rjust(width) if i in (0, 4, 5, 6, 7) else cell.ljust(width)
                 for i, (cell, width) in enumerate(zip(row, widths, strict=False))]
        print("  ".join([*cells, row[-1]]).rstrip())
    if not runs:
        say(f"no run has been recorded yet in {store.path}")
    return EXIT_OK


def _run_row(info: RunInfo) -> tuple[str, ...]:
    started = info.started.astimezone()
    took = "" if info.ended_at is None else format_duration(
        (info.ended_at - info.started).total_seconds())
    return (str(info.id), started.strftime("%Y-%m-%d %H:%M"), took, info.ended.value,
            f"{info.total:,}", f"{info.ok:,}",
            f"{info.http_error + info.failed + info.invalid:,}", f"{info.cancelled:,}",
            info.source)


# -- export ------------------------------------------------------------------------------------

def _export(store: RunStore, spec: str, output: str | None, fmt_name: str | None,
            settings: Settings) -> int:
    run_id = store.resolve(spec)
    write(store, run_id, export_list(store, run_id), output, fmt_name, settings)
    return EXIT_OK


def write(store: RunStore, run_id: int, targets: TargetList | None, output: str | None,
          fmt_name: str | None, settings: Settings) -> int:
    """Every stored row of a run to ``output``, in input order."""
    return write_results(output, store.results(run_id, details=False), settings,
                         fmt=fmt_name, targets=targets)


# -- diff --------------------------------------------------------------------------------------

def _diff(store: RunStore, spec_a: str, spec_b: str, output: str | None,
          settings: Settings) -> int:
    from app.core.compare import diff_runs, write_changes_csv  # noqa: PLC0415

    run_a, run_b = store.resolve(spec_a), store.resolve(spec_b)
    diff = diff_runs(store, run_a, run_b)
    shown = 0
    for change in diff:
        shown += 1
        if shown <= 50:
            fields = ", ".join(change.fields) if change.fields else ""
            print(f"{change.kind.value}: line {change.line_a or change.line_b}: "
                  f"{_masked(change.url, settings)}" + (f" ({fields})" if fields else ""))
    if shown > 50:
        print(f"… and {shown - 50:,} more")
    counts = ", ".join(f"{n:,} {kind}" for kind, n in sorted(diff.counts.items()) if n)
    say(f"run {run_a} -> run {run_b}: {diff.compared:,} lines compared, "
        f"{diff.changed:,} changed" + (f" ({counts})" if counts else ""))
    if output:
        write_changes_csv(output, diff_runs(store, run_a, run_b), settings)
    return EXIT_FAILURES if diff.changed else EXIT_OK


def _masked(url: str, settings: Settings) -> str:
    from app.core.redact import Redactor  # noqa: PLC0415

    return Redactor.for_settings(settings).url(url)


# -- resume ------------------------------------------------------------------------------------

def _resume(store: RunStore, args: argparse.Namespace, settings: Settings) -> int:
    run_id = store.resolve(args.run)
    plan = plan_resume(store, run_id)
    settings = _settings_of(store, run_id, settings, overrides_from_args(args))
    targets, unfinished = plan.targets, plan.unfinished
    if not unfinished:
        say(f"run {run_id} has no unfinished lines: nothing to fetch")
    else:
        status = asyncio.run(_fetch_again(store, run_id, targets, unfinished, settings,
                                          quiet=args.quiet))
        if status in (EXIT_SIGINT, EXIT_SIGTERM, EXIT_INTERNAL):
            return status
    info = store.run(run_id)
    if args.output:
        write(store, run_id, targets, args.output, args.format, settings)
    if not args.quiet:
        say(f"run {run_id}: {info.total:,} URLs: {info.ok:,} ok, "
            f"{info.http_error + info.failed + info.invalid:,} failed, "
            f"{info.cancelled:,} cancelled")
    return store.exit_status(run_id)


def _settings_of(store: RunStore, run_id: int, current: Settings,
                 overrides: dict[str, object]) -> Settings:
    """The settings the run used (credentials were never stored: give them again), with this
    command's flags on top."""
    found = run_settings(store, run_id, current, overrides)
    if "proxy" in found.missing:
        say("the run used a proxy with a password, which is not stored: give --proxy again")
    if "headers" in found.missing:
        say("headers with secrets were not stored: give --header again for them")
    for problem in found.problems:
        say(f"warning: run {run_id}'s settings: {problem}")
    return found.settings


async def _fetch_again(store: RunStore, run_id: int, targets: TargetList,
                       unfinished: list[int], settings: Settings, *, quiet: bool) -> int:
    def failed(exc: StoreError) -> None:
        say(f"the run history stopped recording: {exc}")

    writer = store.resume_run(run_id, on_error=failed)
    engine = Engine(targets, settings, keeper=writer)
    if not quiet:
        say(f"resuming run {run_id}: {len(unfinished):,} unfinished lines of {len(targets):,}")
    started = time.monotonic()
    task = engine.retry(unfinished)
    stopped = await until_done(engine, task, Progress(
        engine, enabled=not quiet and sys.stderr.isatty(), total=len(unfinished)))
    run = engine.run
    writer.close(Ended.CANCELLED if run is not None and run.cancelled else Ended.FINISHED)
    await asyncio.to_thread(writer.join)
    if not quiet:
        done = run.done if run is not None else 0
        say(f"fetched {done:,} lines again in {format_duration(time.monotonic() - started)}")
    internal = None if task.cancelled() else task.exception()
    if internal is not None:
        say(f"internal error: {Failure.internal(internal).message}")
        return EXIT_INTERNAL
    if stopped is not None:
        return exit_status_for(stopped)
    return EXIT_OK

