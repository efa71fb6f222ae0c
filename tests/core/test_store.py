"""The run store, on real SQLite files: every field kept, schema migration and refusal, damaged
and unwritable files, write errors during a run, kill -9 at random moments, resume, history."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from array import array
from pathlib import Path

import pytest
from aiohttp import web

from app.core import store_writer
from app.core.errors import Failure, Kind
from app.core.export import write_csv
from app.core.result import Details, Hop, Outcome, Response, Result, Timings
from app.core.run import Run
from app.core.settings import Settings
from app.core.store import (
    MIGRATIONS,
    SCHEMA_VERSION,
    Ended,
    InputLine,
    RunStore,
    StoreError,
    Where,
    default_db_path,
    writer_alive,
    writer_token,
)
from app.core.tally import Tally
from app.core.targets import TargetList, make_target, parse_text
from tests.core.runs import fetch_all, run_fresh

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "runs.sqlite3"


@pytest.fixture
def store(db: Path):
    with RunStore.open(db) as opened:
        yield opened


def record(store: RunStore, results, *, inputs=None, ended=Ended.FINISHED,
           settings=None, source="pasted") -> int:
    writer = store.start_run(source=source, settings=settings or Settings(), inputs=inputs)
    for result in results:
        writer.add(result)
    writer.close(ended)
    assert writer.join(10)
    assert writer.error is None
    return writer.run_id


def everything(result: Result) -> dict:
    """Every field of a result, headers and preview included, as comparable values."""
    names = [n for n in (*Result.__slots__, *Response.__slots__) if n != "response"]
    values = {name: getattr(result, name) for name in names}
    details = values.pop("details")
    values["details"] = None if details is None else (
        [tuple(p) for p in details.request_headers],
        [tuple(p) for p in details.response_headers], bytes(details.preview))
    return values


def targets_of(urls) -> TargetList:
    return TargetList.from_text("\n".join(urls))


# --- where it lives ---------------------------------------------------------------------------


def test_default_path_is_in_the_data_dir_unless_overridden(monkeypatch, tmp_path):
    monkeypatch.setenv("FETCHDECK_DATA_DIR", str(tmp_path / "data"))
    assert default_db_path() == tmp_path / "data" / "runs.sqlite3"
    monkeypatch.delenv("FETCHDECK_DATA_DIR")
    assert default_db_path().name == "runs.sqlite3"
    assert "fetchdeck" in str(default_db_path().parent)
    monkeypatch.setenv("FETCHDECK_DATA_DIR", str(tmp_path / "data"))
    with RunStore.open() as opened:
        assert opened.path == tmp_path / "data" / "runs.sqlite3"
        assert opened.path.is_file()
    with RunStore.open("") as opened:  # --db "" or an emptied field: the default, not "."
        assert opened.path == tmp_path / "data" / "runs.sqlite3"


def test_a_new_store_is_wal_at_the_current_schema(db):
    RunStore.open(db).close()
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()


# --- every field, fetched for real -------------------------------------------------------------


def test_every_field_of_fetched_results_round_trips(store, http_server, refused_port):
    urls = [http_server.url("/ok"), http_server.url("/redirect/2"),
            http_server.url("/status/404"), refused_port.url("/"), "not a url",
            http_server.url("/status/503")]
    fetched = fetch_all(urls, Settings(retries=0, auth="fetch:s3cret",
                                       headers=(("X-Api-Key", "k3y-value"), ("Accept", "*/*"))))
    assert {r.outcome for r in fetched} == {Outcome.OK, Outcome.HTTP_ERROR, Outcome.FAILED,
                                            Outcome.INVALID}
    assert fetched[3].failure.traceback and fetched[1].chain and fetched[0].details
    run_id = record(store, fetched, inputs=targets_of(urls))

    stored = list(store.results(run_id))
    assert [r.index for r in stored] == list(range(len(urls)))
    for before, after in zip(fetched, stored, strict=True):
        want = everything(before)
        if want["details"] is not None:
            request = [(k, "***" if k.lower() in ("authorization", "x-api-key") else v)
                       for k, v in want["details"][0]]
            want["details"] = (request, *want["details"][1:])
        assert everything(after) == want
    refused = stored[3]
    assert refused.failure.kind is Kind.REFUSED
    assert refused.failure.traceback == fetched[3].failure.traceback
    assert "Traceback (most recent call last)" in refused.failure.traceback
    assert refused.failure.chain == fetched[3].failure.chain
    assert refused.failure.exception_type == fetched[3].failure.exception_type
    assert stored[1].chain[-1] == Hop(200, http_server.url("/ok"))
    assert ("Authorization", "***") in stored[0].details.request_headers
    assert ("X-Api-Key", "***") in stored[0].details.request_headers
    assert ("X-Api-Key", "k3y-value") in fetched[0].details.request_headers
    # Empty values are SQL NULLs (the writer binds them as NaN, which SQLite keeps as NULL).
    with sqlite3.connect(store.path) as conn:
        ok_row = conn.execute(
            "SELECT typeof(error), typeof(error_kind), typeof(traceback), typeof(dns_ms), "
            "typeof(redirect_chain), typeof(\"check\"), typeof(status) FROM results "
            "WHERE run_id = ? AND idx = 0", (run_id,)).fetchone()
        inputs = conn.execute("SELECT DISTINCT typeof(expected), typeof(expected_status), "
                              "typeof(extra) FROM inputs WHERE run_id = ?", (run_id,)).fetchall()
    assert ok_row == ("null",) * 6 + ("integer",)
    assert inputs == [("null", "null", "null")]


def test_synthetic_fields_with_no_fetch_to_make_them_round_trip(store):
    text_only = Result.of(
        0, 7, "https://a.example/x", Outcome.FAILED, attempts=3, elapsed_ms=12.345678,
        failure=Failure(Kind.INTERNAL, "Internal error: boom", "builtins.ValueError",
                        ("ValueError: boom",), traceback_text="Traceback...\nValueError: boom\n"),
        timings=Timings(1.25, 2.5, 3.75, 5.0), note="charset replaced", title="Ünïcode ☃",
        sha256="f" * 64, server="srv", content_type="text/plain", reason="Weird",
        details=Details([("A", "1")], [("B", "2"), ("B", "3")], b"\x00\xffbody"))
    checked = Result.of(
        1, 8, "https://a.example/old", Outcome.OK, status=200, first_status=301,
        content_length=2525, redirects=1, final_url="https://a.example/new",
        check="fail", check_reason="went to /new, expected /elsewhere", check_code="wrong-target")
    run_id = record(store, [text_only, checked])
    again, checked_again = store.results(run_id)
    assert everything(again) == everything(text_only)
    assert again.failure.traceback == "Traceback...\nValueError: boom\n"
    assert everything(checked_again) == everything(checked)
    assert (checked_again.first_status, checked_again.content_length,
            checked_again.check_code) == (301, 2525, "wrong-target")


def test_a_reopened_run_is_counted_from_light_rows_and_whole_failures(store):
    """finished(): ok rows that passed their check come as StoredRow (what the counts and the
    summary read), every other row as its whole Result; counted alike either way."""
    from app.core.stats import RunStats
    from app.core.store import StoredRow
    from app.core.tally import Tally

    rows = [
        Result.of(0, 1, "http://a.example/ok", Outcome.OK, status=200, elapsed_ms=12.5,
                  note="waited 2 s for Retry-After"),
        Result.of(1, 2, "http://a.example/pass", Outcome.OK, status=301, elapsed_ms=3.0,
                  check="pass"),
        Result.of(2, 3, "http://b.example/fail", Outcome.OK, status=200, elapsed_ms=4.0,
                  check="fail", check_reason="went elsewhere", check_code="wrong-target"),
        Result.of(3, 4, "http://b.example/404", Outcome.HTTP_ERROR, status=404, elapsed_ms=2.0,
                  failure=Failure(Kind.HTTP_4XX, "HTTP 404 Not Found")),
        Result.of(4, 5, "http://c.example/", Outcome.FAILED, elapsed_ms=1.0,
                  failure=Failure(Kind.INTERNAL, "Internal error: boom", "builtins.ValueError",
                                  traceback_text="Traceback...\n")),
        Result.of(5, 6, "http://c.example/x", Outcome.CANCELLED),
    ]
    run_id = record(store, rows)
    chunks = list(store.finished(run_id))
    read = [row for chunk in chunks for row in chunk]
    assert [r.index for r in read] == list(range(len(rows)))
    assert [type(r).__name__ for r in read] == ["StoredRow", "StoredRow"] + ["Result"] * 4
    for light, original in zip(read[:2], rows[:2], strict=True):
        assert isinstance(light, StoredRow) and light.failure is None
        assert (light.outcome, light.status, light.elapsed_ms, light.url, light.note,
                light.check) == (original.outcome, original.status, original.elapsed_ms,
                                 original.url, original.note, original.check)
    assert [everything(r) for r in read[2:]] == [everything(r) for r in rows[2:]]
    stats, again = RunStats(started=0.0), RunStats(started=0.0)
    stats.add(rows, now=1.0)
    again.add(read, now=1.0)
    assert (again.outcomes, again.statuses, again.times.bins(), again.host_rows(now=1.0),
            again.rate_series(now=1.0)) == (
        stats.outcomes, stats.statuses, stats.times.bins(), stats.host_rows(now=1.0),
        stats.rate_series(now=1.0))
    tally, counted = Tally(len(rows)), Tally(len(rows))
    for original, row in zip(rows, read, strict=True):
        tally.add(original)
        counted.add(row)
    assert (counted.counts, counted.checks_failed, counted.internal, counted.exit_status()) == (
        tally.counts, tally.checks_failed, tally.internal, tally.exit_status())


def test_server_text_with_a_lone_surrogate_is_kept_cleaned(store):
    odd = Result.of(0, 1, "http://a.example/", Outcome.OK, status=200, reason="Caf\udce9",
                 final_url="http://a.example/", title="t\udce9")
    run_id = record(store, [odd])
    (again,) = store.results(run_id)
    assert again.reason == "Caf\ufffd" and again.title == "t\ufffd"


def test_previews_and_headers_are_capped(store):
    huge = Result.of(0, 1, "http://a.example/", Outcome.OK, status=200,
                  details=Details([], [(f"X-{i}", "v" * 1000) for i in range(200)],
                                  b"x" * 100_000))
    run_id = record(store, [huge])
    (again,) = store.results(run_id)
    assert len(again.details.preview) == 16 * 1024
    assert 0 < len(again.details.response_headers) < 200
    assert sum(len(k) + len(v) for k, v in again.details.response_headers) <= 64 * 1024


def test_rows_without_details_store_none(store):
    run_id = record(store, [Result.of(0, 1, "http://a.example/", Outcome.OK, status=200)])
    (again,) = store.results(run_id, details=True)
    assert again.details is None


def test_stored_rows_export_to_the_same_csv(store, http_server, tmp_path):
    urls = [http_server.url("/ok"), http_server.url("/status/404"), "=cmd|x"]
    fetched = fetch_all(urls)
    run_id = record(store, fetched)
    write_csv(tmp_path / "memory.csv", fetched, Settings())
    write_csv(tmp_path / "store.csv", store.results(run_id), Settings())
    assert (tmp_path / "store.csv").read_bytes() == (tmp_path / "memory.csv").read_bytes()


# --- what a run records ------------------------------------------------------------------------


def test_settings_are_stored_without_credentials(db):
    settings = Settings(auth="ann:hunter2", proxy="http://pat:pr0xypass@proxy.example:3128",
                        headers=(("X-Api-Key", "k3y-value"), ("Accept", "text/html")))
    with RunStore.open(db) as store:
        run_id = record(store, [], settings=settings)
        stored = store.settings(run_id)
    assert stored["auth"] == "***"
    assert stored["proxy"] == "http://pat:***@proxy.example:3128"
    assert stored["headers"] == [["X-Api-Key", "***"], ["Accept", "text/html"]]
    assert stored["concurrency"] == settings.concurrency
    data = b"".join(p.read_bytes() for p in db.parent.iterdir() if p.name.startswith(db.name))
    for secret in (b"hunter2", b"pr0xypass", b"k3y-value"):
        assert secret not in data


def test_inputs_are_kept_in_order_with_line_numbers(store):
    targets = TargetList.from_text("# list\nhttp://a.example/\n\nnot a url\nhttp://b.example/\n")
    run_id = record(store, [], inputs=targets, ended=Ended.CANCELLED)
    assert list(store.inputs(run_id)) == [
        InputLine(0, 2, "http://a.example/"), InputLine(1, 4, "not a url"),
        InputLine(2, 5, "http://b.example/")]
    info = store.run(run_id)
    assert info.total == 3 and info.ended is Ended.CANCELLED and info.source == "pasted"


def test_many_inputs_are_written_in_chunks_before_the_results_that_need_them(store):
    count = 45_000  # many chunks
    targets = TargetList([f"http://h.example/{i}" for i in range(count)],
                         array("L", range(1, count + 1)))
    writer = store.start_run(source="big.txt", settings=Settings(), inputs=targets)
    writer.add(Result.of(count - 1, count, f"http://h.example/{count - 1}", Outcome.OK,
                      status=200))
    writer.close()
    assert writer.join(30)
    assert sum(1 for _ in store.inputs(writer.run_id)) == count
    assert store.run(writer.run_id).total == count
    assert list(store.unfinished(writer.run_id))[-1] == count - 2


def test_run_counts_follow_outcomes(store):
    results = [Result.of(0, 1, "u0", Outcome.OK), Result.of(1, 2, "u1", Outcome.HTTP_ERROR,
                                                       failure=Failure(Kind.HTTP_4XX, "HTTP 404")),
               Result.of(2, 3, "u2", Outcome.FAILED, failure=Failure(Kind.DNS, "no")),
               Result.of(3, 4, "u3", Outcome.INVALID, failure=Failure(Kind.INVALID_URL, "x")),
               Result.of(4, 5, "u4", Outcome.CANCELLED, failure=Failure(Kind.CANCELLED, "c")),
               Result.of(5, 6, "u5", Outcome.OK)]
    run_id = record(store, results)
    info = store.run(run_id)
    assert (info.total, info.ok, info.http_error, info.failed, info.invalid, info.cancelled) == (
        6, 2, 1, 1, 1, 1)
    assert store.count(run_id) == 6
    assert store.count(run_id, where=Where(outcomes=frozenset({Outcome.OK}))) == 2
    failed = store.results(run_id, where=Where(error_kinds=frozenset({"dns", "http_4xx"})))
    assert [r.url for r in failed] == ["u1", "u2"]
    assert [r.url for r in store.results(run_id, where=Where(text="U5"))] == ["u5"]
    assert [r.url for r in store.results(run_id, where=Where(text="%"))] == []


def test_a_row_fetched_again_replaces_its_old_one(store):
    writer = store.start_run(source="pasted", settings=Settings())
    writer.add(Result.of(0, 1, "u0", Outcome.FAILED, failure=Failure(Kind.DNS, "no"),
                      details=Details([], [], b"old")))
    writer.add(Result.of(1, 2, "u1", Outcome.OK))
    writer.close()
    writer.join(10)
    again = store.resume_run(writer.run_id)
    again.add(Result.of(0, 1, "u0", Outcome.OK, status=200))
    again.close()
    again.join(10)
    assert [(r.url, r.outcome, r.details, r.failure) for r in store.results(writer.run_id)] \
        == [("u0", Outcome.OK, None, None), ("u1", Outcome.OK, None, None)]
    info = store.run(writer.run_id)
    assert (info.ok, info.failed, info.ended) == (2, 0, Ended.FINISHED)


def test_the_last_of_two_results_for_a_row_in_one_batch_is_the_one_kept(store):
    # A failure, a plain answer and a failure again, interleaved with other rows, all taken
    # in one flush: plain answers and the rest go through different statements, in order.
    writer = store.start_run(source="pasted", settings=Settings())
    failed = Failure(Kind.DNS, "no")
    for result in [Result.of(0, 1, "u0", Outcome.FAILED, failure=failed),
                   Result.of(1, 2, "u1", Outcome.OK, status=200),
                   Result.of(0, 1, "u0", Outcome.OK, status=200),
                   Result.of(2, 3, "u2", Outcome.OK, status=200),
                   Result.of(2, 3, "u2", Outcome.FAILED, failure=failed)]:
        writer.add(result)
    writer.close()
    assert writer.join(10) and writer.error is None
    stored = list(store.results(writer.run_id))
    assert [(r.outcome, r.error_kind) for r in stored] == [
        (Outcome.OK, ""), (Outcome.OK, ""), (Outcome.FAILED, "dns")]
    info = store.run(writer.run_id)
    assert (info.ok, info.failed) == (2, 1)


def test_close_is_idempotent_and_callable_from_any_thread(store):
    writer = store.start_run(source="pasted", settings=Settings())
    writer.add(Result.of(0, 1, "u0", Outcome.OK))
    threads = [threading.Thread(target=writer.close, args=(Ended.CANCELLED,)) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    writer.close(Ended.FINISHED)  # too late: the first close said how it ended
    with pytest.raises(ValueError):
        writer.close(Ended.RUNNING)
    assert writer.join(10)
    writer.close()
    assert store.run(writer.run_id).ended is Ended.CANCELLED
    assert store.count(writer.run_id) == 1


# --- schema -------------------------------------------------------------------------------------


def test_a_version_1_file_is_migrated_with_its_data(db):
    conn = sqlite3.connect(db, isolation_level=None)
    for statement in MIGRATIONS[0]:
        conn.execute(statement)
    conn.execute("PRAGMA user_version = 1")
    conn.execute("INSERT INTO runs (started_at, ended_at, ended, source, settings, app_version, "
                 "total, ok, failed) VALUES ('2026-11-01T10:00:00.000+00:00', "
                 "'2026-11-01T10:01:00.000+00:00', 'finished', 'old.txt', '{}', '0.0.9', 2, 1, 1)")
    conn.execute("INSERT INTO inputs VALUES (1, 0, 1, 'http://a.example/'), "
                 "(1, 1, 3, 'http://b.example/')")
    conn.execute("INSERT INTO results (run_id, idx, line, url, outcome, status, reason, final_url, "
                 "redirects, content_type, bytes, elapsed_ms, attempts, title, sha256, server, "
                 "note) VALUES (1, 0, 1, 'http://a.example/', 'ok', 200, 'OK', "
                 "'http://a.example/', 0, 'text/html', 10, 1.5, 1, 'A', '', 'old', '')")
    conn.execute("INSERT INTO results (run_id, idx, line, url, outcome, reason, final_url, "
                 "redirects, content_type, error_kind, error, attempts, title, sha256, server, "
                 "note, exception_type, exception_chain, traceback) VALUES (1, 1, 3, "
                 "'http://b.example/', 'failed', '', '', 0, '', 'dns', 'Host name not found', 1, "
                 "'', '', '', '', 'socket.gaierror', '[\"socket.gaierror: x\"]', 'Traceback')")
    conn.close()

    with RunStore.open(db) as store:
        (info,) = store.runs()
        assert (info.source, info.ended, info.total, info.ok, info.failed) == (
            "old.txt", Ended.FINISHED, 2, 1, 1)
        assert info.columns == ()
        ok, failed = store.results(1)
        assert (ok.url, ok.status, ok.title, ok.elapsed_ms, ok.server) == (
            "http://a.example/", 200, "A", 1.5, "old")
        assert failed.failure == Failure(Kind.DNS, "Host name not found", "socket.gaierror",
                                         ("socket.gaierror: x",), "Traceback")
        assert list(store.inputs(1))[1] == InputLine(1, 3, "http://b.example/")
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 2
    columns = {row[1] for row in conn.execute("PRAGMA table_info(results)")}
    assert {"content_length", "first_status", "expected", "expected_status", "check",
            "check_reason", "extra"} <= columns
    assert "columns" in {row[1] for row in conn.execute("PRAGMA table_info(runs)")}
    conn.close()


def _untouched(path: Path) -> tuple[bytes, int]:
    return path.read_bytes(), path.stat().st_mtime_ns


def test_a_newer_schema_is_refused_and_left_untouched(db):
    RunStore.open(db).close()
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode = DELETE")
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    before = _untouched(db)
    with pytest.raises(StoreError) as caught:
        RunStore.open(db)
    assert str(caught.value) == (
        f"{db} was written by a newer Fetchdeck (schema {SCHEMA_VERSION + 1}; this one reads "
        f"up to {SCHEMA_VERSION}); it was not changed")
    assert _untouched(db) == before


def test_a_file_that_is_not_sqlite_is_refused_untouched(db):
    db.write_bytes(b"these are my notes, not a database\n" * 100)
    before = _untouched(db)
    with pytest.raises(StoreError, match="not a Fetchdeck run store"):
        RunStore.open(db)
    assert _untouched(db) == before


def test_another_programs_sqlite_file_is_refused_untouched(db):
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE contacts (name TEXT)")
    conn.commit()
    conn.close()
    before = _untouched(db)
    with pytest.raises(StoreError, match="not a Fetchdeck run store"):
        RunStore.open(db)
    assert _untouched(db) == before


def test_a_damaged_store_fails_in_plain_words(db):
    with RunStore.open(db) as store:
        record(store, [Result.of(i, i + 1, f"http://a.example/{i}", Outcome.OK, title="t" * 200)
                       for i in range(3000)])
    data = bytearray(db.read_bytes())
    assert len(data) > 8 * 4096
    data[2 * 4096:len(data) - 4096] = b"\xa5" * (len(data) - 3 * 4096)
    db.write_bytes(bytes(data))
    with pytest.raises(StoreError, match="damaged|cannot be read"), RunStore.open(db) as store:
        store.runs()
        list(store.results(1))


# --- places that cannot be written --------------------------------------------------------------


def test_a_location_the_kernel_refuses_gives_a_store_error(monkeypatch):
    # /sys refuses new files even to root (chmod would not stop root).
    with pytest.raises(StoreError) as caught:
        RunStore.open("/sys/fetchdeck-test/runs.sqlite3")
    assert "/sys/fetchdeck-test" in str(caught.value)
    with pytest.raises(StoreError, match="cannot be opened or created"):
        RunStore.open("/sys/runs.sqlite3")
    monkeypatch.setenv("FETCHDECK_DATA_DIR", "/proc/fetchdeck-test")
    with pytest.raises(StoreError):
        RunStore.open()


def test_the_writer_commits_as_soon_as_wake_rows_results_wait(store, monkeypatch):
    """Fast runs lose at most ~WAKE_ROWS results to a kill, not a flush interval's worth:
    with the interval made a minute long, only the count can start a commit."""
    monkeypatch.setattr(store_writer, "FLUSH_SECONDS", 60.0)
    committed: list[list[int]] = []
    done = threading.Event()

    def written(batch: list[Result]) -> None:
        committed.append([r.index for r in batch])
        done.set()

    writer = store.start_run(source="pasted", settings=Settings(), on_written=written)
    urls = [f"http://a.example/{i}" for i in range(store_writer.WAKE_ROWS)]
    for index, url in enumerate(urls[:-1]):
        writer.add(Result.of(index, index + 1, url, Outcome.OK))
    assert not done.wait(0.3)  # one short of the count: nothing committed yet
    writer.add(Result.of(len(urls) - 1, len(urls), urls[-1], Outcome.OK))
    assert done.wait(10)
    assert sorted(i for batch in committed for i in batch) == list(range(len(urls)))
    assert writer.written == len(urls)
    writer.close()
    assert writer.join(10) and writer.error is None


def test_the_log_is_checkpointed_while_the_run_is_written(store, monkeypatch):
    """A thread of its own copies the log into the file during the run, so the writer's
    commits never wait for a checkpoint and closing has little left to do: the file grows
    before the run closes (SQLite's own checkpoint waits for 16 MiB of log, or the close)."""
    monkeypatch.setattr(store_writer, "CHECKPOINT_SECONDS", 0.05)
    size = store.path.stat().st_size
    writer = store.start_run(source="pasted", settings=Settings())
    for index in range(2000):
        writer.add(Result.of(index, index + 1, f"http://a.example/{index}", Outcome.OK))
    deadline = time.monotonic() + 10
    while (writer.written < 2000 or store.path.stat().st_size <= size) \
            and time.monotonic() < deadline:
        time.sleep(0.01)
    assert writer.written == 2000
    assert store.path.stat().st_size > size  # in the file itself, not only in its log
    assert not writer.closed
    writer.close()
    assert writer.join(10) and writer.error is None
    assert store.run(writer.run_id).ok == 2000


def test_a_listener_that_fails_is_reported_and_the_writing_goes_on(store, monkeypatch):
    reported: list[BaseException | None] = []
    monkeypatch.setattr(threading, "excepthook", lambda args: reported.append(args.exc_value))

    def broken(batch: list[Result]) -> None:
        raise RuntimeError("a listener's own bug")

    writer = store.start_run(source="pasted", settings=Settings(), on_written=broken)
    for index in range(100):
        writer.add(Result.of(index, index + 1, f"http://a.example/{index}", Outcome.OK))
    writer.close()
    assert writer.join(10) and writer.error is None and writer.written == 100
    assert [str(e) for e in reported] == ["a listener's own bug"]
    assert store.run(writer.run_id).ok == 100


def test_a_full_disk_mid_run_stops_the_writer_without_raising(db):
    errors: list[StoreError] = []
    RunStore.open(db).close()
    size = db.stat().st_size
    # A size cap is SQLite's real "database or disk is full" (SQLITE_FULL), as a full disk is.
    with RunStore.open(db, max_bytes=size + 200 * 1024) as store:
        writer = store.start_run(source="pasted", settings=Settings(), on_error=errors.append)
        for handed in range(5):
            writer.add(Result.of(handed, handed + 1, f"http://a.example/{handed}", Outcome.OK))
        handed += 1
        deadline = time.monotonic() + 30
        while writer.written < 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        while writer.error is None and time.monotonic() < deadline:
            for _ in range(20):
                writer.add(Result.of(handed, handed + 1, f"http://a.example/{handed}", Outcome.OK,
                                  details=Details([], [], os.urandom(8000))))
                handed += 1
            time.sleep(0.01)
        assert writer.error is not None
        assert "disk is full" in str(writer.error)
        assert errors == [writer.error]
        writer.add(Result.of(handed, handed + 1, "http://a.example/late", Outcome.OK))  # no raise
        writer.close()
        assert writer.join(10)
        kept = store.count(writer.run_id)
        assert 0 < kept < handed
        assert [r.index for r in store.results(writer.run_id)] == list(range(kept))
        assert store.run(writer.run_id).ended is Ended.RUNNING  # its end could not be written


def test_starting_a_run_in_a_store_that_cannot_be_written_raises_store_error(db):
    RunStore.open(db).close()
    with RunStore.open(db, max_bytes=db.stat().st_size) as store:
        with pytest.raises(StoreError, match="disk is full"):
            store.start_run(source="a long list name " * 2000, settings=Settings())
        assert store.runs() == []


def test_a_real_full_disk_mid_run_is_reported_and_the_run_goes_on(small_disk):
    with RunStore.open(small_disk / "runs.sqlite3") as store:
        writer = store.start_run(source="pasted", settings=Settings())
        handed = 0
        deadline = time.monotonic() + 60
        while writer.error is None and time.monotonic() < deadline:
            writer.add(Result.of(handed, handed + 1, f"http://a.example/{handed}", Outcome.OK,
                              details=Details([], [], os.urandom(4000))))
            handed += 1
            if handed % 50 == 0:
                time.sleep(0.01)
        assert writer.error is not None, "the disk never filled"
        assert "disk is full" in str(writer.error)
        writer.close()
        assert writer.join(10)


def test_a_store_on_a_read_only_filesystem_is_refused_plainly(small_disk):
    path = small_disk / "runs.sqlite3"
    with RunStore.open(path) as store:
        record(store, [Result.of(0, 1, "http://a.example/", Outcome.OK)])
    subprocess.run(["mount", "-o", "remount,ro", str(small_disk)], check=True)
    with pytest.raises(StoreError, match="read-only|cannot be opened"):
        RunStore.open(path)
    with pytest.raises(StoreError):
        RunStore.open(small_disk / "new" / "runs.sqlite3")


# --- kill -9 ------------------------------------------------------------------------------------


class Feeder:
    """tests/core/store_feeder.py in a subprocess; ``handed`` collects its (count, time) lines."""

    def __init__(self, db: Path, rate: int, lines: int) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.core.store_feeder", str(db), str(rate), str(lines)],
            cwd=REPO, stdout=subprocess.PIPE, text=True)
        self.handed: list[tuple[int, float]] = []
        self.started = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            if line.startswith("run "):
                self.started.set()
            else:
                count, at = line.split()
                self.handed.append((int(count), float(at)))

    def kill(self) -> float:
        """SIGKILL it; the wall-clock time of the kill."""
        killed_at = time.time()
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._reader.join(10)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return killed_at


@pytest.mark.slow
def test_kill_9_at_random_moments_keeps_the_file_sound_and_older_results(db):
    seed = random.randrange(1 << 30)
    chance = random.Random(seed)
    lines = 60_000
    # The first kill may land while the file is being created or its first run recorded.
    # The others land past the first second, so that some results are due.
    moments = [chance.uniform(0.0, 0.4)] + [chance.uniform(1.1, 3.0) for _ in range(3)]
    for attempt, moment in enumerate(moments):
        feeder = Feeder(db, rate=3000, lines=lines)
        if attempt:
            assert feeder.started.wait(30), "the feeder never started its run"
            with RunStore.open(db) as store:
                assert store.runs()[-1].ended is Ended.RUNNING  # its writer is alive
        time.sleep(moment)
        killed_at = feeder.kill()
        due = max((count for count, at in feeder.handed if at <= killed_at - 1.0), default=0)
        context = f"seed {seed}, kill {attempt} after {moment:.2f} s"

        conn = sqlite3.connect(db)
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok", context
        conn.close()
        with RunStore.open(db) as store:
            runs = store.runs()
            if not feeder.started.is_set() and (not runs or len(runs) < attempt + 1):
                assert due == 0, context
                continue
            info = runs[-1]
            assert info.ended is Ended.INTERRUPTED, context
            kept = [r.index for r in store.results(info.id, details=False)]
            assert kept[:due] == list(range(due)), context
            stored_inputs = store.stored_inputs(info.id)
            assert stored_inputs == sum(1 for _ in store.inputs(info.id))
            unfinished = list(store.unfinished(info.id))
            assert len(unfinished) == stored_inputs - len(set(kept) & set(range(stored_inputs)))
            assert not set(unfinished) & set(kept), context


def test_a_live_writer_is_running_and_a_dead_one_interrupted(db):
    feeder = Feeder(db, rate=100, lines=1000)
    try:
        assert feeder.started.wait(30)
        with RunStore.open(db) as store:
            (info,) = store.runs()
            assert info.ended is Ended.RUNNING
            with pytest.raises(StoreError, match="still being written"):
                store.resume_run(info.id)
    finally:
        feeder.kill()
    with RunStore.open(db) as store:
        assert store.run(info.id).ended is Ended.INTERRUPTED


def test_a_reused_pid_does_not_pass_for_the_writer(db):
    me = os.getpid()
    assert writer_alive(me, writer_token(), None)
    host, boot, started = writer_token().split("|")
    assert boot and started, "this test needs /proc (Linux)"
    # The pid of a dead writer now belongs to another process: its start time differs.
    assert not writer_alive(me, f"{host}|{boot}|{int(started) + 1}", time.time())
    # Another boot: every process of the old one is gone, whatever the heartbeat says.
    assert not writer_alive(me, f"{host}|another-boot|{started}", time.time())
    # Another host sharing the file: only its heartbeat can tell.
    assert writer_alive(me, "elsewhere||", time.time())
    assert not writer_alive(me, "elsewhere||", time.time() - 3600)


# --- resume -------------------------------------------------------------------------------------


def test_resume_lists_exactly_the_unfinished_lines_and_fetches_only_those(store, start_server):
    hanging = {"on": True}
    seen: list[str] = []

    async def page(request: web.Request) -> web.StreamResponse:
        seen.append(request.path)
        if request.path.startswith("/slow") and hanging["on"]:
            await asyncio.sleep(60)
        return web.Response(text=f"<title>{request.path}</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", page)
    server = start_server(app)
    urls = [server.url(f"/fast{i}") if i % 3 else server.url(f"/slow{i}") for i in range(9)]
    text = "\n".join(urls)
    targets = TargetList.from_text(text)
    settings = Settings(retries=0, concurrency=9, per_host=0)

    async def first_run() -> int:
        writer = store.start_run(source="list.txt", settings=settings, inputs=targets)
        run = Run(targets, settings, writer.add)
        task = run.start()
        while len([p for p in seen if p.startswith("/fast")]) < 6 or run.done < 6:
            await asyncio.sleep(0.01)
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        writer.close(Ended.CANCELLED)
        await asyncio.to_thread(writer.join, 10)
        return writer.run_id

    run_id = run_fresh(first_run())
    assert list(store.unfinished(run_id)) == [0, 3, 6]
    info = store.run(run_id)
    assert (info.ended, info.ok, info.cancelled) == (Ended.CANCELLED, 6, 3)

    hanging["on"] = False
    seen.clear()

    async def resume() -> None:
        lines = [make_target(line.index, line.line, line.text)
                 for line in store.inputs(run_id, unfinished=True)]
        writer = store.resume_run(run_id)
        assert store.run(run_id).ended is Ended.RUNNING
        await Run(lines, settings, writer.add).start()
        writer.close(Ended.FINISHED)
        await asyncio.to_thread(writer.join, 10)

    run_fresh(resume())
    assert sorted(seen) == ["/slow0", "/slow3", "/slow6"]
    assert list(store.unfinished(run_id)) == []
    info = store.run(run_id)
    assert (info.ended, info.ok, info.cancelled, info.total) == (Ended.FINISHED, 9, 0, 9)
    assert [r.title for r in store.results(run_id)] == [f"/{u.rsplit('/', 1)[1]}" for u in urls]


def test_unfinished_without_stored_inputs_lists_cancelled_rows(store):
    cancelled = Failure(Kind.CANCELLED, "cancelled before it started")
    run_id = record(store, [Result.of(0, 1, "a", Outcome.OK),
                            Result.of(1, 2, "b", Outcome.CANCELLED, failure=cancelled)],
                    ended=Ended.CANCELLED)
    assert list(store.unfinished(run_id)) == [1]


# --- history ------------------------------------------------------------------------------------


def test_runs_are_named_by_id_last_and_last_tilde_n(store):
    with pytest.raises(StoreError, match="no run has been recorded yet"):
        store.resolve("last")
    ids = [record(store, [Result.of(0, 1, f"u{n}", Outcome.OK)], source=f"list{n}.txt")
           for n in range(3)]
    assert store.resolve("last") == ids[2]
    assert store.resolve("last~0") == ids[2]
    assert store.resolve("last~1") == ids[1]
    assert store.resolve("last~2") == ids[0]
    assert store.resolve(str(ids[1])) == ids[1]
    assert store.resolve(ids[0]) == ids[0]
    with pytest.raises(StoreError, match="there are only 3 runs"):
        store.resolve("last~3")
    with pytest.raises(StoreError, match="there is no run 99"):
        store.resolve("99")
    with pytest.raises(StoreError, match="does not name a run"):
        store.resolve("yesterday")
    assert [r.source for r in store.runs()] == ["list0.txt", "list1.txt", "list2.txt"]


def test_delete_removes_a_run_and_all_it_stored(store, db):
    keep = record(store, [Result.of(0, 1, "a", Outcome.OK)], inputs=parse_text("a"))
    gone = record(store, [Result.of(0, 1, "b", Outcome.OK, details=Details([], [], b"p"))],
                  inputs=parse_text("b"))
    store.delete_run(gone)
    assert [r.id for r in store.runs()] == [keep]
    assert store.resolve("last") == keep
    with pytest.raises(StoreError, match=f"there is no run {gone}"):
        store.run(gone)
    conn = sqlite3.connect(db)
    for table in ("results", "inputs", "details"):
        assert conn.execute(f"SELECT count(*) FROM {table} WHERE run_id = ?",
                            (gone,)).fetchone()[0] == 0
    conn.close()
    assert [r.url for r in store.results(keep)] == ["a"]


def test_results_are_read_in_chunks_in_input_order(store, monkeypatch):
    import app.core.store as store_module

    monkeypatch.setattr(store_module, "READ_CHUNK", 7)
    arrival = list(range(50))
    random.Random(4).shuffle(arrival)
    run_id = record(store, [Result.of(i, i + 1, f"u{i}", Outcome.OK) for i in arrival])
    reader = store.results(run_id)
    assert next(reader).index == 0
    assert [r.index for r in reader] == list(range(1, 50))


def _verdict_row(index: int, outcome: Outcome, check: str = "", kind: Kind | None = None):
    failure = Failure.plain(kind, "x") if kind else None
    row = Result.of(index, index + 1, f"https://h.example/{index}", outcome, failure)
    return row.replace(check=check) if check else row


@pytest.mark.parametrize(("rows", "status"), [
    ([_verdict_row(0, Outcome.OK, "pass"), _verdict_row(1, Outcome.OK)], 0),
    ([_verdict_row(0, Outcome.OK, "fail"), _verdict_row(1, Outcome.OK)], 1),
    # the 410 a redirect map expected: its check passed, and it does not fail the run
    ([_verdict_row(0, Outcome.HTTP_ERROR, "pass", Kind.HTTP_4XX), _verdict_row(1, Outcome.OK)],
     0),
    ([_verdict_row(0, Outcome.HTTP_ERROR, "", Kind.HTTP_4XX), _verdict_row(1, Outcome.OK)], 1),
    ([_verdict_row(0, Outcome.FAILED, "", Kind.INTERNAL), _verdict_row(1, Outcome.OK)], 3),
])
def test_a_stored_runs_exit_status_is_the_tallys(store, rows, status):
    """resume reports the whole run's status from the store, by the rule the live run uses."""
    tally = Tally(len(rows))
    for row in rows:
        tally.add(row)
    run_id = record(store, rows, inputs=targets_of([r.url for r in rows]))
    assert store.exit_status(run_id) == tally.exit_status() == status


def test_a_plain_rows_short_insert_holds_what_the_whole_row_would(http_server):
    # The writer's two row shapes must agree column for column (NaN is how both write NULL).
    from app.core import store_writer as store_module

    fetched = fetch_all([http_server.url("/ok"), http_server.url("/ok?again")])
    plain = [r for r in fetched if store_module._is_plain(r)]
    assert plain, "a fetched ok page is a plain row"
    whole_columns = store_module._RESULT_COLUMNS
    for result in plain:
        whole = dict(zip(whole_columns, store_module._result_row(7, result, lambda f: 0),
                         strict=True))
        short = store_module._plain_row(7, result)
        assert len(short) == len(store_module._PLAIN_COLUMNS)
        for column, value in zip(store_module._PLAIN_COLUMNS, short, strict=True):
            expected = whole[column]
            assert value == expected or (value != value and expected != expected), column
        left_out = {c: v for c, v in whole.items() if c not in store_module._PLAIN_COLUMNS}
        assert all(v != v for v in left_out.values()), left_out  # all NULL (NaN)
