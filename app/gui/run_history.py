"""The window's run history: the store, opened once per window off the GUI thread, and the
writer of the run the table shows.

Results reach the writer at the run controller's tick (every 100 ms), as a batch handed over
with one C-level loop, rather than as a second sink of the engine: the engine keeps its
one-sink path, and a run can start before its writer exists (the store still opening, or a
retry waiting for the previous writer of the same run to finish) — results wait in a list
until it does. Everything that touches the file (opening it, recording or resuming a run,
waiting for a writer) runs on a worker thread; the writer's own thread reports a failure back
through the loop. A history that cannot be used costs a notice, never the run.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
import weakref
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal

from app.core.result import Result
from app.core.settings import Settings
from app.core.store import Ended, RunInfo, RunStore, StoredRow, StoreError
from app.core.store_writer import RunWriter
from app.core.stored_rows import LiveRows, StoredRows
from app.core.targets import TargetList
from app.gui.threads import run_in_thread

__all__ = ["JOIN_SECONDS", "MEMORY_ONLY", "RunHistory"]

JOIN_SECONDS = 10.0  # the longest a closing window waits for the history to be written
SHOW_CHUNK = 1_000  # rows handed to the window per turn of the loop (~10 ms of its time)
MEMORY_ONLY = "results are kept in memory only"

T = TypeVar("T")


class _Recording:
    """One run's way into the store: results wait in ``buffer`` until its writer exists."""

    __slots__ = ("buffer", "writer", "ended")

    def __init__(self) -> None:
        self.buffer: list[Result] | None = []
        self.writer: RunWriter | None = None
        self.ended: Ended | None = None

    def add(self, results: list[Result]) -> None:
        if self.writer is not None:
            collections.deque(map(self.writer.add, results), maxlen=0)
        elif self.buffer is not None:
            self.buffer += results

    def attach(self, writer: RunWriter) -> None:
        self.writer = writer
        waiting, self.buffer = self.buffer or [], None
        self.add(waiting)
        if self.ended is not None:
            writer.close(self.ended)

    def end(self, ended: Ended) -> None:
        if self.ended is None:
            self.ended = ended
        if self.writer is not None:
            self.writer.close(ended)

    def drop(self) -> None:
        """No writer will come: keep nothing."""
        self.buffer = None


class RunHistory(QObject):
    """Signals:
        notice(str): the history cannot be used, or stopped recording (results stay in memory).
    """

    notice = Signal(str)

    def __init__(self, settings: Settings, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.store: RunStore | None = None
        self.error: StoreError | None = None  # why the store could not be opened
        self.run_id: int | None = None  # the run the table shows, recorded or reopened
        self._opening: asyncio.Future[RunStore | None] | None = None
        self._recording: _Recording | None = None  # the run going now
        self._latest: _Recording | None = None  # the last run started, going or not
        self._writers: list[RunWriter] = []  # every writer this window made, until joined
        self._chain: asyncio.Future[Any] | None = None  # the last job touching the file
        self._tasks: set[asyncio.Future[Any]] = set()
        self._closed = False
        self._told: set[str] = set()

    # -- opening -------------------------------------------------------------------------------

    @property
    def recording(self) -> bool:
        return self.settings.keep_runs and not self._closed

    def open(self) -> asyncio.Future[RunStore | None]:
        """The store, opened once off the GUI thread; None (and a notice) when unusable."""
        if self._opening is None:
            self._opening = self._own(self._open())
        return self._opening

    async def _open(self) -> RunStore | None:
        try:
            store = await run_in_thread(RunStore.open, self.settings.db_path)
        except StoreError as exc:
            self.error = exc
            self._tell(f"The run history cannot be used, so {MEMORY_ONLY}: {exc}")
            return None
        if self._closed:  # the window went while the file was opening
            store.close()
            return None
        self.store = store
        return store

    def set_settings(self, settings: Settings) -> None:
        """Keep runs on or off from the next run; another history file from the next start."""
        self.settings = self.settings.replace(keep_runs=settings.keep_runs)

    # -- recording -----------------------------------------------------------------------------

    def record(self, targets: TargetList, settings: Settings, source: str,
               rows: LiveRows | None = None) -> None:
        """A new run of ``targets`` starts: record it as a new run (once the store is open).
        ``rows``, the table's rows of the run, are attached to the run's file and let go of
        each result once it is committed (:meth:`StoredRows.evict`)."""
        self._end_recording(Ended.FINISHED)
        self.run_id = None
        if not self.recording:
            return
        recording = self._recording = self._latest = _Recording()
        self._then(partial(self._start_run, recording, targets, settings, source, rows))

    def resume(self, run_id: int | None = None, rows: StoredRows | None = None) -> None:
        """A retry or resume of the run the table shows (or ``run_id``): its results go into
        that same run, which is reopened for writing once its last writer has finished.
        ``rows``, the table's rows of that run, let go of each result once committed."""
        run_id = self.run_id if run_id is None else run_id
        self._end_recording(Ended.FINISHED)
        if run_id is None or not self.recording:
            return
        self.run_id = run_id
        recording = self._recording = self._latest = _Recording()
        if rows is not None and rows.run_id != run_id:
            rows = None  # the table shows another run's rows
        self._then(partial(self._resume_run, recording, run_id, rows))

    def show(self, run_id: int) -> None:
        """The table now shows stored run ``run_id``: later retries go into it."""
        self._end_recording(Ended.FINISHED)
        self._latest = None
        self.run_id = run_id

    def forget(self, run_ids: list[int]) -> None:
        """These runs were deleted: the table's rows, if of one of them, are in memory only."""
        if self.run_id in run_ids:
            self._latest = None
            self.run_id = None

    def add(self, results: list[Result]) -> None:
        """Results of the current run (called at each tick with what arrived)."""
        if self._recording is not None:
            self._recording.add(results)

    def end(self, ended: Ended) -> None:
        """The current run ended: what arrived is written, then how it ended."""
        self._end_recording(ended)

    def _end_recording(self, ended: Ended) -> None:
        recording, self._recording = self._recording, None
        if recording is not None:
            recording.end(ended)

    async def _start_run(self, recording: _Recording, targets: TargetList, settings: Settings,
                         source: str, rows: LiveRows | None) -> None:
        store = await self.open()
        if store is None:
            recording.drop()
            return
        start = partial(store.start_run, source=source, settings=settings, inputs=targets,
                        columns=targets.columns, on_error=self._reporter(),
                        on_written=self._evicter(rows))
        try:
            writer = await run_in_thread(start)
        except StoreError as exc:
            recording.drop()
            self._tell(f"This run is not recorded; {MEMORY_ONLY}: {exc}")
            return
        if rows is not None:
            rows.attach(store.path, writer.run_id)
        self._adopt(recording, writer)

    async def _resume_run(self, recording: _Recording, run_id: int,
                          rows: StoredRows | None) -> None:
        store = await self.open()
        if store is None:
            recording.drop()
            return
        await self._join([w for w in self._writers if w.run_id == run_id])
        if rows is not None and rows.path != store.path:
            rows = None
        try:
            writer = await run_in_thread(partial(store.resume_run, run_id,
                                                 on_error=self._reporter(),
                                                 on_written=self._evicter(rows)))
        except StoreError as exc:
            recording.drop()
            self._tell(f"Run {run_id} could not be reopened for writing; {MEMORY_ONLY}: {exc}")
            return
        self._adopt(recording, writer)

    def _adopt(self, recording: _Recording, writer: RunWriter) -> None:
        self._writers.append(writer)
        if recording is self._latest:  # no later run replaced it in the table meanwhile
            self.run_id = writer.run_id
        recording.attach(writer)

    def _evicter(self, rows: StoredRows | None) -> Callable[[list[Result]], None] | None:
        """``on_written`` for a writer: the table's ``rows`` let go of what was committed,
        on the GUI thread (where rows are set)."""
        if rows is None:
            return None
        loop = asyncio.get_running_loop()

        def written(batch: list[Result]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nothing to let go
                loop.call_soon_threadsafe(rows.evict, batch)

        return written

    def _reporter(self) -> Callable[[StoreError], None]:
        """``on_error`` for a writer: called on the writer's thread, heard on the GUI's."""
        loop = asyncio.get_running_loop()
        ref = weakref.WeakMethod(self._writer_failed)

        def report(exc: StoreError) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is gone: nobody to tell
                loop.call_soon_threadsafe(_call, ref, exc)

        return report

    def _writer_failed(self, exc: StoreError) -> None:
        self._tell(f"The run history stopped recording this run; {MEMORY_ONLY}: {exc}")

    # -- reading -------------------------------------------------------------------------------

    async def runs(self) -> list[RunInfo]:
        store = await self._store()
        return await run_in_thread(store.runs)

    async def read(self, run_id: int,
                   on_chunk: Callable[[list[Result | StoredRow]], None]) -> int:
        """Every stored row of ``run_id`` in input order, as reopening counts and summarises
        it (:meth:`RunStore.finished`: a light :class:`StoredRow` for each ok row, the whole
        result of every other), a chunk at a time read on a worker thread and handed to
        ``on_chunk`` on the GUI thread; the rows read."""
        store = await self._store()
        chunks = store.finished(run_id)
        count = 0
        while chunk := await run_in_thread(next, chunks, []):
            # A slice per turn of the loop, so the window keeps painting and answering.
            for first in range(0, len(chunk), SHOW_CHUNK):
                on_chunk(chunk[first:first + SHOW_CHUNK])
                await asyncio.sleep(0)
            count += len(chunk)
        return count

    async def call(self, func: Callable[..., T], *args: Any) -> T:
        """``func(store, *args)`` on a worker thread (a query, a delete, a compare)."""
        store = await self._store()
        return await run_in_thread(func, store, *args)

    async def _store(self) -> RunStore:
        store = await self.open()
        if store is None:
            raise self.error or StoreError("the run history is closed")
        return store

    # -- closing -------------------------------------------------------------------------------

    def shutdown(self) -> asyncio.Future[None]:
        """Close every writer (a run still recording as cancelled), wait for them on a worker
        thread (at most ``JOIN_SECONDS``), then close the store."""
        self._end_recording(Ended.CANCELLED)
        self._closed = True
        return self._own(self._shutdown())

    def close_now(self, ended: Ended) -> None:
        """Without the loop (the window system went away): end the run going as ``ended``,
        close every writer and wait for them on this thread (at most ``JOIN_SECONDS``)."""
        self._end_recording(ended)
        self._closed = True
        _join_all(self._close_writers(), JOIN_SECONDS)

    def _close_writers(self) -> list[RunWriter]:
        """Close every writer (a no-op for one already closed); the writers."""
        for writer in self._writers:
            writer.close(Ended.CANCELLED)
        return list(self._writers)

    async def _shutdown(self) -> None:
        if self._chain is not None:
            await asyncio.wait([self._chain], timeout=JOIN_SECONDS)
        await self._join(self._close_writers())
        if self.store is not None:
            store, self.store = self.store, None
            await run_in_thread(store.close)

    async def _join(self, writers: list[RunWriter]) -> None:
        if not writers:
            return
        joined = await run_in_thread(_join_all, list(writers), JOIN_SECONDS)
        for writer in joined:
            with contextlib.suppress(ValueError):
                self._writers.remove(writer)

    # -- plumbing ------------------------------------------------------------------------------

    def _then(self, job: Callable[[], Coroutine[Any, Any, None]]) -> None:
        """Run ``job`` after every earlier one: the file is touched in the order asked."""
        previous = self._chain

        async def chained() -> None:
            if previous is not None:
                await asyncio.wait([previous])
            await job()

        self._chain = self._own(chained())

    def _own(self, coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not isinstance(exc, StoreError):
            task.get_loop().call_exception_handler({
                "message": "The run history failed", "exception": exc, "future": task})

    def _tell(self, text: str) -> None:
        if text not in self._told:
            self._told.add(text)
            self.notice.emit(text[0].upper() + text[1:])


def _call(ref: weakref.WeakMethod[Callable[[StoreError], None]], exc: StoreError) -> None:
    method = ref()
    if method is not None:
        method(exc)


def _join_all(writers: list[RunWriter], seconds: float) -> list[RunWriter]:
    """Wait for each writer to finish, ``seconds`` in all; those that did."""
    deadline = time.monotonic() + seconds
    return [w for w in writers if w.join(max(0.0, deadline - time.monotonic()))]
