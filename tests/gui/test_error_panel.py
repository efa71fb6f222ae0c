"""The error panel, driven offscreen with real failures: a real Run against loopback servers that
refuse, time out, reset, lie about HTTP and answer with HTML in their reason phrase."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter

import pytest
from aiohttp import web
from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QObject,
    QPersistentModelIndex,
    QPoint,
    Qt,
    QTimer,
    QUrl,
    Slot,
)
from PySide6.QtGui import QDesktopServices, QHelpEvent, QTextDocument
from PySide6.QtWidgets import QApplication, QMainWindow, QPlainTextEdit, QTextEdit, QToolTip

from app.core.curl import curl_command
from app.core.errors import KIND_INFO, Failure, Kind
from app.core.result import Outcome, Result
from app.core.run import Run
from app.core.settings import Settings
from app.core.targets import parse_text
from app.gui.error_panel import ErrorPanel
from app.gui.errors_model import (
    COL_MESSAGE,
    COL_URL,
    GROUP_ORDER,
    ErrorsModel,
    group_title,
)
from app.gui.failure_details import failure_details
from tests.conftest import settle
from tests.servers import RawServers, ReservedPort, ThreadedServer, misbehaving_app

pytestmark = pytest.mark.timeout(120)

EVIL = "<b>bold</b><script>alert(1)</script>"
SETTINGS = Settings(retries=0, timeout=1.0, connect_timeout=1.0)


async def _evil(request: web.Request) -> web.StreamResponse:
    return web.Response(status=500, reason=EVIL, text=f"{EVIL}\n<i>server said so</i>\n",
                        content_type="text/html")


@pytest.fixture(scope="module")
def server():
    app = misbehaving_app()
    app.add_routes([web.get("/evil", _evil)])
    with ThreadedServer(app) as s:
        yield s


@pytest.fixture(scope="module")
def raw():
    with RawServers() as servers:
        yield servers


def fetch(run_async, lines, settings=SETTINGS, cancel_after=None):
    """Run the real core Run over ``lines`` on the Qt loop; results in input order."""
    results: list[Result] = []

    async def go():
        run = Run(parse_text("\n".join(lines)), settings, results.append)
        task = run.start()
        if cancel_after is not None:
            await asyncio.sleep(cancel_after)
            run.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    run_async(go())
    return sorted(results, key=lambda r: r.index)


_REAL: dict[str, dict[str, Result]] = {}


@pytest.fixture
def real(run_async, server, raw) -> dict[str, Result]:
    """One result per situation, by name, fetched once per module: every failure is real."""
    if "by_name" in _REAL:
        return _REAL["by_name"]
    with ReservedPort() as closed:
        named = {
            "ok": server.url("/ok"),
            "refused": closed.url("/refused"),
            "dns": "http://no-such-host.invalid/page",
            "404": server.url("/status/404"),
            "500": server.url("/status/500"),
            "503": server.url("/status/503"),
            "evil": server.url("/evil"),
            "timeout": server.url("/hang"),
            "reset": raw.url("reset", "/reset"),
            "not_http": raw.url("garbage", "/garbage"),
            "truncated": raw.url("truncated", "/truncated"),
            "loop": server.url("/redirect-loop"),
            "unsafe": server.url("/redirect-to?url=ftp://bob:topsecret@files.example/x"),
            "password": server.url("/basic-auth").replace("://", "://alice:s3cretpw@"),
            "invalid": "not a url",
            "ftp": "ftp://files.example/report.csv",
        }
        results = fetch(run_async, named.values())
    by_name = dict(zip(named, results, strict=True))
    cancelled = fetch(run_async, [server.url(f"/hang?c={i}") for i in range(3)],
                      cancel_after=0.3)
    for i, result in enumerate(cancelled):
        by_name[f"cancelled{i}"] = result.replace(index=len(results) + i)
    _REAL["by_name"] = by_name
    return by_name


@pytest.fixture
def panel(qtbot, loop):
    p = ErrorPanel()
    p.set_settings(SETTINGS)
    qtbot.addWidget(p)
    p.resize(1300, 420)
    p.show()
    return p


def csv_counts(results) -> dict[str, int]:
    """What the CSV's error_kind column would tally over rows that are not ok."""
    return dict(Counter(r.error_kind for r in results if r.outcome is not Outcome.OK))


def shown(panel, result: Result):
    """The tree's index (URL column) of the failure of ``result``."""
    index = panel.proxy.mapFromSource(panel.model.index_of(panel.model.entry_for(result.index)))
    assert index.isValid()
    return index


def group_row(panel, kind: Kind):
    return panel.proxy.mapFromSource(panel.model.group_index(kind))


def select(panel, *indexes):
    selection = panel.tree.selectionModel()
    flags = QItemSelectionModel.SelectionFlag
    selection.setCurrentIndex(indexes[0], flags.ClearAndSelect | flags.Rows)
    for index in indexes[1:]:
        selection.select(index, flags.Select | flags.Rows)


# -- the model, without a view -----------------------------------------------------------------


def test_real_failures_are_grouped_by_kind_with_csv_counts(real, qtmodeltester):
    model = ErrorsModel()
    qtmodeltester.check(model)
    results = list(real.values())
    model.update(results)
    expected = csv_counts(results)
    assert model.counts() == expected
    assert expected["refused"] == 1 and expected["cancelled"] == 3
    assert set(expected) >= {"dns", "http_4xx", "http_5xx", "timeout", "reset", "protocol",
                             "truncated", "too_many_redirects", "unsafe_redirect",
                             "invalid_url", "unsupported_scheme"}
    kinds = [Kind(model.index(row, 0).data(Qt.ItemDataRole.UserRole + 2))
             for row in range(model.rowCount())]
    assert kinds == sorted(kinds, key=GROUP_ORDER.index)
    assert kinds[-1] is Kind.CANCELLED
    titles = {model.index(row, 0).data() for row in range(model.rowCount())}
    assert "Connection refused (1)" in titles
    assert "Server error (5xx) (3)" in titles
    assert "Cancelled (3) \u2014 not counted as failures" in titles
    assert model.failure_count() == sum(expected.values()) - 3
    # Any cell of a row names its failure, through a persistent index too (as views keep them).
    refused = model.index_of(model.entry_for(real["refused"].index), COL_MESSAGE)
    assert model.entry(QPersistentModelIndex(refused)).result is real["refused"]
    assert model.group_kind(QPersistentModelIndex(refused.parent())) is Kind.REFUSED
    assert model.cancelled_count() == 3
    qtmodeltester.check(model)


def test_a_batch_adds_replaces_moves_and_removes(real, qtmodeltester):
    model = ErrorsModel()
    qtmodeltester.check(model)
    refused, dns, e500, ok = real["refused"], real["dns"], real["500"], real["ok"]
    model.update([refused, dns, e500])
    assert model.counts() == {"dns": 1, "refused": 1, "http_5xx": 1}
    # Retried: the refused row now answers 500 (moves group); the dns row works (leaves);
    # the 500 row fails again, differently worded (stays, replaced in place).
    moved = e500.replace(index=refused.index)
    healed = ok.replace(index=dns.index)
    again = e500.replace(failure=Failure.plain(Kind.HTTP_5XX, "HTTP 500 again"),
                                attempts=3)
    model.update([moved, healed, again])
    assert model.counts() == {"http_5xx": 2}
    messages = {e.key: e.message for e in model.entries(Kind.HTTP_5XX)}
    assert messages == {refused.index: moved.error, e500.index: "HTTP 500 again"}
    assert [e.key for e in model.entries()] == sorted(messages)  # the results table's order
    # Queued again for a retry: the row leaves the panel until its new result arrives.
    model.update([e500.replace(outcome=Outcome.PENDING, failure=None)])
    assert model.counts() == {"http_5xx": 1}
    model.update([ok.replace(index=refused.index)])
    assert model.counts() == {} and model.rowCount() == 0


def test_last_result_in_a_batch_wins_and_rows_keep_table_order(real):
    model = ErrorsModel()
    base = real["refused"]
    batch = [base.replace(index=i) for i in (7, 3, 9, 1)]
    batch.append(real["ok"].replace(index=9))
    model.update(batch)
    model.update([base.replace(index=5)])
    assert [e.key for e in model.entries()] == [1, 3, 5, 7]


def test_internal_errors_without_a_row_get_their_own_group(real):
    model = ErrorsModel()
    model.update([real["refused"]])
    try:
        raise RuntimeError("a callback crashed")
    except RuntimeError as exc:
        model.add_internal(Failure.from_exception(exc))
    assert model.counts() == {"internal": 1, "refused": 1}
    assert model.index(0, 0).data() == "Internal error (1)"
    (entry,) = model.entries(Kind.INTERNAL)
    assert entry.row is None and not entry.retryable


# -- the panel ---------------------------------------------------------------------------------


def test_summary_counts_failures_and_kinds_but_not_cancelled(panel, real):
    assert panel.summary_text() == "No failures"
    results = list(real.values())
    panel.update_results(results)
    failures = sum(csv_counts(results).values()) - 3
    kinds = len(csv_counts(results)) - 1
    assert panel.summary_text() == (f"{failures} failures in {kinds} kinds, "
                                    "3 cancelled (not counted)")
    panel.clear()
    assert panel.summary_text() == "No failures" and panel.model.rowCount() == 0


def test_filter_matches_url_message_and_kind_case_insensitively(panel, real, qtbot):
    panel.update_results(list(real.values()))

    def shown():
        return sorted(e.kind.value for e in panel.visible_entries())

    qtbot.keyClicks(panel.filter, "REFUSED")
    qtbot.waitUntil(lambda: shown() == ["refused"])
    assert "1 shown by the filter" in panel.summary_text()
    panel.filter.setText("no-such-host")  # part of a URL
    qtbot.waitUntil(lambda: shown() == ["dns"])
    panel.filter.setText("too_many_redirects")  # the CSV's token
    qtbot.waitUntil(lambda: shown() == ["too_many_redirects"])
    # Words found only in a message (after the kind's title), typed in another case.
    words = real["truncated"].error.split(": ", 1)[1].split()[:3]
    panel.filter.setText(" ".join(words).upper())
    qtbot.waitUntil(lambda: shown() == ["truncated"])
    panel.filter.clear()
    qtbot.waitUntil(lambda: len(shown()) == len(real) - 1)


def test_selecting_a_failure_shows_its_real_traceback_and_selects_its_row(panel, real, qtbot):
    panel.update_results(list(real.values()))
    index = shown(panel, real["refused"])
    with qtbot.waitSignal(panel.row_selected) as signal:
        select(panel, index)
    assert signal.args == [real["refused"].index]
    text = panel.details_text()
    info = KIND_INFO[Kind.REFUSED]
    for part in (info.title, info.explanation, info.hint, real["refused"].error,
                 "Exception:   aiohttp.client_exceptions.ClientConnectorError",
                 "ConnectionRefusedError", "Traceback (most recent call last)"):
        assert part in text
    assert text == failure_details(panel.model.entry(panel.proxy.mapToSource(index)),
                                   panel.model.masker)


def test_selecting_a_group_explains_the_kind_and_lists_its_urls(panel, real):
    panel.update_results(list(real.values()))
    select(panel, group_row(panel, Kind.HTTP_5XX))
    text = panel.details_text()
    info = KIND_INFO[Kind.HTTP_5XX]
    assert text.startswith("Server error (5xx) (3)\n")
    assert info.explanation in text and info.hint in text
    for name in ("500", "503", "evil"):
        assert f"{real[name].url}  \u2014  {real[name].error}" in text
    panel.copy_details()
    assert QApplication.clipboard().text() == text


def test_a_retried_failure_updates_in_place_and_the_table_does_not_jump(panel, real, qtbot):
    panel.update_results(list(real.values()))
    select(panel, shown(panel, real["503"]))
    again = real["503"].replace(attempts=3, failure=Failure.plain(
        Kind.HTTP_5XX, "HTTP 503 Service Unavailable (still)"))
    with qtbot.assertNotEmitted(panel.row_selected):
        panel.update_results([again])
    assert "Attempts:    3" in panel.details_text()
    assert "(still)" in panel.details_text()
    # It works now: it leaves, Qt moves the current row, and nobody asked the table to follow.
    with qtbot.assertNotEmitted(panel.row_selected):
        panel.update_results([real["ok"].replace(index=real["503"].index)])
    assert panel.model.entry_for(real["503"].index) is None
    assert real["503"].url not in panel.details_text()


def test_ok_results_of_rows_never_failed_are_not_queued_but_a_fix_still_removes(panel, real):
    ok = real["ok"]
    panel.update_results([ok.replace(index=10_000 + i) for i in range(500)])
    assert panel.pending() == 0 and panel.model.failure_count() == 0
    failed = real["500"].replace(index=77)
    # The failure and the later ok of the same row arrive before the panel lists either.
    panel._queue.append(failed)
    panel._failed_rows.add(77)
    panel.update_results([ok.replace(index=77)])
    assert panel.model.entry_for(77) is None
    panel.update_results([failed])
    assert panel.model.entry_for(77) is not None
    panel.update_results([ok.replace(index=77)])
    assert panel.model.entry_for(77) is None
    panel.clear()
    assert not panel._failed_rows


def test_copy_details_and_ctrl_c_put_the_details_on_the_clipboard(panel, real, qtbot):
    panel.update_results(list(real.values()))
    clipboard = QApplication.clipboard()
    select(panel, shown(panel, real["timeout"]))
    clipboard.clear()
    panel.copy_action.trigger()
    assert clipboard.text() == panel.details_text()
    assert "Timed out" in clipboard.text()

    select(panel, shown(panel, real["dns"]))
    clipboard.clear()
    panel.tree.setFocus()
    panel.activateWindow()
    qtbot.waitUntil(panel.tree.hasFocus)
    qtbot.keyClick(panel.tree, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    assert "aiohttp.client_exceptions.ClientConnectorDNSError" in clipboard.text()
    assert clipboard.text() == panel.details_text()


def test_retry_emits_the_indexes_of_one_a_selection_a_group_and_all(panel, real, qtbot):
    panel.update_results(list(real.values()))
    http5 = sorted(r.index for r in real.values() if r.error_kind == "http_5xx")

    def retried(action):
        with qtbot.waitSignal(panel.retry_requested) as signal:
            action()
        return signal.args[0]

    select(panel, shown(panel, real["refused"]))
    assert retried(panel.retry_action.trigger) == [real["refused"].index]
    select(panel, shown(panel, real["dns"]), shown(panel, real["timeout"]))
    assert retried(panel.retry_selected) == sorted([real["dns"].index, real["timeout"].index])
    select(panel, group_row(panel, Kind.HTTP_5XX))
    assert retried(panel.retry_selected) == http5
    # Everything fetchable, cancelled rows included; lines that are not URLs never.
    everything = sorted(r.index for r in real.values()
                        if r.outcome not in (Outcome.OK, Outcome.INVALID))
    assert retried(panel.retry_all_action.trigger) == everything
    # Retry all follows the filter: what you see is what is retried.
    panel.filter.setText("5xx")
    qtbot.waitUntil(lambda: len(panel.visible_entries()) == len(http5))
    assert retried(panel.retry_all) == http5
    select(panel, shown(panel, real["500"]))
    panel.filter.clear()
    qtbot.waitUntil(lambda: len(panel.visible_entries()) == len(real) - 1)
    select(panel, shown(panel, real["invalid"]))
    assert not panel.retry_action.isEnabled()


def test_enter_and_show_in_table_emit_the_row(panel, real, qtbot):
    panel.update_results(list(real.values()))
    select(panel, shown(panel, real["loop"]))
    panel.tree.setFocus()
    with qtbot.waitSignal(panel.row_selected) as signal:
        qtbot.keyClick(panel.tree, Qt.Key.Key_Return)
    assert signal.args == [real["loop"].index]
    with qtbot.waitSignal(panel.row_selected) as signal:
        panel.show_action.trigger()
    assert signal.args == [real["loop"].index]


def test_right_click_offers_every_action_for_the_selection(panel, real):
    panel.update_results(list(real.values()))
    select(panel, shown(panel, real["refused"]))
    menu = panel.context_menu()
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == ["Show in table", "Open in browser", "Copy details", "Copy as curl",
                     "Retry", "Retry all"]
    assert all(a.isEnabled() for a in menu.actions() if not a.isSeparator())
    menu.deleteLater()


def test_passwords_are_masked_everywhere_shown_unless_turned_off(panel, real, qtbot):
    panel.update_results(list(real.values()))
    # A URL with a password in it; a redirect whose target (in the message, the exception and
    # the traceback) has one.
    for result, secret in ((real["password"], "s3cretpw"), (real["unsafe"], "topsecret")):
        assert secret in result.url + result.failure.traceback
        index = shown(panel, result)
        select(panel, index)
        cells = " ".join(str(index.siblingAtColumn(c).data()) for c in range(5))
        assert secret not in cells and secret not in panel.details_text()
        assert "***" in cells
        panel.copy_details()
        assert secret not in QApplication.clipboard().text()
    assert "topsecret" in real["unsafe"].error  # so the masking above was needed
    # The curl command carries the URL's own password in no form: curl asks for it.
    select(panel, shown(panel, real["password"]))
    panel.copy_as_curl()
    assert "s3cretpw" not in QApplication.clipboard().text()
    assert "--user alice " in QApplication.clipboard().text()
    panel.set_settings(SETTINGS.replace(mask_passwords=False))
    assert "http://alice:s3cretpw@" in panel.details_text()  # the selected row, unmasked
    assert "alice:s3cretpw@" in shown(panel, real["password"]).data()
    assert "ftp://bob:topsecret@" in shown(panel, real["unsafe"]).siblingAtColumn(
        COL_MESSAGE).data()


def test_server_html_is_shown_as_written_never_rendered(panel, real, qtbot):
    panel.update_results(list(real.values()))
    evil = real["evil"]
    assert EVIL in evil.error  # the server's reason phrase, as aiohttp gave it
    index = shown(panel, evil)
    select(panel, index)
    assert isinstance(panel.details, QPlainTextEdit) and not isinstance(panel.details, QTextEdit)
    text = panel.details_text()
    assert f"HTTP status: 500 {EVIL}" in text
    assert "<i>server said so</i>" in text  # the body preview, literally
    assert panel.summary.textFormat() == Qt.TextFormat.PlainText
    message = index.siblingAtColumn(COL_MESSAGE)
    assert EVIL in message.data()
    # The tooltip goes through Qt's rich-text guess: it must come out as the same characters.
    rect = panel.tree.visualRect(message)
    event = QHelpEvent(QEvent.Type.ToolTip, rect.center(),
                       panel.tree.viewport().mapToGlobal(rect.center()))
    panel.tree.viewportEvent(event)
    document = QTextDocument()
    document.setHtml(QToolTip.text())
    assert EVIL in document.toPlainText()
    QToolTip.hideText()


def test_copy_as_curl_and_open_in_browser_use_the_real_url(panel, real, qtbot):
    panel.update_results(list(real.values()))
    select(panel, shown(panel, real["refused"]))
    panel.curl_action.trigger()
    assert QApplication.clipboard().text() == curl_command(real["refused"].url, SETTINGS)

    class Browser(QObject):
        def __init__(self):
            super().__init__()
            self.opened: list[str] = []

        @Slot(QUrl)
        def open(self, url):
            self.opened.append(url.toString())

    browser = Browser()
    QDesktopServices.setUrlHandler("http", browser, "open")
    try:
        panel.open_action.trigger()
    finally:
        QDesktopServices.unsetUrlHandler("http")
    assert browser.opened == [real["refused"].url]
    select(panel, shown(panel, real["invalid"]))
    assert not panel.open_action.isEnabled() and not panel.curl_action.isEnabled()


def test_sorting_a_column_sorts_inside_groups_and_keeps_group_order(panel, real, qtbot):
    panel.update_results(list(real.values()))
    order = [panel.proxy.index(r, 0).data() for r in range(panel.proxy.rowCount())]
    panel.tree.header().setSortIndicator(COL_URL, Qt.SortOrder.DescendingOrder)
    assert [panel.proxy.index(r, 0).data() for r in range(panel.proxy.rowCount())] == order
    http5 = panel.model.entries(Kind.HTTP_5XX)
    assert [e.url for e in http5] == sorted((e.url for e in http5), reverse=True)
    panel.update_results([real["503"].replace(index=1000)])
    http5 = panel.model.entries(Kind.HTTP_5XX)
    assert [e.url for e in http5] == sorted((e.url for e in http5), reverse=True)


def test_ten_thousand_failures_in_one_batch(panel, real, qtbot):
    """Timed and printed, not asserted: the numbers go in the report."""
    failures = [r for r in real.values() if r.outcome is not Outcome.OK]
    batch = [failures[i % len(failures)].replace(index=i) for i in range(10_000)]
    gaps: list[float] = []
    last = [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        gaps.append(now - last[0])
        last[0] = now

    ticker = QTimer()
    ticker.setInterval(0)
    ticker.timeout.connect(tick)
    ticker.start()
    qtbot.waitUntil(lambda: len(gaps) > 2)  # the ticker runs
    gaps.clear()
    last[0] = time.perf_counter()
    started = time.perf_counter()
    panel.update_results(batch)
    first_call = time.perf_counter() - started
    qtbot.waitUntil(lambda: panel.pending() == 0, timeout=20_000)
    settle(qtbot)  # the view's delayed layout runs after the last chunk
    total = time.perf_counter() - started
    ticker.stop()
    assert panel.model.counts() == csv_counts(batch)

    # A big group selected: the pane lists its first failures, Copy details all of them.
    select(panel, group_row(panel, Kind.HTTP_5XX))
    listed = panel.model.counts()["http_5xx"]
    assert f"\u2026 and {listed - 200:,} more" in panel.details_text()
    panel.copy_details()
    assert QApplication.clipboard().text().count("  \u2014  HTTP 5") == listed

    tick_times = []
    for start in range(10_000, 12_000, 500):
        more = [failures[i % len(failures)].replace(index=i)
                for i in range(start, start + 500)]
        t0 = time.perf_counter()
        panel.update_results(more)
        QApplication.processEvents()
        tick_times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    panel.proxy.setFilterFixedString("refused")
    QApplication.processEvents()
    filter_time = time.perf_counter() - t0
    panel.proxy.setFilterFixedString("")
    ok = [real["ok"].replace(index=i) for i in range(0, 12_000, 3)]
    t0 = time.perf_counter()
    panel.update_results(ok)
    qtbot.waitUntil(lambda: panel.pending() == 0, timeout=20_000)
    QApplication.processEvents()
    heal_time = time.perf_counter() - t0
    assert panel.model.counts() == csv_counts(
        [failures[i % len(failures)].replace(index=i)
         for i in range(12_000) if i % 3])
    print(f"\n10,000 failures in one batch: listed in {total * 1000:.0f} ms; first call "
          f"{first_call * 1000:.0f} ms; longest event-loop stall {max(gaps) * 1000:.0f} ms "
          f"over {len(gaps)} turns")
    print(f"500-failure ticks on top of 10,000 (a group of ~1,700 selected): "
          f"{[round(t * 1000) for t in tick_times]} ms")
    print(f"filter over 12,000: {filter_time * 1000:.0f} ms; "
          f"4,000 scattered rows turning ok: {heal_time * 1000:.0f} ms")


def test_panel_renders_a_realistic_run(real, qtbot, loop):
    """Saves /tmp/error_panel.png: the panel docked in a window, as a person would see it."""
    window = QMainWindow()
    qtbot.addWidget(window)
    window.resize(1400, 640)
    panel = ErrorPanel(window)
    panel.set_settings(SETTINGS)
    window.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, panel)
    window.setCentralWidget(QPlainTextEdit("(the results table)"))
    window.show()
    window.resizeDocks([panel], [420], Qt.Orientation.Vertical)
    panel.update_results(list(real.values()))
    try:
        raise KeyError("sink")
    except KeyError as exc:
        panel.add_internal(Failure.from_exception(exc))
    select(panel, shown(panel, real["refused"]))
    panel.tree.scrollToTop()
    settle(qtbot)
    image = window.grab()
    assert image.save("/tmp/error_panel.png")
    select(panel, shown(panel, real["evil"]))
    settle(qtbot)
    assert window.grab().save("/tmp/error_panel_http.png")
    select(panel, group_row(panel, Kind.HTTP_5XX))
    window.resize(1000, 640)
    settle(qtbot)
    assert window.grab().save("/tmp/error_panel_narrow.png")
    assert group_title(Kind.REFUSED, 1) in {panel.proxy.index(r, 0).data()
                                            for r in range(panel.proxy.rowCount())}
    assert panel.tree.indexAt(QPoint(5, 5)).isValid()
