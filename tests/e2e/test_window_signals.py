"""The window process on SIGINT and SIGTERM: the run is cancelled, every row is kept (and
exported when asked), and the process exits 130 or 143 instead of printing a
KeyboardInterrupt and carrying on."""

from __future__ import annotations

import csv
import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.servers import ThreadedServer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server():
    with ThreadedServer() as s:
        yield s


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_cancels_the_windows_run_and_exits(server, tmp_path, signum, status):
    server.seen.clear()
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join([server.url(f"/ok?n={i}") for i in range(3)]
                              + [server.url(f"/hang?n={i}") for i in range(10)]) + "\n")
    out = tmp_path / "out.csv"
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               FETCHDECK_CONFIG_DIR=str(tmp_path / "config"),
               FETCHDECK_STATE_DIR=str(tmp_path / "state"))
    env.pop("PYTHONWARNINGS", None)
    proc = subprocess.Popen([sys.executable, "-m", "app", str(urls), "--export-csv", str(out)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    try:
        server.seen.wait_until(lambda seen: seen.count("/hang") >= 6, timeout=60)  # per host
        proc.send_signal(signum)
        _, stderr = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == status, stderr
    assert "KeyboardInterrupt" not in stderr and "Traceback" not in stderr
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert [r["outcome"] for r in rows] == ["ok"] * 3 + ["cancelled"] * 10
