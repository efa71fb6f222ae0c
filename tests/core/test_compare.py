"""Comparing two stored runs: a loopback server whose answers change between the runs, lines
matched by URL (duplicates in order), and the changes exported as CSV read back."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from aiohttp import web

from app.core.compare import CHANGE_COLUMNS, ChangeKind, Snapshot, diff_runs, write_changes_csv
from app.core.errors import Failure, Kind
from app.core.result import Outcome, Result
from app.core.settings import Settings
from app.core.store import Ended, RunStore, StoreError
from tests.core.runs import fetch_all


@pytest.fixture
def store(tmp_path: Path):
    with RunStore.open(tmp_path / "runs.sqlite3") as opened:
        yield opened


def record(store: RunStore, results) -> int:
    writer = store.start_run(source="list.txt", settings=Settings())
    for result in results:
        writer.add(result)
    writer.close(Ended.FINISHED)
    assert writer.join(10) and writer.error is None
    return writer.run_id


@pytest.fixture
def changing_server(start_server):
    """/status, /moved, /titled and /steady answer as ``answers`` says at the time."""
    answers = {"status": 200, "target": "/landing-1", "title": "First title"}

    async def status(request: web.Request) -> web.StreamResponse:
        return web.Response(status=answers["status"], text="status page")

    async def moved(request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound(answers["target"])

    async def landing(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<title>Landing</title>", content_type="text/html")

    async def titled(request: web.Request) -> web.StreamResponse:
        return web.Response(text=f"<title>{answers['title']}</title>", content_type="text/html")

    async def steady(request: web.Request) -> web.StreamResponse:
        return web.Response(text="<title>Steady</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/status", status)
    app.router.add_get("/moved", moved)
    app.router.add_get("/landing-{n}", landing)
    app.router.add_get("/titled", titled)
    app.router.add_get("/steady", steady)
    app.router.add_get("/removed", steady)
    app.router.add_get("/added", steady)
    server = start_server(app)
    server.answers = answers
    return server


def test_changes_between_two_runs_of_a_changing_server(store, changing_server, tmp_path):
    server = changing_server
    first = [server.url(p) for p in ("/steady", "/status", "/moved", "/titled", "/removed")]
    run_a = record(store, fetch_all(first))
    server.answers.update(status=503, target="/landing-2", title="Second title")
    second = [server.url(p) for p in ("/added", "/steady", "/status", "/moved", "/titled")]
    run_b = record(store, fetch_all(second))

    diff = diff_runs(store, run_a, run_b)
    changes = {change.url.rsplit("/", 1)[1]: change for change in diff}
    assert set(changes) == {"status", "moved", "titled", "removed", "added"}

    status = changes["status"]
    assert status.kind is ChangeKind.CHANGED
    assert status.fields == ("outcome", "status", "error_kind")
    assert (status.old("status"), status.new("status")) == (200, 503)
    assert (status.old("outcome"), status.new("outcome")) == ("ok", "http_error")
    assert (status.old("error_kind"), status.new("error_kind")) == ("", "http_5xx")
    assert (status.line_a, status.line_b) == (2, 3)

    moved = changes["moved"]
    assert moved.fields == ("final_url",)
    assert (moved.old("final_url"), moved.new("final_url")) == (
        server.url("/landing-1"), server.url("/landing-2"))

    titled = changes["titled"]
    assert titled.fields == ("title",)
    assert (titled.old("title"), titled.new("title")) == ("First title", "Second title")

    removed, added = changes["removed"], changes["added"]
    assert (removed.kind, removed.line_a, removed.line_b, removed.after) == (
        ChangeKind.ONLY_A, 5, None, None)
    assert removed.before.title == "Steady"
    assert (added.kind, added.line_a, added.line_b, added.before) == (
        ChangeKind.ONLY_B, None, 1, None)

    assert dict(diff.counts) == {"outcome": 1, "status": 1, "error_kind": 1, "final_url": 1,
                                 "title": 1, "only_a": 1, "only_b": 1}
    assert (diff.compared, diff.unchanged, diff.changed) == (4, 1, 5)

    path = tmp_path / "changes.csv"
    assert write_changes_csv(path, diff_runs(store, run_a, run_b), Settings()) == 5
    with open(path, newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert tuple(rows[0]) == CHANGE_COLUMNS
    by_url = {row["url"].rsplit("/", 1)[1]: row for row in rows}
    assert by_url["status"]["fields_changed"] == "outcome status error_kind"
    assert (by_url["status"]["status_a"], by_url["status"]["status_b"]) == ("200", "503")
    assert by_url["added"]["change"] == "only_b" and by_url["added"]["line_a"] == ""
    assert by_url["moved"]["final_url_b"] == server.url("/landing-2")


def test_duplicate_urls_match_in_order_of_occurrence(store):
    def row(index: int, url: str, status: int) -> Result:
        outcome = Outcome.OK if status < 400 else Outcome.HTTP_ERROR
        failure = None if status < 400 else Failure(Kind.HTTP_4XX, f"HTTP {status}")
        return Result.of(index, index + 1, url, outcome, status=status, final_url=url,
                      failure=failure)

    run_a = record(store, [row(0, "http://d.example/", 200), row(1, "http://x.example/", 200),
                           row(2, "http://d.example/", 404)])
    run_b = record(store, [row(0, "http://x.example/", 200), row(1, "http://d.example/", 200)])
    changes = list(diff_runs(store, run_a, run_b))
    assert [(c.kind, c.url, c.line_a, c.line_b) for c in changes] == [
        (ChangeKind.ONLY_A, "http://d.example/", 3, None)]
    assert changes[0].before == Snapshot("http_error", 404, "http://d.example/", 0, "",
                                         "http_4xx")


def test_identical_runs_have_no_changes(store):
    results = [Result.of(i, i + 1, f"http://e.example/{i}", Outcome.OK, status=200)
               for i in range(30)]
    run_a, run_b = record(store, results), record(store, results)
    diff = diff_runs(store, run_a, run_b)
    assert list(diff) == []
    assert (diff.compared, diff.unchanged, diff.changed, sum(diff.counts.values())) == (
        30, 30, 0, 0)


def test_urls_are_merged_in_the_order_sqlite_sorts_them(store):
    # Non-ASCII and mixed case: SQLite's byte order must be Python's order, or the merge
    # would call matching lines "only in A" and "only in B".
    urls = ["http://b.example/Ä", "http://b.example/z", "http://B.example/a",
            "http://b.example/€", "http://b.example/a", "http://b.example/😀"]
    run_a = record(store, [Result.of(i, i + 1, u, Outcome.OK) for i, u in enumerate(urls)])
    run_b = record(store, [Result.of(i, i + 1, u, Outcome.OK)
                           for i, u in enumerate(reversed(urls))])
    diff = diff_runs(store, run_a, run_b)
    assert list(diff) == []
    assert diff.compared == len(urls)


def test_exported_changes_mask_passwords_and_neutralise_formulas(store, tmp_path):
    run_a = record(store, [Result.of(0, 1, "http://ann:pw@a.example/", Outcome.OK, title="=1+1")])
    run_b = record(store, [Result.of(0, 1, "http://ann:pw@a.example/", Outcome.OK, title="=2+2")])
    path = tmp_path / "changes.csv"
    write_changes_csv(path, diff_runs(store, run_a, run_b), Settings())
    with open(path, newline="", encoding="utf-8") as stream:
        (row,) = csv.DictReader(stream)
    assert row["url"] == "http://ann:***@a.example/"
    assert (row["title_a"], row["title_b"]) == ("'=1+1", "'=2+2")


def test_an_unknown_run_is_a_plain_error(store):
    run_a = record(store, [])
    with pytest.raises(StoreError, match="there is no run 42"):
        diff_runs(store, run_a, 42)
