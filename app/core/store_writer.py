"""The run history's writer: a run's results into the store (:mod:`app.core.store`) as they
arrive, off the fetching loop.

:meth:`RunWriter.add` is a list append, safe to call on the loop for every result; a thread of
the writer's own commits what arrived every ``FLUSH_SECONDS``, input lines first. What it costs
a request, and why it binds empty values as NaN and writes plain answers with a shorter
statement, is measured in docs/benchmarks.md (findings 36, 41, 42).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from app.core.redact import MASK, is_secret_header
from app.core.result import Outcome, Result
from app.core.store import (
    _COUNTED,
    _FAILURE_COLUMNS,
    _LATER_COLUMNS,
    _RESULT_FIELDS,
    LATER_FIELDS,
    Ended,
    StoreError,
    _clean,
    _connect,
    _error,
    _json,
    _now,
)
from app.core.targets import TargetList

if TYPE_CHECKING:
    from app.core.store import RunStore

__all__ = ["FLUSH_SECONDS", "HEADERS_CAP", "PREVIEW_CAP", "WAKE_ROWS", "RunWriter"]

# How often the writer thread commits what arrived: short flushes, each a few ms of work, kept
# the window's lag p99 at 15-17 ms against 17-25 ms with 0.2 s (docs/benchmarks.md, finding 42).
FLUSH_SECONDS = 0.05
# ...or sooner, once this many results wait: what a kill -9 loses (and a resume fetches again)
# is the results not committed yet, so at thousands a second it is bounded by rows, not time.
WAKE_ROWS = 32
# Results per transaction at most. The writer holds the GIL while it turns a chunk into rows
# (~4 us a result): a small chunk, then a pause that lets the fetching loop (the GUI thread, in
# the window) have it back, keeps the window's lag down; 10,000 at once held it ~40 ms.
BATCH_ROWS = 400
INPUT_CHUNK = 1_000  # input lines per transaction: small, so a flush overruns little
INPUT_BUDGET = 0.02  # seconds of a flush spent writing input lines ahead of the results
HEARTBEAT_SECONDS = 5.0
CHECKPOINT_SECONDS = 1.0  # how often the log is checkpointed while a run is written
PREVIEW_CAP = 16 * 1024
HEADERS_CAP = 64 * 1024


_RESULT_COLUMNS = (
    "run_id", "idx", "line", "url", "outcome", "status", "reason", "final_url", "redirects",
    "content_type", "bytes", "elapsed_ms", "error_kind", "error", "attempts", "redirect_chain",
    "title", "sha256", "server", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "note",
    *_FAILURE_COLUMNS,
    *(column for name, column in zip(LATER_FIELDS, _LATER_COLUMNS, strict=True)
      if name in _RESULT_FIELDS),
)
# Every bound parameter costs the writer thread time under the GIL: only columns Result fills.
_INSERT_RESULT = (f"INSERT OR REPLACE INTO results ({', '.join(_RESULT_COLUMNS)}) "
                  f"VALUES ({', '.join('?' * len(_RESULT_COLUMNS))})")
# A plain answer (no failure, no redirects followed, no check) leaves these columns NULL.
_PLAIN_OMITS = frozenset(("error_kind", "error", "redirect_chain", *_FAILURE_COLUMNS, '"check"',
                          "check_reason", "check_code"))
_PLAIN_COLUMNS = tuple(c for c in _RESULT_COLUMNS if c not in _PLAIN_OMITS)
_INSERT_PLAIN = (f"INSERT OR REPLACE INTO results ({', '.join(_PLAIN_COLUMNS)}) "
                 f"VALUES ({', '.join('?' * len(_PLAIN_COLUMNS))})")
_INSERT_INPUT = ("INSERT OR IGNORE INTO inputs (run_id, idx, line, text, expected, "
                 "expected_status, extra) VALUES (?, ?, ?, ?, ?, ?, ?)")
_INSERT_DETAILS = ("INSERT OR REPLACE INTO details (run_id, idx, request_headers, "
                   "response_headers, preview) VALUES (?, ?, ?, ?, ?)")


def _headers_json(pairs: Iterable[tuple[str, str]], mask: bool) -> str:
    kept: list[tuple[str, str]] = []
    size = 0
    for name, value in pairs:
        if mask and is_secret_header(name):
            value = MASK
        size += len(name) + len(value) + 4
        if size > HEADERS_CAP:
            break
        kept.append((name, value))
    return json.dumps(kept, ensure_ascii=False)


# The outcomes of rows a pool gives up on for a helper (app.core.pool): the helper may have
# committed the row before it could say so.
_GIVEN_UP = frozenset((Outcome.FAILED, Outcome.CANCELLED))


# NULL, as the writer binds it. SQLite stores a NaN as NULL, and Python's sqlite3 binds a float
# straight away, while a None goes through its adapter lookup: ~0.5 us a value, which was more
# than half of what an ok row (13 empty columns) cost to insert. Read back, it is None.
_NULL = float("nan")


def _null(value: Any) -> Any:
    return _NULL if value is None else value


def _input_rows(run_id: int, lines: Iterable[Any]) -> Iterator[tuple[Any, ...]]:
    if isinstance(lines, TargetList):  # a list's own arrays: no Target made per line
        expected, statuses, extra = lines.expected, lines.expected_status, lines.extra
        if not (expected or statuses or extra):  # a plain list
            for index, (line, text) in enumerate(zip(lines.lines, lines.texts, strict=True)):
                yield (run_id, index, line, text, _NULL, _NULL, _NULL)
            return
        for index, (line, text) in enumerate(zip(lines.lines, lines.texts, strict=True)):
            yield (run_id, index, line, text, _null(expected[index] if expected else None),
                   _null(statuses[index] if statuses else None),
                   _null(_json(list(extra[index])) if extra else None))
        return
    for item in lines:
        yield (run_id, item.index, item.line, item.text,
               _null(getattr(item, "expected", None)),
               _null(getattr(item, "expected_status", None)),
               _null(_json(getattr(item, "extra", None))))


# --- the writer -------------------------------------------------------------------------------


class RunWriter:
    """Where one run's results go. :meth:`add` is a list append, safe to call on the fetching
    loop for every result; a thread commits what arrived every ``FLUSH_SECONDS`` (input lines
    first, in chunks, ahead of the results that need them).

    A write that fails (disk full, read-only) never raises here: the writer stops writing,
    sets :attr:`error` and calls ``on_error`` once, on its own thread. The run goes on; its
    results are then kept in memory only.

    ``on_written``, when given, is called on the writer's thread with each batch of results
    once it is committed: from then on they are in the file, and whoever holds them in memory
    for a view (the window's table) may let them go and read them back from there.

    It is the run's :class:`~app.core.run.Keeper`: a run given it counts each result as in
    flight until it is committed here (:meth:`unkept`), and asks for a commit at once
    (:meth:`hurry`) when that holds a request back.

    A writer that is not the run's ``owner`` (a helper process's, :mod:`app.core.helper`)
    only adds results to a run another writer owns: it writes no input lines, leaves the run's
    end and its writer's registration alone, and leaves checkpoints to the owner.
    """

    def __init__(self, store: RunStore, run_id: int, inputs: Iterable[Any] | None, *,
                 on_error: Callable[[StoreError], None] | None, resumed: bool,
                 on_written: Callable[[list[Result]], None] | None = None,
                 owner: bool = True) -> None:
        self.run_id = run_id
        self.error: StoreError | None = None
        self.written = 0  # results committed so far
        self._store = store
        self._pending: list[Result] = []
        self._committing = 0  # results taken from _pending and not committed yet
        self._keeping = True  # False once nothing more will be committed
        self._failed_elsewhere: StoreError | None = None
        self._listeners: list[Callable[[], None]] = []
        self._wake = threading.Event()  # WAKE_ROWS results are waiting, or the run closed
        self.add: Callable[[Result], None] = self._adder()
        self._inputs = None if inputs is None else _input_rows(run_id, inputs)
        self._inputs_written = -1  # the highest input index written so far
        self._on_error = on_error
        self._on_written = on_written
        self._resumed = resumed
        self._shared = False  # helpers write rows of this run too (for_helpers)
        self._owner = owner
        self._mine = bytearray()  # 1 at each index this writer wrote (a later one replaces)
        self._frames: dict[tuple[tuple[str, int, str], ...], int] = {}
        self._conn: sqlite3.Connection | None = None  # the thread's own
        self._ended: Ended | None = None
        self._closing = threading.Event()
        self._thread = threading.Thread(target=self._main, name=f"fetchdeck-store-{run_id}",
                                        daemon=True)
        if owner:
            atexit.register(self._at_exit)
        self._thread.start()

    def close(self, ended: Ended | str = Ended.FINISHED) -> None:
        """Record how the run ended once what arrived is written. Returns at once; call from
        any thread, as often as you like (the first call's ``ended`` counts)."""
        how = Ended(ended)
        if how is Ended.RUNNING:
            raise ValueError("a run closes as finished, cancelled or interrupted")
        if self._ended is None:
            self._ended = how
        self._closing.set()
        self._wake.set()

    def _adder(self) -> Callable[[Result], None]:
        """The hot path: a list append, and a wake-up for the writer once ``WAKE_ROWS``
        results wait (~0.1 us a result)."""
        pending = self._pending
        append = pending.append
        wake = self._wake

        def add(result: Result) -> None:
            append(result)
            if len(pending) >= WAKE_ROWS and not wake.is_set():
                wake.set()

        return add

    # -- the run's Keeper ----------------------------------------------------------------------

    def unkept(self) -> int:
        """Results added and not committed yet; 0 once the writer has stopped (failed or
        finished), when nothing it holds will ever be committed."""
        return len(self._pending) + self._committing if self._keeping else 0

    def for_helpers(self) -> tuple[str, int, int | None, bool] | None:
        """Where a helper process's own writer adds this run's rows (the file, the run, the
        size cap, and whether rows may be there already), or None once this writer has
        stopped writing."""
        if not self._keeping or self.error is not None:
            return None
        # From now on a failed or cancelled row this writer is handed may be in the file
        # already: one a helper committed and could not report (it died, or did not stop in
        # time), which the pool gives up on here. Its old outcome is looked up (_old_outcomes).
        self._shared = True
        return str(self._store.path), self.run_id, self._store._max_bytes, self._resumed

    def fail(self, reason: str) -> None:
        """Writing this run failed in another process (a helper's writer): stop here too,
        and tell ``on_error`` once, as for a failure here."""
        if self.error is None and self._keeping:
            self._failed_elsewhere = StoreError(reason)
            self._wake.set()

    def hurry(self) -> None:
        """Commit what is waiting now, however few (a run is held back by it)."""
        if not self._wake.is_set():
            self._wake.set()

    def listen(self, kept: Callable[[], None]) -> None:
        """Call ``kept`` on the writer's thread after each commit and when writing stops."""
        self._listeners.append(kept)
        if not self._keeping:
            kept()

    def _tell_kept(self) -> None:
        for kept in self._listeners:
            try:
                kept()
            except Exception as exc:  # a listener's bug: reported, and writing goes on
                threading.excepthook(threading.ExceptHookArgs(
                    (type(exc), exc, exc.__traceback__, threading.current_thread())))

    def join(self, timeout: float | None = None) -> bool:
        """Wait until everything is written and the run's end recorded; False on timeout."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    @property
    def closed(self) -> bool:
        return self._closing.is_set()

    def _at_exit(self) -> None:
        # A process leaving without closing its run: keep what arrived, say it was cut short.
        self.close(Ended.INTERRUPTED)
        self.join(30.0)

    # -- the thread --------------------------------------------------------------------------

    def _main(self) -> None:
        conn: sqlite3.Connection | None = None
        checkpoints: _Checkpointer | None = None
        try:
            conn = self._conn = _connect(self._store.path, self._store._max_bytes)
            conn.execute("PRAGMA cache_size = -16000")
            # The log is checkpointed by a thread of its own (_Checkpointer); SQLite's own
            # checkpoint, run inside the commit that crosses its limit, is only a backstop.
            conn.execute("PRAGMA wal_autocheckpoint = 4000")
            if self._owner:
                checkpoints = _Checkpointer.start(self._store.path, self._store._max_bytes)
            self._loop(conn)
        except Exception as exc:  # a write error or a bug: either way the run goes on
            self._stop_keeping()
            self._fail(exc)
            while not self._closing.wait(FLUSH_SECONDS):
                self._pending.clear()  # kept by the caller; held here for nothing
        finally:
            self._stop_keeping()
            self._pending.clear()
            if checkpoints is not None:
                checkpoints.stop()
            if conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            atexit.unregister(self._at_exit)

    def _loop(self, conn: sqlite3.Connection) -> None:
        last_beat = ahead_at = time.monotonic()
        while True:
            self._wake.wait(FLUSH_SECONDS)
            self._wake.clear()
            if self._failed_elsewhere is not None:
                raise self._failed_elsewhere
            closing = self._closing.is_set()
            started = time.monotonic()
            pending = self._pending
            count = len(pending)
            # Counted as committing before they leave _pending: unkept() never reads low.
            self._committing = count
            batch = pending[:count]
            del pending[:count]  # only what was taken: the loop may have appended since
            # The lines these results belong to first; then the results, whose delay is what
            # a kill loses; then, with the time left, more lines (all of them when closing).
            self._write_inputs(conn, max(r.index for r in batch) if batch else -1, started)
            for first in range(0, len(batch), BATCH_ROWS):
                chunk = batch[first:first + BATCH_ROWS]
                self._write_results(conn, chunk)
                self._committing -= len(chunk)
                if self._on_written is not None:
                    self._tell_written(chunk)
                self._tell_kept()
                time.sleep(0)  # the GIL back to the loop between chunks
            if not batch:
                self._tell_kept()  # hurried with nothing waiting: the run may look again
            if closing:
                self._write_inputs(conn, -1, None)
                if self._pending:
                    continue  # what arrived during this flush: one more round
                if self._owner:
                    self._finish(conn)
                return
            if started - ahead_at >= FLUSH_SECONDS:  # as often as flushes on a timer
                self._write_inputs(conn, -1, started + INPUT_BUDGET)
                ahead_at = started
            if not batch and started - last_beat >= HEARTBEAT_SECONDS:
                conn.execute("UPDATE runs SET heartbeat_at = ? WHERE id = ?",
                             (time.time(), self.run_id))
                last_beat = started
            elif batch:
                last_beat = started

    def _tell_written(self, batch: list[Result]) -> None:
        """Hand a committed batch to ``on_written``. A listener that fails is a bug of its
        own, reported through ``threading.excepthook`` (the window's error panel hears of it)
        and not called again; the results are in the file either way, and writing goes on."""
        assert self._on_written is not None
        try:
            self._on_written(batch)
        except Exception as exc:
            self._on_written = None
            threading.excepthook(threading.ExceptHookArgs(
                (type(exc), exc, exc.__traceback__, threading.current_thread())))

    def _write_inputs(self, conn: sqlite3.Connection, need: int, until: float | None) -> None:
        """Write input lines up to index ``need`` at least, then more until the monotonic
        time ``until`` (all of them when None), a chunk per transaction."""
        rows = self._inputs
        while rows is not None and (self._inputs_written < need or until is None
                                    or time.monotonic() < until):
            chunk = [row for _, row in zip(range(INPUT_CHUNK), rows, strict=False)]
            if chunk:
                self._execute(conn, [(_INSERT_INPUT, chunk)])
                self._inputs_written = max(self._inputs_written, chunk[-1][1])
            if len(chunk) < INPUT_CHUNK:
                self._inputs = rows = None
                total = conn.execute("SELECT count(*) FROM inputs WHERE run_id = ?",
                                     (self.run_id,)).fetchone()[0]
                conn.execute("UPDATE runs SET total = max(coalesce(total, 0), ?) WHERE id = ?",
                             (total, self.run_id))

    def _write_results(self, conn: sqlite3.Connection, taken: list[Result]) -> None:
        run_id = self.run_id
        batch = taken
        if len({result.index for result in taken}) != len(taken):
            # A row fetched again within one flush: only its last result counts, and is kept.
            batch = list({result.index: result for result in taken}.values())
        frame_ids = self._frame_ids
        # Plain answers leave the failure, chain and check columns out (NULL) instead of binding
        # ten empty values; the rest go whole. Each row is in the batch once, so the two
        # statements may run in either order.
        plain: list[tuple[Any, ...]] = []
        whole: list[tuple[Any, ...]] = []
        for result in batch:
            if _is_plain(result):
                plain.append(_plain_row(run_id, result))
            else:
                whole.append(_result_row(run_id, result, frame_ids))
        counts = Counter(result.outcome._value_ for result in batch)
        replaced = self._old_outcomes(conn, batch)
        counts.subtract(replaced.values())
        details: list[tuple[Any, ...]] = []
        gone: list[tuple[int, int]] = []
        for result in batch:
            kept = result.details  # read once: the caller's policy may drop it meanwhile
            if kept is not None:
                details.append((run_id, result.index,
                                _headers_json(kept.request_headers, True),
                                _headers_json(kept.response_headers, False),
                                bytes(kept.preview[:PREVIEW_CAP])))
            elif replaced and result.index in replaced:
                gone.append((run_id, result.index))
        self._execute(conn, [
            (_INSERT_PLAIN, plain), (_INSERT_RESULT, whole), (_INSERT_DETAILS, details),
            ("DELETE FROM details WHERE run_id = ? AND idx = ?", gone),
            ("UPDATE runs SET ok = ok + ?, http_error = http_error + ?, failed = failed + ?, "
             "invalid = invalid + ?, cancelled = cancelled + ?, heartbeat_at = ? WHERE id = ?",
             [(*(counts[name] for name in _COUNTED), time.time(), run_id)]),
        ])
        self._note_written(batch)
        self.written += len(taken)

    def _note_written(self, batch: list[Result]) -> None:
        mine = self._mine
        top = max(r.index for r in batch)
        if top >= len(mine):
            mine.extend(bytes(top + 1 - len(mine) + len(mine) // 2))
        for result in batch:
            mine[result.index] = 1

    def _old_outcomes(self, conn: sqlite3.Connection, batch: list[Result]) -> dict[int, str]:
        """The stored outcomes of the rows this batch replaces (their counts move)."""
        if self._resumed:
            again = [r.index for r in batch]
        else:
            mine = self._mine
            size = len(mine)
            shared = self._shared
            again = [r.index for r in batch if (r.index < size and mine[r.index])
                     or (shared and r.outcome in _GIVEN_UP)]
        found: dict[int, str] = {}
        for first in range(0, len(again), 500):
            part = again[first:first + 500]
            found.update(conn.execute(
                f"SELECT idx, outcome FROM results WHERE run_id = ? AND idx IN "
                f"({', '.join('?' * len(part))})", (self.run_id, *part)).fetchall())
        return found

    def _frame_ids(self, frames: tuple[tuple[str, int, str], ...]) -> int:
        known = self._frames.get(frames)
        if known is None:
            conn = self._conn
            assert conn is not None
            text = json.dumps(frames, ensure_ascii=False)
            conn.execute("INSERT OR IGNORE INTO frames (frames) VALUES (?)", (_clean(text),))
            known = conn.execute("SELECT id FROM frames WHERE frames = ?",
                                 (_clean(text),)).fetchone()[0]
            self._frames[frames] = known
        return known

    def _execute(self, conn: sqlite3.Connection,
                 steps: list[tuple[str, list[tuple[Any, ...]]]]) -> None:
        """Run ``steps`` in one transaction; text SQLite refuses is cleaned and tried again."""
        for attempt in (0, 1):
            conn.execute("BEGIN IMMEDIATE")
            try:
                for sql, rows in steps:
                    if not rows:
                        continue
                    if sql.startswith("INSERT"):
                        _insert_rows(conn, sql, rows)
                    else:
                        conn.executemany(sql, rows)
            except UnicodeEncodeError:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                if attempt:
                    raise
                steps = [(sql, [tuple(_clean(v) for v in row) for row in rows])
                         for sql, rows in steps]
                continue
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return

    def _finish(self, conn: sqlite3.Connection) -> None:
        ended = self._ended or Ended.FINISHED
        conn.execute("UPDATE runs SET ended = ?, ended_at = ?, writer_pid = NULL, "
                     "writer_token = NULL WHERE id = ?", (ended.value, _now(), self.run_id))

    def _stop_keeping(self) -> None:
        """Nothing more will be committed: a run held back by this writer goes on (its
        results stay in memory, as the error said)."""
        if self._keeping:
            self._keeping = False
            self._committing = 0
            self._tell_kept()

    def _fail(self, exc: BaseException) -> None:
        if self.error is not None:
            return
        self.error = exc if isinstance(exc, StoreError) else _error(self._store.path, exc)
        if self._on_error is not None:
            # The caller's callback must not take the writer down with it.
            with contextlib.suppress(Exception):
                self._on_error(self.error)


class _Checkpointer:
    """Checkpoints the run store's log once every ``CHECKPOINT_SECONDS`` while a run is
    written, on a connection and a thread of its own.

    SQLite's automatic checkpoint runs inside the commit that crosses its limit and holds the
    writer there (~40 ms for 4 MiB of log) while results wait, which a kill -9 then loses; left
    to the end, the checkpoint is on the run's critical path when the last connection closes
    (~70 ms at the end of a 20,000-URL ``fetchdeck run``). A passive checkpoint in WAL mode
    never blocks a writer, and it lets go of the GIL for its whole length. docs/benchmarks.md,
    findings 53 and 55."""

    def __init__(self, path: Any, max_bytes: int | None) -> None:
        self._path = path
        self._max_bytes = max_bytes
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._main, name="fetchdeck-checkpoint",
                                        daemon=True)

    @classmethod
    def start(cls, path: Any, max_bytes: int | None) -> _Checkpointer | None:
        """A running checkpointer, or None when no thread can be started (the run is
        recorded all the same; SQLite's own checkpoint takes over)."""
        checkpointer = cls(path, max_bytes)
        try:
            checkpointer._thread.start()
        except RuntimeError:
            return None
        return checkpointer

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _main(self) -> None:
        try:
            conn = _connect(self._path, self._max_bytes)
        except sqlite3.Error:
            return  # the writer's own connection says what is wrong with the file
        try:
            while not self._stop.wait(CHECKPOINT_SECONDS):
                # A full disk or a busy reader: the writer reports the one, the next
                # checkpoint (or the last connection's close) catches up after the other.
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        finally:
            with contextlib.suppress(sqlite3.Error):
                conn.close()


# Rows per INSERT statement. Python's sqlite3 lets go of the GIL around every statement step;
# with executemany that is once a row, and a busy fetching loop may then keep the GIL for a
# whole switch interval (5 ms) before the writer gets it back. One statement for many rows
# lets go once per batch. SQLite takes at most 32,766 parameters in a statement.
ROWS_PER_STATEMENT = 200
_MULTI_ROW: dict[tuple[str, int], str] = {}


def _insert_rows(conn: sqlite3.Connection, sql: str, rows: list[tuple[Any, ...]]) -> None:
    """``conn.executemany(sql, rows)`` for an ``INSERT ... VALUES (?, ...)``, with several rows
    to a statement."""
    head, _, values = sql.partition(" VALUES ")
    per = max(1, min(ROWS_PER_STATEMENT, 32_766 // max(1, values.count("?"))))
    for first in range(0, len(rows), per):
        part = rows[first:first + per]
        statement = _MULTI_ROW.get((sql, len(part)))
        if statement is None:
            statement = f"{head} VALUES {', '.join([values] * len(part))}"
            if len(_MULTI_ROW) < 64:
                _MULTI_ROW[(sql, len(part))] = statement
        conn.execute(statement, [value for row in part for value in row])


def _result_row(run_id: int, r: Result,
                frame_id: Callable[[tuple[tuple[str, int, str], ...]], int]) -> tuple[Any, ...]:
    # Every empty value is bound as _NULL (NaN), never None: see _NULL.
    failure = r.failure
    kind: str | float
    message: str | float
    exception_type: str | float
    exception_chain: str | float
    traceback_text: str | float
    stack: str | float
    if failure is None:
        kind = message = exception_type = exception_chain = traceback_text = stack = _NULL
    else:
        kind, message = failure.kind._value_, failure.message
        exception_type = failure.exception_type or _NULL
        exception_chain = json.dumps(failure.chain, ensure_ascii=False) if failure.chain \
            else _NULL
        traceback_text = failure.traceback_text or _NULL
        stack = json.dumps([(relation, frame_id(frames), only)
                            for relation, frames, only in failure.stack],
                           ensure_ascii=False) if failure.stack else _NULL
    p = r.response  # its slots read directly: Result's own properties cost a call each
    t = p.timings
    n = _NULL
    # ``_value_``, not ``value``: an enum's ``value`` is a property, ~10x the cost.
    return (run_id, r.index, r.line, r.url, r.outcome._value_,
            n if p.status is None else p.status, p.reason,
            p.final_url, p.redirects, p.content_type, n if p.bytes is None else p.bytes,
            n if p.elapsed_ms is None else p.elapsed_ms, kind, message,
            p.attempts,
            json.dumps([(h.status, h.url) for h in p.chain], ensure_ascii=False)
            if p.chain else n,
            p.title, p.sha256, p.server, n if t.dns_ms is None else t.dns_ms,
            n if t.connect_ms is None else t.connect_ms, n if t.tls_ms is None else t.tls_ms,
            n if t.ttfb_ms is None else t.ttfb_ms, p.note,
            exception_type, exception_chain, traceback_text, stack,
            n if p.content_length is None else p.content_length,
            n if p.first_status is None else p.first_status, r.check or n,
            r.check_reason or n, r.check_code or n)


def _is_plain(r: Result) -> bool:
    """A row with nothing in the columns :data:`_PLAIN_OMITS` names."""
    return (r.failure is None and not r.response.chain and not r.check and not r.check_reason
            and not r.check_code)


def _plain_row(run_id: int, r: Result) -> tuple[Any, ...]:
    """:func:`_result_row` for a plain answer, in :data:`_PLAIN_COLUMNS`' order."""
    p = r.response
    t = p.timings
    n = _NULL
    return (run_id, r.index, r.line, r.url, r.outcome._value_,
            n if p.status is None else p.status, p.reason,
            p.final_url, p.redirects, p.content_type, n if p.bytes is None else p.bytes,
            n if p.elapsed_ms is None else p.elapsed_ms, p.attempts,
            p.title, p.sha256, p.server, n if t.dns_ms is None else t.dns_ms,
            n if t.connect_ms is None else t.connect_ms, n if t.tls_ms is None else t.tls_ms,
            n if t.ttfb_ms is None else t.ttfb_ms, p.note,
            n if p.content_length is None else p.content_length,
            n if p.first_status is None else p.first_status)
