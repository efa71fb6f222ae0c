"""The results model, tested without a view: rows per input line, batched change signals, and
display/sort values a user sees."""

from __future__ import annotations

from PySide6.QtCore import Qt

from app.core.errors import Failure, Kind
from app.core.redact import PLAIN
from app.core.result import Outcome, Result
from app.core.targets import TargetList
from app.gui.results_model import (
    COL_ERROR_KIND,
    COL_LINE,
    COL_OUTCOME,
    COL_SIZE,
    COL_STATUS,
    COL_URL,
    ResultsModel,
)

DISPLAY = Qt.ItemDataRole.DisplayRole


def model_with(text: str) -> ResultsModel:
    model = ResultsModel()
    model.reset_rows(TargetList.from_text(text))
    return model


def cell(model, row, col, role=DISPLAY):
    return model.data(model.index(row, col), role)


def test_rows_exist_as_queued_from_the_start(qapp):
    model = model_with("https://a.example/\n\n# x\nhttps://b.example/\n")
    assert model.rowCount() == 2
    assert cell(model, 1, COL_LINE) == "4"
    assert cell(model, 1, COL_URL) == "https://b.example/"
    assert cell(model, 0, COL_OUTCOME) == "queued"


def test_stored_results_are_announced_once_per_flush(qapp, qtbot):
    model = model_with("\n".join(f"https://h.example/{i}" for i in range(100)))
    changes = []
    model.dataChanged.connect(lambda top, bottom: changes.append((top.row(), bottom.row())))
    for i in (5, 70, 30):
        model.store(Result.of(i, i + 1, f"https://h.example/{i}", Outcome.OK, status=200,
                              bytes=2048))
    assert changes == []
    model.flush()
    assert changes == [(5, 70)]
    model.flush()
    assert changes == [(5, 70)]
    assert cell(model, 70, COL_STATUS) == "200"
    assert cell(model, 70, COL_SIZE) == "2.0 KiB"


def test_sort_role_orders_numbers_as_numbers_and_queued_last(qapp):
    model = model_with("\n".join(f"https://h.example/{i}" for i in range(3)))
    model.store(Result.of(0, 1, "u", Outcome.OK, status=200))
    model.store(Result.of(1, 2, "u", Outcome.HTTP_ERROR, status=1000 // 2,
                       failure=Failure(Kind.HTTP_5XX, "HTTP 500")))
    keys = [cell(model, r, COL_STATUS, ResultsModel.SortRole) for r in range(3)]
    assert keys[0] < keys[1] < keys[2]
    assert cell(model, 1, COL_ERROR_KIND) == "http_5xx"


def test_passwords_are_masked_unless_turned_off(qapp):
    model = model_with("https://ann:secret@h.example/")
    assert cell(model, 0, COL_URL) == "https://ann:***@h.example/"
    model.set_redactor(PLAIN)
    assert cell(model, 0, COL_URL) == "https://ann:secret@h.example/"


def test_requeue_shows_rows_queued_again(qapp):
    model = model_with("https://a.example/")
    model.store(Result.of(0, 1, "https://a.example/", Outcome.FAILED,
                       failure=Failure(Kind.REFUSED, "refused")))
    model.requeue([0])
    assert cell(model, 0, COL_OUTCOME) == "queued"
    assert list(model.results()) == []


def test_server_text_in_tooltips_is_shown_literally(qapp):
    from app.gui.results_model import COL_ERROR

    model = model_with("https://a.example/")
    model.store(Result.of(0, 1, "https://a.example/", Outcome.HTTP_ERROR, status=500,
                       reason="<b>bold</b>",
                       failure=Failure(Kind.HTTP_5XX, "HTTP 500 <b>bold</b>")))
    tip = cell(model, 0, COL_ERROR, Qt.ItemDataRole.ToolTipRole)
    assert "&lt;b&gt;bold&lt;/b&gt;" in tip and "<b>" not in tip


def filled_model(n=6):
    from app.core.errors import Failure as F

    model = model_with("\n".join(f"https://h{i}.example/" for i in range(n)))
    statuses = [200, 404, None, 500, 200, None]
    for i in range(n):
        status = statuses[i % len(statuses)]
        if status is None:
            model.store(Result.of(i, i + 1, "u", Outcome.FAILED,
                               failure=F(Kind.REFUSED, "Connection refused")))
        elif status >= 400:
            model.store(Result.of(i, i + 1, "u", Outcome.HTTP_ERROR, status=status,
                               failure=F(Kind.HTTP_4XX, f"HTTP {status}")))
        else:
            model.store(Result.of(i, i + 1, "u", Outcome.OK, status=status, elapsed_ms=float(i)))
    model.flush()
    return model


def shown(model):
    return [model.index_at(r) for r in range(model.rowCount())]


def arrange(qtbot, model, action):
    """Sorting and filtering finish in a worker thread: wait for the model to say so."""
    with qtbot.waitSignal(model.arranged, timeout=5_000):
        action()


def test_sorting_orders_rows_and_maps_both_ways(qtbot, loop):
    model = filled_model()
    arrange(qtbot, model, lambda: model.sort(COL_STATUS, Qt.SortOrder.DescendingOrder))
    assert [model.result(i).status for i in shown(model)][:4] == [None, None, 500, 404]
    assert all(model.row_of(i) == r for r, i in enumerate(shown(model)))
    arrange(qtbot, model, lambda: model.sort(COL_LINE, Qt.SortOrder.AscendingOrder))
    assert shown(model) == list(range(6))


def test_filters_by_outcome_and_text(qtbot, loop):
    from app.gui.results_model import RowFilter

    model = filled_model()
    arrange(qtbot, model, lambda: model.set_filter(RowFilter(outcomes=frozenset({Outcome.FAILED}))))
    assert shown(model) == [2, 5]
    assert model.row_of(0) is None
    arrange(qtbot, model, lambda: model.set_filter(RowFilter(text="H3.EXAMPLE")))
    assert shown(model) == [3]
    arrange(qtbot, model, lambda: model.set_filter(RowFilter(text="refused")))
    assert shown(model) == [2, 5]
    arrange(qtbot, model, lambda: model.set_filter(RowFilter()))
    assert model.rowCount() == 6


def test_a_selection_follows_its_row_through_a_sort(qtbot, loop):
    from PySide6.QtCore import QPersistentModelIndex

    model = filled_model()
    kept = QPersistentModelIndex(model.index(3, 0))
    arrange(qtbot, model, lambda: model.sort(COL_STATUS, Qt.SortOrder.DescendingOrder))
    assert model.index_at(kept.row()) == 3


def test_typed_filter_terms_pick_a_status_or_a_host(qapp):
    from app.gui.results_model import RowFilter

    parsed = RowFilter.parse("login status:404 host:B.example")
    assert parsed == RowFilter("login", frozenset(), 404, "b.example")
    model = ResultsModel()
    model.reset_rows(TargetList.from_text("https://a.example/x\nhttps://b.example/login\n"
                                          "https://b.example/y"))
    model.store(Result.of(0, 1, "https://a.example/x", Outcome.HTTP_ERROR, status=404))
    model.store(Result.of(1, 2, "https://b.example/login", Outcome.HTTP_ERROR, status=404))
    model.store(Result.of(2, 3, "https://b.example/y", Outcome.OK, status=200))
    model.flush()
    kept = model._matcher(RowFilter.parse("status:404 host:b.example"))
    assert [i for i in range(3) if kept(i, model.result(i))] == [1]
    kept = model._matcher(RowFilter.parse("host:b.example"))
    assert [i for i in range(3) if kept(i, model.result(i))] == [1, 2]


def test_first_answer_reads_as_a_migration_reviewer_reads_it(qapp):
    from app.core.result import Hop
    from app.gui.results_model import first_answer, was_redirected

    followed = Result.of(0, 1, "http://a/", Outcome.OK, status=200, redirects=1, first_status=301,
                         chain=(Hop(301, "http://a/"), Hop(200, "http://b/")))
    not_followed = Result.of(0, 1, "http://a/", Outcome.OK, status=302, first_status=302)
    plain = Result.of(0, 1, "http://a/", Outcome.OK, status=200, first_status=200)
    not_modified = Result.of(0, 1, "http://a/", Outcome.OK, status=304, first_status=304)
    nothing = Result.of(0, 1, "http://a/", Outcome.FAILED,
                        Failure.plain(Kind.REFUSED, "refused"))
    assert first_answer(followed) == "301 permanent → 200"
    assert first_answer(not_followed) == "302 temporary (not followed)"
    assert first_answer(plain) == "200" and first_answer(not_modified) == "304"
    assert first_answer(nothing) == ""
    assert [was_redirected(r) for r in (followed, not_followed, plain, not_modified, nothing)] \
        == [True, True, False, False, False]


def test_filters_for_failed_checks_and_redirects_need_no_view(qtbot, loop):
    from app.gui.results_model import CHECKS_FAILED, REDIRECTED, RowFilter

    model = model_with("\n".join(f"https://h.example/{i}" for i in range(3)))
    model.store(Result.of(0, 1, "https://h.example/0", Outcome.OK, status=200, first_status=200,
                          check="fail", check_reason="did not redirect", check_code="no_redirect"))
    model.store(Result.of(1, 2, "https://h.example/1", Outcome.OK, status=301, first_status=301,
                          check="pass", check_reason="answered 301, as expected"))
    model.flush()
    arrange(qtbot, model, lambda: model.set_filter(RowFilter(only=CHECKS_FAILED)))
    assert [model.index_at(r) for r in range(model.rowCount())] == [0]
    arrange(qtbot, model, lambda: model.set_filter(RowFilter(only=REDIRECTED)))
    assert [model.index_at(r) for r in range(model.rowCount())] == [1]
    arrange(qtbot, model, lambda: model.set_filter(RowFilter(text="did not redirect")))
    assert [model.index_at(r) for r in range(model.rowCount())] == [0]
