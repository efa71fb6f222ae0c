"""The batch command line, end to end in a subprocess: a URL file in, a CSV out, an exit status
a script can trust."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest

from app.core.export import CONTRACT_COLUMNS
from tests.servers import ThreadedServer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def server():
    with ThreadedServer() as s:
        yield s


def fetchdeck(*args: str, cwd: Path, timeout: float = 90) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen",
               FETCHDECK_CONFIG_DIR=str(cwd / "config"), FETCHDECK_STATE_DIR=str(cwd / "state"))
    env.pop("PYTHONWARNINGS", None)
    return subprocess.run([sys.executable, "-m", "app", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout, check=False)


LOST_ERRORS = ("Traceback", "never retrieved", "Unclosed", "Event loop is closed", "ERROR")


def assert_nothing_lost(stderr: str) -> None:
    """Nothing Fetchdeck should have caught and shown may end up only on the terminal."""
    for words in LOST_ERRORS:
        assert words not in stderr, stderr


def read_csv(path: Path) -> tuple[list[str], list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8") as stream:
        reader = csv.DictReader(stream)
        return list(reader.fieldnames or []), list(reader)


def test_batch_run_with_failures_exports_every_line_and_exits_1(server, tmp_path):
    urls = tmp_path / "urls.txt"
    # CRLF and a BOM, as Windows editors write it.
    lines = ["# my list", server.url("/ok"), "", server.url("/status/404"),
             "javascript:alert(1)", server.url("/redirect/2"), server.url("/redirect-file")]
    urls.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(lines).encode())
    out = tmp_path / "results.csv"
    proc = fetchdeck(str(urls), "--export-csv", str(out), "--exit-when-done",
                     "--concurrency", "4", "--timeout", "5", "--retries", "0", cwd=tmp_path)
    assert proc.returncode == 1, proc.stderr
    header, rows = read_csv(out)
    assert tuple(header[: len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS
    assert [r["url"] for r in rows] == [lines[1], lines[3], lines[4], lines[5], lines[6]]
    assert [r["outcome"] for r in rows] == ["ok", "http_error", "invalid", "ok", "failed"]
    assert [r["error_kind"] for r in rows] == ["", "http_4xx", "unsupported_scheme", "",
                                               "unsafe_redirect"]
    assert rows[3]["redirects"] == "2"
    assert "5 URLs" in proc.stderr and "1 invalid" in proc.stderr
    assert_nothing_lost(proc.stderr)


def test_batch_run_where_everything_succeeds_exits_0(server, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(server.url(f"/ok?n={i}") for i in range(30)) + "\n")
    out = tmp_path / "results.csv"
    proc = fetchdeck(str(urls), "--run", "--export-csv", str(out), "--exit-when-done",
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    _, rows = read_csv(out)
    assert len(rows) == 30 and {r["outcome"] for r in rows} == {"ok"}


def test_usage_errors_exit_2(tmp_path):
    proc = fetchdeck(str(tmp_path / "missing.txt"), "--run", cwd=tmp_path)
    assert proc.returncode == 2
    assert "no such file" in proc.stderr
    urls = tmp_path / "urls.txt"
    urls.write_text("https://a.example/\n")
    proc = fetchdeck(str(urls), "--concurrency", "0", "--exit-when-done", cwd=tmp_path)
    assert proc.returncode == 2
    assert "--concurrency: Requests in flight must be between 1 and 10,000" in proc.stderr


def test_an_export_that_cannot_be_written_exits_2(server, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text(server.url("/ok") + "\n")
    target = tmp_path / "a-directory.csv"
    target.mkdir()
    proc = fetchdeck(str(urls), "--export-csv", str(target), "--exit-when-done", cwd=tmp_path)
    assert proc.returncode == 2
    assert "is a folder; give a file name" in proc.stderr


def test_demo_runs_to_the_end_with_every_kind_of_outcome(tmp_path):
    out = tmp_path / "demo.csv"
    proc = fetchdeck("--demo", "--export-csv", str(out), "--exit-when-done", cwd=tmp_path,
                     timeout=110)
    assert proc.returncode == 1, proc.stderr
    _, rows = read_csv(out)
    outcomes = {r["outcome"] for r in rows}
    assert {"ok", "http_error", "failed"} <= outcomes
    assert_nothing_lost(proc.stderr)
    kinds = {r["error_kind"] for r in rows}
    assert {"http_4xx", "http_5xx", "too_many_redirects", "unsafe_redirect", "reset",
            "truncated", "protocol", "body_too_large", "refused"} <= kinds


def test_a_list_with_no_urls_exits_1_and_writes_the_header_row(tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text("# only a comment\n\n")
    out = tmp_path / "out.csv"
    proc = fetchdeck(str(urls), "--export-csv", str(out), "--exit-when-done", cwd=tmp_path,
                     timeout=60)
    assert proc.returncode == 1
    assert "no URLs to fetch" in proc.stderr
    header, rows = read_csv(out)
    assert tuple(header[:len(CONTRACT_COLUMNS)]) == CONTRACT_COLUMNS and rows == []


def test_exported_csv_gets_ordinary_file_permissions(server, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text(server.url("/ok") + "\n")
    out = tmp_path / "results.csv"
    fetchdeck(str(urls), "--export-csv", str(out), "--exit-when-done", cwd=tmp_path)
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask


def test_flags_reach_the_window_apart_from_the_saved_settings(tmp_path, monkeypatch):
    """In process: the window gets the saved settings and the flags separately, so that the
    Settings dialog can save the one without making the other permanent."""
    import app.__main__ as entry
    from app.core.config import save_settings
    from app.core.settings import Settings

    monkeypatch.setenv("FETCHDECK_CONFIG_DIR", str(tmp_path / "config"))
    save_settings(Settings(concurrency=20, retries=4))
    seen = {}

    def run_gui(args, saved, overrides, warnings):
        seen.update(saved=saved, overrides=overrides)
        return 0

    monkeypatch.setattr(entry, "run_gui", run_gui)
    assert entry.main(["--concurrency", "5", "--insecure", "--header", "X-A: 1"]) == 0
    assert seen["saved"] == Settings(concurrency=20, retries=4)
    assert seen["overrides"] == {"concurrency": 5, "verify_tls": False,
                                 "headers": (("X-A", "1"),)}
