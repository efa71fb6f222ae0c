"""A run exported from the store is the CSV of its results, byte for byte: written from the
stored rows themselves (no result object per row), and for a big run by several processes."""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pytest
from aiohttp import web

from app.core.export import CsvFormat, write_csv, write_rows, write_stored_csv
from app.core.result import Outcome
from app.core.settings import Settings
from app.core.store import RunStore
from app.core.targets import TargetList
from tests.core.runs import fetch_all
from tests.core.test_store import record

# Server text a CSV must treat with care: commas, quotes, line breaks, control characters,
# formula starts, non-ASCII, passwords in URLs.
TITLES = ["plain", "a, comma", 'say "hi"', "two\nlines", "bell\x07", "=SUM(A1)", "-minus",
          "+plus", "@at", "Ünïcode ☃", "", "tab\tin", "\r\nlead"]


@pytest.fixture
def site(start_server):
    async def page(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n % 11 == 5:
            raise web.HTTPFound(f"/page/{n + 1}")
        if n % 13 == 7:
            raise web.HTTPFound(f"http://user:pa55word@127.0.0.1:{request.url.port}/page/0")
        status = 404 if n % 9 == 4 else 500 if n % 17 == 3 else 200
        return web.Response(status=status, text=f"<title>{TITLES[n % len(TITLES)]}</title>",
                            content_type="text/html" if n % 5 else "text/plain",
                            headers={"Server": "=evil, \"srv\"" if n % 7 == 0 else "srv"})

    app = web.Application()
    app.router.add_get("/page/{n}", page)
    return start_server(app)


@pytest.fixture
def stored(tmp_path: Path, site, refused_port):
    """A real run of a few hundred lines fetched from ``site``, with failures, and its store."""
    urls = []
    for n in range(240):
        if n % 23 == 0:
            urls.append(refused_port.url(f"/gone/{n}"))
        elif n % 31 == 0:
            urls.append(f"ftp://nope.example/{n}")
        elif n % 19 == 0:
            urls.append(site.url(f"/page/{n}").replace("http://", "http://ann:s3cret@"))
        else:
            urls.append(site.url(f"/page/{n}"))
    targets = TargetList.from_text("\n".join(urls))
    results = fetch_all(urls, Settings(retries=0))
    assert {r.outcome for r in results} == {Outcome.OK, Outcome.HTTP_ERROR, Outcome.FAILED,
                                            Outcome.INVALID}
    assert any(r.chain for r in results)
    with RunStore.open(tmp_path / "runs.sqlite3") as store:
        run_id = record(store, results, inputs=targets)
        yield store, run_id, results, targets


@pytest.mark.parametrize("settings", [
    Settings(), Settings(mask_passwords=False), Settings(csv_raw=True),
    Settings(auth="ann:s3cret", headers=(("X-Api-Key", "srv"),)),
], ids=["default", "unmasked", "raw", "secrets"])
def test_a_stored_run_exports_the_same_csv_as_its_results(stored, tmp_path, settings):
    store, run_id, results, targets = stored
    write_csv(tmp_path / "memory.csv", results, settings, targets=targets)
    write_csv(tmp_path / "store.csv", store.results(run_id, details=False), settings,
              targets=targets)
    assert (tmp_path / "store.csv").read_bytes() == (tmp_path / "memory.csv").read_bytes()
    assert b"\r\n" in (tmp_path / "store.csv").read_bytes()


def test_a_list_with_expectations_and_columns_exports_them_from_the_store(stored, tmp_path):
    store, run_id, results, _ = stored
    text = "url,expected,note\n" + "\n".join(
        f"{r.url},{r.url}/x,n{r.index}" for r in results)
    targets = TargetList.from_text(text)
    assert targets.columns and targets.expected is not None
    write_csv(tmp_path / "memory.csv", results, Settings(), targets=targets)
    write_csv(tmp_path / "store.csv", store.results(run_id), Settings(), targets=targets)
    assert (tmp_path / "store.csv").read_bytes() == (tmp_path / "memory.csv").read_bytes()


def stored_csv(store: RunStore, run_id: int, settings: Settings, **parallel) -> str:
    stream = io.StringIO(newline="")
    fmt = CsvFormat(settings)
    stream.write(fmt.header())
    count = write_stored_csv(stream, store.results(run_id), fmt, **parallel)
    assert count == store.count(run_id)
    return stream.getvalue()


@pytest.mark.parametrize("settings", [Settings(), Settings(auth="ann:s3cret", csv_raw=True)],
                         ids=["default", "secrets-raw"])
def test_a_big_run_is_written_in_parts_by_other_processes_in_order(stored, settings):
    store, run_id, _, _ = stored
    whole = stored_csv(store, run_id, settings, processes=1)
    progress: list[int] = []
    stream = io.StringIO(newline="")
    fmt = CsvFormat(settings)
    stream.write(fmt.header())
    count = write_stored_csv(stream, store.results(run_id), fmt, progress.append, 50,
                             processes=3, parallel_rows=50)
    assert stream.getvalue() == whole and count == 240
    assert progress[-1] == 240 and progress == sorted(progress)


def test_a_part_no_other_process_could_write_is_written_here(stored, monkeypatch):
    store, run_id, _, _ = stored
    whole = stored_csv(store, run_id, Settings(), processes=1)
    monkeypatch.setattr(sys, "executable", str(Path(sys.executable).parent / "no-python"))
    assert stored_csv(store, run_id, Settings(), processes=2, parallel_rows=10) == whole


def test_a_part_whose_process_fails_is_written_here_and_why_is_said(stored, monkeypatch,
                                                                   tmp_path, caplog):
    store, run_id, _, _ = stored
    whole = stored_csv(store, run_id, Settings(), processes=1)
    failing = tmp_path / "failing-python"
    failing.write_text("#!/bin/sh\necho 'Traceback: the disk is on fire' >&2\nexit 2\n")
    failing.chmod(0o755)
    monkeypatch.setattr(sys, "executable", str(failing))
    with caplog.at_level("WARNING", logger="fetchdeck.export"):
        assert stored_csv(store, run_id, Settings(), processes=2, parallel_rows=10) == whole
    assert any("a part of the export failed (exit 2): Traceback: the disk is on fire"
               in record.getMessage() for record in caplog.records)


def test_results_already_being_read_are_written_from_the_objects(stored):
    store, run_id, results, _ = stored
    rows = store.results(run_id)
    first = next(rows)
    with pytest.raises(RuntimeError):
        rows.cell_rows()
    stream = io.StringIO(newline="")
    assert write_rows(stream, rows, CsvFormat(Settings())) == len(results) - 1
    expected = io.StringIO(newline="")
    write_rows(expected, results[1:], CsvFormat(Settings()))
    assert stream.getvalue() == expected.getvalue() and first.index == 0


def test_an_export_file_written_in_parts_is_the_csv_of_the_results(stored, tmp_path,
                                                                    monkeypatch):
    import app.core.export

    store, run_id, results, targets = stored
    monkeypatch.setattr(app.core.export, "PARALLEL_ROWS", 60)
    monkeypatch.setattr(app.core.export, "MAX_PROCESSES", 4)
    monkeypatch.setattr(app.core.export.os, "cpu_count", lambda: 4)
    write_csv(tmp_path / "memory.csv", results, Settings(), targets=targets)
    write_csv(tmp_path / "store.csv", store.results(run_id), Settings(), targets=targets)
    assert (tmp_path / "store.csv").read_bytes() == (tmp_path / "memory.csv").read_bytes()
    assert not list(tmp_path.glob("fetchdeck-export-*"))


def test_an_outcome_or_kind_this_version_does_not_know_exports_as_it_reads(stored, tmp_path):
    import sqlite3

    store, run_id, _, targets = stored
    with sqlite3.connect(store.path) as conn:  # as a later Fetchdeck might have written
        conn.execute("UPDATE results SET outcome = 'martian' WHERE run_id = ? AND idx = 1",
                     (run_id,))
        conn.execute("UPDATE results SET error_kind = 'martian' WHERE run_id = ? AND idx IN "
                     "(SELECT idx FROM results WHERE run_id = ? AND error_kind IS NOT NULL "
                     "LIMIT 1)", (run_id, run_id))
    rebuilt = list(store.results(run_id))
    assert rebuilt[1].outcome is Outcome.FAILED
    write_csv(tmp_path / "rebuilt.csv", rebuilt, Settings(), targets=targets)
    write_csv(tmp_path / "store.csv", store.results(run_id), Settings(), targets=targets)
    assert (tmp_path / "store.csv").read_bytes() == (tmp_path / "rebuilt.csv").read_bytes()
    assert b"martian" not in (tmp_path / "store.csv").read_bytes()
