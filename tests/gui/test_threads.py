"""run_in_thread: whatever the work refers to is freed on the loop's thread, never on the worker.

Each test gives the work a closure over an object whose weakref callback records the thread it
dies on, drops every other reference, and checks where it died. Run the same way, plain
``run_in_executor`` (as ``asyncio.to_thread``) frees it on the worker every time: with a window
instead of this object, that crashed Qt.
"""

from __future__ import annotations

import asyncio
import os
import threading
import traceback
import weakref

import pytest

from app.gui.threads import run_in_thread


class Thing:
    pass


def watched() -> tuple[Thing, list[int], weakref.ref[Thing]]:
    """An object, and the list that gets the ident of the thread it dies on."""
    died: list[int] = []
    thing = Thing()
    ref = weakref.ref(thing, lambda _ref: died.append(threading.get_ident()))
    return thing, died, ref


def closure_over(thing: Thing, go: threading.Event | None = None):
    """Work that refers to ``thing`` through a closure cell of its own, as the export's does,
    and waits for ``go``, so that the loop's thread lets go of everything while it runs."""
    def work() -> int:
        if go is not None:
            go.wait(10)
        return id(thing)
    return work


def run(loop, qtbot, coro):
    task = loop.create_task(coro)
    qtbot.waitUntil(task.done, timeout=10_000)
    return task.result()


def plain_run_in_executor(func):
    return asyncio.get_running_loop().run_in_executor(None, func)


@pytest.mark.timeout(30)
@pytest.mark.parametrize("outcome", ["result", "exception"])
@pytest.mark.parametrize("runner", [run_in_thread, plain_run_in_executor],
                         ids=["run_in_thread", "run_in_executor"])
def test_the_loops_thread_lets_go_last(loop, qtbot, monkeypatch, runner, outcome):
    """The worker is held back as it hands over its outcome until the loop's thread has taken
    it and let go of everything: the order in which the window was freed on the worker."""
    gate = threading.Event()
    hand_over = loop.call_soon_threadsafe
    main = threading.get_ident()

    def held_back(callback, *args, **kwargs):
        handle = hand_over(callback, *args, **kwargs)
        if threading.get_ident() != main:
            gate.wait(10)
        return handle

    monkeypatch.setattr(loop, "call_soon_threadsafe", held_back)
    died: list[int] = []
    refs: list[weakref.ref[Thing]] = []  # a weakref's callback needs the weakref alive

    async def scenario() -> None:
        thing = Thing()
        refs.append(weakref.ref(thing, lambda _ref: died.append(threading.get_ident())))

        def make(held: Thing):
            def work() -> int:
                local = held  # in the frame's locals and its closure: an exception keeps both
                if outcome == "exception":
                    raise ValueError(type(local).__name__)
                return 1
            return work

        work = make(thing)
        future = runner(work)
        del thing, work
        try:
            assert await future == 1
        except ValueError as exc:
            assert outcome == "exception" and str(exc) == "Thing"
            assert "in work" in "".join(traceback.format_tb(exc.__traceback__))
        del future

    task = loop.create_task(scenario())
    qtbot.waitUntil(task.done, timeout=10_000)
    task.result()
    del task
    gate.set()
    qtbot.waitUntil(lambda: bool(died), timeout=5_000)
    if runner is run_in_thread:
        assert died == [main]
    else:  # what asyncio.to_thread does: the reason this module exists
        assert died != [main]


def test_a_stop_iteration_reaches_the_caller_as_a_runtime_error(loop, qtbot):
    async def scenario() -> BaseException:
        try:
            await run_in_thread(next, iter(()))
        except RuntimeError as exc:
            return exc
        raise AssertionError("no error")

    error = run(loop, qtbot, scenario())
    assert "raised StopIteration" in str(error)
    assert isinstance(error.__cause__, StopIteration)


@pytest.mark.timeout(30)
def test_cancelled_before_it_started_it_never_runs_and_is_freed_here(loop, qtbot):
    release = threading.Event()

    async def scenario() -> tuple[list[int], list[str]]:
        running = asyncio.get_running_loop()
        # Every worker the default executor can have, busy, with more queued behind them.
        blockers = [running.run_in_executor(None, release.wait)
                    for _ in range(min(32, (os.cpu_count() or 1) + 4) + 4)]
        thing, died, ref = watched()
        ran: list[str] = []
        work = (lambda held: lambda: ran.append(type(held).__name__))(thing)
        future = run_in_thread(work)
        del thing, work
        future.cancel()
        await asyncio.sleep(0)  # the done-callback runs
        died_at_cancel = list(died)
        release.set()
        await asyncio.gather(*blockers)
        await asyncio.sleep(0.05)
        assert died_at_cancel == died
        return died, ran

    try:
        died, ran = run(loop, qtbot, scenario())
    finally:
        release.set()
    assert ran == []
    assert died == [threading.get_ident()]


@pytest.mark.timeout(30)
def test_cancelled_while_running_it_is_freed_here_when_it_ends(loop, qtbot):
    started, release = threading.Event(), threading.Event()

    async def scenario() -> list[int]:
        thing, died, ref = watched()

        def blocking(held: Thing):
            def work() -> str:
                started.set()
                release.wait(10)
                return type(held).__name__
            return work

        work = blocking(thing)

        future = run_in_thread(work)
        del thing, work
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 10)
        future.cancel()
        await asyncio.sleep(0.05)
        assert died == []  # still running: the loop's thread holds it
        release.set()
        for _ in range(200):
            if died:
                break
            await asyncio.sleep(0.01)
        return died

    try:
        died = run(loop, qtbot, scenario())
    finally:
        release.set()
    assert died == [threading.get_ident()]
