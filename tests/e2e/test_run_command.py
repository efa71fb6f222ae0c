"""``fetchdeck run`` end to end, in a subprocess where PySide6 cannot be imported at all: every
source, every output, signals mid-run, and each exit status."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from app.core.export import COLUMNS
from tests.servers import ReservedPort, ThreadedServer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.timeout(120)

# A package that shadows PySide6 (and qasync) and refuses to import, as on a server without Qt.
BLOCKER = "raise ImportError('PySide6 is blocked for this test: no Qt here')\n"


@pytest.fixture(scope="module")
def server():
    with ThreadedServer() as s:
        yield s


@pytest.fixture(autouse=True)
def fresh_counts(server):
    server.seen.clear()


@pytest.fixture(scope="module")
def no_qt(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("no-qt")
    for name in ("PySide6", "qasync", "shiboken6"):
        package = folder / name
        package.mkdir()
        (package / "__init__.py").write_text(BLOCKER)
    return folder


def environment(cwd: Path, no_qt: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, FETCHDECK_CONFIG_DIR=str(cwd / "config"),
               FETCHDECK_STATE_DIR=str(cwd / "state"), FETCHDECK_DATA_DIR=str(cwd / "data"),
               PYTHONPATH=os.pathsep.join([str(no_qt), str(ROOT)]))
    env.pop("PYTHONWARNINGS", None)
    env.pop("QT_QPA_PLATFORM", None)
    env.update(extra)
    return env


def run(no_qt: Path, cwd: Path, *args: str, stdin: str | None = None, timeout: float = 90,
        **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", "run", *args], cwd=cwd,
                          env=environment(cwd, no_qt, **extra), input=stdin,
                          capture_output=True, text=True, timeout=timeout, check=False)


def start(no_qt: Path, cwd: Path, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-m", "app", "run", *args], cwd=cwd,
                            env=environment(cwd, no_qt), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def rows_of(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def every_outcome(server: ThreadedServer, refused: ReservedPort) -> list[str]:
    return [server.url("/ok"), server.url("/status/404"), server.url("/status/500"),
            "javascript:alert(1)", "not a url", refused.url("/"), server.url("/redirect/2"),
            server.url("/redirect-file")]


EXPECTED = [("ok", ""), ("http_error", "http_4xx"), ("http_error", "http_5xx"),
            ("invalid", "unsupported_scheme"), ("invalid", "invalid_url"), ("failed", "refused"),
            ("ok", ""), ("failed", "unsafe_redirect")]


def test_the_command_line_never_imports_qt(no_qt, tmp_path):
    probe = subprocess.run(
        [sys.executable, "-c", "import PySide6"], env=environment(tmp_path, no_qt),
        capture_output=True, text=True, check=False)
    assert "blocked for this test" in probe.stderr  # the blocker works
    proc = run(no_qt, tmp_path, "--help")
    assert proc.returncode == 0 and "SOURCE" in proc.stdout


def test_a_file_with_every_outcome_to_standard_output(server, no_qt, tmp_path):
    with ReservedPort() as refused:
        urls = tmp_path / "urls.txt"
        urls.write_text("# a comment\n" + "\n".join(every_outcome(server, refused)) + "\n")
        proc = run(no_qt, tmp_path, str(urls), "--retries", "0")
    assert proc.returncode == 1, proc.stderr
    rows = rows_of(proc.stdout)
    assert list(rows[0]) == list(COLUMNS)
    assert [(r["outcome"], r["error_kind"]) for r in rows] == EXPECTED
    assert [r["line"] for r in rows] == [str(n) for n in range(2, 10)]
    assert "8 URLs: 2 ok, 2 HTTP errors, 2 failed, 2 invalid" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_urls_from_standard_input_to_json_lines(server, no_qt, tmp_path):
    with ReservedPort() as refused:
        text = "\r\n".join(every_outcome(server, refused))
        out = tmp_path / "results.jsonl"
        proc = run(no_qt, tmp_path, "-", "-o", str(out), "--retries", "0", stdin=text)
    assert proc.returncode == 1, proc.stderr
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["outcome"], r["error_kind"] or "") for r in records] == EXPECTED
    ok = records[0]
    assert ok["status"] == 200 and isinstance(ok["elapsed_ms"], float)
    assert ok["error"] is None and ok["redirect_chain"] is None  # empty is null
    assert records[6]["redirects"] == 2
    assert [hop["status"] for hop in records[6]["redirect_chain"]] == [302, 302, 200]
    assert proc.stdout == ""  # nothing but results on standard output, and they went to -o


def test_urls_given_as_arguments_and_piped_lists_mixed_keep_their_order(server, no_qt,
                                                                       tmp_path):
    listed = tmp_path / "more.txt"
    listed.write_text(server.url("/ok?n=2") + "\n" + server.url("/ok?n=3") + "\n")
    proc = run(no_qt, tmp_path, server.url("/ok?n=0"), "-", str(listed), server.url("/ok?n=4"),
               "-o", "-", stdin=server.url("/ok?n=1") + "\n")
    assert proc.returncode == 0, proc.stderr
    rows = rows_of(proc.stdout)
    assert [r["url"].rsplit("=", 1)[1] for r in rows] == ["0", "1", "2", "3", "4"]
    assert [r["line"] for r in rows] == ["1", "2", "3", "4", "5"]


def test_no_source_and_a_terminal_is_a_usage_error(no_qt, tmp_path):
    # Not a terminal here, so standard input is read: an empty one is an empty list.
    proc = run(no_qt, tmp_path, stdin="")
    assert proc.returncode == 1
    assert rows_of(proc.stdout) == []
    assert proc.stdout.startswith("url,outcome,")  # the header row, even for no rows


def test_format_follows_the_extension_or_the_flag(server, no_qt, tmp_path):
    run(no_qt, tmp_path, server.url("/ok"), "-o", str(tmp_path / "a.jsonl"))
    assert json.loads((tmp_path / "a.jsonl").read_text())["outcome"] == "ok"
    run(no_qt, tmp_path, server.url("/ok"), "-o", str(tmp_path / "b.txt"), "--format", "jsonl")
    assert json.loads((tmp_path / "b.txt").read_text())["outcome"] == "ok"
    run(no_qt, tmp_path, server.url("/ok"), "-o", str(tmp_path / "c.txt"))
    assert rows_of((tmp_path / "c.txt").read_text())[0]["outcome"] == "ok"


def test_a_symlink_is_written_through_and_stays_a_symlink(server, no_qt, tmp_path):
    real = tmp_path / "real.csv"
    real.write_text("old content\n")
    link = tmp_path / "link.csv"
    link.symlink_to(real)
    proc = run(no_qt, tmp_path, server.url("/ok"), "-o", str(link))
    assert proc.returncode == 0, proc.stderr
    assert link.is_symlink() and os.readlink(link) == str(real)
    assert rows_of(real.read_text())[0]["outcome"] == "ok"


def test_dev_stdout_is_streamed_to_never_replaced(server, no_qt, tmp_path):
    before = os.readlink("/dev/stdout") if os.path.islink("/dev/stdout") else None
    proc = run(no_qt, tmp_path, server.url("/ok"), "-o", "/dev/stdout")
    assert proc.returncode == 0, proc.stderr
    assert rows_of(proc.stdout)[0]["outcome"] == "ok"
    if before is not None:  # run as root, the old export replaced this link with a file
        assert os.path.islink("/dev/stdout") and os.readlink("/dev/stdout") == before


@pytest.mark.parametrize("name", ["/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"])
def test_dev_stdout_redirected_to_a_file_appends_to_it(server, no_qt, tmp_path, name):
    log = tmp_path / "log.csv"
    log.write_text("earlier line\n")
    with log.open("a") as appended:
        proc = subprocess.run([sys.executable, "-m", "app", "run", server.url("/ok"), "-o", name],
                              cwd=tmp_path, env=environment(tmp_path, no_qt), stdout=appended,
                              stderr=subprocess.PIPE, text=True, timeout=90, check=False)
    assert proc.returncode == 0, proc.stderr
    text = log.read_text()
    assert text.startswith("earlier line\n")  # `>>` appends: nothing truncated or replaced
    assert rows_of(text.removeprefix("earlier line\n"))[0]["outcome"] == "ok"
    assert not list(tmp_path.glob(".*.part"))


def test_a_fifo_is_streamed_to(server, no_qt, tmp_path):
    fifo = tmp_path / "results.fifo"
    os.mkfifo(fifo)
    received: list[str] = []
    reader = threading.Thread(target=lambda: received.append(fifo.read_text()), daemon=True)
    reader.start()
    proc = run(no_qt, tmp_path, server.url("/ok"), server.url("/status/404"), "-o", str(fifo))
    reader.join(10)
    assert proc.returncode == 1, proc.stderr
    assert [r["outcome"] for r in rows_of(received[0])] == ["ok", "http_error"]
    assert fifo.is_fifo()


def test_the_list_being_fetched_is_never_overwritten(server, no_qt, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text(server.url("/ok") + "\n")
    proc = run(no_qt, tmp_path, str(urls), "-o", str(urls))
    assert proc.returncode == 2
    assert "URL list being fetched" in proc.stderr
    assert urls.read_text() == server.url("/ok") + "\n"
    assert server.seen.count() == 0  # refused before anything was fetched


def test_a_list_on_standard_input_is_never_overwritten(server, no_qt, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text(server.url("/ok") + "\n")
    with urls.open("rb") as stdin:
        proc = subprocess.run([sys.executable, "-m", "app", "run", "-", "-o", str(urls)],
                              cwd=tmp_path, env=environment(tmp_path, no_qt), stdin=stdin,
                              capture_output=True, text=True, timeout=90, check=False)
    assert proc.returncode == 2
    assert "URL list being fetched" in proc.stderr
    assert urls.read_text() == server.url("/ok") + "\n"


@pytest.mark.parametrize("signum, status", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_mid_run_cancels_the_rest_and_writes_every_row(server, no_qt, tmp_path,
                                                               signum, status):
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join([server.url(f"/ok?n={i}") for i in range(5)]
                              + [server.url(f"/hang?n={i}") for i in range(20)]) + "\n")
    out = tmp_path / "results.csv"
    proc = start(no_qt, tmp_path, str(urls), "-o", str(out), "--concurrency", "10")
    try:
        server.seen.wait_until(lambda seen: seen.count("/hang") >= 5, timeout=30)
        sent = time.monotonic()
        proc.send_signal(signum)
        stdout, stderr = proc.communicate(timeout=30)
        took = time.monotonic() - sent
    finally:
        proc.kill()
    assert proc.returncode == status, stderr
    assert took < 5, took  # "within a second" on a quiet machine; CI machines are shared
    rows = rows_of(out.read_text())
    assert len(rows) == 25
    assert [r["outcome"] for r in rows[:5]] == ["ok"] * 5
    assert {r["outcome"] for r in rows[5:]} == {"cancelled"}
    assert "cancelled: 25 URLs: 5 ok, 20 cancelled" in stderr
    assert not list(tmp_path.glob(".results.csv.*.part"))  # no temporary file left behind
    assert "Traceback" not in stderr and stdout == ""


def test_exit_2_for_usage_errors_unreadable_input_and_unwritable_output(server, no_qt, tmp_path):
    bad_flag = run(no_qt, tmp_path, server.url("/ok"), "--proxy", "notaurl")
    assert bad_flag.returncode == 2 and "--proxy" in bad_flag.stderr
    missing = run(no_qt, tmp_path, str(tmp_path / "missing.txt"))
    assert missing.returncode == 2 and "cannot read" in missing.stderr
    folder = run(no_qt, tmp_path, str(tmp_path))
    assert folder.returncode == 2 and "is a folder" in folder.stderr
    nowhere = run(no_qt, tmp_path, server.url("/ok"), "-o", str(tmp_path / "no" / "x.csv"))
    assert nowhere.returncode == 2 and "does not exist" in nowhere.stderr
    assert server.seen.count() == 0


def test_exit_0_when_every_url_is_ok(server, no_qt, tmp_path):
    proc = run(no_qt, tmp_path, *(server.url(f"/ok?n={i}") for i in range(3)))
    assert proc.returncode == 0, proc.stderr
    assert "3 URLs: 3 ok" in proc.stderr


def test_a_redirect_map_is_graded_and_a_failed_check_exits_1_named_by_title(server, no_qt,
                                                                           tmp_path):
    redirect = server.url("/redirect-to?url={}&status={}")
    table = tmp_path / "map.csv"
    with table.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["old", "new", "type"])
        writer.writerow([redirect.format("/ok", 301), "/ok", "301"])  # passes
        writer.writerow([redirect.format("/ok?other", 301), "/ok", "301"])  # wrong target
        writer.writerow([redirect.format("/ok", 302), "/ok", "301"])  # wrong first status
    proc = run(no_qt, tmp_path, str(table), "-o", "out.csv")
    assert proc.returncode == 1, proc.stderr
    with (tmp_path / "out.csv").open(newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["outcome"], r["check"]) for r in rows] == [("ok", "pass"), ("ok", "fail"),
                                                           ("ok", "fail")]
    assert rows[2]["check_reason"] == "first answer 302, expected 301"
    assert "3 URLs: 3 ok, 2 checks failed" in proc.stderr
    assert "failed checks: " in proc.stderr
    assert "Redirected to the wrong place (1)" in proc.stderr
    assert "Wrong first status (1)" in proc.stderr


def test_sheet_chooses_the_sheet_of_a_spreadsheet_by_name_or_number(server, no_qt, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["Written by the migration team; the map is on the next sheet."])
    sheet = book.create_sheet("Redirects")
    sheet.append(["Address", "Owner"])
    sheet.append([server.url("/ok?from=sheet"), "web"])
    sheet.append([server.url("/status/404"), "shop"])
    book.save(tmp_path / "book.xlsx")

    first = run(no_qt, tmp_path, "book.xlsx")  # the first sheet: its note is no URL
    assert first.returncode == 1, first.stderr
    assert [r["outcome"] for r in rows_of(first.stdout)] == ["invalid"]
    assert ("book.xlsx: read sheet 'Notes', the first of 2 ('Notes', 'Redirects')"
            in first.stderr)
    assert "book.xlsx: --sheet NAME reads another sheet" in first.stderr
    for choice in ("Redirects", "redirects", "2"):
        proc = run(no_qt, tmp_path, "book.xlsx", "--sheet", choice, "--retries", "0")
        assert proc.returncode == 1, proc.stderr
        rows = rows_of(proc.stdout)
        assert [(r["url"], r["outcome"], r["Owner"]) for r in rows] == [
            (server.url("/ok?from=sheet"), "ok", "web"),
            (server.url("/status/404"), "http_error", "shop")]
    missing = run(no_qt, tmp_path, "book.xlsx", "--sheet", "3")
    assert missing.returncode == 2
    assert "there is no sheet 3: the file has 2 ('Notes', 'Redirects')" in missing.stderr
    (tmp_path / "urls.txt").write_text(server.url("/ok") + "\n")
    text = run(no_qt, tmp_path, "urls.txt", "--sheet", "Redirects")
    assert text.returncode == 2
    assert "--sheet Redirects: none of the sources is a spreadsheet" in text.stderr


def test_exit_3_when_a_part_of_fetchdeck_is_missing(no_qt, tmp_path):
    broken = tmp_path / "broken"
    (broken / "aiohttp").mkdir(parents=True)
    (broken / "aiohttp" / "__init__.py").write_text("raise ImportError('aiohttp is broken')\n")
    env_path = os.pathsep.join([str(broken), str(no_qt), str(ROOT)])
    proc = subprocess.run([sys.executable, "-m", "app", "run", "https://example.org/"],
                          cwd=tmp_path, env={**environment(tmp_path, no_qt),
                                             "PYTHONPATH": env_path},
                          capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 3
    assert "a part of Fetchdeck is missing" in proc.stderr and "aiohttp" in proc.stderr


def test_a_corrupt_settings_file_warns_and_the_run_goes_on(server, no_qt, tmp_path):
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.json").write_text("[" * 100_000 + "]" * 100_000)
    proc = run(no_qt, tmp_path, server.url("/ok"))
    assert proc.returncode == 0, proc.stderr
    assert "warning" in proc.stderr and "nested too deeply" in proc.stderr
    assert rows_of(proc.stdout)[0]["outcome"] == "ok"


def children_of(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.append(int(stat.parent.name))
    return found


def alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def wait_for(predicate, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_stops_a_run_fetched_by_helper_processes_and_leaves_none(server, no_qt,
                                                                       tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join([server.url(f"/ok?n={i}") for i in range(5)]
                              + [server.url(f"/hang?n={i}") for i in range(200)]) + "\n")
    out = tmp_path / "results.csv"
    proc = start(no_qt, tmp_path, str(urls), "-o", str(out), "--concurrency", "20",
                 "--per-host", "0", "--processes", "2")
    try:
        server.seen.wait_until(lambda seen: seen.count("/hang") >= 20, timeout=30)
        helpers = children_of(proc.pid)
        assert helpers, "no helper process was started"
        # Ctrl+C in a terminal signals the whole foreground group: the helpers, in a group
        # of their own, hear it from the parent.
        proc.send_signal(signal.SIGINT)
        stdout, stderr = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, stderr
    rows = rows_of(out.read_text())
    assert len(rows) == 205
    assert [r["outcome"] for r in rows[:5]] == ["ok"] * 5
    assert {r["outcome"] for r in rows[5:]} == {"cancelled"}
    assert "Traceback" not in stderr and stdout == ""
    wait_for(lambda: not any(alive(pid) for pid in helpers))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_a_killed_run_takes_its_helper_processes_with_it(server, no_qt, tmp_path):
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(server.url(f"/hang?n={i}") for i in range(200)) + "\n")
    proc = start(no_qt, tmp_path, str(urls), "-o", str(tmp_path / "out.csv"),
                 "--concurrency", "20", "--per-host", "0", "--processes", "3")
    try:
        server.seen.wait_until(lambda seen: seen.count("/hang") >= 20, timeout=30)
        helpers = children_of(proc.pid)
        assert len(helpers) == 2
        proc.kill()
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    wait_for(lambda: not any(alive(pid) for pid in helpers))


def test_helper_processes_never_import_code_from_the_current_folder(server, no_qt, tmp_path):
    # A folder a user runs Fetchdeck from may hold anything: a helper must not import it.
    marker = tmp_path / "imported"
    (tmp_path / "random.py").write_text(f"open({str(marker)!r}, 'w').close()\n"
                                        "raise ImportError('not the real random')\n")
    urls = tmp_path / "urls.txt"
    urls.write_text("\n".join(server.url(f"/slow?seconds=0.2&n={i}") for i in range(40)) + "\n")
    # -P: the installed `fetchdeck` script does not put the folder first on its path either.
    done = subprocess.run([sys.executable, "-P", "-m", "app", "run", str(urls), "-o",
                           str(tmp_path / "out.csv"), "--per-host", "0", "--processes", "2",
                           "--concurrency", "4"],
                          cwd=tmp_path, env=environment(tmp_path, no_qt), capture_output=True,
                          text=True, timeout=90, check=False)
    assert done.returncode == 0, done.stderr
    assert not marker.exists()
    assert len(rows_of((tmp_path / "out.csv").read_text())) == 40
