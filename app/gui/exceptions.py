"""Where errors nobody caught go: :class:`ExceptionRouter` turns every one (the loop's exception
handler, Qt slots, threads, ``__del__``) into an internal :class:`~app.core.errors.Failure` for
the error panel, and appends it to a log file in the user's state directory.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import sys
import threading
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import platformdirs
from PySide6.QtCore import QObject, Qt, Signal, Slot

from app.core.errors import Failure, Kind
from app.core.redact import MASKING

__all__ = ["ExceptionRouter", "default_log_path"]

_logger = logging.getLogger("fetchdeck.errors")

# Past this the log rotates once to .1, so an error repeating in a paint loop cannot fill a disk.
_LOG_MAX_BYTES = 5 * 1024 * 1024


def default_log_path() -> Path:
    """``$FETCHDECK_STATE_DIR/fetchdeck.log`` when set (tests), else the user's state directory."""
    state_dir = os.environ.get("FETCHDECK_STATE_DIR")
    base = Path(state_dir) if state_dir else Path(
        platformdirs.user_state_dir("fetchdeck", appauthor=False)
    )
    return base / "fetchdeck.log"


def _summary(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__


def _internal(exc: BaseException, where: str, tb: TracebackType | None = None) -> Failure:
    if exc.__traceback__ is None and tb is not None:
        exc = exc.with_traceback(tb)
    return dataclasses.replace(
        Failure.from_exception(exc), kind=Kind.INTERNAL, message=f"{where}: {_summary(exc)}"
    )


def _safe_repr(value: object) -> str:
    try:
        return repr(value)
    except Exception as exc:  # a broken __repr__ must not cost us the report
        return f"<repr failed: {_summary(exc)}>"


class ExceptionRouter(QObject):
    """Sends every exception nobody handled to the error panel and the log file.

    ``install(loop)`` takes over the loop's exception handler, ``sys.excepthook`` (Qt slots and
    qasync's ``@asyncSlot`` end there), ``threading.excepthook`` and ``sys.unraisablehook``
    (exceptions in ``__del__``). Each error becomes a ``Failure`` of kind ``internal``, is
    appended to the log file and is emitted on the GUI thread, whichever thread it came from.

    The previous sys/threading hooks are still called afterwards, so a terminal still shows the
    traceback and pytest still fails a test on an unexpected one. The loop's default handler is
    not: it would only log the same error again on qasync's logger; a handler set earlier is.

    Signals:
        internal_error(Failure): an unhandled error, always emitted on the GUI thread.
    """

    internal_error = Signal(object)
    _relay = Signal(object)

    def __init__(self, log_path: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.log_path = log_path if log_path is not None else default_log_path()
        self._gui_thread = threading.get_ident()
        self._local = threading.local()
        self._write_lock = threading.Lock()
        self._installed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._prev_loop_handler: Callable[..., object] | None = None
        self._prev_excepthook = sys.excepthook
        self._prev_threading_hook = threading.excepthook
        self._prev_unraisable_hook = sys.unraisablehook
        self._relay.connect(self._emit_here, Qt.ConnectionType.QueuedConnection)

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        if self._installed:
            raise RuntimeError("ExceptionRouter is already installed")
        self._loop = loop
        self._prev_loop_handler = loop.get_exception_handler()
        self._prev_excepthook = sys.excepthook
        self._prev_threading_hook = threading.excepthook
        self._prev_unraisable_hook = sys.unraisablehook
        loop.set_exception_handler(self._on_loop_error)
        sys.excepthook = self._on_excepthook
        threading.excepthook = self._on_thread_error
        sys.unraisablehook = self._on_unraisable
        self._installed = True

    def uninstall(self) -> None:
        """Put the previous hooks back, where nobody has replaced ours since."""
        if not self._installed:
            return
        self._installed = False
        if self._loop is not None and self._loop.get_exception_handler() == self._on_loop_error:
            self._loop.set_exception_handler(self._prev_loop_handler)
        # A hook installed after ours keeps ours as its "previous"; ours then only passes through.
        if sys.excepthook == self._on_excepthook:
            sys.excepthook = self._prev_excepthook
        if threading.excepthook == self._on_thread_error:
            threading.excepthook = self._prev_threading_hook
        if sys.unraisablehook == self._on_unraisable:
            sys.unraisablehook = self._prev_unraisable_hook
        self._loop = None

    # -- the hooks: none of them may raise -----------------------------------------------------

    def _on_loop_error(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if not self._installed:  # uninstalled, but someone kept a reference to this handler
            with self._guard():
                (self._prev_loop_handler or _default_handler)(loop, context)
            return
        with self._guard():
            message = str(context.get("message") or "Unhandled exception in event loop")
            details = self._context_details(context)
            exc = context.get("exception")
            if isinstance(exc, BaseException):
                failure = _internal(exc, message)
                failure = dataclasses.replace(failure, traceback_text=failure.traceback + details)
            else:
                failure = Failure(Kind.INTERNAL, f"Event loop error: {message}",
                                  traceback_text=details)
            self._route(failure)
        if self._prev_loop_handler is not None:
            with self._guard():
                self._prev_loop_handler(loop, context)

    def _on_excepthook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if self._installed and not issubclass(exc_type, KeyboardInterrupt):
            with self._guard():
                self._route(_internal(exc, "Unhandled exception in a Qt slot", tb))
        with self._guard():
            self._prev_excepthook(exc_type, exc, tb)

    def _on_thread_error(self, args: threading.ExceptHookArgs) -> None:
        exc = args.exc_value
        # The default hook stays silent on SystemExit in a thread; so do we.
        if self._installed and exc is not None and not isinstance(exc, SystemExit):
            with self._guard():
                name = args.thread.name if args.thread is not None else "<unknown>"
                self._route(
                    _internal(exc, f"Unhandled exception in thread {name}", args.exc_traceback)
                )
        with self._guard():
            self._prev_threading_hook(args)

    def _on_unraisable(self, unraisable: sys.UnraisableHookArgs) -> None:
        if self._installed:
            with self._guard():
                # Only its repr: keeping the object could resurrect one being finalised.
                where = f"{unraisable.err_msg or 'Exception ignored in'}: "
                where += _safe_repr(unraisable.object)
                exc = unraisable.exc_value
                if exc is not None:
                    failure = _internal(exc, where, unraisable.exc_traceback)
                else:
                    failure = Failure(Kind.INTERNAL, f"{where}: {unraisable.exc_type.__name__}")
                self._route(failure)
        with self._guard():
            self._prev_unraisable_hook(unraisable)

    # -- delivery ---------------------------------------------------------------------------

    def _route(self, failure: Failure) -> None:
        state = self._local
        if getattr(state, "routing", False):
            # An error while routing an error (e.g. a slot on internal_error raised): record it
            # but do not emit again, or it would loop.
            self._append_to_log(failure)
            return
        state.routing = True
        try:
            self._append_to_log(failure)
            _logger.error("%s (details in %s)", failure.message, self.log_path)
            if threading.get_ident() == self._gui_thread:
                self.internal_error.emit(failure)
            else:
                self._relay.emit(failure)
        finally:
            state.routing = False

    @Slot(object)
    def _emit_here(self, failure: Failure) -> None:
        # Relayed from another thread; a raising receiver comes back through _route as above.
        self._local.routing = True
        try:
            with self._guard():
                self.internal_error.emit(failure)
        finally:
            self._local.routing = False

    def record(self, failure: Failure) -> None:
        """Append a failure shown elsewhere (an internal error on a row) to the log only."""
        self._append_to_log(failure)

    def _append_to_log(self, failure: Failure) -> None:
        stamp = datetime.now(UTC).isoformat(timespec="milliseconds")
        body = "".join(f"    {line}\n" for line in failure.traceback.splitlines())
        # Passwords in URLs never reach the disk, whatever the display setting.
        # The log is always masked: it outlives the session and its settings.
        entry = MASKING.text(f"{stamp} {failure.kind.value}: {failure.message}\n{body}")
        try:
            with self._write_lock:
                self.log_path.parent.mkdir(parents=True, exist_ok=True)
                with contextlib.suppress(FileNotFoundError):
                    if self.log_path.stat().st_size > _LOG_MAX_BYTES:
                        self.log_path.replace(self.log_path.with_name(self.log_path.name + ".1"))
                with self.log_path.open("a", encoding="utf-8", errors="replace") as log:
                    log.write(entry)
        except OSError as exc:
            _write_stderr(f"fetchdeck: cannot write {self.log_path}: {exc}\n{entry}")

    @staticmethod
    def _context_details(context: dict[str, Any]) -> str:
        lines = [
            f"{key}: {_safe_repr(value)}\n"
            for key, value in sorted(context.items())
            if key not in ("message", "exception", "source_traceback")
        ]
        source = context.get("source_traceback")
        if source:
            lines.append("Object created at (most recent call last):\n")
            lines.extend(traceback.format_list(source))
        return "".join(lines)

    @contextlib.contextmanager
    def _guard(self) -> Any:
        """The router is the last resort: if it fails, say so on stderr and carry on."""
        try:
            yield
        except Exception:
            _write_stderr("fetchdeck: the exception router failed:\n" + traceback.format_exc())


def _default_handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    loop.default_exception_handler(context)


def _write_stderr(text: str) -> None:
    stream = sys.__stderr__  # sys.stderr may be redirected, or None in a windowed app
    if stream is None:
        return
    with contextlib.suppress(Exception):
        stream.write(text)
        stream.flush()
