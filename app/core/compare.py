"""What changed between two stored runs: lines whose outcome, status, final URL, redirect count,
title or error kind differ, and lines found in only one run.

Lines are matched by URL text, not by position (the lists may differ): the first occurrence of a
URL in run A with the first in run B, the second with the second, and so on. Both runs are read
sorted by URL in SQL and merged, so two million-row runs compare in bounded memory.
"""

from __future__ import annotations

import contextlib
import csv
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple

from app.core.export import neutralise
from app.core.output import open_output
from app.core.redact import Redactor
from app.core.settings import Settings
from app.core.store import RunStore, StoreError
from app.core.text import clean_text

__all__ = ["COMPARED", "Change", "ChangeKind", "Diff", "Snapshot", "diff_runs",
           "write_changes_csv"]

# The fields compared, in the order a table shows them.
COMPARED = ("outcome", "status", "final_url", "redirects", "title", "error_kind")
FETCH_ROWS = 2_000


class ChangeKind(StrEnum):
    CHANGED = "changed"
    ONLY_A = "only_a"  # the line is in run A's list only
    ONLY_B = "only_b"


class Snapshot(NamedTuple):
    """The compared fields of one line in one run."""

    outcome: str
    status: int | None
    final_url: str
    redirects: int
    title: str
    error_kind: str


@dataclass(frozen=True, slots=True)
class Change:
    """One line that differs. ``fields`` names the compared fields that changed (empty for a
    line in one run only); ``before`` is run A's view of the line, ``after`` run B's."""

    kind: ChangeKind
    url: str
    line_a: int | None
    line_b: int | None
    fields: tuple[str, ...]
    before: Snapshot | None
    after: Snapshot | None

    def old(self, field: str) -> Any:
        return None if self.before is None else getattr(self.before, field)

    def new(self, field: str) -> Any:
        return None if self.after is None else getattr(self.after, field)


class Diff:
    """The changes between two runs, made as they are read: iterate once. ``counts`` grows as
    the iteration goes: per changed field, ``only_a`` and ``only_b``; ``unchanged`` and
    ``compared`` count the matched lines."""

    def __init__(self, store: RunStore, run_a: int, run_b: int) -> None:
        self.run_a = run_a
        self.run_b = run_b
        self.counts: Counter[str] = Counter()
        self.unchanged = 0
        self.compared = 0
        self._store = store
        self._started = False
        for run_id in (run_a, run_b):
            store.run(run_id)  # a plain error for an unknown run, before any reading

    @property
    def changed(self) -> int:
        """Lines that differ in any way (each counted once)."""
        return self.compared - self.unchanged + self.counts["only_a"] + self.counts["only_b"]

    def __iter__(self) -> Iterator[Change]:
        if self._started:
            raise RuntimeError("a Diff is read once; make another with diff_runs")
        self._started = True
        with _sorted_rows(self._store, self.run_a) as side_a, \
                _sorted_rows(self._store, self.run_b) as side_b:
            a, b = next(side_a, None), next(side_b, None)
            while a is not None or b is not None:
                if b is None or (a is not None and a[0] < b[0]):
                    assert a is not None
                    self.counts["only_a"] += 1
                    yield Change(ChangeKind.ONLY_A, a[0], a[1], None, (), _snapshot(a), None)
                    a = next(side_a, None)
                elif a is None or b[0] < a[0]:
                    self.counts["only_b"] += 1
                    yield Change(ChangeKind.ONLY_B, b[0], None, b[1], (), None, _snapshot(b))
                    b = next(side_b, None)
                else:
                    self.compared += 1
                    fields = tuple(name for i, name in enumerate(COMPARED, start=2)
                                   if a[i] != b[i])
                    if fields:
                        self.counts.update(fields)
                        yield Change(ChangeKind.CHANGED, a[0], a[1], b[1], fields,
                                     _snapshot(a), _snapshot(b))
                    else:
                        self.unchanged += 1
                    a, b = next(side_a, None), next(side_b, None)


def diff_runs(store: RunStore, run_a: int, run_b: int) -> Diff:
    """The lines that changed from run ``run_a`` to run ``run_b`` (iterate the result)."""
    return Diff(store, run_a, run_b)


def _snapshot(row: tuple[Any, ...]) -> Snapshot:
    return Snapshot(*row[2:])


@contextlib.contextmanager
def _sorted_rows(store: RunStore, run_id: int) -> Iterator[Iterator[tuple[Any, ...]]]:
    """(url, line, outcome, status, final_url, redirects, title, error_kind) in URL order, on a
    connection of its own: the sort is SQLite's, which spills to disk past its cache."""
    conn = sqlite3.connect(f"{store.path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        # SQLite orders text by its UTF-8 bytes, which is code point order: Python's '<'.
        cursor = conn.execute(
            "SELECT url, line, outcome, status, final_url, redirects, title, "
            "coalesce(error_kind, '') FROM results WHERE run_id = ? ORDER BY url, idx",
            (run_id,))

        def rows() -> Iterator[tuple[Any, ...]]:
            try:
                while chunk := cursor.fetchmany(FETCH_ROWS):
                    yield from chunk
            except sqlite3.Error as exc:
                raise StoreError(f"run {run_id} cannot be read: {exc}") from exc

        yield rows()
    except sqlite3.Error as exc:
        raise StoreError(f"run {run_id} cannot be read: {exc}") from exc
    finally:
        conn.close()


CHANGE_COLUMNS = (
    "change", "url", "line_a", "line_b", "fields_changed",
    *(f"{name}_{side}" for name in COMPARED for side in ("a", "b")),
)


def change_values(change: Change, settings: Settings) -> list[str]:
    """The CSV cells for one change, masked and neutralised as the results export is."""
    redactor = Redactor.for_settings(settings)
    cells: list[str] = []
    for name in COMPARED:
        for value in (change.old(name), change.new(name)):
            text = "" if value is None else clean_text(str(value))
            cells.append(redactor.url(text) if name == "final_url" else redactor.text(text))
    url = redactor.url(clean_text(change.url))
    row = [change.kind.value, url, "" if change.line_a is None else str(change.line_a),
           "" if change.line_b is None else str(change.line_b), " ".join(change.fields),
           *cells]
    return row if settings.csv_raw else [neutralise(cell) for cell in row]


def write_changes_csv(path: str | os.PathLike[str], changes: Iterator[Change] | Diff,
                      settings: Settings) -> int:
    """Write ``changes`` to ``path`` as CSV (where :mod:`app.core.output` says: a regular
    file replaced only when complete, a pipe streamed to); returns the rows written."""
    count = 0
    with open_output(path) as out:
        writer = csv.writer(out.stream, lineterminator="\r\n")
        writer.writerow(CHANGE_COLUMNS)
        for change in changes:
            writer.writerow(change_values(change, settings))
            count += 1
        out.commit()
    return count
