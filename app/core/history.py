"""What the command line and the window both do with the run history: rebuild a stored run's
list, settle the settings a resume fetches with, decide what a resume fetches, find the run a
user means ("the last interrupted one", "the previous run of this list"), and write a run's
rows as CSV, JSON Lines or XLSX. Plain Python over :mod:`app.core.store`; no Qt.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from array import array
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from app.core.compare import Change, diff_runs
from app.core.export import FORMATS, format_for, write_rows
from app.core.output import open_output
from app.core.result import Result
from app.core.settings import Settings
from app.core.store import Ended, RunInfo, RunStore, StoreError
from app.core.targets import TargetList
from app.core.textcolumn import TextColumn

__all__ = [
    "EXPORT_FORMATS",
    "SHOWN_CHANGES",
    "Comparison",
    "compare_runs",
    "ResumePlan",
    "RunSettings",
    "export_format",
    "interrupted_last_run",
    "plan_resume",
    "previous_run_of",
    "resumable_run",
    "run_settings",
    "export_list",
    "stored_list",
    "unfinished_count",
    "write_results",
]

EXPORT_FORMATS = ("csv", "jsonl", "xlsx")
# Settings that belong to this Fetchdeck, not to the run: a resume keeps the current ones.
_LOCAL = ("keep_runs", "db_path")


def stored_list(store: RunStore, run_id: int) -> TargetList:
    """A run's input lines as a list, with its expected answers and imported columns."""
    plain = _plain_list(store, run_id)
    if plain is not None:
        return plain
    lines = list(store.inputs(run_id))
    if not lines:
        return TargetList.empty()
    columns = store.run(run_id).columns
    extra = [tuple("" if c is None else str(c) for c in (line.extra or ())) for line in lines]
    return TargetList(
        [line.text for line in lines], array("L", (line.line for line in lines)),
        expected=[line.expected for line in lines] if any(
            line.expected for line in lines) else None,
        expected_status=[line.expected_status for line in lines] if any(
            line.expected_status for line in lines) else None,
        columns=tuple(columns), extra=extra if columns else None)


def export_list(store: RunStore, run_id: int) -> TargetList | None:
    """What an export of run ``run_id`` needs of its list: None when its lines carry nothing
    but their text (the cells need no list then, and reading a million lines costs ~1 s),
    else :func:`stored_list`."""
    return stored_list(store, run_id) if _carries_more(store, run_id) else None


def _carries_more(store: RunStore, run_id: int) -> bool:
    """Some input line of the run has an expected answer or imported columns."""
    with _read_only(store, run_id) as conn:
        if conn is None:
            return True  # stored_list says why, or reads the lines another way
        return conn.execute(_CARRIES_MORE, (run_id,)).fetchone() is not None


@contextlib.contextmanager
def _read_only(store: RunStore, run_id: int) -> Iterator[sqlite3.Connection | None]:
    """A read-only connection of its own to the store's file (None when it cannot be had);
    an error while reading run ``run_id`` through it is a StoreError."""
    try:
        conn = sqlite3.connect(f"{store.path.resolve().as_uri()}?mode=ro", uri=True)
    except sqlite3.Error:
        yield None
        return
    try:
        yield conn
    except sqlite3.Error as exc:
        raise StoreError(f"run {run_id} cannot be read: {exc}") from exc
    finally:
        conn.close()


_CARRIES_MORE = ("SELECT 1 FROM inputs WHERE run_id = ? AND (expected IS NOT NULL OR "
                 "expected_status IS NOT NULL OR extra IS NOT NULL) LIMIT 1")
_PLAIN_CHUNK = 50_000


def _plain_list(store: RunStore, run_id: int) -> TargetList | None:
    """The list of a run whose lines carry nothing but their text (most runs), read as two
    columns on a connection of its own: ~5x faster than rebuilding every line. None when the
    lines carry expectations or imported columns."""
    with _read_only(store, run_id) as conn:
        if conn is None or conn.execute(_CARRIES_MORE, (run_id,)).fetchone():
            return None
        texts = TextColumn()
        lines: array[int] = array("I")
        cursor = conn.execute("SELECT text, line FROM inputs WHERE run_id = ? ORDER BY idx",
                              (run_id,))
        while chunk := cursor.fetchmany(_PLAIN_CHUNK):
            texts.extend([row[0] for row in chunk])
            lines.extend([row[1] for row in chunk])
        return TargetList(texts, lines)


@dataclass(frozen=True, slots=True)
class RunSettings:
    """The settings a stored run is fetched again with.

    ``missing`` names the secrets the run used that were never stored (``auth``, ``proxy``,
    ``headers``): give them again, or they are left out. ``problems`` are stored values that
    could not be used (a default took their place)."""

    settings: Settings
    missing: tuple[str, ...]
    problems: tuple[str, ...]


def run_settings(store: RunStore, run_id: int, current: Settings,
                 overrides: Mapping[str, object] | None = None) -> RunSettings:
    """The settings run ``run_id`` used, with ``overrides`` on top; where the history is kept
    (and whether) stays as ``current`` says. Credentials were never stored: a secret the run
    had is taken from ``overrides`` when given there, else it is listed in ``missing``."""
    overrides = dict(overrides or {})
    stored = dict(store.settings(run_id))
    missing: list[str] = []
    if stored.pop("auth", None) and "auth" not in overrides:
        missing.append("auth")
    if "***" in str(stored.get("proxy") or ""):
        stored.pop("proxy")
        if "proxy" not in overrides:
            missing.append("proxy")
    headers = stored.get("headers") or []
    kept = [pair for pair in headers if pair[1] != "***"]
    if len(kept) != len(headers):
        stored["headers"] = kept
        if "headers" not in overrides:
            missing.append("headers")
    for name in _LOCAL:
        stored.pop(name, None)
    settings, problems = Settings.from_dict(stored)
    local: dict[str, Any] = {name: getattr(current, name) for name in _LOCAL}
    return RunSettings(settings.replace(**{**local, **overrides}), tuple(missing),
                       tuple(problems))


@dataclass(frozen=True, slots=True)
class ResumePlan:
    """What resuming a run fetches: its list and the indexes of its unfinished lines."""

    run: RunInfo
    targets: TargetList
    unfinished: list[int]


def plan_resume(store: RunStore, run_id: int) -> ResumePlan:
    """The lines run ``run_id`` did not finish (no result, or a cancelled one). Raises
    :class:`StoreError` when it cannot be resumed: still running, or stopped before all its
    lines were recorded."""
    info = store.run(run_id)
    if info.ended is Ended.RUNNING:
        raise StoreError(f"run {run_id} is still running (in another Fetchdeck)")
    targets = stored_list(store, run_id)
    if len(targets) < info.total:
        raise StoreError(f"run {run_id} was stopped before all its {info.total:,} lines were "
                         f"recorded ({len(targets):,} were): fetch its list again instead")
    return ResumePlan(info, targets, list(store.unfinished(run_id)))


def resumable_run(store: RunStore) -> RunInfo | None:
    """The most recent run that was interrupted or cancelled, if any."""
    for info in reversed(store.runs()):
        if info.ended in (Ended.INTERRUPTED, Ended.CANCELLED):
            return info
    return None


def interrupted_last_run(store: RunStore) -> RunInfo | None:
    """The last run, when it was interrupted (its Fetchdeck or computer stopped mid-run) with
    lines left to fetch."""
    runs = store.runs()
    if runs and runs[-1].ended is Ended.INTERRUPTED and unfinished_count(runs[-1]):
        return runs[-1]
    return None


def unfinished_count(info: RunInfo) -> int:
    """Lines of the run with no result or a cancelled one (what a resume fetches)."""
    return max(0, info.total - info.done) + info.cancelled


def previous_run_of(store: RunStore, run_id: int) -> RunInfo | None:
    """The latest run before ``run_id`` of the same list (the same source), if any."""
    source = store.run(run_id).source
    earlier = [info for info in store.runs() if info.id < run_id and info.source == source]
    return earlier[-1] if earlier else None


def export_format(path: str | os.PathLike[str] | None, name: str | None = None) -> str:
    """``csv``, ``jsonl`` or ``xlsx``: ``name`` when given, else by the path's extension."""
    if name:
        if name not in EXPORT_FORMATS:
            raise ValueError(f"unknown format {name!r}")
        return name
    if os.fspath(path or "").lower().endswith(".xlsx"):
        return "xlsx"
    return format_for(path, None)


def write_results(path: str | os.PathLike[str] | None, results: Iterable[Result],
                  settings: Settings, *, fmt: str | None = None,
                  targets: TargetList | None = None,
                  protect: Iterable[str | os.PathLike[str]] = (),
                  progress: Callable[[int], None] | None = None,
                  every: int = 10_000) -> int:
    """Write ``results`` (in input order) to ``path`` (None or ``-``: standard output) as
    CSV, JSON Lines or XLSX; returns the rows written. Where the bytes go, and that a path in
    ``protect`` (the list being fetched) is never written over, is :mod:`app.core.output`'s."""
    name = export_format(path, fmt)
    if targets is not None and not len(targets):
        targets = None
    if name == "xlsx":
        from app.core.xlsx import write_xlsx  # noqa: PLC0415 - XlsxWriter only when asked

        return write_xlsx(path if path is not None else "-", results, settings, progress,
                          every, targets=targets, protect=protect)
    writer = FORMATS[name](settings, targets=targets)
    with open_output(path, protect=protect) as out:
        count = write_rows(out.stream, results, writer, progress, every)
        out.commit()
    return count


@dataclass(frozen=True, slots=True)
class Comparison:
    """Two runs compared: the first ``SHOWN_CHANGES`` changes (all of them, usually), and the
    counts of every change: per changed field, ``only_a``, ``only_b``."""

    run_a: int
    run_b: int
    changes: list[Change]
    counts: dict[str, int]
    compared: int
    changed: int

    @property
    def complete(self) -> bool:
        return len(self.changes) == self.changed


SHOWN_CHANGES = 100_000


def compare_runs(store: RunStore, run_a: int, run_b: int,
                 keep: int = SHOWN_CHANGES) -> Comparison:
    """What changed from run ``run_a`` to run ``run_b``, read in one pass; at most ``keep``
    changes are kept (the counts cover them all)."""
    diff = diff_runs(store, run_a, run_b)
    changes = list(islice(diff_iter := iter(diff), keep))
    for _ in diff_iter:  # the rest only counted
        pass
    return Comparison(run_a, run_b, changes, dict(diff.counts), diff.compared, diff.changed)
