"""What the command line and the window share about the run history: a stored run's list, the
settings a resume uses, what it fetches, which run "the last interrupted one" or "the previous
run of this list" is, and writing rows as CSV, JSON Lines or XLSX. Real SQLite files."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
from array import array
from pathlib import Path

import openpyxl
import pytest

from app.core.history import (
    compare_runs,
    export_format,
    export_list,
    interrupted_last_run,
    plan_resume,
    previous_run_of,
    resumable_run,
    run_settings,
    stored_list,
    unfinished_count,
    write_results,
)
from app.core.result import Outcome, Result
from app.core.settings import Settings
from app.core.store import Ended, RunStore, StoreError
from app.core.targets import TargetList

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def store(tmp_path: Path):
    with RunStore.open(tmp_path / "runs.sqlite3") as opened:
        yield opened


def urls(count: int, host: str = "a.example") -> list[str]:
    return [f"http://{host}/{n}" for n in range(count)]


def record(store: RunStore, targets: TargetList, results, *, ended=Ended.FINISHED,
           settings=None, source="pasted") -> int:
    writer = store.start_run(source=source, settings=settings or Settings(), inputs=targets,
                             columns=targets.columns)
    for result in results:
        writer.add(result)
    writer.close(ended)
    assert writer.join(10) and writer.error is None
    return writer.run_id


def ok(index: int, url: str, title: str = "", status: int = 200) -> Result:
    outcome = Outcome.OK if status < 400 else Outcome.HTTP_ERROR
    return Result.of(index, index + 1, url, outcome, status=status, title=title or url,
                     final_url=url)


def test_a_stored_list_has_its_lines_expectations_and_imported_columns(store):
    targets = TargetList(urls(3), array("L", [2, 5, 9]), expected=["http://b/", None, None],
                         expected_status=[301, None, 404], columns=("owner", "note"),
                         extra=[("ann", "x"), ("bob", ""), ("cy", "z")])
    run_id = record(store, targets, [])
    again = stored_list(store, run_id)
    assert (again.texts, list(again.lines)) == (urls(3), [2, 5, 9])
    assert again.expected == ["http://b/", None, None]
    assert again.expected_status == [301, None, 404]
    assert again.columns == ("owner", "note")
    assert again.extra == [("ann", "x"), ("bob", ""), ("cy", "z")]


def test_an_export_reads_the_list_only_when_its_lines_carry_more_than_text(store):
    plain = record(store, TargetList(urls(3), array("L", [1, 2, 3])), [])
    assert export_list(store, plain) is None
    mapped = record(store, TargetList(urls(2), array("L", [1, 2]), expected=[None, "/new"]), [])
    listed = export_list(store, mapped)
    assert listed is not None and listed.expected == [None, "/new"]
    with_columns = record(store, TargetList(urls(1), array("L", [1]), columns=("owner",),
                                            extra=[("ann",)]), [])
    assert export_list(store, with_columns).extra == [("ann",)]


def test_run_settings_are_the_runs_own_without_its_secrets(store):
    used = Settings(timeout=7, retries=4, auth="me:pw", proxy="http://u:secret@proxy:3128",
                    headers=(("X-Api-Key", "k"), ("Accept", "text/html")), db_path="/elsewhere")
    run_id = record(store, TargetList.from_lines(urls(1)), [], settings=used)
    current = Settings(db_path="/here", keep_runs=True)
    found = run_settings(store, run_id, current)
    assert (found.settings.timeout, found.settings.retries) == (7, 4)
    assert found.settings.auth is None and found.settings.proxy is None
    assert found.settings.headers == (("Accept", "text/html"),)
    assert found.settings.db_path == "/here"  # where the history is: this Fetchdeck's
    assert found.missing == ("auth", "proxy", "headers") and found.problems == ()
    given = run_settings(store, run_id, current, {"auth": "me:pw", "timeout": 3})
    assert given.settings.auth == "me:pw" and given.settings.timeout == 3
    assert given.missing == ("proxy", "headers")


def test_a_resume_plan_lists_the_lines_with_no_result_or_a_cancelled_one(store):
    targets = TargetList.from_lines(urls(5))
    results = [ok(0, targets.texts[0]),
               Result.of(1, 2, targets.texts[1], Outcome.CANCELLED),
               ok(3, targets.texts[3], status=500)]
    run_id = record(store, targets, results, ended=Ended.CANCELLED)
    plan = plan_resume(store, run_id)
    assert plan.unfinished == [1, 2, 4]
    assert plan.targets.texts == targets.texts
    assert unfinished_count(plan.run) == 3


def test_a_run_still_being_written_cannot_be_resumed(store):
    writer = store.start_run(source="pasted", settings=Settings(),
                             inputs=TargetList.from_lines(urls(2)))
    try:
        with pytest.raises(StoreError, match="still running"):
            plan_resume(store, writer.run_id)
    finally:
        writer.close()
        writer.join(10)


def test_the_runs_a_user_means(store):
    lines = TargetList.from_lines(urls(2))
    a = record(store, lines, [ok(0, lines.texts[0]), ok(1, lines.texts[1])], source="list.txt")
    b = record(store, lines, [ok(0, lines.texts[0])], source="other.txt",
               ended=Ended.CANCELLED)
    c = record(store, lines, [ok(0, lines.texts[0]), ok(1, lines.texts[1])], source="list.txt")
    assert resumable_run(store).id == b
    assert interrupted_last_run(store) is None  # the last run finished
    assert previous_run_of(store, c).id == a
    assert previous_run_of(store, a) is None
    assert previous_run_of(store, b) is None


def test_the_last_run_killed_mid_run_is_the_interrupted_one(store, tmp_path):
    script = ("import sys, time\n"
              "from app.core.settings import Settings\n"
              "from app.core.store import RunStore\n"
              "from app.core.targets import TargetList\n"
              "store = RunStore.open(sys.argv[1])\n"
              "w = store.start_run(source='killed', settings=Settings(),\n"
              "                    inputs=TargetList.from_lines(['http://a/1', 'http://a/2']))\n"
              "while store.stored_inputs(w.run_id) < 2: time.sleep(0.01)\n"
              "print(w.run_id, flush=True)\n"
              "time.sleep(600)\n")
    proc = subprocess.Popen([sys.executable, "-c", script, str(store.path)], cwd=REPO,
                            stdout=subprocess.PIPE, text=True)
    try:
        run_id = int(proc.stdout.readline())
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        proc.stdout.close()
    info = interrupted_last_run(store)
    assert info is not None and info.id == run_id and info.ended is Ended.INTERRUPTED
    assert resumable_run(store).id == run_id
    assert plan_resume(store, run_id).unfinished == [0, 1]


def test_export_format_follows_the_name_or_the_extension():
    assert [export_format(p) for p in ("a.csv", "a.JSONL", "a.ndjson", "a.XLSX", "a", None)] == [
        "csv", "jsonl", "jsonl", "xlsx", "csv", "csv"]
    assert export_format("a.csv", "xlsx") == "xlsx"
    with pytest.raises(ValueError):
        export_format("a.csv", "pdf")


def test_rows_are_written_as_csv_jsonl_and_xlsx_read_back(store, tmp_path):
    targets = TargetList(urls(2), array("L", [1, 2]), columns=("owner",),
                         extra=[("ann",), ("=bob",)])
    results = [ok(0, targets.texts[0], "=SUM(A1)"), ok(1, targets.texts[1], status=404)]
    run_id = record(store, targets, results)
    stored = list(store.results(run_id))
    listed = stored_list(store, run_id)
    assert write_results(tmp_path / "r.csv", stored, Settings(), targets=listed) == 2
    with (tmp_path / "r.csv").open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [(r["url"], r["status"], r["title"], r["owner"]) for r in rows] == [
        (targets.texts[0], "200", "'=SUM(A1)", "ann"), (targets.texts[1], "404",
                                                         targets.texts[1], "'=bob")]
    write_results(tmp_path / "r.jsonl", stored, Settings(), targets=listed)
    records = [json.loads(line) for line in (tmp_path / "r.jsonl").read_text().splitlines()]
    assert [(r["status"], r["title"], r["owner"]) for r in records] == [
        (200, "=SUM(A1)", "ann"), (404, targets.texts[1], "=bob")]
    write_results(tmp_path / "r.xlsx", stored, Settings(), targets=listed)
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx").worksheets[0]
    table = list(sheet.iter_rows(values_only=True))
    header = table[0]
    assert [row[header.index("status")] for row in table[1:]] == [200, 404]
    assert [row[header.index("owner")] for row in table[1:]] == ["ann", "'=bob"]


def test_writing_refuses_the_list_being_fetched(tmp_path):
    from app.core.output import OutputError

    listing = tmp_path / "urls.txt"
    listing.write_text("http://a.example/\n")
    with pytest.raises(OutputError, match="URL list being fetched"):
        write_results(listing, [], Settings(), fmt="jsonl", protect=[listing])
    with pytest.raises(OutputError, match="URL list being fetched"):
        write_results(listing, [], Settings(), fmt="xlsx", protect=[listing])
    assert listing.read_text() == "http://a.example/\n"


def test_a_comparison_keeps_the_first_changes_and_counts_them_all(store):
    lines = TargetList.from_lines(urls(6))
    a = record(store, lines, [ok(i, u) for i, u in enumerate(lines.texts)])
    b = record(store, lines, [ok(i, u, status=500 if i % 2 else 200)
                              for i, u in enumerate(lines.texts)])
    whole = compare_runs(store, a, b)
    assert (whole.compared, whole.changed, len(whole.changes), whole.complete) == (6, 3, 3, True)
    assert whole.counts == {"outcome": 3, "status": 3}
    capped = compare_runs(store, a, b, keep=2)
    assert (capped.changed, len(capped.changes), capped.complete) == (3, 2, False)
    assert capped.counts == whole.counts
