"""A helper process of a pooled run (:mod:`app.core.pool`): ``python -m app.core.helper``.

It reads framed messages (:mod:`app.core.wire`) on standard input: the run's settings, then
targets in chunks as the parent hands them out, and runs an ordinary :class:`~app.core.run.Run`
over them, a task per URL with its done-callback, as the parent does. Each result goes back on
standard output, in batches; so does whatever fails inside the helper itself, which the parent
shows as its own. Standard output carries nothing else: a stray ``print`` goes to standard error,
which the parent keeps and reports if the helper dies.

When the run keeps a history, the helper keeps its own rows in it (its own writer, the same
file and run), and sends each batch once it is committed: so it counts a row as in flight until
then, as the parent does (:class:`~app.core.run.Keeper`), and a ``kill -9`` of the parent
loses at most the rows in flight in all its processes. If its writer stops (a full disk), the
rows it had not committed go to the parent as plain results, and the parent keeps them.

The helper ignores Ctrl+C (the parent stops it with a message, after the rows it holds come
back as cancelled), and it stops when its parent is gone: on Linux the kernel kills it with its
parent; elsewhere, or before that, the end of its standard input cancels its run.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import threading
import traceback
from collections import deque
from typing import TYPE_CHECKING, Any

from app.core import wire
from app.core.engine import use_run_gc_threshold
from app.core.errors import Failure
from app.core.result import FAILURES, Outcome, Result
from app.core.run import Run
from app.core.settings import Settings

if TYPE_CHECKING:
    from app.core.store import RunStore, StoreError
    from app.core.store_writer import RunWriter

# Results a batch holds at most. A batch is sent once the loop has run the callbacks that were
# ready with its first result (the results of one poll): a kill -9 of the parent loses what is
# not sent yet, as it loses what is not committed (docs/benchmarks.md, session 9).
BATCH = 32
# How much lower than its parent a helper runs (os.nice): docs/benchmarks.md, session 9.
NICENESS = 10


def _die_with_parent() -> None:
    if not sys.platform.startswith("linux"):
        return
    try:
        import ctypes  # noqa: PLC0415

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGKILL)
    except (OSError, AttributeError):
        pass  # the end of standard input stops it instead


class _Source:
    """The targets the parent handed this helper: a live source for the run (None while
    empty, ended once the parent says so or the run is cancelled)."""

    def __init__(self) -> None:
        self.queue: deque[Any] = deque()
        self.ended = False

    def __iter__(self) -> _Source:
        return self

    def __next__(self) -> Any:
        if self.queue:
            return self.queue.popleft()
        if self.ended:
            raise StopIteration
        return None


class _Helper:
    def __init__(self, read_fd: int, write_fd: int) -> None:
        self.read_fd = read_fd
        self.write_fd = write_fd
        self.frames = wire.FrameReader()
        self.source = _Source()
        self.run: Run | None = None
        self.keep_details = False
        self.batch: list[Any] = []
        self.flush_handle: asyncio.Handle | None = None
        # With a run history: the writer keeping this helper's rows, and those it was handed
        # and has not committed yet (encoded, by row), sent once it has (KEPT).
        self.writer: RunWriter | None = None
        self.store: RunStore | None = None
        self.unkept: dict[int, tuple[Any, ...]] = {}
        self.gone = False  # the parent closed the pipe: nobody to send to
        self.loop = asyncio.get_running_loop()
        self.finished = self.loop.create_future()

    # -- to the parent ---------------------------------------------------------------------

    def send(self, kind: int, payload: Any) -> None:
        self.send_frame(wire.frame(kind, payload))

    def send_frame(self, frame: bytes) -> None:
        if self.gone:
            return
        data = memoryview(frame)
        try:
            while data:
                written = os.write(self.write_fd, data)
                data = data[written:]
        except OSError:
            self.parent_gone()

    def result(self, result: Any) -> None:
        keep = self.keep_details or result.outcome in FAILURES
        item = wire.encode_result(result, keep)
        writer = self.writer
        if writer is not None:
            if not keep:
                result.response.details = None  # what the parent's policy would drop
            self.unkept[result.index] = item
            writer.add(result)
            return
        self.batch.append(item)
        if len(self.batch) >= BATCH:
            self.flush()
        elif self.flush_handle is None:
            self.flush_handle = self.loop.call_soon(self.flush)

    def flush(self) -> None:
        if self.flush_handle is not None:
            self.flush_handle.cancel()
            self.flush_handle = None
        if self.batch:
            batch, self.batch = self.batch, []
            self.send_batch(wire.RESULTS, batch)

    # -- with a run history ----------------------------------------------------------------

    def keep(self, path: str, run_id: int, max_bytes: int | None,
             resumed: bool) -> RunWriter | None:
        """This helper's writer of the parent's run; None (and the parent told why) if the
        file cannot be opened here, when the rows go to the parent to keep."""
        from app.core.store import RunStore, StoreError  # noqa: PLC0415 - with a history
        from app.core.store_writer import RunWriter  # noqa: PLC0415

        try:
            self.store = RunStore.open(path, max_bytes=max_bytes)
        except StoreError as exc:
            self.not_kept(exc)
            return None
        loop = self.loop

        def written(batch: list[Result]) -> None:  # on the writer's thread
            loop.call_soon_threadsafe(self.kept, [r.index for r in batch])

        def failed(exc: StoreError) -> None:  # on the writer's thread
            loop.call_soon_threadsafe(self.not_kept, exc)

        self.writer = RunWriter(self.store, run_id, None, on_error=failed, resumed=resumed,
                                on_written=written, owner=False)
        return self.writer

    def kept(self, indexes: list[int]) -> None:
        """The writer committed these rows: the parent may show them, and not keep them."""
        unkept = self.unkept
        items = [unkept.pop(index) for index in indexes if index in unkept]
        if items:
            self.send_batch(wire.KEPT, items)

    def not_kept(self, exc: StoreError) -> None:
        """The writer stopped (a full disk): the run's history stops, as it would in the
        parent, which says so; what was not committed, and every row from now on, goes to the
        parent as any result does."""
        self.send(wire.UNKEPT, str(exc))
        if self.writer is not None:
            self.writer.close()  # its thread ends; nothing more is written
            self.writer = None
        self.send_unkept()

    def send_unkept(self) -> None:
        """The rows the writer was handed and did not commit: the parent keeps them."""
        items, self.unkept = list(self.unkept.values()), {}
        if items:
            self.send_batch(wire.RESULTS, items)

    def send_batch(self, kind: int, items: list[Any]) -> None:
        try:
            frame = wire.frame(kind, items)
        except ValueError:  # a value marshal refuses (a bug): find it, lose no row
            frame = wire.frame(kind, [self._sendable(item) for item in items])
        self.send_frame(frame)

    def _sendable(self, item: tuple[Any, ...]) -> tuple[Any, ...]:
        try:
            wire.frame(wire.RESULTS, item)
        except ValueError as exc:
            index, line, url = item[:3]
            self.problem(self.loop, {"message": f"the result of row {index + 1} could not be "
                                                f"sent to the parent process", "exception": exc})
            failure = Failure.internal(exc)
            return wire.encode_result(Result(index, line, url, Outcome.FAILED, failure), False)
        return item

    def problem(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any], *,
                fatal: bool = False) -> None:
        """The loop's exception handler: what failed here is the parent's to show."""
        exc = context.get("exception")
        text = "".join(traceback.format_exception(exc)) if isinstance(exc, BaseException) \
            else ""
        self.send(wire.PROBLEM, (str(context.get("message") or "error in a helper process"),
                                 type(exc).__qualname__ if exc is not None else "", text,
                                 fatal))

    def parent_gone(self) -> None:
        self.gone = True
        self.source.ended = True
        if self.run is not None:
            self.run.cancel()
        elif not self.finished.done():
            self.finished.set_result(None)

    # -- from the parent -------------------------------------------------------------------

    def readable(self) -> None:
        try:
            data = os.read(self.read_fd, 1 << 16)
        except OSError:
            data = b""
        if not data:
            self.loop.remove_reader(self.read_fd)
            self.parent_gone()
            return
        try:
            for kind, payload in self.frames.feed(data):
                self.message(kind, payload)
        except Exception as exc:  # a bug here, or a pipe out of step: this helper is done
            self.broken("a helper process could not act on its parent's message", exc)

    def broken(self, message: str, exc: BaseException) -> None:
        """Say what broke, then leave at once, without DONE: the parent fails the rows this
        helper held, with this, and reports the run as broken (exit status 3)."""
        self.flush()
        self.problem(self.loop, {"message": message, "exception": exc}, fatal=True)
        os._exit(3)

    def message(self, kind: int, payload: Any) -> None:
        if kind == wire.TARGETS:
            self.source.queue.extend(wire.decode_targets(payload))
            if self.run is not None:
                self.run.more()
        elif kind == wire.END:
            self.source.ended = True
            if self.run is not None:
                self.run.more()
        elif kind == wire.CANCEL:
            self.source.ended = True
            if self.run is not None:
                self.run.cancel()
        elif kind == wire.TAIL:
            self.keep_details = True
        elif kind == wire.COOKIES:
            if self.run is not None:
                self.run.take_cookies(*payload)
        elif kind == wire.PAUSE:
            if self.run is not None:
                self.run.take_pause(*payload)
        elif kind == wire.SETTINGS:
            self.begin(*payload)

    def begin(self, settings_data: dict[str, Any], concurrency: int, keep: bool,
              keeps: tuple[str, int, int | None, bool] | None) -> None:
        settings, problems = Settings.from_dict(settings_data)
        if problems:  # never fetch with settings other than the run's
            raise ValueError("the run's settings did not reach the helper whole: "
                             + "; ".join(problems))
        self.keep_details = keep
        use_run_gc_threshold()
        writer = self.keep(*keeps) if keeps is not None else None
        self.run = Run(self.source, settings.replace(concurrency=concurrency), self.result,
                       on_cookies=lambda headers, url: self.send(wire.COOKIES, (headers, url)),
                       on_pause=lambda host, seconds: self.send(wire.PAUSE, (host, seconds)),
                       keeper=writer)
        if self.gone:
            self.source.ended = True
        task = self.run.start()
        task.add_done_callback(self.run_done)

    def run_done(self, task: asyncio.Task[None]) -> None:
        if self.writer is not None:  # its last rows committed and sent first
            self.loop.create_task(self.last_kept(task))
            return
        self.flush()
        if not task.cancelled() and task.exception() is not None:
            self.problem(self.loop, {"message": "a helper process's run failed",
                                     "exception": task.exception()}, fatal=True)
        self.send(wire.DONE, None)
        if not self.finished.done():
            self.finished.set_result(None)

    async def last_kept(self, task: asyncio.Task[None]) -> None:
        writer = self.writer
        assert writer is not None
        try:
            writer.close()
            await asyncio.to_thread(writer.join)
            await asyncio.sleep(0)  # its last reports (queued before it ended) are sent first
        finally:  # whatever went wrong here (reported by the loop), the parent hears DONE
            self.writer = None
            self.send_unkept()  # any it did not commit (it stopped)
            self.run_done(task)
            if self.store is not None:
                self.store.close()


async def _serve(read_fd: int, write_fd: int) -> None:

    helper = _Helper(read_fd, write_fd)
    loop = helper.loop
    loop.set_exception_handler(helper.problem)

    # What fails on another thread (the run's executor) or in a destructor is the parent's to
    # show too; the pipe is written on this loop only, so it is sent from here.
    def elsewhere(message: str, exc: BaseException | None) -> None:
        try:
            loop.call_soon_threadsafe(helper.problem, loop, {"message": message,
                                                             "exception": exc})
        except RuntimeError:  # the loop is closed: standard error, which the parent keeps
            print(message, file=sys.stderr)
            if exc is not None:
                traceback.print_exception(exc, file=sys.stderr)

    threading.excepthook = lambda args: elsewhere(
        f"an error in a helper process's thread {args.thread.name if args.thread else ''}",
        args.exc_value)
    sys.unraisablehook = lambda unraisable: elsewhere(
        unraisable.err_msg or "an error that could not be raised, in a helper process",
        unraisable.exc_value)
    os.set_blocking(read_fd, False)
    helper.loop.add_reader(read_fd, helper.readable)
    helper.send(wire.READY, os.getpid())
    try:
        await helper.finished
    finally:
        helper.loop.remove_reader(read_fd)


def main() -> int:
    _die_with_parent()
    # Where cores are short, the parent wins them: it is the window's GUI thread (or the
    # process writing the output), and it fetches too.
    with contextlib.suppress(OSError, AttributeError):
        os.nice(NICENESS)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us, with a message
    # Standard output is the results pipe: keep it, and send stray prints to standard error.
    write_fd = os.dup(1)
    os.dup2(2, 1)
    try:
        asyncio.run(_serve(0, write_fd))
    except Exception:
        traceback.print_exc()  # to standard error, which the parent reports
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
