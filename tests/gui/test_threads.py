"""run_in_thread: whatever the work refers to is freed on the loop's thread, never on the worker.

Each test gives the work a closure over an object whose weakref callback records the thread it
dies on, drops every other reference at once, and checks where it died. The first test shows
that plain ``run_in_executor`` (as ``asyncio.to_thread``) frees it on the worker every time:
with a window instead of this object, that crashed Qt.
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


def test_plain_run_in_executor_frees_the_work_on_the_worker(loop, qtbot):
    go = threading.Event()

    async def scenario() -> list[int]:
        thing, died, ref = watched()
        work = closure_over(thing, go)
        future = asyncio.get_running_loop().run_in_executor(None, work)
        del thing, work
        go.set()
        await future
        await asyncio.sleep(0.05)  # the worker drops its work item after the result
        return died

    died = run(loop, qtbot, scenario())
    assert died and died != [threading.get_ident()]


def test_the_work_is_freed_on_the_loops_thread(loop, qtbot):
    go = threading.Event()

    async def scenario() -> tuple[int, list[int]]:
        thing, died, ref = watched()
        work = closure_over(thing, go)
        future = run_in_thread(work)
        del thing, work
        go.set()
        value = await future
        await asyncio.sleep(0.05)
        return value, died

    value, died = run(loop, qtbot, scenario())
    assert isinstance(value, int)
    assert died == [threading.get_ident()]


def test_an_exceptions_frames_do_not_keep_the_work_on_the_worker(loop, qtbot):
    go = threading.Event()

    async def scenario() -> tuple[str, list[int]]:
        thing, died, ref = watched()

        def failing(held: Thing):
            def work() -> None:
                local = held  # in the frame's locals and in its closure
                go.wait(10)
                raise ValueError(f"no {type(local).__name__}")
            return work

        work = failing(thing)
        future = run_in_thread(work)
        del thing, work
        go.set()
        try:
            await future
        except ValueError as exc:
            message = str(exc)
            assert "in work" in "".join(traceback.format_tb(exc.__traceback__))
        del future  # the exception, its frames and so the work go with it, here
        await asyncio.sleep(0.05)
        return message, died

    message, died = run(loop, qtbot, scenario())
    assert message == "no Thing"
    assert died == [threading.get_ident()]


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
