"""A stored run read a page at a time is the run read whole; its sort orders and filters,
asked of the file, are those of its results."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.result import Outcome, Result
from app.core.settings import Settings
from app.core.store import RunStore
from app.core.stored_rows import PAGE_ROWS, LiveRows, StoredRows
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


# -- a run going now: rows held until the writer has committed them ----------------------------


def write_live(db: Path, targets, results: list[Result], rows: LiveRows) -> int:
    """Record ``results`` with the real writer; ``rows`` let go of each batch as it is
    committed, as the window's table does (there, on the GUI thread)."""
    committed: list[list[Result]] = []
    with RunStore.open(db) as store:
        writer = store.start_run(source="live", settings=Settings(), inputs=targets,
                                 on_written=committed.append)
        rows.attach(db, writer.run_id)
        for result in results:
            rows[result.index] = result
            writer.add(result)
        writer.close()
        assert writer.join(30) and writer.error is None
    assert sum(map(len, committed)) == len(results)
    for batch in committed:
        rows.evict(batch)
    return writer.run_id


def test_live_rows_hold_results_until_written_then_read_them_from_the_file(run, tmp_path):
    _, _, stored, targets = run
    rows = LiveRows(COUNT)
    assert rows[0] is None and rows.cached(COUNT - 1) == (True, None)  # queued, nothing read
    assert [i for i, r in rows.items() if r is not None] == []
    firsts = stored[:100]
    for result in firsts:
        rows[result.index] = result
    assert rows.held == 100 and rows[42] is stored[42] and not rows.as_stored
    assert rows.indexes_where(frozenset({Outcome.PENDING})) == list(range(100, COUNT))
    with pytest.raises(ValueError, match="attached"):
        rows.evict(firsts)

    db = tmp_path / "live.sqlite3"
    run_id = write_live(db, targets, stored, rows)
    assert rows.held == 0 and rows.as_stored and rows.run_id == run_id
    # Every row now comes from the file, equal to the result it was before.
    assert all(same(rows[i], stored[i]) for i in range(0, COUNT, 3))
    assert all(same(a, b, details=False) for a, b in zip(rows, stored, strict=True))
    with rows.file_results() as from_file:
        assert from_file is not None
        assert [r.index for r in from_file] == list(range(COUNT))
    with pytest.raises(ValueError, match="run"):
        rows.attach(db, run_id + 1)
    rows.close()


def test_a_newer_result_survives_the_eviction_of_the_older_one(run, tmp_path):
    _, _, stored, targets = run
    rows = LiveRows(COUNT)
    db = tmp_path / "live.sqlite3"
    newer = stored[9]
    with RunStore.open(db) as store:
        writer = store.start_run(source="live", settings=Settings(), inputs=targets)
        rows.attach(db, writer.run_id)
        for result in stored:
            rows[result.index] = result
            writer.add(result)
        writer.close()
        assert writer.join(30)
    rows[5] = newer  # a retry's result arrived after the first one was written
    rows[6] = None  # queued again
    snapshot = rows.snapshot()
    rows.evict(stored)
    assert rows[5] is newer and rows[6] is None and rows.held == 2
    assert same(rows[7], stored[7]) and not rows.as_stored
    kept = list(snapshot)  # as the rows were: row 7 still held then
    assert kept[5] is newer and kept[6] is None and kept[7] is stored[7]
    with rows.file_results() as from_file:
        assert from_file is None  # two rows are newer than the file's: iterate the rows


class EvictedWhileRead(StoredRows):
    """Stored rows whose page read sees another thread evict a row of the page mid-read
    (the writer committed it just after the read's transaction began)."""

    during_read: list[Result] = []

    def _read_page(self, number: int) -> list[Result | None]:
        page = super()._read_page(number)
        if self.during_read:
            self.evict(self.during_read)
            self.during_read = []
        return page


def test_a_page_read_as_its_rows_reached_the_file_is_not_kept(run):
    db, run_id, stored, _ = run
    rows = EvictedWhileRead(db, run_id, COUNT)
    rows[3] = stored[3]
    rows.during_read = [stored[3]]
    rows.read_pages([0])
    assert rows.cached(4) == (False, None)  # the page is read again when shown, not kept
    assert rows.cached(3) == (True, stored[3])  # the row let go still shows its result
    rows.read_pages([0])
    found, result = rows.cached(4)
    assert found and same(result, stored[4])


def test_a_row_let_go_never_blanks_while_its_page_is_read_again(run, tmp_path):
    """Rows near the run's frontier are painted every tick: letting them go must not leave
    a row with nothing to show until a page read comes back."""
    _, _, stored, targets = run
    rows = LiveRows(COUNT)
    db = tmp_path / "live.sqlite3"
    with RunStore.open(db) as store:
        writer = store.start_run(source="live", settings=Settings(), inputs=targets)
        rows.attach(db, writer.run_id)
        firsts = stored[:PAGE_ROWS // 2]  # half of page 0 written: the page is read now
        for result in firsts:
            rows[result.index] = result
            writer.add(result)
        writer.close()
        assert writer.join(30)
    rows.evict(firsts)
    rows.read_pages([0, 1])
    assert rows.cached(PAGE_ROWS - 1) == (True, None)  # queued: no read
    later = [stored[PAGE_ROWS - 1], stored[PAGE_ROWS + 1]]  # in cached pages 0 and 1
    for result in later:
        rows[result.index] = result
    rows.evict(later)  # (as if written: the pages keep them)
    assert rows.cached(PAGE_ROWS - 1) == (True, later[0])
    assert rows.cached(PAGE_ROWS + 1) == (True, later[1])
    far = stored[COUNT - 1]  # its page never read: kept until it is
    rows[far.index] = far
    rows.evict([far])
    assert rows.cached(far.index) == (True, far)
    refused = Result.of(COUNT + 5, COUNT + 6, "http://a.example/", Outcome.OK)
    rows.evict([refused])  # a row the table refused (out of range) is no row's
    rows.close()
