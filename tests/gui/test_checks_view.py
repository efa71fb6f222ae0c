"""A redirect map checked in the window against a loopback server with every kind of pass and
fail: the Check and First answer columns, the "Checks failed" and "Redirected" filters, the
Errors panel grouping failed checks by what failed, the details pane, and the status line,
panel and exported CSV all counting the same."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
from aiohttp import web
from PySide6.QtCore import Qt

from app.core.settings import Settings
from app.gui.check_groups import CHECK_INFO, CheckGroup
from app.gui.errors_model import group_title
from app.gui.failure_details import failure_details
from app.gui.main_window import MainWindow
from app.gui.results_model import COL_CHECK, COL_FIRST, COL_OUTCOME
from tests.servers import ReservedPort, ThreadedServer

pytestmark = pytest.mark.timeout(90)


def redirect_map_app() -> web.Application:
    def to(location: str, status: int = 301):
        async def handler(request: web.Request) -> web.StreamResponse:
            return web.Response(status=status, headers={"Location": location})
        return handler

    async def page(request: web.Request) -> web.StreamResponse:
        return web.Response(text=f"<title>{request.path}</title>", content_type="text/html")

    async def gone(request: web.Request) -> web.StreamResponse:
        return web.Response(status=410, text="gone")

    app = web.Application()
    app.add_routes([
        web.get("/old/permanent", to("/new/permanent")),
        web.get("/old/308", to("/new/p308", 308)),
        web.get("/old/slash", to("/new/slash/")),
        web.get("/old/temporary", to("/new/temporary", 302)),
        web.get("/old/wrong", to("/new/elsewhere")),
        web.get("/old/chain", to("/hop")),
        web.get("/hop", to("/new/chain")),
        web.get("/old/missing-target", to("/new/missing")),
        web.get("/old/stays", page),
        web.get("/old/loop", to("/old/loop-2")),
        web.get("/old/loop-2", to("/old/loop")),
        web.get("/gone", gone),
        web.get("/plain", page),
        *(web.get(f"/new/{name}", page) for name in (
            "permanent", "p308", "slash/", "temporary", "elsewhere", "right", "chain")),
    ])
    return app


# (old, new, type, the check it must get, its check code)
MAP = [
    ("/old/permanent", "/new/permanent", "301", "pass", "ok"),
    ("/old/308", "{base}/new/p308", "308", "pass", "ok"),
    ("/old/slash", "/new/slash", "301", "pass", "ok"),  # a trailing slash does not matter
    ("/gone", "", "410", "pass", "ok"),
    ("/old/temporary", "/new/temporary", "301", "fail", "wrong_status"),
    ("/old/wrong", "/new/right", "", "fail", "wrong_target"),
    ("/old/chain", "/new/chain", "301", "fail", "chain"),
    ("/old/missing-target", "/new/missing", "301", "fail", "target_status"),
    ("/old/stays", "/new/right", "", "fail", "no_redirect"),
    ("/old/loop", "/new/anywhere", "", "fail", "broken_chain"),
    ("/old/bad-expected", "new-page", "", "fail", "bad_expected"),
    ("{closed}/old", "/new/x", "301", "fail", "no_answer"),
    ("not a url", "/new/x", "", "fail", "invalid"),
    ("/plain", "", "", "", ""),  # expects nothing: not checked
    ("/old/permanent", "/new/permanent", "301", "pass", "ok"),  # fetched once, checked again
]


@pytest.fixture(scope="module")
def site():
    with ReservedPort() as closed:
        server = ThreadedServer(redirect_map_app())
        with server:
            server.closed = f"http://127.0.0.1:{closed.port}"
            yield server


@pytest.fixture
def window(qtbot, loop, monkeypatch, tmp_path):
    monkeypatch.setenv("FETCHDECK_CONFIG_DIR", str(tmp_path / "config"))
    w = MainWindow(Settings(retries=0, timeout=5, connect_timeout=5, max_redirects=5),
                   state_file=tmp_path / "window.json")
    qtbot.addWidget(w)
    w.resize(1400, 900)
    w.show()
    return w


def url_of(site, old: str) -> str:
    if old.startswith("{closed}"):
        return site.closed + old.removeprefix("{closed}")
    return site.url(old) if old.startswith("/") else old


@pytest.fixture
def checked(window, qtbot, site, tmp_path):
    """The map written with the csv module, imported, fetched."""
    path = tmp_path / "redirect-map.csv"
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(["old", "new", "type"])
        for old, new, kind, _, _ in MAP:
            writer.writerow([url_of(site, old), new.format(base=site.base_url), kind])
    task = window.load_path(path)
    qtbot.waitUntil(task.done)
    assert "expected statuses from 'type'" in window.form.big_label.text()
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        qtbot.mouseClick(window.fetch_button, Qt.MouseButton.LeftButton)
    window.error_panel.flush()
    return window


def cells(window, column):
    return [window.model.cell_text(i, column) for i in range(len(window.model))]


def test_every_row_gets_the_check_its_answer_deserves(checked):
    window = checked
    results = [window.model.result(i) for i in range(len(window.model))]
    assert [(r.check, r.check_code or "") for r in results] == [(m[3], m[4] if m[3] else "")
                                                                for m in MAP]
    assert cells(window, COL_CHECK) == [m[3] for m in MAP]
    assert not window.table.isColumnHidden(COL_CHECK)
    tip = window.model.data(window.model.index(4, COL_CHECK), Qt.ItemDataRole.ToolTipRole)
    assert "fail: first answer 302, expected 301" in tip


def test_the_first_answer_is_shown_next_to_the_final_one(checked):
    first = cells(checked, COL_FIRST)
    assert first[0] == "301 permanent → 200"
    assert first[1] == "308 permanent → 200"
    assert first[3] == "410"
    assert first[4] == "302 temporary → 200"
    assert first[7] == "301 permanent → 404"
    assert first[9] == "301 permanent → never ends"
    assert first[11] == first[12] == ""  # no answer; not a URL
    assert first[13] == "200"
    header = checked.table.horizontalHeader()
    assert header.visualIndex(COL_FIRST) + 1 == header.visualIndex(3)  # then Status
    assert header.visualIndex(COL_CHECK) == header.visualIndex(COL_OUTCOME) + 1


def test_the_filters_show_failed_checks_and_redirected_rows(checked, qtbot):
    window = checked
    combo = window.outcome_filter
    failing = [i for i, m in enumerate(MAP) if m[3] == "fail"]
    with qtbot.waitSignal(window.model.arranged):
        combo.setCurrentIndex(combo.findText("Checks failed"))
    assert [window.model.index_at(r) for r in range(window.model.rowCount())] == failing
    with qtbot.waitSignal(window.model.arranged):
        combo.setCurrentIndex(combo.findText("Redirected"))
    shown = [window.model.index_at(r) for r in range(window.model.rowCount())]
    assert shown == [0, 1, 2, 4, 5, 6, 7, 9, 14]


def test_the_errors_panel_groups_failed_checks_by_what_failed(checked):
    panel = checked.error_panel
    expected = Counter(m[4] for m in MAP if m[3] == "fail")
    assert panel.model.check_counts() == dict(expected)
    titles = [panel.model.group_index(CheckGroup(code)).data() for code in expected]
    assert group_title(CheckGroup("wrong_status"), 1) in titles
    assert "Check failed: Redirected to the wrong place (1)" in titles
    assert "Check failed: Redirect chain broken (1)" in titles
    assert "Check failed: No answer to check (1)" in titles
    # Failures are counted apart: the unanswered row and the 404 target are also failures.
    summary = panel.summary_text()
    assert summary.endswith(f", {sum(expected.values())} checks failed")
    (entry,) = panel.model.entries(CheckGroup("wrong_target"))
    text = failure_details(entry, panel.model.masker)
    assert "Check:       failed: Redirected to the wrong place [wrong_target]" in text
    assert f"ended at {checked.model.result(5).final_url}, expected" in text
    assert "First answer:301 permanent → 200" in text


def test_the_status_line_the_panel_and_the_csv_count_the_same(checked, qtbot, tmp_path):
    window = checked
    failing = sum(1 for m in MAP if m[3] == "fail")
    assert f"{failing} checks failed" in window.progress_label.text()
    assert window.error_panel.model.check_count() == failing
    path = tmp_path / "out.csv"
    with qtbot.waitSignal(window.export_finished, timeout=10_000) as done:
        window.export_csv(str(path))
    assert done.args[1] == ""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert Counter(r["check"] for r in rows)["fail"] == failing
    assert [r["check"] for r in rows] == cells(window, COL_CHECK)
    assert rows[0]["first_status"] == "301" and rows[4]["first_status"] == "302"


def test_selecting_a_row_shows_its_check_in_the_details_and_the_panel(checked, qtbot):
    window = checked
    window.select_row(5)
    assert window.details.text_of("check").startswith("fail: ended at ")
    assert window.details.text_of("first") == "301 permanent → 200"
    current = window.error_panel.tree.currentIndex()
    entry = window.error_panel.model.entry(window.error_panel.proxy.mapToSource(current))
    assert entry is not None and entry.is_check and entry.row == 5
    window.select_row(0)
    assert window.details.text_of("check").startswith("pass: reached the target")


def test_the_check_column_hides_for_a_list_that_expects_nothing(window, qtbot, site):
    window.form.set_text(site.url("/plain"))
    with qtbot.waitSignal(window.run_finished, timeout=30_000):
        window.start_run()
    assert window.table.isColumnHidden(COL_CHECK)
    assert cells(window, COL_FIRST) == ["200"]
    assert all(name in CHECK_INFO for name in (m[4] for m in MAP if m[3] == "fail"))
