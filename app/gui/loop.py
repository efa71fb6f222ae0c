"""The asyncio loop inside Qt.

:class:`FastQEventLoop` is qasync's loop with asyncio's scheduling put back: ready callbacks are
drained in batches from one Qt timer, delayed calls live on one heap behind one precise Qt timer.
Unhandled errors are routed by :mod:`app.gui.exceptions`.

It reaches into private parts of qasync and asyncio, written against qasync 0.28.0 and CPython
3.11-3.13. :func:`make_loop` checks each part it relies on (:data:`RELIED_ON`) before and after
building it, and falls back to stock ``qasync.QEventLoop`` with a logged warning where one
differs: slower, never broken.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import heapq
import logging
import math
import selectors
import threading
from asyncio.selector_events import BaseSelectorEventLoop
from collections.abc import Callable
from typing import Any

import qasync
from PySide6.QtCore import QObject, QSocketNotifier, Qt, QTimer, Signal, Slot
from PySide6.QtWidgets import QApplication

__all__ = ["RELIED_ON", "FastQEventLoop", "internals_problem", "make_loop"]

_logger = logging.getLogger("fetchdeck.errors")
_loop_logger = logging.getLogger("fetchdeck.loop")

# What FastQEventLoop calls or overrides on its bases (qasync's loop, asyncio's selector loop):
# each must still be there, callable, or the stock loop is used instead.
RELIED_ON = (
    "_check_thread", "_check_callback", "_check_closed", "_make_self_pipe",
    "_add_reader", "_remove_reader", "_add_writer", "_remove_writer", "_add_callback_signalsafe",
    "call_exception_handler",
)
# asyncio's handles, whose slots the drain reads and writes directly.
HANDLE_SLOTS = {asyncio.Handle: ("_callback", "_args", "_cancelled", "_source_traceback"),
                asyncio.TimerHandle: ("_when", "_scheduled")}

# Qt takes timer intervals as a signed 32-bit count of ms; far deadlines are re-armed on expiry.
_MAX_TIMER_MS = 24 * 3600 * 1000
# Same thresholds as asyncio's own loop for compacting cancelled timers out of the heap.
_MIN_SCHEDULED_TIMER_HANDLES = 100
_MIN_CANCELLED_TIMER_HANDLES_FRACTION = 0.5


class _Waker(QObject):
    """Lives on the loop's thread; other threads emit ``wake`` to get a drain scheduled there."""

    wake = Signal()

    def __init__(self, on_wake: Callable[[], None]) -> None:
        super().__init__()
        self._on_wake = on_wake
        # Queued explicitly: the slot must run on this object's (the GUI) thread whoever emits.
        self.wake.connect(self._wake, Qt.ConnectionType.QueuedConnection)

    @Slot()
    def _wake(self) -> None:
        self._on_wake()


class FastQEventLoop(qasync.QEventLoop):  # type: ignore[misc]  # qasync is untyped
    """qasync's loop, with ready callbacks batched instead of one Qt timer each.

    Stock qasync 0.28 gives every ``call_soon`` its own ``startTimer(0)``/``timerEvent``/
    ``killTimer`` round trip, and every ``call_later`` a Qt timer that lives until its deadline even
    when cancelled (aiohttp cancels a 5-minute timeout per request). Here, as in asyncio's
    ``_run_once``:

    * ``call_soon`` appends to ``self._ready``; one zero-interval single-shot ``QTimer`` drains the
      handles present when it fires, in FIFO order, skipping cancelled ones. Callbacks scheduled
      during a drain wait for the next one, so Qt input, paint and socket events get a turn
      in between.
    * ``call_at``/``call_later`` push a ``TimerHandle`` on ``self._scheduled`` (a heap); one
      ``Qt.PreciseTimer`` is armed for the earliest deadline, rounded up to whole ms, and a handle
      only becomes ready once ``time()`` has reached its deadline, so sleeps never end early.
    * ``call_soon_threadsafe`` appends (atomic on a deque) and wakes the GUI thread through a
      queued Qt signal.
    * Sockets are watched by an epoll (kqueue on BSD/macOS) selector of the loop's own, exactly as
      asyncio's selector loop watches them; Qt watches only that selector's descriptor, with one
      ``QSocketNotifier``. When it fires, and at every drain, the loop polls the selector without
      blocking and runs the ready callbacks in the same batch, as asyncio's ``_run_once`` does:
      one Qt event serves every socket that became ready, not one Qt signal per socket. Where
      there is no pollable selector (Windows), each socket gets its own ``QSocketNotifier``.
    * The default executor is asyncio's ``ThreadPoolExecutor``, not qasync's QThreads.
    """

    def __init__(
        self,
        app: QApplication | None = None,
        set_running_loop: bool = False,
        already_running: bool = False,
    ) -> None:
        # Set up before qasync's __init__, which registers the self-pipe reader and, when
        # already_running, makes this the running loop.
        self._drain_scheduled = False
        self._wakeup_pending = False
        self._timer_deadline = math.inf
        self._drain_timer = QTimer()
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setInterval(0)
        self._drain_timer.timeout.connect(self._drain)
        self._later_timer = QTimer()
        self._later_timer.setSingleShot(True)
        self._later_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._later_timer.timeout.connect(self._on_later_timer)
        self._waker = _Waker(self._on_wakeup)
        # Registered with before qasync's __init__ returns: it adds the self-pipe's reader.
        self._io_selector: selectors.BaseSelector | None = _pollable_selector()
        self._io_notifier: QSocketNotifier | None = None
        if self._io_selector is not None:
            self._io_notifier = QSocketNotifier(self._io_selector.fileno(),  # type: ignore[attr-defined]
                                                QSocketNotifier.Type.Read)
            self._io_notifier.activated["int"].connect(self._on_io_ready)
            self._io_notifier.setEnabled(True)
        super().__init__(app, set_running_loop, already_running)
        if already_running:
            # Lets debug mode's _check_thread catch call_soon from the wrong thread.
            self._thread_id = threading.get_ident()

    # -- ready callbacks ---------------------------------------------------------------------

    def call_soon(
        self, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.Handle:
        if self._closed:
            raise RuntimeError("Event loop is closed")
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_soon")
        handle = asyncio.Handle(callback, args, self, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        self._ready.append(handle)
        if not self._drain_scheduled:
            self._drain_scheduled = True
            self._drain_timer.start()
        return handle

    def call_soon_threadsafe(
        self, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.Handle:
        if self._closed:
            raise RuntimeError("Event loop is closed")
        if self._debug:
            self._check_callback(callback, "call_soon_threadsafe")
        handle = asyncio.Handle(callback, args, self, context)
        if handle._source_traceback:
            del handle._source_traceback[-1]
        self._ready.append(handle)
        # One queued wakeup covers every append made before the GUI thread clears the flag:
        # the append above happens before the flag is read, so it is never missed.
        if not self._wakeup_pending:
            self._wakeup_pending = True
            self._waker.wake.emit()
        return handle

    def _add_callback(self, handle: asyncio.Handle, delay: float = 0) -> asyncio.Handle:
        # asyncio's Unix signal handling calls this from a Python signal handler: only append
        # and wake, never touch the drain bookkeeping, which the handler may have interrupted.
        if not handle._cancelled:
            self._ready.append(handle)
            self._waker.wake.emit()
        return handle

    def _on_wakeup(self) -> None:
        self._wakeup_pending = False
        if self._ready and not self._drain_scheduled:
            self._drain_scheduled = True
            self._drain_timer.start()

    def _drain(self) -> None:
        self._drain_scheduled = False
        if self._io_selector is not None:
            self._collect_io()
        if self._scheduled:
            self._collect_due_timers()
        ready = self._ready
        handle = None
        try:
            # Only what is ready now: what these callbacks schedule runs after Qt's next turn.
            if self._debug:
                for _ in range(len(ready)):
                    handle = ready.popleft()
                    if not handle._cancelled:
                        self._run_debug(handle)
            else:
                for _ in range(len(ready)):
                    handle = ready.popleft()
                    if not handle._cancelled:
                        handle._run()
        except IndexError:
            # A callback ran a nested Qt event loop (processEvents, a modal exec()) and a nested
            # drain emptied the queue under us: nothing left to do in this batch.
            pass
        finally:
            handle = None  # break the cycle through a raised exception's frame
            # Also reached when a callback raised SystemExit/KeyboardInterrupt: keep the rest.
            if ready and not self._drain_scheduled:
                self._drain_scheduled = True
                self._drain_timer.start()

    def _run_debug(self, handle: asyncio.Handle) -> None:
        # What asyncio's _run_once does in debug mode: track the current handle, warn on slow ones.
        try:
            self._current_handle = handle
            t0 = self.time()
            handle._run()
            dt = self.time() - t0
            if dt >= self.slow_callback_duration:
                logging.getLogger("asyncio").warning(
                    "Executing %s took %.3f seconds", _format_handle(handle), dt
                )
        finally:
            self._current_handle = None

    # -- delayed callbacks -------------------------------------------------------------------

    def call_later(
        self, delay: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        if delay is None:
            raise TypeError("delay must not be None")
        timer = self.call_at(self.time() + delay, callback, *args, context=context)
        if timer._source_traceback:
            del timer._source_traceback[-1]
        return timer

    def call_at(
        self, when: float, callback: Callable[..., object], *args: Any, context: Any = None
    ) -> asyncio.TimerHandle:
        # asyncio's BaseEventLoop.call_at, inlined (one per request for aiohttp's timeout).
        if when is None:
            raise TypeError("when cannot be None")
        if self._closed:
            raise RuntimeError("Event loop is closed")
        if self._debug:
            self._check_thread()
            self._check_callback(callback, "call_at")
        timer = asyncio.TimerHandle(when, callback, args, self, context)
        if timer._source_traceback:
            del timer._source_traceback[-1]
        heapq.heappush(self._scheduled, timer)
        timer._scheduled = True
        # Most deadlines (request timeouts) are later than the armed one: no Qt call for those.
        if when < self._timer_deadline:
            self._arm_timer()
        return timer

    def _on_later_timer(self) -> None:
        self._timer_deadline = math.inf
        self._collect_due_timers()
        if self._ready and not self._drain_scheduled:
            self._drain_scheduled = True
            self._drain_timer.start()
        if self._scheduled:
            self._arm_timer()

    def _collect_due_timers(self) -> None:
        """Drop cancelled timers and move the due ones to the ready queue (asyncio's rules)."""
        scheduled = self._scheduled
        count = len(scheduled)
        if (
            count > _MIN_SCHEDULED_TIMER_HANDLES
            and self._timer_cancelled_count / count > _MIN_CANCELLED_TIMER_HANDLES_FRACTION
        ):
            kept = []
            for handle in scheduled:
                if handle._cancelled:
                    handle._scheduled = False
                else:
                    kept.append(handle)
            heapq.heapify(kept)
            self._scheduled = scheduled = kept
            self._timer_cancelled_count = 0
        else:
            while scheduled and scheduled[0]._cancelled:
                self._timer_cancelled_count -= 1
                heapq.heappop(scheduled)._scheduled = False
        end_time = self.time() + self._clock_resolution
        ready = self._ready
        while scheduled and scheduled[0]._when < end_time:
            handle = heapq.heappop(scheduled)
            handle._scheduled = False
            ready.append(handle)

    def _arm_timer(self) -> None:
        """Arm the Qt timer for the earliest deadline, rounded up so it never fires early."""
        when = self._scheduled[0]._when
        self._timer_deadline = when
        delay = when - self.time()
        if delay != delay or delay == math.inf:  # NaN or never (sleep(math.inf)): no timer
            self._later_timer.stop()
            return
        # Capped before the ceil: a delay of 1e300 s is a finite float but no int of ms Qt takes.
        delay_ms = math.ceil(min(delay, _MAX_TIMER_MS / 1000) * 1000)
        self._later_timer.start(min(max(delay_ms, 0), _MAX_TIMER_MS))

    # -- I/O -----------------------------------------------------------------------------------

    def _make_self_pipe(self) -> None:
        # Called from asyncio's __init__, after qasync handed it a Qt-notifier "selector": every
        # descriptor (the self-pipe first) goes to the loop's own selector instead.
        if self._io_selector is not None:
            self._selector.close()
            self._selector = self._io_selector
        super()._make_self_pipe()

    def _on_io_ready(self, _fd: int) -> None:
        # Some socket is ready: run it, and whatever else is ready, now, as one batch.
        self._drain()

    def _collect_io(self) -> None:
        """Move the callbacks of every ready socket to the ready queue (asyncio's
        ``_process_events``, without its signal-safe ``_add_callback``)."""
        assert self._io_selector is not None
        ready = self._ready
        for key, mask in self._io_selector.select(0):
            fileobj, (reader, writer) = key.fileobj, key.data
            if mask & selectors.EVENT_READ and reader is not None:
                if reader._cancelled:
                    self._remove_reader(fileobj)
                else:
                    ready.append(reader)
            if mask & selectors.EVENT_WRITE and writer is not None:
                if writer._cancelled:
                    self._remove_writer(fileobj)
                else:
                    ready.append(writer)

    # Without a pollable selector: qasync disables the notifier, queues the callback with
    # call_soon and re-enables it when the callback has run: three Qt calls and a Handle per
    # readiness event. Here the Handle is made once per watch (as asyncio's selector loop does)
    # and run as soon as Qt reports the socket ready, which also leaves a level-triggered notifier
    # nothing to re-report.

    def _add_reader(self, fd: Any, callback: Callable[..., object], *args: Any) -> Any:
        if self._io_selector is not None:
            return BaseSelectorEventLoop._add_reader(self, fd, callback, *args)
        self._watch(self._read_notifiers, QSocketNotifier.Type.Read, fd, callback, args)
        return None

    def _add_writer(self, fd: Any, callback: Callable[..., object], *args: Any) -> Any:
        if self._io_selector is not None:
            return BaseSelectorEventLoop._add_writer(self, fd, callback, *args)
        self._watch(self._write_notifiers, QSocketNotifier.Type.Write, fd, callback, args)
        return None

    def _remove_reader(self, fd: Any) -> bool:
        if self._io_selector is not None:
            return bool(BaseSelectorEventLoop._remove_reader(self, fd))
        return self._unwatch(self._read_notifiers, fd)

    def _remove_writer(self, fd: Any) -> bool:
        if self._io_selector is not None:
            return bool(BaseSelectorEventLoop._remove_writer(self, fd))
        return self._unwatch(self._write_notifiers, fd)

    def _watch(
        self,
        notifiers: dict[Any, QSocketNotifier],
        kind: QSocketNotifier.Type,
        fd: Any,
        callback: Callable[..., object],
        args: tuple[Any, ...],
    ) -> None:
        self._check_closed()
        self._unwatch(notifiers, fd)
        handle = asyncio.Handle(callback, args, self, None)
        notifier = QSocketNotifier(_fileno(fd), kind)
        # qasync.close() disconnects the "int" overload, so connect that one.
        notifier.activated["int"].connect(lambda _fd: self._on_socket_ready(handle))
        notifier.setEnabled(True)
        notifiers[fd] = notifier

    def _unwatch(self, notifiers: dict[Any, QSocketNotifier] | None, fd: Any) -> bool:
        if notifiers is None:  # closed
            return False
        notifier = notifiers.pop(fd, None)
        if notifier is None:
            return False
        notifier.setEnabled(False)
        notifier.activated["int"].disconnect()
        return True

    def _on_socket_ready(self, handle: asyncio.Handle) -> None:
        if handle._cancelled:
            return
        if self._debug:
            self._run_debug(handle)
        else:
            handle._run()  # routes an exception to call_exception_handler, like the ready queue

    # -- lifecycle ---------------------------------------------------------------------------

    def run_forever(self) -> Any:
        # qasync's own would reach its app, gone with close(), and raise AttributeError.
        self._check_closed()
        if self.is_running():
            raise RuntimeError("Event loop already running")
        self._thread_id = threading.get_ident()
        try:
            return super().run_forever()
        finally:
            self._thread_id = None

    def run_until_complete(self, future: Any) -> Any:
        self._check_closed()
        return super().run_until_complete(future)

    def close(self) -> None:
        if self.is_running():
            raise RuntimeError("Cannot close a running event loop")
        if self.is_closed():
            return
        if self._io_notifier is not None:
            # Before asyncio closes the selector: Qt must never poll a closed (or reused) fd.
            self._io_notifier.setEnabled(False)
            self._io_notifier.activated["int"].disconnect()
            self._io_notifier.deleteLater()
            self._io_notifier = None
        super().close()
        self._io_selector = None
        self._drain_timer.stop()
        self._later_timer.stop()
        self._timer_deadline = math.inf

    def run_in_executor(
        self, executor: Any, func: Callable[..., object], *args: Any
    ) -> asyncio.Future[Any]:
        # qasync's default executor is ten QThreads that nothing stops unless the loop is closed;
        # Qt then aborts the process at exit ("QThread: Destroyed while thread is still
        # running"). getaddrinfo() runs here, so any 'localhost' URL started them. asyncio's
        # ThreadPoolExecutor is joined by Python at exit instead.
        return asyncio.BaseEventLoop.run_in_executor(self, executor, func, *args)

    def set_default_executor(self, executor: Any) -> None:
        asyncio.BaseEventLoop.set_default_executor(self, executor)

    def set_exception_handler(self, handler: Any) -> None:
        # qasync keeps the handler in a private attribute, so get_exception_handler() always
        # answered None; keep asyncio's attribute in step so callers can save and restore it.
        if handler is not None and not callable(handler):
            raise TypeError(f"A callable object or None is expected, got {handler!r}")
        self._exception_handler = handler
        super().set_exception_handler(handler)


def _pollable_selector() -> selectors.BaseSelector | None:
    """A selector whose own descriptor Qt can poll (epoll, kqueue), or None (Windows)."""
    kind = _pollable_selector_class()
    return None if kind is None else kind()


def _pollable_selector_class() -> type[selectors.BaseSelector] | None:
    for name in ("EpollSelector", "KqueueSelector"):
        kind: type[selectors.BaseSelector] | None = getattr(selectors, name, None)
        if kind is not None:
            return kind
    return None


def _fileno(fd: Any) -> int:
    if isinstance(fd, int):
        return fd
    try:
        return int(fd.fileno())
    except (AttributeError, TypeError, ValueError):
        raise ValueError(f"Invalid file object: {fd!r}") from None


def _format_handle(handle: asyncio.Handle) -> str:
    callback = getattr(handle, "_callback", None)
    if isinstance(getattr(callback, "__self__", None), asyncio.Task):
        return repr(callback.__self__)  # type: ignore[union-attr]
    return str(handle)


def internals_problem(loop_class: type[Any] = FastQEventLoop,
                      loop: asyncio.AbstractEventLoop | None = None) -> str:
    """What differs from the qasync/asyncio internals ``loop_class`` relies on ('' if nothing).

    Without ``loop`` the classes are checked; with it, also the state a built loop keeps.
    """
    for name in RELIED_ON:
        if not callable(getattr(loop_class, name, None)):
            return f"{loop_class.__name__}.{name} is missing or not callable"
    if _pollable_selector_class() is not None and not issubclass(loop_class,
                                                                  BaseSelectorEventLoop):
        return f"{loop_class.__name__} is no longer an asyncio selector loop"
    for handle_class, slots in HANDLE_SLOTS.items():
        missing = [s for s in slots if not hasattr(handle_class, s)]
        if missing:
            return f"asyncio.{handle_class.__name__} has no {', '.join(missing)}"
    if loop is None:
        return ""
    expected: dict[str, type | tuple[type, ...]] = {
        "_ready": collections.deque, "_scheduled": list, "_timer_cancelled_count": int,
        "_clock_resolution": float, "_read_notifiers": dict, "_write_notifiers": dict,
        "_closed": bool, "_debug": bool,
    }
    for name, kind in expected.items():
        value = getattr(loop, name, None)
        if not isinstance(value, kind):
            return (f"the loop's {name} is {type(value).__name__}, "
                    f"not {getattr(kind, '__name__', kind)}")
    return ""


def make_loop(app: QApplication, *, already_running: bool = False,
              loop_class: type[FastQEventLoop] = FastQEventLoop) -> asyncio.AbstractEventLoop:
    """The app's asyncio loop on Qt's event loop (``already_running`` when Qt runs already).

    A :class:`FastQEventLoop` when the internals it relies on are as it expects; otherwise
    stock ``qasync.QEventLoop``, with a warning on the ``fetchdeck.loop`` logger.
    """
    problem = internals_problem(loop_class)
    if not problem:
        try:
            loop = loop_class(app, already_running=already_running)
        except (AttributeError, TypeError) as exc:
            problem = f"building it failed: {type(exc).__name__}: {exc}"
        else:
            problem = internals_problem(loop_class, loop)
            if not problem:
                return loop
            if already_running:
                asyncio.events._set_running_loop(None)
                # close() refuses a running loop; qasync keeps that flag name-mangled.
                loop._QEventLoop__is_running = False
            with contextlib.suppress(Exception):
                loop.close()
    _loop_logger.warning(
        "Using qasync's stock event loop (slower): the internals Fetchdeck's faster loop was "
        "written against (qasync 0.28.0, CPython 3.11-3.13) differ here: %s", problem)
    stock: asyncio.AbstractEventLoop = qasync.QEventLoop(app, already_running=already_running)
    return stock
