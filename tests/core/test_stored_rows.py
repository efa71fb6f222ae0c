"""A stored run read a page at a time is the run read whole; its sort orders and filters,
asked of the file, are those of its results."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.result import Outcome, Result
from app.core.store import RunStore
from app.core.stored_rows import PAGE_ROWS, StoredRows
from tests.core.test_store import everything
from tests.servers import ReservedPort
from tests.stored_runs import record_fetched, varied_site, varied_urls

COUNT = 2_500


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory):
    db = tmp_path_factory.mktemp("stored") / "runs.sqlite3"
    with varied_site() as site, ReservedPort() as refused:
        run_id, results, targets = record_fetched(db, varied_urls(site, refused, COUNT))
    with RunStore.open(db) as store:
        stored = list(store.results(run_id))
    return db, run_id, stored, targets


def same(a: Result | None, b: Result | None, details: bool = True) -> bool:
    if a is None or b is None:
        return a is b
    want = everything(b)
    if not details:
        want["details"] = None
    return everything(a) == want


def test_rows_read_a_page_at_a_time_are_the_run_read_whole(run):
    db, run_id, stored, _ = run
    rows = StoredRows(db, run_id, COUNT)
    assert len(rows) == COUNT
    # From the end backwards and jumping about: every page read on demand, some evicted.
    order = [*range(COUNT - 1, -1, -PAGE_ROWS // 3), *range(0, COUNT, 7)]
    assert all(same(rows[i], stored[i]) for i in order)
    assert any(r.details for r in stored)
    # The whole run in order, as an export reads it: without headers and previews.
    assert all(same(a, b, details=False) for a, b in zip(rows, stored, strict=True))
    assert rows[-1].index == COUNT - 1 and [r.index for r in rows[3:6]] == [3, 4, 5]
    with pytest.raises(IndexError):
        rows[COUNT]
    rows.close()


def test_a_newer_result_is_kept_over_the_stored_one_and_a_snapshot_keeps_its_own(run):
    db, run_id, stored, _ = run
    rows = StoredRows(db, run_id, COUNT)
    rows[5] = stored[9]
    rows[6] = None  # queued again (a retry is about to fetch it)
    snapshot = rows.snapshot()
    rows[7] = None
    assert rows[5] is stored[9] and rows[6] is None and rows[7] is None
    assert not rows.as_stored
    kept = list(snapshot)
    assert kept[5] is stored[9] and kept[6] is None and same(kept[7], stored[7], False)
    assert dict(rows.items())[8] is not None
    with pytest.raises(IndexError):
        rows[COUNT] = stored[0]


def test_a_run_without_every_result_is_not_as_stored(run, tmp_path):
    db, run_id, stored, _ = run
    rows = StoredRows(db, run_id, COUNT + 3)  # three lines the run never finished
    assert not rows.as_stored
    assert [i for i, r in rows.items() if r is None] == [COUNT, COUNT + 1, COUNT + 2]
    assert StoredRows(db, run_id, COUNT).as_stored


def python_order(stored: list[Result], key, descending: bool) -> list[int]:
    """What ResultsModel computes in memory: a stable sort, missing numbers after all."""
    missing = float("inf")
    keys = [key(r) for r in stored]
    keys = [missing if k is None else k for k in keys]
    return sorted(range(len(stored)), key=keys.__getitem__, reverse=descending)


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize(("name", "key"), [
    ("status", lambda r: r.status), ("elapsed_ms", lambda r: r.elapsed_ms),
    ("bytes", lambda r: r.bytes), ("redirects", lambda r: r.redirects),
    ("attempts", lambda r: r.attempts), ("line", lambda r: r.line),
])
def test_numeric_sort_orders_are_those_of_the_results(run, name, key, descending):
    db, run_id, stored, _ = run
    assert list(StoredRows(db, run_id, COUNT).order(name, descending)) == \
        python_order(stored, key, descending)


@pytest.mark.parametrize("descending", [False, True], ids=["ascending", "descending"])
@pytest.mark.parametrize(("name", "key", "text"), [
    ("title", lambda r: r.title.lower(), str.lower),
    ("error", lambda r: r.error.lower(), str.lower),
    ("error_kind", lambda r: r.error_kind, None),
    ("outcome", lambda r: r.outcome.value, None),
    ("content_type", lambda r: r.content_type.split(";")[0], lambda v: v.split(";")[0]),
    ("final_url_if_redirected", lambda r: r.final_url if r.redirects else "", None),
])
def test_text_sort_orders_are_those_of_the_results(run, name, key, text, descending):
    db, run_id, stored, _ = run
    assert list(StoredRows(db, run_id, COUNT).order(name, descending, text)) == \
        python_order(stored, key, descending)


def test_filters_keep_the_rows_the_results_say(run):
    db, run_id, stored, targets = run
    rows = StoredRows(db, run_id, COUNT)

    def kept(**where) -> list[int]:
        return [i for i, k in enumerate(rows.matching(**where)) if k]

    failures = frozenset({Outcome.HTTP_ERROR, Outcome.FAILED, Outcome.INVALID})
    assert kept(outcomes=failures) == [r.index for r in stored if r.outcome in failures]
    assert kept(status=404) == [r.index for r in stored if r.status == 404]
    assert kept(redirected=True) == [r.index for r in stored if r.redirects]
    assert kept(redirected=True) and kept(status=404)
    for text in ("ünïcode", "ALPHA 1", "localhost", "refused", "404", "a, c", "gone/", "nope"):
        want = [r.index for r in stored
                if text.lower() in targets.texts[r.index].lower()
                or any(text.lower() in v.lower() for v in (
                    r.error, r.title, str(r.status or ""), r.final_url, r.check_reason))]
        assert want and kept(text=text, urls=targets.texts) == want, text
    assert kept(outcomes=frozenset({Outcome.OK}), text="beta", urls=targets.texts) == [
        r.index for r in stored if r.outcome is Outcome.OK and "beta" in r.title.lower()]


def test_indexes_of_outcomes_count_newer_results_and_lines_without_one(run):
    db, run_id, stored, _ = run
    rows = StoredRows(db, run_id, COUNT + 2)
    ok = [r.index for r in stored if r.outcome is Outcome.OK]
    rows[ok[0]] = None
    assert rows.indexes_where(frozenset({Outcome.PENDING})) == [ok[0], COUNT, COUNT + 1]
    assert rows.indexes_where(frozenset({Outcome.OK})) == ok[1:]


def test_a_missing_file_is_a_store_error(tmp_path: Path):
    from app.core.store import StoreError

    rows = StoredRows(tmp_path / "gone.sqlite3", 1, 10)
    with pytest.raises(StoreError):
        rows[0]
    with pytest.raises(StoreError):
        rows.order("status")
