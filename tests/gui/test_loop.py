"""FastQEventLoop keeps asyncio's scheduling promises inside Qt; ExceptionRouter catches what
nobody else did. Everything runs on the session loop from conftest, driven by qtbot.waitUntil."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import qasync
from aiohttp import web
from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.core.errors import Failure, Kind
from app.gui.exceptions import ExceptionRouter, default_log_path
from app.gui.loop import FastQEventLoop

PAGE = b"<html>" + b"x" * 2500 + b"</html>"


def test_make_loop_gives_the_fast_loop(loop: asyncio.AbstractEventLoop) -> None:
    assert isinstance(loop, FastQEventLoop)
    assert asyncio.get_event_loop() is loop


# -- ready callbacks ---------------------------------------------------------------------------


def test_call_soon_runs_callbacks_in_the_order_they_were_scheduled(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop
) -> None:
    seen: list[int] = []
    for i in range(1000):
        loop.call_soon(seen.append, i)
    qtbot.waitUntil(lambda: len(seen) == 1000)
    assert seen == list(range(1000))


def test_callbacks_scheduled_by_a_callback_run_after_the_current_batch(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop
) -> None:
    seen: list[str] = []

    def first() -> None:
        seen.append("first")
        loop.call_soon(seen.append, "scheduled by first")

    loop.call_soon(first)
    loop.call_soon(seen.append, "second")
    qtbot.waitUntil(lambda: len(seen) == 3)
    assert seen == ["first", "second", "scheduled by first"]


def test_a_callback_that_reschedules_itself_does_not_starve_qt(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop
) -> None:
    # If a drain also ran what it scheduled, this would never return to Qt and the timer
    # below would never fire (the test would hit its timeout).
    spins = 0
    spinning = True

    def spin() -> None:
        nonlocal spins
        spins += 1
        if spinning:
            loop.call_soon(spin)

    qt_turns: list[int] = []
    loop.call_soon(spin)
    QTimer.singleShot(20, lambda: qt_turns.append(spins))
    qtbot.waitUntil(lambda: bool(qt_turns), timeout=5000)
    spinning = False
    assert qt_turns[0] > 1  # the callback kept going while Qt's timer waited its turn


def test_a_cancelled_handle_never_runs(qtbot: QtBot, loop: asyncio.AbstractEventLoop) -> None:
    seen: list[str] = []
    loop.call_soon(seen.append, "kept before")
    loop.call_soon(seen.append, "cancelled").cancel()
    loop.call_soon(seen.append, "kept after")
    qtbot.waitUntil(lambda: len(seen) == 2)
    loop.call_soon(seen.append, "next batch")
    qtbot.waitUntil(lambda: len(seen) == 3)
    assert seen == ["kept before", "kept after", "next batch"]


@contextlib.contextmanager
def exception_handler(
    loop: asyncio.AbstractEventLoop, handler: Callable[[Any, dict[str, Any]], object]
) -> Iterator[None]:
    previous = loop.get_exception_handler()
    loop.set_exception_handler(handler)
    try:
        yield
    finally:
        loop.set_exception_handler(previous)


def test_an_exception_in_a_callback_reaches_the_exception_handler_and_the_loop_goes_on(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop
) -> None:
    contexts: list[dict[str, Any]] = []
    seen: list[str] = []

    def raising_callback() -> None:
        raise ValueError("boom")

    with exception_handler(loop, lambda _loop, context: contexts.append(context)):
        loop.call_soon(raising_callback)
        loop.call_soon(seen.append, "same batch")
        qtbot.waitUntil(lambda: seen == ["same batch"])
        loop.call_soon(seen.append, "later batch")
        qtbot.waitUntil(lambda: len(seen) == 2)

    assert len(contexts) == 1
    assert isinstance(contexts[0]["exception"], ValueError)
    assert "raising_callback" in contexts[0]["message"]


def test_get_exception_handler_returns_what_was_set(loop: asyncio.AbstractEventLoop) -> None:
    def handler(_loop: Any, _context: dict[str, Any]) -> None:
        pass

    with exception_handler(loop, handler):
        assert loop.get_exception_handler() is handler
    with pytest.raises(TypeError):
        loop.set_exception_handler("not callable")  # type: ignore[arg-type]


def test_call_soon_threadsafe_from_other_threads_runs_on_the_gui_thread_in_order(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop
) -> None:
    seen: list[tuple[int, int]] = []

    def record(i: int) -> None:
        seen.append((i, threading.get_ident()))

    def producer() -> None:
        for i in range(500):
            loop.call_soon_threadsafe(record, i)

    thread = threading.Thread(target=producer)
    thread.start()
    thread.join()
    qtbot.waitUntil(lambda: len(seen) == 500)
    assert [i for i, _ in seen] == list(range(500))
    assert {ident for _, ident in seen} == {threading.get_ident()}


def test_a_callback_that_spins_a_nested_qt_loop_still_runs_everything_once(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, qapp: QApplication
) -> None:
    # processEvents() inside a callback (a modal exec() does the same) drains the queue from
    # inside the drain; the outer drain must then find less than it counted, and not fail.
    seen: list[object] = []

    def spins_qt() -> None:
        seen.append("outer start")
        loop.call_soon(seen.append, "scheduled inside")
        qapp.processEvents()
        seen.append("outer end")

    loop.call_soon(spins_qt)
    for i in range(3):
        loop.call_soon(seen.append, i)
    qtbot.waitUntil(lambda: len(seen) == 6)
    assert sorted(map(str, seen)) == sorted(["outer start", "outer end", "scheduled inside",
                                             "0", "1", "2"])


# -- I/O ------------------------------------------------------------------------------------


@pytest.fixture
def socket_pair() -> Iterator[tuple[socket.socket, socket.socket]]:
    left, right = socket.socketpair()
    left.setblocking(False)
    yield left, right
    left.close()
    right.close()


def test_a_reader_runs_when_data_arrives_until_it_is_removed(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    socket_pair: tuple[socket.socket, socket.socket],
) -> None:
    left, right = socket_pair
    got: list[bytes] = []
    loop.add_reader(left, lambda: got.append(left.recv(100)))
    right.send(b"hello")
    qtbot.waitUntil(lambda: got == [b"hello"])
    assert loop.remove_reader(left) is True
    assert loop.remove_reader(left) is False

    # Send again, then wait for a second watched socket that was written after it: by then Qt
    # has seen both, and the removed reader must have stayed silent.
    other_left, other_right = socket.socketpair()
    with other_left, other_right:
        other_left.setblocking(False)
        later: list[bytes] = []
        right.send(b"after removal")
        loop.add_reader(other_left, lambda: later.append(other_left.recv(100)))
        other_right.send(b"x")
        qtbot.waitUntil(lambda: later == [b"x"])
        loop.remove_reader(other_left)
    assert got == [b"hello"]


def test_an_exception_in_a_reader_reaches_the_exception_handler(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    socket_pair: tuple[socket.socket, socket.socket],
) -> None:
    left, right = socket_pair
    contexts: list[dict[str, Any]] = []
    got: list[bytes] = []

    def raising_reader() -> None:
        data = left.recv(100)
        got.append(data)
        if data == b"first":
            raise ValueError("boom")

    with exception_handler(loop, lambda _loop, context: contexts.append(context)):
        loop.add_reader(left, raising_reader)
        try:
            right.send(b"first")
            qtbot.waitUntil(lambda: len(contexts) == 1)
            right.send(b"second")
            qtbot.waitUntil(lambda: got == [b"first", b"second"])
        finally:
            loop.remove_reader(left)
    assert isinstance(contexts[0]["exception"], ValueError)


@pytest.mark.skipif(sys.platform == "win32", reason="Windows has no pollable selector")
def test_sockets_are_watched_by_one_selector_that_qt_polls(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop,
) -> None:
    # Two hundred sockets ready at once: every reader runs, and Qt holds no notifier per socket.
    pairs = [socket.socketpair() for _ in range(200)]
    got: dict[int, bytes] = {}
    try:
        for number, (left, _right) in enumerate(pairs):
            left.setblocking(False)
            loop.add_reader(left, lambda n=number, s=left: got.__setitem__(n, s.recv(100)))
        for number, (_left, right) in enumerate(pairs):
            right.send(b"%d" % number)
        qtbot.waitUntil(lambda: len(got) == len(pairs))
        assert got == {n: b"%d" % n for n in range(len(pairs))}
        assert isinstance(loop, FastQEventLoop)
        assert not loop._read_notifiers and not loop._write_notifiers
        assert loop._selector is loop._io_selector
        assert len(loop._selector.get_map()) >= len(pairs)
    finally:
        for left, right in pairs:
            loop.remove_reader(left)
            left.close()
            right.close()


def test_a_reader_and_a_writer_on_one_socket_both_run_and_are_removed_apart(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    socket_pair: tuple[socket.socket, socket.socket],
) -> None:
    left, right = socket_pair
    writes: list[int] = []
    reads: list[bytes] = []

    def writer() -> None:
        writes.append(left.send(b"ping"))
        loop.remove_writer(left)  # a writer stays ready: stop after one write

    loop.add_reader(left, lambda: reads.append(left.recv(100)))
    loop.add_writer(left, writer)
    try:
        qtbot.waitUntil(lambda: writes == [4])
        assert right.recv(100) == b"ping"
        right.send(b"pong")
        qtbot.waitUntil(lambda: reads == [b"pong"])
        assert loop.remove_writer(left) is False
    finally:
        assert loop.remove_reader(left) is True


def test_a_closed_loop_lets_go_of_its_selector(qapp: QApplication) -> None:
    other = FastQEventLoop(qapp)
    selector = other._io_selector
    other.close()
    assert other.is_closed()
    if selector is not None:  # Windows has none
        assert other._io_notifier is None
        with pytest.raises((OSError, ValueError)):
            selector.select(0)  # closed with the loop: Qt polls no stale descriptor
    other.close()  # twice is harmless


# -- delayed callbacks ----------------------------------------------------------------------


def test_call_later_runs_in_deadline_order(qtbot: QtBot, loop: asyncio.AbstractEventLoop) -> None:
    seen: list[float] = []
    for delay in (0.03, 0.001, 0.02, 0.0, 0.01):
        loop.call_later(delay, seen.append, delay)
    qtbot.waitUntil(lambda: len(seen) == 5)
    assert seen == [0.0, 0.001, 0.01, 0.02, 0.03]


def test_call_later_and_sleep_never_wake_early(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, run_async: Callable[..., Any]
) -> None:
    # Stock qasync truncates to whole ms on a coarse timer and can wake a 50 ms sleep ~1.6 ms early.
    late: list[tuple[float, float]] = []
    delays = (0.0004, 0.0015, 0.005, 0.0109, 0.0333, 0.05)
    for delay in delays:
        start = loop.time()
        loop.call_later(delay, lambda d=delay, s=start: late.append((d, loop.time() - s)))
    qtbot.waitUntil(lambda: len(late) == len(delays))
    assert all(elapsed >= delay for delay, elapsed in late), late

    async def timed_sleep(delay: float) -> float:
        start = time.monotonic()
        await asyncio.sleep(delay)
        return time.monotonic() - start

    for delay in (0.0105, 0.05):
        assert run_async(timed_sleep(delay)) >= delay


def test_call_at_returns_a_timer_handle_that_can_be_cancelled(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop
) -> None:
    seen: list[str] = []
    when = loop.time() + 0.01
    cancelled = loop.call_at(when, seen.append, "cancelled")
    far = loop.call_later(3600, seen.append, "an hour later")
    assert isinstance(cancelled, asyncio.TimerHandle)
    assert cancelled.when() == when
    cancelled.cancel()
    loop.call_at(when + 0.005, seen.append, "kept")
    qtbot.waitUntil(lambda: seen == ["kept"])
    far.cancel()  # a far deadline does not hold up the near one, and is dropped once cancelled


def test_timeouts_fire_and_cancelled_ones_do_not(run_async: Callable[..., Any]) -> None:
    async def scenario() -> tuple[bool, str]:
        timed_out = False
        try:
            async with asyncio.timeout(0.02):
                await asyncio.sleep(10)
        except TimeoutError:
            timed_out = True
        async with asyncio.timeout(10):  # cancelled on exit; must not fire later
            await asyncio.sleep(0)
        return timed_out, "done"

    assert run_async(scenario()) == (True, "done")


def test_debug_mode_checks_threads_and_reports_slow_callbacks(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[str] = []
    errors: list[BaseException] = []

    def wrong_thread() -> None:
        try:
            loop.call_soon(seen.append, "from a thread")
        except RuntimeError as exc:
            errors.append(exc)

    def slow() -> None:
        time.sleep(0.12)  # not a wait in the test: the callback under test is slow on purpose
        seen.append("slow")

    loop.set_debug(True)
    try:
        thread = threading.Thread(target=wrong_thread)
        thread.start()
        thread.join()
        loop.call_soon(slow)
        loop.call_later(0.001, seen.append, "later")
        qtbot.waitUntil(lambda: seen == ["slow", "later"])
    finally:
        loop.set_debug(False)
    assert errors and "Non-thread-safe operation" in str(errors[0])
    assert any("took" in r.getMessage() and r.name == "asyncio" for r in caplog.records)


# -- real I/O ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def server_port() -> Iterator[int]:
    """An aiohttp server on its own thread and its own default loop, off the GUI loop."""

    async def page(_request: web.Request) -> web.Response:
        return web.Response(body=PAGE, content_type="text/html")

    started = threading.Event()
    port: list[int] = []
    server_loop = asyncio.new_event_loop()
    app = web.Application()
    app.router.add_get("/", page)
    runner = web.AppRunner(app)

    async def start() -> None:
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
        started.set()

    def serve() -> None:
        asyncio.set_event_loop(server_loop)
        server_loop.run_until_complete(start())
        server_loop.run_forever()
        server_loop.run_until_complete(runner.cleanup())
        server_loop.close()

    thread = threading.Thread(target=serve, name="test-http-server", daemon=True)
    thread.start()
    assert started.wait(10)
    yield port[0]
    server_loop.call_soon_threadsafe(server_loop.stop)
    thread.join(10)


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])  # localhost goes through getaddrinfo
def test_aiohttp_fetches_from_a_local_server(
    server_port: int, host: str, run_async: Callable[..., Any]
) -> None:
    async def fetch_many() -> list[tuple[int, bytes]]:
        async with aiohttp.ClientSession() as session:

            async def one() -> tuple[int, bytes]:
                async with session.get(f"http://{host}:{server_port}/") as response:
                    return response.status, await response.read()

            return await asyncio.gather(*(one() for _ in range(50)))

    results = run_async(fetch_many())
    assert results == [(200, PAGE)] * 50


def test_a_process_that_resolved_a_name_exits_cleanly(tmp_path: Path) -> None:
    # getaddrinfo runs in the default executor; stock qasync's is QThreads that Qt aborts on
    # at exit (exit status 134) unless the loop was closed, which the test session never does.
    script = textwrap.dedent(
        """
        import asyncio
        from PySide6.QtWidgets import QApplication
        from app.gui.loop import make_loop

        app = QApplication([])
        loop = make_loop(app)
        print(len(loop.run_until_complete(loop.getaddrinfo("localhost", 80))) > 0)
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True"


# -- exception routing ------------------------------------------------------------------------


class Routed:
    """What a router emitted, and on which thread."""

    def __init__(self, router: ExceptionRouter) -> None:
        self.failures: list[Failure] = []
        self.threads: list[int] = []
        router.internal_error.connect(self._record)

    def _record(self, failure: Failure) -> None:
        self.failures.append(failure)
        self.threads.append(threading.get_ident())


@pytest.fixture
def router(tmp_path: Path) -> ExceptionRouter:
    return ExceptionRouter(log_path=tmp_path / "state" / "fetchdeck.log")


@contextlib.contextmanager
def installed(router: ExceptionRouter, loop: asyncio.AbstractEventLoop) -> Iterator[Routed]:
    routed = Routed(router)
    router.install(loop)
    try:
        yield routed
    finally:
        router.uninstall()


def assert_routed(
    qtbot: QtBot, routed: Routed, router: ExceptionRouter, message: str, function: str
) -> Failure:
    qtbot.waitUntil(lambda: bool(routed.failures))
    failure = routed.failures[0]
    assert failure.kind is Kind.INTERNAL
    assert failure.message.startswith(message), failure.message
    assert failure.message.endswith("ValueError: boom"), failure.message
    assert function in failure.traceback
    assert routed.threads == [threading.get_ident()]  # emitted on the GUI thread
    log = router.log_path.read_text(encoding="utf-8")
    assert f"internal: {failure.message}" in log
    return failure


def test_router_reports_an_exception_in_a_loop_callback(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, router: ExceptionRouter
) -> None:
    def raising_callback() -> None:
        raise ValueError("boom")

    with installed(router, loop) as routed:
        loop.call_soon(raising_callback)
        assert_routed(qtbot, routed, router, "Exception in callback", "raising_callback")


def test_router_reports_a_task_exception_nobody_retrieved(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, router: ExceptionRouter
) -> None:
    async def forgotten_task() -> None:
        raise ValueError("boom")

    with installed(router, loop) as routed:
        task = loop.create_task(forgotten_task())
        qtbot.waitUntil(task.done)
        del task
        gc.collect()
        failure = assert_routed(
            qtbot, routed, router, "Task exception was never retrieved", "forgotten_task"
        )
    assert "future: <Task finished" in failure.traceback


def test_router_reports_a_loop_error_without_an_exception(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, router: ExceptionRouter
) -> None:
    with installed(router, loop) as routed:
        loop.call_exception_handler({"message": "Unclosed client session", "client_session": 1})
        qtbot.waitUntil(lambda: bool(routed.failures))
    assert routed.failures[0].message == "Event loop error: Unclosed client session"
    assert "client_session: 1" in routed.failures[0].traceback


class Emitter(QObject):
    fired = Signal()
    carried = Signal(str)


def test_router_reports_an_exception_in_a_qt_slot(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, router: ExceptionRouter
) -> None:
    def raising_slot() -> None:
        raise ValueError("boom")

    emitter = Emitter()
    emitter.fired.connect(raising_slot)
    # pytest-qt's hook is installed first, so the router chains to it: the test sees that the
    # exception was both routed and still passed on.
    with qtbot.captureExceptions() as passed_on, installed(router, loop) as routed:
        QTimer.singleShot(0, emitter.fired.emit)
        assert_routed(qtbot, routed, router, "Unhandled exception in a Qt slot", "raising_slot")
    assert [type(exc) for _, exc, _ in passed_on] == [ValueError]


def test_router_reports_an_exception_in_an_async_slot(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, router: ExceptionRouter
) -> None:
    # Signal(str), not Signal(): qasync 0.28's asyncSlot raises TypeError when called with no
    # arguments at all ("asyncSlot was not callable from Signal").
    @qasync.asyncSlot(str)
    async def raising_async_slot(text: str) -> None:
        await asyncio.sleep(0)
        raise ValueError(text)

    emitter = Emitter()
    emitter.carried.connect(raising_async_slot)
    with qtbot.captureExceptions() as passed_on, installed(router, loop) as routed:
        QTimer.singleShot(0, lambda: emitter.carried.emit("boom"))
        assert_routed(
            qtbot, routed, router, "Unhandled exception in a Qt slot", "raising_async_slot"
        )
    assert len(passed_on) == 1


def test_router_reports_an_exception_in_a_thread_on_the_gui_thread(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    router: ExceptionRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Stands in for pytest's own thread hook (which would turn the passed-on exception into a
    # failing warning) so the test can check the router passes it on.
    passed_on: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", passed_on.append)

    def raising_in_thread() -> None:
        raise ValueError("boom")

    with installed(router, loop) as routed:
        thread = threading.Thread(target=raising_in_thread, name="worker-7")
        thread.start()
        thread.join()
        assert_routed(
            qtbot, routed, router, "Unhandled exception in thread worker-7", "raising_in_thread"
        )
    assert [args.exc_type for args in passed_on] == [ValueError]


class RaisesOnDelete:
    def __del__(self) -> None:
        raise ValueError("boom")


def test_router_reports_an_exception_in_del(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    router: ExceptionRouter,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    passed_on: list[Any] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda args: passed_on.append(args.exc_type))

    with installed(router, loop) as routed:
        obj = RaisesOnDelete()
        del obj
        assert_routed(qtbot, routed, router, "Exception ignored in", "__del__")
    assert passed_on == [ValueError]


def test_a_raising_receiver_does_not_make_the_router_loop(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, router: ExceptionRouter
) -> None:
    def broken_panel(_failure: Failure) -> None:
        raise RuntimeError("panel is broken")

    def raising_callback() -> None:
        raise ValueError("boom")

    router.internal_error.connect(broken_panel)
    with qtbot.captureExceptions() as passed_on, installed(router, loop) as routed:
        loop.call_soon(raising_callback)
        qtbot.waitUntil(lambda: len(passed_on) == 1)
    # The panel's own error is logged and passed on, but not emitted back into the panel.
    assert len(routed.failures) == 1
    assert routed.failures[0].message.startswith("Exception in callback")
    log = router.log_path.read_text(encoding="utf-8")
    assert "RuntimeError: panel is broken" in log
    assert isinstance(passed_on[0][1], RuntimeError)


def test_uninstall_restores_every_hook(
    loop: asyncio.AbstractEventLoop, router: ExceptionRouter
) -> None:
    before = (
        loop.get_exception_handler(), sys.excepthook, threading.excepthook, sys.unraisablehook
    )
    router.install(loop)
    assert sys.excepthook != before[1]
    router.uninstall()
    after = (
        loop.get_exception_handler(), sys.excepthook, threading.excepthook, sys.unraisablehook
    )
    assert after == before


def test_the_log_goes_to_the_state_dir_named_by_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FETCHDECK_STATE_DIR", str(tmp_path))
    assert default_log_path() == tmp_path / "fetchdeck.log"
    assert ExceptionRouter().log_path == tmp_path / "fetchdeck.log"


def test_routed_errors_are_also_logged_on_the_fetchdeck_logger(
    qtbot: QtBot,
    loop: asyncio.AbstractEventLoop,
    router: ExceptionRouter,
    caplog: pytest.LogCaptureFixture,
) -> None:
    with installed(router, loop) as routed:
        loop.call_exception_handler({"message": "something odd"})
        qtbot.waitUntil(lambda: bool(routed.failures))
    records = [r for r in caplog.records if r.name == "fetchdeck.errors"]
    assert records and records[0].levelno == logging.ERROR


# -- infinite delays, closed loops, and the fallback when internals drift ------------------------


def test_an_infinite_sleep_does_not_break_other_timers(
    qtbot: QtBot, loop: asyncio.AbstractEventLoop, run_async: Callable[..., Any]
) -> None:
    import math

    forever = asyncio.ensure_future(asyncio.sleep(math.inf))
    waiting = asyncio.ensure_future(asyncio.wait_for(asyncio.Event().wait(), math.inf))
    errors: list[dict[str, Any]] = []
    previous = loop.get_exception_handler()
    loop.set_exception_handler(lambda _loop, context: errors.append(context))
    try:
        # Each timer that fires re-arms the Qt timer for the earliest deadline left: the
        # infinite one. That raised OverflowError (math.ceil(inf)) in every such callback.
        fired: list[float] = []
        for delay in (0.001, 0.005, 0.01):
            loop.call_later(delay, fired.append, delay)
        qtbot.waitUntil(lambda: len(fired) == 3)
        run_async(asyncio.sleep(0.02))
        assert fired == [0.001, 0.005, 0.01]
        assert errors == []
        assert not forever.done() and not waiting.done()
        far = loop.call_later(1e300, fired.append, "never")  # finite, but no int of ms
        run_async(asyncio.sleep(0.01))
        assert errors == [] and "never" not in fired
        far.cancel()
    finally:
        forever.cancel()
        waiting.cancel()
        qtbot.waitUntil(lambda: forever.done() and waiting.done())
        loop.set_exception_handler(previous)


def test_running_a_closed_loop_raises_asyncios_runtime_error(qapp: QApplication) -> None:
    other = FastQEventLoop(qapp)
    other.close()
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        other.run_forever()
    coro = asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="Event loop is closed"):
        other.run_until_complete(coro)
    coro.close()


class _WithoutThreadCheck(FastQEventLoop):
    """A loop over a qasync/asyncio release that dropped a private method FastQEventLoop calls."""

    _check_thread = None


class _ReadyAsList(FastQEventLoop):
    """... or one whose ready queue is no longer a deque (the drain pops from its left)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._ready = list(self._ready)


@pytest.mark.parametrize(("drifted", "named"), [(_WithoutThreadCheck, "_check_thread"),
                                                (_ReadyAsList, "_ready is list")])
def test_make_loop_falls_back_to_stock_qasync_when_internals_differ(
    qapp: QApplication, qtbot: QtBot, loop: asyncio.AbstractEventLoop,
    caplog: pytest.LogCaptureFixture, drifted: type, named: str
) -> None:
    from app.gui.loop import internals_problem, make_loop

    assert internals_problem() == ""
    with caplog.at_level(logging.WARNING, logger="fetchdeck.loop"):
        other = make_loop(qapp, loop_class=drifted)
    try:
        assert type(other) is qasync.QEventLoop
        (record,) = [r for r in caplog.records if r.name == "fetchdeck.loop"]
        assert record.levelno == logging.WARNING
        assert "stock event loop" in record.getMessage() and named in record.getMessage()
        done: list[int] = []
        other.call_soon(done.append, 1)  # run by Qt's loop, which qtbot turns
        qtbot.waitUntil(lambda: done == [1])
    finally:
        other.close()
    assert asyncio.get_event_loop() is loop
