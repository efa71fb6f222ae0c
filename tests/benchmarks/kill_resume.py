"""Resume after ``kill -9`` (issue 12's last target): how many rows does a resumed run fetch
again that the killed one had already fetched?

    python -m tests.benchmarks --kill-resume [N]     # N URLs, default 100,000; needs nginx

The real ``fetchdeck run`` fetches N URLs from a loopback nginx that logs every request it
answers, with its run history in a fresh database. When about half the rows are recorded, the
process group is killed with SIGKILL. The database must then pass ``PRAGMA integrity_check``;
``fetchdeck resume`` fetches the rest into the same run; every row must end recorded once.
Every request nginx answered in both runs, minus N, is the work done twice: the rows in flight
at the kill, a row being in flight until the run history has committed it (in whichever process
fetched it). Target: at most the concurrency.
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from tests.benchmarks import report
from tests.benchmarks.servers import serving

ROOT = Path(__file__).resolve().parents[2]
KILL_AT = 0.5  # of the rows recorded
TIMEOUT = 900.0


def _lines(path: Path) -> int:
    if not path.exists():
        return 0
    with path.open("rb") as stream:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))


def _recorded(db: Path) -> int:
    """Rows the last run has recorded so far (its counters, committed with its rows)."""
    if not db.exists():
        return 0
    try:
        conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=1.0)
    except sqlite3.Error:
        return 0
    try:
        row = conn.execute("SELECT ok + http_error + failed + invalid + cancelled FROM runs "
                           "ORDER BY id DESC LIMIT 1").fetchone()
        return int(row[0]) if row else 0
    except sqlite3.Error:
        return 0
    finally:
        conn.close()


def _query(db: Path, sql: str) -> list[tuple[object, ...]]:
    conn = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def kill_resume(count: int, concurrency: int, log: Callable[[str], None],
                revision: str, processes: int | None = None) -> str:
    with tempfile.TemporaryDirectory(prefix="fetchdeck-kill-resume-") as folder:
        tmp = Path(folder)
        access = tmp / "access.log"
        with serving("nginx", access_log=access) as server:
            urls = tmp / "urls.txt"
            urls.write_text("".join(f"http://127.0.0.1:{server.port}/page/{n}\n"
                                    for n in range(count)))
            db = tmp / "runs.sqlite3"
            env = dict(os.environ, FETCHDECK_CONFIG_DIR=str(tmp), FETCHDECK_STATE_DIR=str(tmp),
                       FETCHDECK_DATA_DIR=str(tmp))
            env.pop("PYTHONDONTWRITEBYTECODE", None)
            env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH"))
                                                if p)
            common = ["--db", str(db), "-o", os.devnull, "--quiet", "--retries", "0",
                      "--concurrency", str(concurrency), "--per-host", "0",
                      *(["--processes", str(processes)] if processes is not None else [])]
            log(f"fetchdeck run of {count:,} URLs from {server.version}; killed (SIGKILL) "
                f"when {KILL_AT:.0%} are recorded")
            started = time.monotonic()
            child = subprocess.Popen([sys.executable, "-m", "app", "run", str(urls), *common],
                                     cwd=ROOT, env=env, start_new_session=True,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            while (_recorded(db) < count * KILL_AT and child.poll() is None
                   and time.monotonic() - started < TIMEOUT):
                time.sleep(0.02)
            # At a random moment, not just after a commit (that is when the count moved).
            time.sleep(random.uniform(0.0, 0.25))
            recorded_seen = _recorded(db)
            if child.poll() is not None:
                error = child.stderr.read().decode(errors="replace") if child.stderr else ""
                raise RuntimeError(f"fetchdeck run ended (status {child.returncode}) before "
                                   f"the kill, {recorded_seen:,} rows recorded:\n{error[-3000:]}")
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()
            killed_after = time.monotonic() - started
            if child.stderr is not None:
                child.stderr.close()
            time.sleep(1.0)  # nginx logs the requests the kill cut off as they close
            served_first = _lines(access)
            integrity = _query(db, "PRAGMA integrity_check")[0][0]
            (kept,) = _query(db, "SELECT count(*) FROM results")[0]
            log(f"killed after {killed_after:.1f} s: {kept:,} rows kept, {served_first:,} "
                f"requests answered; resuming")
            resumed = subprocess.run([sys.executable, "-m", "app", "resume", *common],
                                     cwd=ROOT, env=env, capture_output=True, text=True,
                                     timeout=TIMEOUT, check=False)
            time.sleep(0.5)
            served_total = _lines(access)
            (rows, distinct) = _query(db, "SELECT count(*), count(DISTINCT idx) FROM results")[0]
            (runs,) = _query(db, "SELECT count(*) FROM runs")[0]
            (ended,) = _query(db, "SELECT ended FROM runs ORDER BY id DESC LIMIT 1")[0]
    again = served_total - count
    rows_out = [
        report.Row("rows recorded when killed", [f"{kept:,}"]),
        report.Row("requests answered before the kill", [f"{served_first:,}"]),
        report.Row("  of which not recorded", [f"{served_first - kept:,}"]),
        report.Row("database after the kill", [str(integrity)], "integrity_check = ok",
                   report.verdict(integrity == "ok")),
        report.Row("fetchdeck resume exit status", [str(resumed.returncode)], "0",
                   report.verdict(resumed.returncode == 0)),
        report.Row("rows recorded after resume", [f"{distinct:,} of {count:,}"],
                   "every row once, one run",
                   report.verdict(rows == distinct == count and runs == 1
                                  and ended == "finished")),
        report.Row("rows fetched twice", [f"{again:,}"], f"<= {concurrency} (concurrency)",
                   report.verdict(again <= concurrency)),
    ]
    title = (f"Resume after kill -9: fetchdeck run of {count:,} URLs, {concurrency} in flight"
             + (f" ({processes} process(es))" if processes is not None else "") + ", "
             f"killed at {recorded_seen:,} recorded; {revision}")
    return report.render(title, ["figure"], rows_out, notes=(
        f"target (issue 12): {report.TARGET_RESUME_TEXT}",
        "rows fetched twice: every request nginx answered in both runs minus the list's "
        "length: the rows in flight at the kill, where a row is in flight from its request's "
        "start until the run history has committed it, in whichever process fetched it."))
