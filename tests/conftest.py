"""Fixtures every test shares: the Qt application with its asyncio loop, and a guard that fails a
test on any error logged by asyncio, qasync or aiohttp (the errors Fetchdeck exists to surface)."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import subprocess
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
# Keep user config and logs of test runs out of the real home directory.
os.environ.setdefault("FETCHDECK_STATE_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                          f"fetchdeck-tests-{os.getpid()}"))
# ... and the run history (every run is recorded by default) out of the real data folder.
os.environ.setdefault("FETCHDECK_DATA_DIR", os.path.join(os.environ.get("TMPDIR", "/tmp"),
                                                         f"fetchdeck-tests-{os.getpid()}",
                                                         "data"))

import pytest

WATCHED_LOGGERS = ("asyncio", "qasync", "aiohttp")


@pytest.fixture(autouse=True)
def no_loop_errors(caplog: pytest.LogCaptureFixture):
    """Fail the test if asyncio/qasync/aiohttp logged an error (e.g. 'Task exception was never
    retrieved', 'Unclosed client session') while it ran."""
    caplog.set_level(logging.WARNING)
    yield
    gc.collect()  # unretrieved task exceptions and unclosed sessions are reported on collection
    bad = [
        r for r in caplog.get_records("call") + caplog.get_records("teardown")
        if r.levelno >= logging.ERROR and r.name.split(".")[0] in WATCHED_LOGGERS
    ]
    if bad:
        pytest.fail("event loop errors were logged:\n" + "\n".join(
            f"{r.name}: {r.getMessage()}" for r in bad))


@pytest.fixture(scope="session")
def loop(qapp):
    """One asyncio loop for the whole session, running inside Qt (qasync), as in the app.

    Tests stay synchronous and drive it with ``qtbot.waitUntil``; it is never stopped, because
    stopping it calls ``QApplication.exit()`` and every later ``qtbot.wait*`` would return at once.
    """
    from app.gui.loop import make_loop

    event_loop = make_loop(qapp, already_running=True)
    asyncio.set_event_loop(event_loop)
    yield event_loop


def run_coro(qtbot, coro, timeout: float = 30.0):
    """Run a coroutine on the Qt loop from a synchronous test and return its result."""
    task = asyncio.ensure_future(coro)
    qtbot.waitUntil(task.done, timeout=int(timeout * 1000))
    return task.result()


@pytest.fixture
def run_async(qtbot, loop):
    def runner(coro, timeout: float = 30.0):
        return run_coro(qtbot, coro, timeout)
    return runner




def settle(qtbot, rounds: int = 2) -> None:
    """Let the event loop go round ``rounds`` times: everything posted before (layouts, a
    view's delayed item layout, repaints) has then been handled. A condition, not a guess at
    how long that takes: each round ends when a zero-timer posted behind them fires."""
    from PySide6.QtCore import QTimer

    fired: list[int] = []
    for round_ in range(1, rounds + 1):
        QTimer.singleShot(0, lambda: fired.append(1))
        qtbot.waitUntil(lambda n=round_: len(fired) >= n, timeout=5_000)


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 2 MiB filesystem (tmpfs), so a full disk and a read-only remount are the
    kernel's own. Needs the right to mount (root here); skipped elsewhere."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True)
    if made.returncode:
        pytest.skip(f"cannot mount a small filesystem here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)
