"""Work run on a worker thread that never lets that thread drop the last reference to anything.

``loop.run_in_executor`` and ``asyncio.to_thread`` keep the function they were given until
*after* its result is handed back: the worker sets the future's result, then drops its work
item; an exception raised there also keeps the function (each traceback frame holds its
function and locals) in the executor's future, which the worker holds until then too. If the
GUI thread hears of the result and lets go of everything first (the window closed as an export
finished), the worker's drop is the last reference, and whatever the function reached is freed
on the worker: a main window deleted there crashed Qt (``QObject::disconnectImpl`` from
``~QAbstractItemView``, at the end of a benchmark run).

:func:`run_in_thread` keeps the function and its arguments in a table on the loop's thread;
the job the worker runs holds only a key. It takes them from the table as it starts, lets go of
them as it ends, and hands its result or exception to the loop's thread in a box that the loop's
thread empties: the worker is left holding nothing but the empty box. The loop's thread removes
the table entry as it takes the result, or at once when the job is cancelled before it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import threading
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["run_in_thread"]

T = TypeVar("T")

_lock = threading.Lock()
# key -> (func, args, the future run_in_thread returned); entries are removed on the loop thread
_work: dict[int, tuple[Callable[..., Any], tuple[Any, ...], asyncio.Future[Any]]] = {}
_keys = itertools.count()


def _deliver(key: int, box: list[Any], failed: bool) -> None:
    """On the loop's thread: take the job's result (or exception) out of its box."""
    entry = _work.pop(key, None)
    outcome: Any = box.pop() if box else None
    if entry is None:
        return
    future = entry[2]
    del entry
    if future.cancelled():
        return
    if failed:
        future.set_exception(outcome)
    else:
        future.set_result(outcome)


class _Job:
    __slots__ = ("_key", "_loop", "started")

    def __init__(self, key: int, loop: asyncio.AbstractEventLoop) -> None:
        self._key = key
        self._loop = loop
        self.started = False

    def __call__(self) -> None:
        with _lock:
            entry = _work.get(self._key)
            if entry is None:  # cancelled before it started: its work is gone already
                return
            self.started = True
        func, args = entry[0], entry[1]
        entry = None
        box: list[Any] = []
        failed = False
        try:
            box.append(func(*args))
        except StopIteration as exc:  # a future refuses it (TypeError): its caller would hang
            box.append(_stopped(func, exc))
            failed = True
        except BaseException as exc:  # noqa: BLE001 - handed to the future, whatever it is
            box.append(exc)
            failed = True
        func = args = None  # type: ignore[assignment]
        # A closed loop raises: its thread has nothing left to protect then.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(_deliver, self._key, box, failed)


def _stopped(func: Callable[..., Any], exc: StopIteration) -> RuntimeError:
    """What asyncio makes of a coroutine that raises StopIteration, for a function."""
    error = RuntimeError(f"{getattr(func, '__qualname__', func)} raised StopIteration")
    error.__cause__ = exc
    return error


def run_in_thread(func: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """``func(*args)`` on the loop's default executor, as ``asyncio.to_thread`` does, but
    nothing ``func``, ``args``, its result or its exception refer to is ever freed on the worker
    thread. Call it on the loop's thread."""
    loop = asyncio.get_running_loop()
    key = next(_keys)
    future: asyncio.Future[T] = loop.create_future()
    _work[key] = (func, args, future)
    job = _Job(key, loop)
    try:
        ran = loop.run_in_executor(None, job)
    except BaseException:  # the executor is shut down: nothing will take the entry out
        del _work[key]
        raise

    def forget_if_never_run(_future: asyncio.Future[T]) -> None:
        if future.cancelled():
            ran.cancel()  # not started yet: it never will be
            with _lock:  # if it starts now, it finds nothing to run
                entry = None if job.started else _work.pop(key, None)
            del entry  # outside the lock: it may be the last reference to a window

    future.add_done_callback(forget_if_never_run)
    return future
