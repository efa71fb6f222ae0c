"""A stored run's rows as a sequence read from its file on demand: the table of a reopened run
holds a page cache, not a million results.

A :class:`StoredRows` answers ``rows[index]`` (a :class:`Result`, or None for a line with no
result) by reading the page around ``index`` from SQLite and keeping the last ``PAGES`` pages
read; results that arrive later in the window (a retry into the run) are kept over the stored
ones. The whole run in input order, a sort order or the rows a filter keeps are read on
connections of their own, on whatever thread asks, so the GUI thread's page reads never wait
behind them.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import islice
from pathlib import Path
from typing import Any, overload

from app.core.result import Outcome, Result
from app.core.store import RunStore, StoredResults, StoreError

__all__ = ["NUMERIC_KEYS", "PAGE_ROWS", "PAGES", "TEXT_KEYS", "LiveRows", "StoredRows",
           "StoredSelection"]

# Rows read at once. Small, because a sorted table shows rows from all over the run: a
# screenful of 40 rows may need 40 pages (~0.4 ms each at this size).
PAGE_ROWS = 64
PAGES = 1024  # pages kept (~64k rows): screenfuls, and where the user jumped lately
SCAN_ROWS = 5_000  # rows per query when the whole run is read
RECENT_ROWS = 4_096  # results let go for the file kept until their page is read (or older)
# Evictions whose pages are remembered (a page read that began before one is not kept): a read
# takes milliseconds, this many evictions seconds (~20 a second in a run).
_MARKS_KEPT = 256

# What a sort can order by: the SQL for each key, over the results table.
NUMERIC_KEYS: Mapping[str, str] = {
    "line": "line", "status": "status", "elapsed_ms": "elapsed_ms", "bytes": "bytes",
    "redirects": "redirects", "attempts": "attempts",
}
TEXT_KEYS: Mapping[str, str] = {
    "outcome": "outcome",
    "final_url_if_redirected": "CASE WHEN redirects > 0 THEN final_url ELSE '' END",
    "content_type": "content_type", "title": "title",
    "error_kind": "coalesce(error_kind, '')", "error": "coalesce(error, '')",
    "check": "coalesce(\"check\", '')",
}
_REDIRECT_STATUSES = "(301, 302, 303, 307, 308)"


class StoredRows(Sequence[Result | None]):
    """The ``size`` rows of stored run ``run_id`` in the store file at ``path``.

    Reading a row that is not cached reads its page (``PAGE_ROWS`` rows, their details
    included). ``rows[i] = result`` keeps a newer result for a row (None: queued again) without
    touching the file. Safe to use from several threads; each thread that reads a page or scans
    uses a read-only connection of its own.
    """

    def __init__(self, path: str | Path | None, run_id: int | None, size: int, *,
                 changed: Mapping[int, Result | None] | None = None) -> None:
        self.path = None if path is None else Path(path)
        self.run_id = run_id
        self._size = size
        self._changed: dict[int, Result | None] = dict(changed or {})
        self._pages: OrderedDict[int, list[Result | None]] = OrderedDict()
        self._lock = threading.Lock()
        self._local = threading.local()
        self._readers: list[RunStore] = []
        self._complete: bool | None = None  # every row has a stored result
        # Evictions so far, and per page the count when one last touched it: a page read
        # that began before then may miss the row evicted, and is not kept.
        self._evictions = 0
        self._evicted_at: dict[int, int] = {}
        self._recent: dict[int, Result] = {}  # rows let go lately whose page is not cached

    # -- the sequence ------------------------------------------------------------------------

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> Result | None: ...

    @overload
    def __getitem__(self, index: slice) -> list[Result | None]: ...

    def __getitem__(self, index: int | slice) -> Result | None | list[Result | None]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(self._size))]
        if index < 0:
            index += self._size
        if not 0 <= index < self._size:
            raise IndexError(f"row {index} of {self._size}")
        found, result = self.cached(index)
        if found:
            return result
        number = index // PAGE_ROWS
        return self.read_pages([number])[0][index - number * PAGE_ROWS]

    def cached(self, index: int) -> tuple[bool, Result | None]:
        """(True, the row's result) when it can be had without reading the file, else
        (False, None): then :meth:`read_page` of ``index // PAGE_ROWS`` brings it."""
        changed = self._changed
        if changed and index in changed:
            return True, changed[index]
        recent = self._recent
        if recent and index in recent:
            return True, recent[index]
        number = index // PAGE_ROWS
        with self._lock:
            page = self._pages.get(number)
            if page is None:
                return False, None
            self._pages.move_to_end(number)
        return True, page[index - number * PAGE_ROWS]

    def read_pages(self, numbers: Iterable[int]) -> list[list[Result | None]]:
        """Read pages ``numbers`` (rows ``n * PAGE_ROWS`` on) into the cache, on any thread
        (each has a connection of its own); the pages."""
        numbers = list(numbers)
        began = self._evictions
        pages = [self._read_page(number) for number in numbers]
        with self._lock:
            if self._evictions - began >= _MARKS_KEPT:
                return pages  # so long a read that its marks may be gone: keep none of it
            evicted_at = self._evicted_at
            for number, page in zip(numbers, pages, strict=True):
                if evicted_at and evicted_at.get(number, -1) > began:
                    continue  # a row of it reached the file as it was read: read it again
                self._pages[number] = page
            while len(self._pages) > PAGES:
                self._pages.popitem(last=False)
        return pages

    def __setitem__(self, index: int, result: Result | None) -> None:
        if not 0 <= index < self._size:
            raise IndexError(f"row {index} of {self._size}")
        self._changed[index] = result

    def evict(self, results: Iterable[Result]) -> None:
        """These results are in the file now (the writer committed them): stop holding
        them, and read their rows from the file from now on. A row given a newer result
        since (a retry) keeps that one. Call on the thread that sets rows."""
        changed = self._changed
        let_go: list[Result] = []
        for result in results:
            if changed.get(result.index) is result:
                del changed[result.index]
                let_go.append(result)
        with self._lock:
            self._evictions += 1
            serial = self._evictions
            pages, recent, evicted_at = self._pages, self._recent, self._evicted_at
            for result in let_go:
                # The row keeps showing this result, which is what the file now holds: put
                # in its page when cached, else kept a while (the rows being painted as the
                # run goes), so that a row never blanks until its page is read again.
                index = result.index
                number = index // PAGE_ROWS
                page = pages.get(number)
                if page is not None:
                    page[index - number * PAGE_ROWS] = result
                else:
                    recent.pop(index, None)
                    recent[index] = result
                evicted_at[number] = serial
            while len(recent) > RECENT_ROWS:
                del recent[next(iter(recent))]
            if serial % _MARKS_KEPT == 0:  # a read lasts milliseconds: old marks are moot
                for number in [n for n, at in evicted_at.items() if at < serial - _MARKS_KEPT]:
                    del evicted_at[number]
            self._complete = None

    @property
    def evictions(self) -> int:
        """How many times rows were let go for the file's: an answer the file gave before
        (a sort order) may be out of date once this moves."""
        return self._evictions

    def __iter__(self) -> Iterator[Result | None]:
        return (result for _, result in self.items())

    @property
    def changed(self) -> Mapping[int, Result | None]:
        """Rows whose result came after the run was opened (a retry), by index."""
        return self._changed

    def snapshot(self) -> StoredRows:
        """These rows as they are now, for another thread: later changes are not in it."""
        return StoredRows(self._file(), self.run_id, self._size, changed=self._changed)

    def only(self, indexes: Iterable[int]) -> StoredSelection:
        """These rows as they are now, only those at ``indexes``, in input order: for another
        thread to read once through (an export of the rows a filter shows)."""
        return StoredSelection(self.snapshot(), indexes)

    @contextlib.contextmanager
    def file_results(self) -> Iterator[StoredResults | None]:
        """The rows as the file gives them (:meth:`RunStore.results`, which an export writes
        as CSV without a result object per row), on a connection of this thread's own, when
        the file alone holds them all (:attr:`as_stored`); else None: iterate these rows."""
        if not self.as_stored:
            yield None
            return
        reader = RunStore.reader(self._file())
        try:
            yield reader.results(self._run(), details=False)
        finally:
            reader.close()

    def close(self) -> None:
        with self._lock:
            readers, self._readers = self._readers, []
            self._pages.clear()
        for reader in readers:
            reader.close()

    # -- reading the file --------------------------------------------------------------------

    def _reader(self) -> RunStore:
        reader: RunStore | None = getattr(self._local, "reader", None)
        if reader is None:
            reader = self._local.reader = RunStore.reader(self._file())
            with self._lock:
                self._readers.append(reader)
        return reader

    def _read_page(self, number: int) -> list[Result | None]:
        first = number * PAGE_ROWS
        last = min(self._size, first + PAGE_ROWS) - 1
        page: list[Result | None] = [None] * (last - first + 1)
        for result in self._reader().rows(self._run(), first, last):
            page[result.index - first] = result
        return page

    def items(self) -> Iterator[tuple[int, Result | None]]:
        """Every row in input order, as (index, result), read on a connection of its own;
        stored results without their headers and preview (what a sort or an export needs)."""
        changed = dict(self._changed)
        reader = RunStore.reader(self._file())
        try:
            next_index = 0
            for result in reader.results(self._run(), details=False):
                index = result.index
                if index >= self._size:
                    break
                while next_index < index:
                    yield next_index, changed.get(next_index)
                    next_index += 1
                yield index, changed.get(index, result)
                next_index = index + 1
            while next_index < self._size:
                yield next_index, changed.get(next_index)
                next_index += 1
        finally:
            reader.close()

    # -- sorting and filtering in SQL --------------------------------------------------------

    @property
    def as_stored(self) -> bool:
        """Every row has its stored result and none changed since: sorts and filters can be
        answered by the file alone. Asks the file once (call off the GUI thread)."""
        if self._changed:
            return False
        if self._complete is None:
            with self._connect() as conn:
                count = conn.execute("SELECT count(*) FROM results WHERE run_id = ? AND idx < ?",
                                     (self.run_id, self._size)).fetchone()[0]
            self._complete = count == self._size
        return self._complete

    def order(self, key: str, descending: bool = False,
              text: Callable[[str], str] | None = None) -> array[int]:
        """Row indexes sorted by ``key`` (one of :data:`NUMERIC_KEYS` or :data:`TEXT_KEYS`),
        ties in input order. A missing number sorts after every number (first when
        descending); text is compared as ``text(value)`` when given. Only for rows
        :attr:`as_stored`."""
        if key in NUMERIC_KEYS:
            value = NUMERIC_KEYS[key]
            direction = "DESC" if descending else ""
            sort = f"({value} IS NULL) {direction}, {value} {direction}, idx"
        elif key in TEXT_KEYS:
            value = TEXT_KEYS[key]
            if text is not None:
                value = f"sort_text({value})"
            sort = f"{value} {'DESC' if descending else ''}, idx"
        else:
            raise ValueError(f"rows cannot be sorted by {key!r}")
        with self._connect(text) as conn:
            cursor = conn.execute(f"SELECT idx FROM results WHERE run_id = ? AND idx < ? "
                                  f"ORDER BY {sort}", (self.run_id, self._size))
            return _indexes(cursor)

    def matching(self, *, outcomes: frozenset[Outcome] = frozenset(), status: int | None = None,
                 check_failed: bool = False, redirected: bool = False, text: str = "",
                 urls: Sequence[str] | None = None) -> bytearray:
        """Which rows a filter keeps, as one byte a row (1: kept); every condition given must
        hold. ``text`` is found, ignoring case, in the error, title, status, final URL or
        check reason, or in ``urls[index]`` (the line as given) when ``urls`` is given. Only
        for rows :attr:`as_stored`."""
        parts = ["run_id = ?", "idx < ?"]
        params: list[Any] = [self.run_id, self._size]
        if outcomes:
            parts.append(f"outcome IN ({', '.join('?' * len(outcomes))})")
            params += sorted(o.value for o in outcomes)
        if status is not None:
            parts.append("status = ?")
            params.append(status)
        if check_failed:
            parts.append("\"check\" = 'fail'")
        if redirected:
            parts.append(
                "(redirects > 0 OR coalesce(first_status, CASE WHEN redirect_chain IS NOT NULL "
                "THEN json_extract(redirect_chain, '$[0][0]') END, status) IN "
                f"{_REDIRECT_STATUSES})")
        needle = text.lower()
        columns = ("error", "title", "CAST(status AS TEXT)", "final_url", "check_reason")
        found = bytearray(self._size)
        with self._connect() as conn:
            if needle:
                base = " AND ".join(parts)
                if needle.isascii():  # LIKE ignores ASCII case only, and is ~10x faster
                    pattern = "%" + needle.replace("\\", "\\\\").replace(
                        "%", "\\%").replace("_", "\\_") + "%"
                    matches = " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in columns)
                    found_params = [*params, *[pattern] * len(columns)]
                else:
                    conn.create_function("has_text", 1, lambda value: value is not None
                                         and needle in value.lower(), deterministic=True)
                    matches = " OR ".join(f"has_text({c})" for c in columns)
                    found_params = params
                sql = f"SELECT idx FROM results WHERE {base} AND ({matches})"
                for (index,) in conn.execute(sql, found_params):
                    found[index] = 1
                if urls is not None:
                    candidates = bytearray(self._size)
                    for (index,) in conn.execute(f"SELECT idx FROM results WHERE {base}", params):
                        candidates[index] = 1
                    for index, url in enumerate(islice(urls, self._size)):  # no copy
                        if candidates[index] and not found[index] and needle in url.lower():
                            found[index] = 1
            else:
                for (index,) in conn.execute(
                        f"SELECT idx FROM results WHERE {' AND '.join(parts)}", params):
                    found[index] = 1
        return found

    def indexes_where(self, outcomes: frozenset[Outcome]) -> list[int]:
        """Indexes of the rows whose result has one of ``outcomes`` (a changed row by its
        newest result; a row without one as :attr:`Outcome.PENDING`), in input order."""
        changed = dict(self._changed)
        stored: set[int] = set()
        with self._connect() as conn:
            if outcomes - {Outcome.PENDING}:
                marks = ", ".join("?" * len(outcomes))
                stored.update(index for (index,) in conn.execute(
                    f"SELECT idx FROM results WHERE run_id = ? AND idx < ? AND outcome IN "
                    f"({marks})", (self.run_id, self._size, *sorted(o.value for o in outcomes))))
            if Outcome.PENDING in outcomes:
                having = bytearray(self._size)
                for (index,) in conn.execute("SELECT idx FROM results WHERE run_id = ? AND "
                                             "idx < ?", (self.run_id, self._size)):
                    having[index] = 1
                stored.update(i for i in range(self._size) if not having[i])
        for index, result in changed.items():
            outcome = Outcome.PENDING if result is None else result.outcome
            if outcome in outcomes:
                stored.add(index)
            else:
                stored.discard(index)
        return sorted(stored)

    def _connect(self, text: Callable[[str], str] | None = None) -> _Connection:
        return _Connection(self._file(), text)

    def _file(self) -> Path:
        if self.path is None:
            raise StoreError("these rows are not in the run store yet")
        return self.path

    def _run(self) -> int:
        if self.run_id is None:
            raise StoreError("these rows are not in the run store yet")
        return self.run_id


class _Connection:
    """A read-only connection for one query's time, with ``sort_text`` defined when given."""

    def __init__(self, path: Path, text: Callable[[str], str] | None) -> None:
        self._path = path
        self._text = text
        self._conn: sqlite3.Connection | None = None

    def __enter__(self) -> sqlite3.Connection:
        try:
            conn = self._conn = sqlite3.connect(f"{self._path.resolve().as_uri()}?mode=ro",
                                                uri=True)
        except sqlite3.Error as exc:
            raise StoreError(f"the run store cannot be read: {self._path}") from exc
        text = self._text
        if text is not None:
            conn.create_function("sort_text", 1,
                                 lambda value: "" if value is None else text(value),
                                 deterministic=True)
        return conn

    def __exit__(self, *exc_info: object) -> None:
        if self._conn is not None:
            self._conn.close()


def _indexes(cursor: sqlite3.Cursor) -> array[int]:
    found = array("l")
    while rows := cursor.fetchmany(50_000):
        found.extend(index for (index,) in rows)
    return found


class LiveRows(StoredRows):
    """The rows of a run going now, held in memory only until the run's writer has committed
    them: then :meth:`evict` lets them go and they are read back from the file like a stored
    run's, so a run of ten million rows holds a screenful and the last flush, not ten
    million results. Until :meth:`attach` names the run's file (the store opens while the run
    starts), every row is in memory; a window that keeps no history, or whose history failed,
    never evicts and holds every row, as it must. A row with no result yet, in memory or
    written, is queued: no page is read for it.
    """

    def __init__(self, size: int) -> None:
        super().__init__(None, None, size)
        self._written = bytearray(size)  # 1: a result of the row is in the file

    def attach(self, path: str | Path, run_id: int) -> None:
        """The run is written to run ``run_id`` of the store at ``path``."""
        if self.path is None:
            self.path, self.run_id = Path(path), run_id
        elif (self.path, self.run_id) != (Path(path), run_id):
            raise ValueError(f"these rows are run {self.run_id}'s, not run {run_id}'s")

    def cached(self, index: int) -> tuple[bool, Result | None]:
        if not self._written[index]:  # no result written: held in memory, or queued
            return True, self._changed.get(index)
        return super().cached(index)

    def evict(self, results: Iterable[Result]) -> None:
        if self.path is None:
            raise ValueError("rows are evicted once their run's file is attached")
        taken = results if isinstance(results, list) else list(results)
        written, size = self._written, self._size
        for result in taken:
            if 0 <= result.index < size:  # a result the table refused (a bug) is not its
                written[result.index] = 1
        super().evict(taken)

    @property
    def held(self) -> int:
        """Rows whose result is held in memory (not written yet, or newer than the file's)."""
        return len(self._changed)

    def snapshot(self) -> LiveRows:
        copy = LiveRows(self._size)
        copy.path, copy.run_id = self.path, self.run_id
        copy._changed = dict(self._changed)
        copy._written = bytearray(self._written)
        return copy

    def items(self) -> Iterator[tuple[int, Result | None]]:
        if self.path is not None:
            return super().items()
        changed = dict(self._changed)
        return ((index, changed.get(index)) for index in range(self._size))

    @property
    def as_stored(self) -> bool:
        return self.path is not None and super().as_stored

    def indexes_where(self, outcomes: frozenset[Outcome]) -> list[int]:
        if self.path is not None:
            return super().indexes_where(outcomes)
        changed = dict(self._changed)
        return [index for index in range(self._size)
                if (Outcome.PENDING if (r := changed.get(index)) is None else r.outcome)
                in outcomes]


class StoredSelection(Sequence[Result | None]):
    """Some rows of a stored run, in input order. Iterating reads the run once, on a
    connection of the iterating thread's own; indexing reads a page a row."""

    def __init__(self, rows: StoredRows, indexes: Iterable[int]) -> None:
        self._rows = rows
        self._indexes = array("l", sorted(indexes))

    def __len__(self) -> int:
        return len(self._indexes)

    @overload
    def __getitem__(self, position: int) -> Result | None: ...

    @overload
    def __getitem__(self, position: slice) -> list[Result | None]: ...

    def __getitem__(self, position: int | slice) -> Result | None | list[Result | None]:
        if isinstance(position, slice):
            return [self._rows[i] for i in self._indexes[position]]
        return self._rows[self._indexes[position]]

    def __iter__(self) -> Iterator[Result | None]:
        if not self._indexes:
            return
        wanted = bytearray(len(self._rows))
        for index in self._indexes:
            wanted[index] = 1
        last = self._indexes[-1]
        for index, result in self._rows.items():
            if wanted[index]:
                yield result
            if index >= last:
                return
