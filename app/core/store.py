"""The run store: every run, its input lines and one result row per line, in one SQLite file.

Results reach the file through a :class:`~app.core.store_writer.RunWriter` (its own module), a
sink that costs the fetching loop one list append per result; a thread of its own commits them
in batches. The file is in WAL mode with
``synchronous=NORMAL``: a committed batch survives the process being killed (not necessarily a
power cut), and readers never wait for the writer. Reading rebuilds real :class:`Result`
objects a chunk at a time, so a million-row run never sits in memory at once.

Schema versions (``PRAGMA user_version``); a file of any earlier version is migrated on open,
one transaction per step, and a file of a later version is refused untouched:

=======  ====================================================================================
version  what it added
=======  ====================================================================================
1        runs, inputs, results (every CSV column, failures' exception type, chain and
         traceback), details (headers as JSON, body preview), frames (traceback frames,
         shared by the failures of one code path)
2        results: content_length, first_status, expected, expected_status, check,
         check_reason, extra; inputs: expected, expected_status, extra; runs: columns
=======  ====================================================================================
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import socket
import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import platformdirs

from app import __version__
from app.core.errors import Failure, Kind, StackLink
from app.core.redact import MASK, is_secret_header
from app.core.redact import mask_url as mask_password
from app.core.result import NO_TIMINGS, Details, Hop, Outcome, Response, Result, Timings
from app.core.settings import Settings
from app.core.tally import exit_status
from app.core.targets import TargetList

if TYPE_CHECKING:
    from app.core.store_writer import RunWriter

__all__ = [
    "CELL_COLUMNS",
    "SCHEMA_VERSION",
    "Ended",
    "InputLine",
    "RunInfo",
    "RunStore",
    "StoreError",
    "StoredResults",
    "StoredRow",
    "Where",
    "default_db_path",
]

SCHEMA_VERSION = 2
STALE_SECONDS = 30.0  # a writer silent this long is gone (where its process cannot be asked)
READ_CHUNK = 5_000


class StoreError(Exception):
    """The run store cannot be opened, read or written; the message says why in plain words."""


class Ended(StrEnum):
    """How a run ended. ``running`` while its writer lives; ``interrupted`` once it is gone."""

    RUNNING = "running"
    FINISHED = "finished"
    CANCELLED = "cancelled"
    INTERRUPTED = "interrupted"


def default_db_path() -> Path:
    """``runs.sqlite3`` in ``$FETCHDECK_DATA_DIR``, else in the user's data directory."""
    folder = os.environ.get("FETCHDECK_DATA_DIR")
    base = Path(folder) if folder else Path(platformdirs.user_data_dir("fetchdeck",
                                                                      appauthor=False))
    return base / "runs.sqlite3"


# --- schema -----------------------------------------------------------------------------------

# Each step is a list of statements run in one transaction. Never edit a shipped step: add one.
_V1 = [
    """CREATE TABLE runs (
        id INTEGER PRIMARY KEY,
        started_at TEXT NOT NULL,
        ended_at TEXT,
        ended TEXT,
        source TEXT NOT NULL,
        settings TEXT NOT NULL,
        app_version TEXT NOT NULL,
        total INTEGER,
        ok INTEGER NOT NULL DEFAULT 0,
        http_error INTEGER NOT NULL DEFAULT 0,
        failed INTEGER NOT NULL DEFAULT 0,
        invalid INTEGER NOT NULL DEFAULT 0,
        cancelled INTEGER NOT NULL DEFAULT 0,
        writer_pid INTEGER,
        writer_token TEXT,
        heartbeat_at REAL)""",
    """CREATE TABLE inputs (
        run_id INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        line INTEGER NOT NULL,
        text TEXT NOT NULL,
        PRIMARY KEY (run_id, idx)) WITHOUT ROWID""",
    """CREATE TABLE results (
        run_id INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        line INTEGER NOT NULL,
        url TEXT NOT NULL,
        outcome TEXT NOT NULL,
        status INTEGER,
        reason TEXT NOT NULL,
        final_url TEXT NOT NULL,
        redirects INTEGER NOT NULL,
        content_type TEXT NOT NULL,
        bytes INTEGER,
        elapsed_ms REAL,
        error_kind TEXT,
        error TEXT,
        attempts INTEGER NOT NULL,
        redirect_chain TEXT,
        title TEXT NOT NULL,
        sha256 TEXT NOT NULL,
        server TEXT NOT NULL,
        dns_ms REAL,
        connect_ms REAL,
        tls_ms REAL,
        ttfb_ms REAL,
        note TEXT NOT NULL,
        exception_type TEXT,
        exception_chain TEXT,
        traceback TEXT,
        stack TEXT,
        PRIMARY KEY (run_id, idx)) WITHOUT ROWID""",
    # A rowid table: previews are large, and few rows have one.
    """CREATE TABLE details (
        run_id INTEGER NOT NULL,
        idx INTEGER NOT NULL,
        request_headers TEXT NOT NULL,
        response_headers TEXT NOT NULL,
        preview BLOB NOT NULL,
        UNIQUE (run_id, idx))""",
    "CREATE TABLE frames (id INTEGER PRIMARY KEY, frames TEXT NOT NULL UNIQUE)",
]
_V2 = [
    "ALTER TABLE runs ADD COLUMN columns TEXT",
    "ALTER TABLE inputs ADD COLUMN expected TEXT",
    "ALTER TABLE inputs ADD COLUMN expected_status INTEGER",
    "ALTER TABLE inputs ADD COLUMN extra TEXT",
    "ALTER TABLE results ADD COLUMN content_length INTEGER",
    "ALTER TABLE results ADD COLUMN first_status INTEGER",
    "ALTER TABLE results ADD COLUMN expected TEXT",
    "ALTER TABLE results ADD COLUMN expected_status INTEGER",
    'ALTER TABLE results ADD COLUMN "check" TEXT',
    "ALTER TABLE results ADD COLUMN check_reason TEXT",
    "ALTER TABLE results ADD COLUMN check_code TEXT",
    "ALTER TABLE results ADD COLUMN extra TEXT",
]
MIGRATIONS: tuple[list[str], ...] = (_V1, _V2)  # MIGRATIONS[n] takes a file from n to n + 1
assert len(MIGRATIONS) == SCHEMA_VERSION

# Fields the v2 columns hold. A row's expected answer and imported columns belong to its input
# line (the inputs table); those result columns stay NULL and a rebuilt Result leaves them out.
LATER_FIELDS = ("content_length", "first_status", "expected", "expected_status", "check",
                "check_reason", "check_code", "extra")
_LATER_COLUMNS = ("content_length", "first_status", "expected", "expected_status", '"check"',
                  "check_reason", "check_code", "extra")
_RESULT_FIELDS = frozenset((*Result.__slots__, *Response.__slots__)) - {"response"}
_FAILURE_COLUMNS = ("exception_type", "exception_chain", "traceback", "stack")


def _packed(columns: Sequence[str]) -> str:
    """One selected column for several that are mostly NULL: Python's sqlite3 spends as long
    on a NULL column as SQLite on the row, so rare ones are read as one JSON array, or NULL."""
    return (f"CASE WHEN {' AND '.join(f'{c} IS NULL' for c in columns)} THEN NULL "
            f"ELSE json_array({', '.join(columns)}) END")


# A row's check, rare: read packed. Its content length and first status are on most fetched
# rows, where unpacking them from JSON cost ~2 us a row (a quarter of rebuilding a Result).
_CHECK_COLUMNS = ('"check"', "check_reason", "check_code")
# final_url is NULL when it is the URL (most rows): no second copy decoded, none held.
_SELECT_RESULT = (
    "SELECT idx, line, url, outcome, status, reason, "
    "CASE WHEN final_url = url THEN NULL ELSE final_url END, redirects, content_type, bytes, "
    "elapsed_ms, error_kind, error, attempts, redirect_chain, title, sha256, server, dns_ms, "
    f"connect_ms, tls_ms, ttfb_ms, note, content_length, first_status, "
    f"{_packed(_FAILURE_COLUMNS)}, {_packed(_CHECK_COLUMNS)} FROM results")
# A row a reopened run counts without rebuilding it (StoredRow): ok, and no failed check.
_LIGHT = "outcome = 'ok' AND coalesce(\"check\", '') != 'fail'"  # 1 or 0, never NULL
_SELECT_FINISHED = (f'SELECT idx, status, elapsed_ms, url, note, "check", {_LIGHT} '
                    "FROM results")
# What a CSV row needs, in this order (app.core.export.Rows.stored_texts reads them).
CELL_COLUMNS = ("idx", "line", "url", "outcome", "status", "reason", "final_url", "redirects",
                "content_type", "bytes", "elapsed_ms", "error_kind", "error", "attempts",
                "redirect_chain", "title", "sha256", "server", "dns_ms", "connect_ms", "tls_ms",
                "ttfb_ms", "note", "first_status", "content_length", "check", "check_reason")
# Each column as the rebuilt Result has it: no failure, no error text; no check, "". (An
# outcome or error kind this version does not know is the reader's to map: an IN list here
# cost ~0.4 s a million rows.)
_CELL_SQL = {
    "error_kind": "coalesce(error_kind, '')",
    "error": "CASE WHEN error_kind IS NULL THEN '' ELSE coalesce(error, '') END",
    "check": "coalesce(\"check\", '')",
    "check_reason": "coalesce(check_reason, '')",
    "redirect_chain": "coalesce(redirect_chain, '')",  # JSON, or "" for none
}
_SELECT_CELLS = ("SELECT " + ", ".join(_CELL_SQL.get(c, c) for c in CELL_COLUMNS)
                 + " FROM results")
_OUTCOMES = {o.value: o for o in Outcome}
_KINDS = {k.value: k for k in Kind}
_COUNTED = ("ok", "http_error", "failed", "invalid", "cancelled")


# --- records ----------------------------------------------------------------------------------


class InputLine(NamedTuple):
    """One stored input line, as given: enough to fetch it again."""

    index: int  # type: ignore[assignment]  # shadows tuple.index, as Target's does
    line: int
    text: str
    expected: str | None = None
    expected_status: int | None = None
    extra: Any = None


@dataclass(frozen=True, slots=True)
class RunInfo:
    """A run as the history lists it."""

    id: int
    started: datetime
    ended_at: datetime | None
    ended: Ended
    source: str
    total: int
    ok: int
    http_error: int
    failed: int
    invalid: int
    cancelled: int
    app_version: str
    columns: tuple[str, ...] = ()

    @property
    def done(self) -> int:
        return self.ok + self.http_error + self.failed + self.invalid + self.cancelled

    @property
    def failures(self) -> int:
        return self.http_error + self.failed


@dataclass(frozen=True, slots=True)
class Where:
    """Which rows of a run to read; every condition given must hold.

    ``text`` matches a substring of the URL, final URL, title or error, ignoring ASCII case.
    """

    outcomes: frozenset[Outcome] | None = None
    error_kinds: frozenset[str] | None = None
    text: str = ""

    def sql(self) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        if self.outcomes is not None:
            parts.append(f"outcome IN ({', '.join('?' * len(self.outcomes)) or 'NULL'})")
            params += sorted(o.value for o in self.outcomes)
        if self.error_kinds is not None:
            parts.append(f"error_kind IN ({', '.join('?' * len(self.error_kinds)) or 'NULL'})")
            params += sorted(self.error_kinds)
        if self.text:
            pattern = "%" + self.text.replace("\\", "\\\\").replace("%", "\\%").replace(
                "_", "\\_") + "%"
            parts.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in (
                "url", "final_url", "title", "error")) + ")")
            params += [pattern] * 4
        return " AND ".join(f"{p}" for p in parts), params


# --- plain words for SQLite's errors ----------------------------------------------------------


def _reason(exc: BaseException) -> str:
    name = getattr(exc, "sqlite_errorname", "")
    if name == "SQLITE_FULL":
        return "the disk is full (or the run store reached its size limit)"
    if name.startswith("SQLITE_READONLY"):
        return "the run store cannot be written (it is read-only)"
    if name.startswith("SQLITE_CANTOPEN"):
        return "the run store file cannot be opened or created there"
    if name.startswith("SQLITE_IOERR"):
        return f"the disk reported an error ({exc})"
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")):
        return "the run store file is damaged"
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
        return "another program keeps the run store locked"
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror[0].lower() + exc.strerror[1:]
    return str(exc) or type(exc).__name__


def _error(path: Path, exc: BaseException) -> StoreError:
    error = StoreError(f"{_reason(exc)}: {path}")
    error.__cause__ = exc
    return error


# --- who is writing ---------------------------------------------------------------------------


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _start_time(pid: int) -> str:
    """When process ``pid`` started, in the kernel's clock ticks since boot; '' if unknown."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    # The command name in brackets may hold spaces and ')': field 22 counts from the last ')'.
    return stat.rpartition(")")[2].split()[19]


def writer_token(pid: int | None = None) -> str:
    """What tells this process from a later one that reuses its pid: host, boot, start time.

    Where the kernel does not say (no /proc), the token names only the host, and a writer's
    heartbeat tells whether it is alive."""
    pid = os.getpid() if pid is None else pid
    boot = _boot_id()
    return f"{socket.gethostname()}|{boot}|{_start_time(pid) if boot else ''}"


def writer_alive(pid: int | None, token: str | None, heartbeat: float | None,
                 now: float | None = None) -> bool:
    """Whether the process that recorded (pid, token) is still running and writing.

    On the same host, the boot must be this one and the kernel's start time of ``pid`` the
    token's (a dead writer's pid may belong to another process by now). Otherwise, as on
    another host sharing the file or a system without /proc, the writer must have written
    within ``STALE_SECONDS``."""
    if pid is None or not token:
        return False
    host, _, rest = token.partition("|")
    boot, _, started = rest.partition("|")
    if host == socket.gethostname() and boot and started:
        # Since a reboot, every process of the old boot is gone, whatever its pid now is.
        return boot == _boot_id() and _start_time(pid) == started
    now = time.time() if now is None else now
    return heartbeat is not None and now - heartbeat < STALE_SECONDS


# --- rows in and out --------------------------------------------------------------------------


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, ensure_ascii=False)


_SURROGATE = re.compile("[\ud800-\udfff]")


def _clean(value: Any) -> Any:
    """Text SQLite can store: a lone surrogate (undecodable server bytes) becomes U+FFFD."""
    return _SURROGATE.sub("\ufffd", value) if isinstance(value, str) else value


def settings_record(settings: Settings) -> dict[str, Any]:
    """The settings as stored: basic auth, a proxy's password and secret headers masked."""
    data = settings.to_dict()
    if data.get("auth"):
        data["auth"] = MASK
    if data.get("proxy"):
        data["proxy"] = mask_password(data["proxy"])
    data["headers"] = [[name, MASK if is_secret_header(name) else value]
                       for name, value in data.get("headers", [])]
    return data


# --- the store --------------------------------------------------------------------------------


class StoredRow:
    """A reopened run's row that finished ok (and passed its check, if it had one), as the
    counts and the run summary read it (:class:`~app.core.result.Finished`): nothing else is
    made of it. The table of a reopened run reads its own pages and the error panel lists
    only the other rows, so the ~6.5 us of a rebuilt :class:`Result` were spent on nothing."""

    __slots__ = ("index", "status", "elapsed_ms", "url", "note", "check")
    outcome = Outcome.OK
    failure = None

    def __init__(self, index: int, status: int | None, elapsed_ms: float | None, url: str,
                 note: str, check: str) -> None:
        self.index = index
        self.status = status
        self.elapsed_ms = elapsed_ms
        self.url = url
        self.note = note
        self.check = check


class RunStore:
    """One run-store file. Safe to use from any thread; each call is short, and long reads
    fetch a chunk per call."""

    def __init__(self, path: Path, conn: sqlite3.Connection, max_bytes: int | None) -> None:
        self.path = path
        self._conn = conn
        self._lock = threading.RLock()
        self._max_bytes = max_bytes
        self._frames: dict[int, tuple[tuple[str, int, str], ...]] = {}

    # -- opening -----------------------------------------------------------------------------

    @classmethod
    def open(cls, path: str | os.PathLike[str] | None = None, *,
             max_bytes: int | None = None) -> RunStore:
        """Open the store at ``path`` (default: :func:`default_db_path`), creating or
        migrating it. ``max_bytes`` caps the file's size: writes past it fail as a full disk
        would. Raises :class:`StoreError` in plain words; a file of a newer schema, or one that
        is not a run store, is left exactly as it was."""
        target = Path(path) if path else default_db_path()  # "" (an empty field) too
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _error(target.parent, exc) from exc
        _check_before_writing(target)
        try:
            conn = _connect(target, max_bytes)
        except sqlite3.Error as exc:
            raise _error(target, exc) from exc
        try:
            _migrate(conn, target)
        except BaseException:
            conn.close()
            raise
        return cls(target, conn, max_bytes)

    @classmethod
    def reader(cls, path: str | os.PathLike[str]) -> RunStore:
        """The store at ``path`` opened for reading only (it must exist, and be of this
        schema): no migration, no write lock ever taken, never waits behind a writer."""
        target = Path(path)
        try:
            conn = sqlite3.connect(f"{target.resolve().as_uri()}?mode=ro", uri=True,
                                   isolation_level=None, check_same_thread=False,
                                   timeout=10.0)
        except sqlite3.Error as exc:
            raise _error(target, exc) from exc
        return cls(target, conn, None)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> RunStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[Any]:
        with self._lock:
            try:
                return self._conn.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise _error(self.path, exc) from exc

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    if self._conn.in_transaction:  # SQLite ends it itself on some errors
                        self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise _error(self.path, exc) from exc

    # -- writing -----------------------------------------------------------------------------

    def start_run(self, *, source: str, settings: Settings, inputs: Iterable[Any] | None = None,
                  total: int | None = None, columns: Sequence[str] = (),
                  on_error: Callable[[StoreError], None] | None = None,
                  on_written: Callable[[list[Result]], None] | None = None) -> RunWriter:
        """Record a new run and return the writer its results go to.

        ``inputs``: the run's lines in order (a :class:`TargetList`, or items with ``index``,
        ``line``, ``text`` and optionally ``expected``, ``expected_status``, ``extra``),
        iterated on the writer's thread, so it must not be an iterator the run also consumes.
        ``on_written`` hears, on the writer's thread, each batch of results once committed.
        Raises :class:`StoreError` if even the run's record cannot be written."""
        if total is None and isinstance(inputs, Sequence | TargetList):
            total = len(inputs)
        with self._transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO runs (started_at, source, settings, app_version, total, columns, "
                "writer_pid, writer_token, heartbeat_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (_now(), source, json.dumps(settings_record(settings)), __version__, total,
                 json.dumps(list(columns)), os.getpid(), writer_token(), time.time()))
            run_id = cursor.lastrowid
        assert run_id is not None
        from app.core.store_writer import RunWriter  # noqa: PLC0415 - it imports this module

        return RunWriter(self, run_id, inputs, on_error=on_error, on_written=on_written,
                         resumed=False)

    def resume_run(self, run_id: int, *, inputs: Iterable[Any] | None = None,
                   on_error: Callable[[StoreError], None] | None = None,
                   on_written: Callable[[list[Result]], None] | None = None) -> RunWriter:
        """Reopen run ``run_id`` for writing: it is running again, and a result for a line
        that has one replaces it. ``inputs`` may give lines the run never stored (its
        process was killed before it wrote them all); stored ones are kept."""
        info = self.run(run_id)
        if info.ended is Ended.RUNNING:
            raise StoreError(f"run {run_id} is still being written by a running Fetchdeck")
        with self._transaction() as conn:
            conn.execute(
                "UPDATE runs SET ended = NULL, ended_at = NULL, writer_pid = ?, "
                "writer_token = ?, heartbeat_at = ? WHERE id = ?",
                (os.getpid(), writer_token(), time.time(), run_id))
        from app.core.store_writer import RunWriter  # noqa: PLC0415 - it imports this module

        return RunWriter(self, run_id, inputs, on_error=on_error, on_written=on_written,
                         resumed=True)

    def delete_run(self, run_id: int) -> None:
        """Remove a run and everything stored for it."""
        if self.run(run_id).ended is Ended.RUNNING:
            raise StoreError(f"run {run_id} is still being written; stop it first")
        with self._transaction() as conn:
            for table, key in (("results", "run_id"), ("details", "run_id"),
                               ("inputs", "run_id"), ("runs", "id")):
                conn.execute(f"DELETE FROM {table} WHERE {key} = ?", (run_id,))

    # -- reading -----------------------------------------------------------------------------

    _RUN_COLUMNS = ("id, started_at, ended_at, ended, source, total, ok, http_error, failed, "
                    "invalid, cancelled, app_version, columns, writer_pid, writer_token, "
                    "heartbeat_at")

    def runs(self) -> list[RunInfo]:
        """Every run, oldest first."""
        rows = self._query(f"SELECT {self._RUN_COLUMNS} FROM runs ORDER BY id")
        return [_run_info(row) for row in rows]

    def run(self, run_id: int) -> RunInfo:
        rows = self._query(f"SELECT {self._RUN_COLUMNS} FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise StoreError(f"there is no run {run_id} in {self.path}")
        return _run_info(rows[0])

    def exit_status(self, run_id: int) -> int:
        """The run's exit status by :func:`app.core.tally.exit_status`, from its stored rows:
        what ``fetchdeck run`` would have exited with had it fetched them all in one go."""
        info = self.run(run_id)
        rows = self._query(
            "SELECT COALESCE(SUM(\"check\" = 'fail'), 0),"
            " COALESCE(SUM(\"check\" = 'pass' AND outcome = ?), 0),"
            " COALESCE(SUM(error_kind = ?), 0) FROM results WHERE run_id = ?",
            (Outcome.HTTP_ERROR.value, Kind.INTERNAL.value, run_id))
        checks_failed, excused, internal = rows[0]
        return exit_status(info.total, info.ok, excused=excused, checks_failed=checks_failed,
                           internal=internal)

    def settings(self, run_id: int) -> dict[str, Any]:
        """The settings the run used, as stored (credentials masked)."""
        rows = self._query("SELECT settings FROM runs WHERE id = ?", (run_id,))
        if not rows:
            raise StoreError(f"there is no run {run_id} in {self.path}")
        data = json.loads(rows[0][0])
        return data if isinstance(data, dict) else {}

    def resolve(self, spec: str | int) -> int:
        """The id of the run ``spec`` names: its number, ``last``, or ``last~N`` (the Nth run
        before the last)."""
        text = str(spec).strip()
        if text.isdigit():
            if not self._query("SELECT 1 FROM runs WHERE id = ?", (int(text),)):
                raise StoreError(f"there is no run {text}; `fetchdeck runs` lists them")
            return int(text)
        back = 0
        if text != "last":
            word, tilde, count = text.partition("~")
            if word != "last" or not tilde or not count.isdigit():
                raise StoreError(f"{text!r} does not name a run: give its number, last, "
                                 "or last~N (the Nth run before the last)")
            back = int(count)
        rows = self._query("SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?", (back,))
        if not rows:
            total = self._query("SELECT count(*) FROM runs")[0][0]
            if not total:
                raise StoreError("no run has been recorded yet")
            raise StoreError(f"{text} names no run: there are only {total} runs")
        return int(rows[0][0])

    def count(self, run_id: int, *, where: Where | None = None) -> int:
        clause, params = where.sql() if where is not None else ("", [])
        sql = "SELECT count(*) FROM results WHERE run_id = ?" + (f" AND {clause}" if clause
                                                                  else "")
        return int(self._query(sql, [run_id, *params])[0][0])

    def results(self, run_id: int, *, where: Where | None = None,
                details: bool = True) -> StoredResults:
        """The run's results in input order, rebuilt as :class:`Result` objects with their
        failures (traceback included) and, when stored and ``details``, headers and preview.
        Read ``READ_CHUNK`` rows at a time. The iterator can give the same rows as plain
        tuples instead (:meth:`StoredResults.cell_rows`), for a writer that needs no objects."""
        return StoredResults(self, run_id, where, self._results(run_id, where, details))

    def _results(self, run_id: int, where: Where | None, details: bool) -> Iterator[Result]:
        clause, params = where.sql() if where is not None else ("", [])
        sql = (f"{_SELECT_RESULT} WHERE run_id = ? AND idx > ?"
               + (f" AND {clause}" if clause else "") + " ORDER BY idx LIMIT ?")
        after = -1
        plain: dict[tuple[str, str], Failure] = {}
        while rows := self._query(sql, [run_id, after, *params, READ_CHUNK]):
            stored = (self._details(run_id, rows[0][0], rows[-1][0]) if details else {})
            for row in rows:
                yield self._rebuild(row, stored.get(row[0]), plain)
            after = rows[-1][0]

    def finished(self, run_id: int) -> Iterator[list[Result | StoredRow]]:
        """The run's rows in input order, ``READ_CHUNK`` to a list, as reopening it counts and
        summarises them: a :class:`StoredRow` for each row that finished ok and passed its
        check (if any), the whole :class:`Result` (details included) of every other."""
        sql = f"{_SELECT_FINISHED} WHERE run_id = ? AND idx > ? ORDER BY idx LIMIT ?"
        after = -1
        plain: dict[tuple[str, str], Failure] = {}
        while rows := self._query(sql, [run_id, after, READ_CHUNK]):
            first, last = rows[0][0], rows[-1][0]
            wanted = [row[0] for row in rows if not row[-1]]
            whole: dict[int, Result] = {}
            if wanted:  # at most READ_CHUNK of SQLite's 32,766 parameters a statement
                stored = self._details(run_id, first, last)
                for row in self._query(f"{_SELECT_RESULT} WHERE run_id = ? AND idx IN "
                                       f"({', '.join('?' * len(wanted))})", [run_id, *wanted]):
                    whole[row[0]] = self._rebuild(row, stored.get(row[0]), plain)
            # A row a writer replaced or deleted between the two reads (a retry's writer
            # still committing, another Fetchdeck on the same file): whole as it is now, or
            # gone with the row.
            yield [StoredRow(idx, status, elapsed, url, note, check or "") if light
                   else whole[idx]
                   for idx, status, elapsed, url, note, check, light in rows
                   if light or idx in whole]
            after = last

    def cell_rows(self, run_id: int, *, where: Where | None = None, first: int = 0,
                  end: int | None = None) -> Iterator[list[Any]]:
        """The run's rows in input order as tuples of :data:`CELL_COLUMNS`, ``READ_CHUNK``
        to a list: what a CSV row needs, read with no object made per row. Only those with
        ``first`` <= index < ``end`` when given."""
        clause, params = where.sql() if where is not None else ("", [])
        if end is not None:
            clause = f"idx < {int(end)}" + (f" AND {clause}" if clause else "")
        sql = (f"{_SELECT_CELLS} WHERE run_id = ? AND idx > ?"
               + (f" AND {clause}" if clause else "") + " ORDER BY idx LIMIT ?")
        after = int(first) - 1
        while rows := self._query(sql, [run_id, after, *params, READ_CHUNK]):
            yield rows
            after = rows[-1][0]

    def idx_range(self, run_id: int) -> tuple[int, int, int]:
        """The lowest and highest index of the run's stored results, and how many there are
        ((0, -1, 0) when none)."""
        low, high, count = self._query("SELECT min(idx), max(idx), count(*) FROM results "
                                       "WHERE run_id = ?", (run_id,))[0]
        return (0, -1, 0) if not count else (int(low), int(high), int(count))

    def rows(self, run_id: int, first: int, last: int) -> list[Result]:
        """The stored results of input lines ``first`` to ``last`` (both included), in input
        order, details included; lines without a result are left out."""
        rows = self._query(f"{_SELECT_RESULT} WHERE run_id = ? AND idx BETWEEN ? AND ? "
                           "ORDER BY idx", (run_id, first, last))
        if not rows:
            return []
        stored = self._details(run_id, rows[0][0], rows[-1][0])
        plain: dict[tuple[str, str], Failure] = {}
        return [self._rebuild(row, stored.get(row[0]), plain) for row in rows]

    def inputs(self, run_id: int, *, unfinished: bool = False) -> Iterator[InputLine]:
        """The run's input lines in order; with ``unfinished``, only those that have no result
        or a cancelled one (what a resume fetches)."""
        sql = ("SELECT i.idx, i.line, i.text, i.expected, i.expected_status, i.extra "
               "FROM inputs i LEFT JOIN results r ON r.run_id = i.run_id AND r.idx = i.idx "
               "WHERE i.run_id = ? AND i.idx > ?"
               + (" AND (r.idx IS NULL OR r.outcome = 'cancelled')" if unfinished else "")
               + " ORDER BY i.idx LIMIT ?")
        after = -1
        while rows := self._query(sql, (run_id, after, READ_CHUNK)):
            for idx, line, text, expected, expected_status, extra in rows:
                yield InputLine(idx, line, text, expected, expected_status,
                                None if extra is None else json.loads(extra))
            after = rows[-1][0]

    def stored_inputs(self, run_id: int) -> int:
        """How many input lines of the run are stored: fewer than its ``total`` when its
        process was killed before writing them all (give them again to :meth:`resume_run`)."""
        return int(self._query("SELECT count(*) FROM inputs WHERE run_id = ?", (run_id,))[0][0])

    def unfinished(self, run_id: int) -> Iterator[int]:
        """Indexes of the input lines with no result or a cancelled one, in order; for a run
        stored without inputs, those with a cancelled result."""
        if self._query("SELECT 1 FROM inputs WHERE run_id = ? LIMIT 1", (run_id,)):
            return (line.index for line in self.inputs(run_id, unfinished=True))
        return (r.index for r in self.results(run_id, details=False,
                                              where=Where(frozenset({Outcome.CANCELLED}))))

    def _details(self, run_id: int, first: int, last: int) -> dict[int, Details]:
        rows = self._query(
            "SELECT idx, request_headers, response_headers, preview FROM details "
            "WHERE run_id = ? AND idx BETWEEN ? AND ?", (run_id, first, last))
        return {idx: Details([tuple(p) for p in json.loads(request)],
                             [tuple(p) for p in json.loads(response)], bytes(preview))
                for idx, request, response, preview in rows}

    def _rebuild(self, row: Sequence[Any], details: Details | None,
                 plain: dict[tuple[str, str], Failure]) -> Result:
        (idx, line, url, outcome, status, reason, final_url, redirects, content_type, size,
         elapsed, kind, message, attempts, chain, title, sha256, server, dns, connect, tls,
         ttfb, note, content_length, first_status, more, checked) = row
        failure = None
        if kind is not None:
            if more is None:
                # Status failures repeat by the thousand: one object per (kind, message).
                failure = plain.get((kind, message))
                if failure is None:
                    failure = plain[(kind, message)] = Failure(_KINDS.get(kind, Kind.INTERNAL),
                                                               message or "")
            else:
                exception_type, exception_chain, traceback_text, stack = json.loads(more)
                failure = Failure(
                    _KINDS.get(kind, Kind.INTERNAL), message or "", exception_type or "",
                    tuple(json.loads(exception_chain)) if exception_chain else (),
                    traceback_text or "", self._stack(stack) if stack else ())
        response = Response()
        response.status = status
        response.reason = sys.intern(reason)
        response.final_url = url if final_url is None else final_url
        response.redirects = redirects
        response.content_type = sys.intern(content_type)
        response.bytes = size
        response.elapsed_ms = elapsed
        response.attempts = attempts
        response.chain = tuple(Hop(s, u) for s, u in json.loads(chain)) if chain else ()
        response.title = title
        response.sha256 = sha256
        response.server = sys.intern(server)
        response.timings = (NO_TIMINGS if dns is connect is tls is ttfb is None
                            else Timings(dns, connect, tls, ttfb))
        response.note = note
        response.details = details
        response.content_length = content_length
        response.first_status = first_status
        result = Result(idx, line, url, _OUTCOMES.get(outcome, Outcome.FAILED), failure,
                        response)
        if checked is not None:
            check, reason, code = json.loads(checked)
            result.check = check or ""
            result.check_reason = reason or ""
            result.check_code = code or ""
        return result

    def _stack(self, text: str) -> tuple[StackLink, ...]:
        links: list[StackLink] = []
        for relation, frames_id, only in json.loads(text):
            frames = self._frames.get(frames_id)
            if frames is None:
                rows = self._query("SELECT frames FROM frames WHERE id = ?", (frames_id,))
                frames = tuple((f, n, name) for f, n, name in json.loads(rows[0][0])) \
                    if rows else ()
                self._frames[frames_id] = frames
            links.append((relation, frames, only))
        return tuple(links)


class StoredResults(Iterator[Result]):
    """What :meth:`RunStore.results` returns: an iterator of rebuilt results that also knows
    where they come from, so that a writer can read the same rows as tuples instead."""

    def __init__(self, store: RunStore, run_id: int, where: Where | None,
                 results: Iterator[Result]) -> None:
        self.store = store
        self.run_id = run_id
        self.where = where
        self._results = results
        self.started = False  # a result has been taken: cell_rows would repeat it

    def __iter__(self) -> StoredResults:
        return self

    def __next__(self) -> Result:
        self.started = True
        return next(self._results)

    def cell_rows(self) -> Iterator[list[Any]]:
        """The same rows as lists of :data:`CELL_COLUMNS` tuples, instead of (not as well
        as) iterating this object."""
        if self.started:
            raise RuntimeError("these results are already being read")
        self.started = True
        return self.store.cell_rows(self.run_id, where=self.where)


def _run_info(row: Sequence[Any]) -> RunInfo:
    (run_id, started, ended_at, ended, source, total, ok, http_error, failed, invalid,
     cancelled, version, columns, pid, token, heartbeat) = row
    if ended is None:
        state = Ended.RUNNING if writer_alive(pid, token, heartbeat) else Ended.INTERRUPTED
    else:
        state = Ended(ended)
    done = ok + http_error + failed + invalid + cancelled
    return RunInfo(run_id, datetime.fromisoformat(started),
                   datetime.fromisoformat(ended_at) if ended_at else None, state, source,
                   max(total or 0, done), ok, http_error, failed, invalid, cancelled, version,
                   tuple(json.loads(columns)) if columns else ())


def _connect(path: Path, max_bytes: int | None) -> sqlite3.Connection:
    # Autocommit mode: transactions are begun and ended explicitly, so DDL is inside them.
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=10.0)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        if max_bytes is not None:
            page = conn.execute("PRAGMA page_size").fetchone()[0]
            conn.execute(f"PRAGMA max_page_count = {max(1, max_bytes // page)}")
    except BaseException:
        conn.close()
        raise
    return conn


_HEADER = b"SQLite format 3\x00"


def _check_before_writing(path: Path) -> None:
    """Refuse, without writing a byte, a file that is not a run store or is of a newer schema.

    Read through a read-only connection: closing a read-write one may checkpoint a WAL into
    the file, and setting WAL mode writes its header."""
    try:
        with path.open("rb") as stream:
            head = stream.read(len(_HEADER))
    except FileNotFoundError:
        return
    except OSError as exc:
        raise _error(path, exc) from exc
    if not head:
        return  # an empty file is an empty database
    if head != _HEADER:
        raise StoreError(f"{path} is not a Fetchdeck run store (not an SQLite database); "
                         "it was not changed")
    try:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            tables = {name for (name,) in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise StoreError(f"{path} cannot be read as a run store ({_reason(exc)}); "
                         "it was not changed") from exc
    if version > SCHEMA_VERSION:
        raise StoreError(f"{path} was written by a newer Fetchdeck (schema {version}; this one "
                         f"reads up to {SCHEMA_VERSION}); it was not changed")
    if version == 0 and tables:
        raise StoreError(f"{path} is an SQLite database but not a Fetchdeck run store; "
                         "it was not changed")


def _migrate(conn: sqlite3.Connection, path: Path) -> None:
    """Bring the file to SCHEMA_VERSION, one transaction per step."""
    try:
        while True:
            conn.execute("BEGIN IMMEDIATE")
            try:
                # Read inside the transaction: another process may have migrated meanwhile.
                version = conn.execute("PRAGMA user_version").fetchone()[0]
                if version >= SCHEMA_VERSION:
                    conn.execute("ROLLBACK")
                    if version > SCHEMA_VERSION:
                        raise StoreError(
                            f"{path} was written by a newer Fetchdeck (schema {version}; this "
                            f"one reads up to {SCHEMA_VERSION}); it was not changed")
                    return
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version + 1}")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
    except sqlite3.Error as exc:
        raise _error(path, exc) from exc
