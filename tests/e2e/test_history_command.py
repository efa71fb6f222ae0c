"""The run history from the command line: a ``fetchdeck run`` killed with SIGKILL at random
moments leaves a sound database holding every row that finished a second before, and
``fetchdeck resume`` fetches only what was left; ``runs``, ``export`` and ``diff``."""

from __future__ import annotations

import csv
import io
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import openpyxl
import pytest
from aiohttp import web

from tests.servers import ThreadedServer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(180)


def command(tmp: Path, *args: str, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=tmp, env=_env(tmp),
                          capture_output=True, text=True, timeout=timeout, check=False)


def _env(tmp: Path) -> dict[str, str]:
    env = dict(os.environ, FETCHDECK_CONFIG_DIR=str(tmp / "config"),
               FETCHDECK_DATA_DIR=str(tmp / "data"), PYTHONPATH=str(ROOT))
    env.pop("PYTHONWARNINGS", None)
    return env


@pytest.fixture
def slow_server():
    """Every /page/N answers after 50-250 ms; ``answered`` records when each answer went."""
    answered: dict[str, float] = {}
    rng = random.Random(7)

    async def page(request: web.Request) -> web.Response:
        import asyncio

        await asyncio.sleep(0.05 + rng.random() * 0.2)
        answered[request.path_qs] = time.monotonic()
        return web.Response(text=f"<title>{request.path}</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/page/{n}", page)
    with ThreadedServer(app) as server:
        server.answered = answered  # type: ignore[attr-defined]
        yield server


@pytest.mark.parametrize(("seed", "processes"), [(1, 1), (2, 1), (3, 1), (4, 2), (5, 2)])
def test_kill_9_keeps_what_finished_and_resume_fetches_only_the_rest(slow_server, tmp_path,
                                                                     seed, processes):
    urls = [slow_server.url(f"/page/{n}") for n in range(150)]
    listing = tmp_path / "urls.txt"
    listing.write_text("\n".join(urls) + "\n")
    db = tmp_path / "runs.sqlite3"
    proc = subprocess.Popen(
        [sys.executable, "-m", "app", "run", str(listing), "-o", str(tmp_path / "out.csv"),
         "--concurrency", "4", "--processes", str(processes), "--db", str(db), "-q",
         *(["--per-host", "0"] if processes > 1 else [])],  # helpers need no per-host limit
        cwd=tmp_path, env=_env(tmp_path), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # Some rows finished (the process is up), then a random moment of the run.
    while len(slow_server.answered) < 4 and proc.poll() is None:
        time.sleep(0.01)
    delay = random.Random(seed).uniform(1.1, 3.0)
    started = time.monotonic()
    while time.monotonic() - started < delay and proc.poll() is None:
        time.sleep(0.02)
    killed_at = time.monotonic()
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert proc.returncode == -signal.SIGKILL, f"the run ended before the kill ({delay:.2f} s)"

    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        stored = {url for (url,) in conn.execute(
            "SELECT url FROM results WHERE outcome != 'cancelled'")}
    finished_before = {slow_server.url(path) for path, at in slow_server.answered.items()
                       if at < killed_at - 1.0}
    assert finished_before, f"nothing finished a second before the kill at {delay:.2f} s"
    assert finished_before <= stored, f"lost: {sorted(finished_before - stored)}"

    listed = command(tmp_path, "runs", "--db", str(db))
    assert "interrupted" in listed.stdout, listed.stdout

    unfinished = set(urls) - stored
    # A row counts as in flight until it is committed: what the server answered and the
    # file does not hold (to be fetched again) is at most the concurrency.
    answered = {slow_server.url(path) for path in slow_server.answered}
    # With a helper, it keeps its own rows and counts them the same way.
    assert len(answered & unfinished) <= 4, sorted(answered & unfinished)
    slow_server.answered.clear()
    slow_server.seen.clear()
    resumed = command(tmp_path, "resume", "last", "--db", str(db), "-o",
                      str(tmp_path / "all.csv"), "--concurrency", "8")
    assert resumed.returncode == 0, resumed.stderr
    fetched = {slow_server.url(r.path) for r in slow_server.seen.requests()}
    assert fetched == unfinished  # only what was left, each once
    assert slow_server.seen.count() == len(unfinished)
    rows = list(csv.DictReader(io.StringIO((tmp_path / "all.csv").read_text())))
    assert [r["url"] for r in rows] == urls and {r["outcome"] for r in rows} == {"ok"}
    assert "finished" in command(tmp_path, "runs", "--db", str(db)).stdout


def test_a_full_disk_with_a_helper_keeps_every_row_in_the_output_and_says_so_once(
        small_disk, tmp_path):
    """The run history's file fills up (a real 2 MiB filesystem) while this process and a
    helper each write their rows to it: the run goes on, every row reaches the output, and
    the user reads one plain line about the history, not a traceback."""

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<title>x</title>" + "y" * 2000, content_type="text/html")

    app = web.Application()
    app.router.add_get("/{n}", page)
    with ThreadedServer(app) as server:
        urls = [server.url(f"/p{n}") for n in range(12_000)]
        listing = tmp_path / "urls.txt"
        listing.write_text("\n".join(urls) + "\n")
        done = command(tmp_path, "run", str(listing), "-o", str(tmp_path / "out.csv"),
                       "--db", str(small_disk / "runs.sqlite3"), "--processes", "2",
                       "--per-host", "0")
        assert server.seen.count() == len(urls)  # each fetched once
    assert done.returncode == 0, done.stderr
    rows = list(csv.DictReader(io.StringIO((tmp_path / "out.csv").read_text())))
    assert [r["url"] for r in rows] == urls and {r["outcome"] for r in rows} == {"ok"}
    lines = done.stderr.splitlines()
    stopped = [line for line in lines if "run history stopped recording" in line]
    assert len(stopped) == 1 and "disk is full" in stopped[0], done.stderr
    assert "Traceback" not in done.stderr and "helper process" not in done.stderr, done.stderr


def test_runs_export_and_diff_of_a_server_whose_answers_changed(tmp_path):
    state = {"moved": False}

    async def page(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        if name == "gone" and state["moved"]:
            return web.Response(status=404, text="gone")
        if name == "moving" and state["moved"]:
            raise web.HTTPMovedPermanently("/elsewhere")
        return web.Response(text=f"<title>{name}</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", page)
    with ThreadedServer(app) as server:
        listing = tmp_path / "urls.txt"
        listing.write_text("\n".join(server.url(f"/{n}") for n in ("same", "gone", "moving"))
                           + "\n")
        first = command(tmp_path, "run", str(listing), "-o", str(tmp_path / "1.csv"))
        assert first.returncode == 0, first.stderr
        state["moved"] = True
        second = command(tmp_path, "run", str(listing), "-o", str(tmp_path / "2.csv"))
        assert second.returncode == 1
    listed = command(tmp_path, "runs")
    assert [line.split()[0] for line in listed.stdout.splitlines()[1:]] == ["1", "2"]

    diff = command(tmp_path, "diff", "last~1", "last", "-o", str(tmp_path / "changes.csv"))
    assert diff.returncode == 1, diff.stderr
    assert "2 changed" in diff.stderr
    changes = list(csv.DictReader(io.StringIO((tmp_path / "changes.csv").read_text())))
    assert {c["url"].rsplit("/", 1)[1] for c in changes} == {"gone", "moving"}
    same = command(tmp_path, "diff", "1", "1")
    assert same.returncode == 0 and "0 changed" in same.stderr

    exported = command(tmp_path, "export", "1", "-o", str(tmp_path / "one.jsonl"))
    assert exported.returncode == 0, exported.stderr
    records = [json.loads(line) for line in (tmp_path / "one.jsonl").read_text().splitlines()]
    assert [r["title"] for r in records] == ["same", "gone", "moving"]
    assert command(tmp_path, "export", "last", "-o", str(tmp_path / "two.xlsx")).returncode == 0
    sheet = openpyxl.load_workbook(tmp_path / "two.xlsx", read_only=True).active
    rows = list(sheet.iter_rows(values_only=True))
    header, body = rows[0], rows[1:]
    assert [row[header.index("status")] for row in body] == [200, 404, 200]
    missing = command(tmp_path, "export", "9", "-o", str(tmp_path / "x.csv"))
    assert missing.returncode == 2 and "no run 9" in missing.stderr


def test_no_store_leaves_no_history_and_an_unusable_one_does_not_stop_the_run(tmp_path):
    with ThreadedServer() as server:
        off = command(tmp_path, "run", server.url("/ok"), "--no-store")
        assert off.returncode == 0, off.stderr
        assert not (tmp_path / "data").exists()
        blocked = tmp_path / "not-a-folder"
        blocked.write_text("a file where the history's folder should be")
        on = command(tmp_path, "run", server.url("/ok"), "--db", str(blocked / "runs.db"))
    assert on.returncode == 0, on.stderr
    assert "kept in memory only" in on.stderr
    assert list(csv.DictReader(io.StringIO(on.stdout)))[0]["outcome"] == "ok"
