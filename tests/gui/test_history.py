"""The run history in the window: every run recorded as it goes, reopened as it was, resumed,
compared, exported; a history that cannot be used costs a notice, never the run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from aiohttp import web
from PySide6.QtCore import Qt

from app.core.result import Outcome
from app.core.settings import Settings
from app.core.store import Ended, RunStore
from app.gui.main_window import MainWindow
from tests.servers import ReservedPort, ThreadedServer

pytestmark = pytest.mark.timeout(90)
ROOT = Path(__file__).resolve().parents[2]


# -- a site whose answers a test changes between runs -----------------------------------------


@pytest.fixture
def site():
    """``/page/N`` answers ``site.answers[N]`` (status, title), 200 and "page N" by default;
    ``/slow/N`` waits for ``site.release`` first. ``site.seen`` counts requests."""
    import asyncio

    answers: dict[str, tuple[int, str]] = {}
    release = asyncio.Event()

    async def page(request: web.Request) -> web.Response:
        n = request.match_info["n"]
        status, title = answers.get(n, (200, f"page {n}"))
        return web.Response(status=status, text=f"<title>{title}</title>",
                            content_type="text/html")

    async def slow(request: web.Request) -> web.Response:
        await release.wait()
        return await page(request)

    app = web.Application()
    app.router.add_get("/page/{n}", page)
    app.router.add_get("/slow/{n}", slow)
    with ThreadedServer(app) as server:
        server.answers = answers  # type: ignore[attr-defined]
        yield server


@pytest.fixture
def make_window(qtbot, loop, monkeypatch, tmp_path):
    monkeypatch.setenv("FETCHDECK_CONFIG_DIR", str(tmp_path / "config"))
    made: list[MainWindow] = []

    def make(**settings) -> MainWindow:
        window = MainWindow(Settings(retries=0, timeout=5, **settings))
        qtbot.addWidget(window)
        window.show()
        made.append(window)
        return window

    yield make
    for window in made:
        if window.controller.running:
            window.controller.cancel()
            qtbot.waitUntil(lambda w=window: not w.controller.running, timeout=10_000)
        if window.isVisible():
            close(qtbot, window)


@pytest.fixture
def window(make_window):
    return make_window()


def fetch(qtbot, window, text, timeout=30_000):
    window.form.set_text(text)
    with qtbot.waitSignal(window.run_finished, timeout=timeout):
        qtbot.mouseClick(window.fetch_button, Qt.MouseButton.LeftButton)


def close(qtbot, window):
    """Close the window; ``closed`` comes once the history is written."""
    with qtbot.waitSignal(window.closed, timeout=15_000):
        window.close()


def recorded(qtbot, window, run_id=None):
    """The run's writer has written everything and recorded how the run ended."""
    def written():
        info = stored_run(window.history.run_id if run_id is None else run_id)
        return info is not None and info.ended is not Ended.RUNNING

    qtbot.waitUntil(lambda: window.history.run_id is not None, timeout=10_000)
    qtbot.waitUntil(written, timeout=10_000)
    return stored_run(window.history.run_id if run_id is None else run_id)


def db_path() -> Path:
    return Path(os.environ["FETCHDECK_DATA_DIR"]) / "runs.sqlite3"


def stored_run(run_id):
    if not db_path().exists():
        return None
    with RunStore.open(db_path()) as store:
        return store.run(run_id) if run_id is not None else None


def stored_rows(run_id):
    with RunStore.open(db_path()) as store:
        return [(r.index, r.outcome, r.status, r.title, r.error_kind)
                for r in store.results(run_id)]


def table_rows(window):
    rows = []
    for i in range(len(window.model)):
        r = window.model.result(i)
        rows.append(None if r is None else (r.index, r.outcome, r.status, r.title, r.error_kind))
    return rows


# -- 1. every run recorded ---------------------------------------------------------------------


def test_a_window_run_is_recorded_with_every_row(window, qtbot, site):
    with ReservedPort() as closed:
        urls = [site.url("/page/1"), site.url("/page/2"), f"http://127.0.0.1:{closed.port}/",
                "ftp://nope.example/"]
        site.answers["2"] = (404, "gone")
        fetch(qtbot, window, "\n".join(urls))
    info = recorded(qtbot, window)
    assert (info.source, info.ended, info.total) == ("pasted", Ended.FINISHED, 4)
    assert (info.ok, info.http_error, info.failed, info.invalid) == (1, 1, 1, 1)
    assert stored_rows(info.id) == table_rows(window)
    with RunStore.open(db_path()) as store:
        assert [line.text for line in store.inputs(info.id)] == urls


def test_a_retry_is_recorded_into_the_same_run(window, qtbot, site):
    site.answers["2"] = (503, "busy")
    fetch(qtbot, window, "\n".join(site.url(f"/page/{n}") for n in (1, 2, 3)))
    first = recorded(qtbot, window)
    assert first.http_error == 1
    site.answers["2"] = (200, "back")
    with qtbot.waitSignal(window.run_finished, timeout=30_000):
        window.retry([1])
    info = recorded(qtbot, window)
    assert info.id == first.id and (info.ok, info.http_error) == (3, 0)
    assert stored_rows(info.id)[1] == (1, Outcome.OK, 200, "back", "")
    with RunStore.open(db_path()) as store:
        assert [r.id for r in store.runs()] == [first.id]


def test_each_fetch_is_a_run_of_its_own_named_by_its_file(window, qtbot, site, tmp_path):
    fetch(qtbot, window, site.url("/page/1"))
    first = recorded(qtbot, window)
    listing = tmp_path / "list.csv"
    listing.write_text("url,owner\n" + "".join(f"{site.url(f'/page/{n}')},team {n}\n"
                                               for n in range(3)))
    run_async_task(qtbot, window.load_path(listing))
    assert window.form.is_big_list  # a table is kept apart from the editor: it has a path
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        window.start_run()
    second = recorded(qtbot, window)
    assert second.id != first.id and second.source == str(listing) and second.ok == 3
    assert second.columns == ("owner",)


def test_a_run_cancelled_by_closing_is_recorded_as_cancelled(window, qtbot, site):
    window.form.set_text("\n".join([site.url("/page/1")]
                                   + [site.url(f"/slow/{n}") for n in range(3)]))
    window.start_run()
    qtbot.waitUntil(lambda: window.model.result(0) is not None, timeout=10_000)
    window.cancel_and_close()
    qtbot.waitSignal(window.closed, timeout=15_000).wait()
    with RunStore.open(db_path()) as store:
        (info,) = store.runs()
        assert (info.ended, info.ok, info.cancelled) == (Ended.CANCELLED, 1, 3)


def test_without_keep_runs_nothing_is_recorded(make_window, qtbot, site):
    window = make_window(keep_runs=False)
    fetch(qtbot, window, site.url("/page/1"))
    close(qtbot, window)
    assert not db_path().exists()


def test_an_unusable_history_is_a_notice_and_the_run_completes(make_window, qtbot, site):
    # /sys refuses new files even to root.
    window = make_window(db_path="/sys/fetchdeck-test/runs.sqlite3")
    fetch(qtbot, window, "\n".join(site.url(f"/page/{n}") for n in range(3)))
    assert [r.outcome for r in window.model.results()] == [Outcome.OK] * 3
    qtbot.waitUntil(lambda: bool(window.notices), timeout=10_000)
    (notice,) = window.notices
    assert "results are kept in memory only" in notice and "/sys/fetchdeck-test" in notice
    assert window.notice_bar.isVisible()


@pytest.fixture
def small_disk(tmp_path: Path):
    """A real 2 MiB filesystem (tmpfs); skipped where mounting is not allowed."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)],
                          capture_output=True, text=True, check=False)
    if made.returncode:
        pytest.skip(f"cannot mount a small filesystem here: {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def test_a_history_that_fills_the_disk_mid_run_is_a_notice_and_the_run_completes(
        make_window, qtbot, site, small_disk):
    window = make_window(db_path=str(small_disk / "runs.sqlite3"))
    assert run_async_task(qtbot, window.history.open()) is not None
    fillers = []
    try:  # the rest of the disk, taken, but for 256 KiB: the run starts, then fills it
        while True:
            filler = small_disk / f"filler{len(fillers)}"
            fillers.append(filler)
            filler.write_bytes(b"\0" * 65536)
    except OSError:
        pass
    for filler in fillers[-5:]:
        filler.unlink()
    urls = [site.url(f"/page/{n}?{'x' * 500}") for n in range(2000)]
    fetch(qtbot, window, "\n".join(urls), timeout=60_000)
    assert sum(r.outcome is Outcome.OK for r in window.model.results()) == 2000
    qtbot.waitUntil(lambda: bool(window.notices), timeout=10_000)
    (notice,) = window.notices
    assert "stopped recording" in notice and "disk is full" in notice
    assert "results are kept in memory only" in notice


def run_async_task(qtbot, task, timeout=30_000):
    qtbot.waitUntil(task.done, timeout=timeout)
    return task.result()


# -- helpers for runs made elsewhere -----------------------------------------------------------


INTERRUPTED = textwrap.dedent("""
    import sys, time
    from array import array
    from app.core.result import Result, Outcome
    from app.core.settings import Settings
    from app.core.store import RunStore
    from app.core.targets import TargetList
    db, done, urls = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
    store = RunStore.open(db)
    targets = TargetList(urls, array("L", range(1, len(urls) + 1)))
    writer = store.start_run(source="list.txt", settings=Settings(retries=0), inputs=targets)
    for i in range(done):
        writer.add(Result.of(i, i + 1, urls[i], Outcome.OK, status=200, title=f"page {i}"))
    while writer.written < done:
        time.sleep(0.01)
    print(writer.run_id, flush=True)
    time.sleep(600)
""")


def interrupted_run(db: Path, urls: list[str], done: int) -> int:
    """A run of ``urls`` whose Fetchdeck died (SIGKILL) after ``done`` results were written."""
    db.parent.mkdir(parents=True, exist_ok=True)
    proc = subprocess.Popen([sys.executable, "-c", INTERRUPTED, str(db), str(done), *urls],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        run_id = int(proc.stdout.readline())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    return run_id


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
