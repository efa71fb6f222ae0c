"""The whole window, driven as a user would: paste, Fetch, watch rows and errors arrive, cancel,
close mid-run, retry after the server is fixed, export and read the CSV back."""

from __future__ import annotations

import csv
import sys

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QLabel, QPlainTextEdit, QPushButton

from app.core.result import Outcome
from app.core.settings import Settings
from app.gui.main_window import MainWindow
from app.gui.results_model import COL_STATUS as COL_STATUS_
from app.gui.settings_dialog import SettingsDialog
from tests.conftest import settle
from tests.servers import ReservedPort, ThreadedServer

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def server():
    with ThreadedServer() as s:
        yield s


def shown_window(qtbot, monkeypatch, tmp_path, settings):
    """A window with ``settings``, shown; a run still going at the end is cancelled."""
    monkeypatch.setenv("FETCHDECK_CONFIG_DIR", str(tmp_path / "config"))
    w = MainWindow(settings)
    qtbot.addWidget(w)
    w.show()
    yield w
    if w.controller.running:
        w.controller.cancel()
        qtbot.waitUntil(lambda: not w.controller.running, timeout=10_000)


@pytest.fixture
def window(qtbot, loop, monkeypatch, tmp_path):
    yield from shown_window(qtbot, monkeypatch, tmp_path, Settings(retries=0, timeout=5))


def fetch(qtbot, window, text, timeout=30_000):
    window.form.set_text(text)
    with qtbot.waitSignal(window.run_finished, timeout=timeout):
        qtbot.mouseClick(window.fetch_button, Qt.MouseButton.LeftButton)


def close_mid_run(qtbot, window, answer="Cancel the run and close"):
    """Close as a user would during a run: the window asks, and the user answers."""
    with qtbot.waitSignal(window.close_asked, timeout=5_000) as asked:
        window.close()
    box = asked.args[0]
    assert box.isVisible() and window.isVisible() and window.controller.running
    (button,) = [b for b in box.buttons() if b.text() == answer]
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def outcomes(window):
    return [window.model.result(i).outcome if window.model.result(i) else None
            for i in range(len(window.model))]


def test_form_says_which_lines_will_not_be_fetched(window, qtbot):
    window.form.set_text("https://a.example/\n\n# note\njavascript:alert(1)\nexample.org\n")
    assert "1 URL to fetch" in window.form.summary.text()
    assert "2 lines will not be fetched" in window.form.summary.text()
    items = [window.form.rejects.item(i).text() for i in range(window.form.rejects.count())]
    assert items == ["line 4: `javascript:` is not an http(s) URL",
                     "line 5: no scheme: did you mean https://example.org?"]


def test_fetch_fills_rows_errors_and_progress(window, qtbot, server):
    with ReservedPort() as closed:
        text = "\n".join([server.url("/ok"), server.url("/status/404"), "ftp://nope.example/",
                          f"http://127.0.0.1:{closed.port}/", server.url("/redirect/2")])
        fetch(qtbot, window, text)
    assert outcomes(window) == [Outcome.OK, Outcome.HTTP_ERROR, Outcome.INVALID,
                                Outcome.FAILED, Outcome.OK]
    assert window.fetch_button.text() == "Fetch"
    status = window.progress_label.text()
    assert "5 / 5 done" in status and "2 ok" in status and "3 failed" in status
    counts = window.error_panel.model.counts()
    assert counts == {"http_4xx": 1, "unsupported_scheme": 1, "refused": 1}
    assert sum(counts.values()) == 3  # the status line and the panel count alike
    refused = window.model.result(3)
    assert "ClientConnectorError" in refused.failure.traceback
    assert "Traceback (most recent call last)" in refused.failure.traceback


def test_selecting_an_error_selects_its_row(window, qtbot, server):
    fetch(qtbot, window, f"{server.url('/ok')}\n{server.url('/status/500')}")
    window.error_panel.row_selected.emit(1)
    assert window.selected_result().index == 1


def test_ctrl_return_starts_and_escape_cancels(window, qtbot, server):
    window.form.set_text("\n".join(server.url(f"/hang?n={i}") for i in range(4)))
    qtbot.keyClick(window.form.editor, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    assert window.controller.running
    assert window.fetch_button.text() == "Cancel"
    with qtbot.waitSignal(window.run_finished, timeout=10_000):
        qtbot.keyClick(window.form.editor, Qt.Key.Key_Escape)
    assert outcomes(window) == [Outcome.CANCELLED] * 4


def test_cancel_mid_run_keeps_results_so_far(window, qtbot, server):
    urls = [server.url(f"/ok?n={i}") for i in range(3)] + [server.url(f"/hang?n={i}")
                                                           for i in range(5)]
    window.form.set_text("\n".join(urls))
    qtbot.mouseClick(window.fetch_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: sum(o is Outcome.OK for o in outcomes(window)) == 3)
    with qtbot.waitSignal(window.run_finished, timeout=10_000):
        qtbot.mouseClick(window.fetch_button, Qt.MouseButton.LeftButton)
    assert outcomes(window) == [Outcome.OK] * 3 + [Outcome.CANCELLED] * 5
    assert "5 cancelled" in window.progress_label.text()
    assert window.error_panel.model.counts().get("refused") is None


def test_closing_mid_run_cancels_then_closes(window, qtbot, server):
    window.form.set_text("\n".join(server.url(f"/hang?n={i}") for i in range(6)))
    before = server.seen.count("/hang")
    window.start_run()
    qtbot.waitUntil(lambda: server.seen.count("/hang") >= before + 6)
    with qtbot.waitSignal(window.closed, timeout=10_000):
        close_mid_run(qtbot, window)
    assert not window.controller.running
    assert outcomes(window) == [Outcome.CANCELLED] * 6
    assert not window.isVisible()


def test_retry_a_group_after_the_server_is_fixed(window, qtbot, server):
    # Each flaky URL fails once with 503, then works: the retry sees them turn ok.
    urls = [server.url(f"/flaky?key=gui-retry-{i}&failures=1") for i in range(3)]
    fetch(qtbot, window, "\n".join([server.url("/ok"), *urls]))
    assert outcomes(window) == [Outcome.OK] + [Outcome.HTTP_ERROR] * 3
    assert window.error_panel.model.counts() == {"http_5xx": 3}
    with qtbot.waitSignal(window.run_finished, timeout=20_000):
        window.error_panel.retry_requested.emit([1, 2, 3])
    assert outcomes(window) == [Outcome.OK] * 4
    assert window.error_panel.model.counts() == {}
    assert all(window.model.result(i).attempts == 1 for i in range(4))


def test_export_writes_what_the_table_shows(window, qtbot, server, tmp_path):
    fetch(qtbot, window, "\n".join([server.url("/ok"), "not a url", server.url("/status/500")]))
    path = tmp_path / "out.csv"
    with qtbot.waitSignal(window.export_finished, timeout=10_000) as blocker:
        window.export_csv(str(path))
    assert blocker.args == [str(path), ""]
    with path.open(newline="", encoding="utf-8") as stream:
        rows = list(csv.DictReader(stream))
    assert [r["outcome"] for r in rows] == ["ok", "invalid", "http_error"]
    assert [r["error_kind"] for r in rows] == ["", "invalid_url", "http_5xx"]
    assert window.export_button.isEnabled()


def test_export_failure_is_shown_not_raised(window, qtbot, server, tmp_path):
    fetch(qtbot, window, server.url("/ok"))
    with qtbot.waitSignal(window.export_finished, timeout=10_000) as blocker:
        window.export_csv(str(tmp_path))  # a directory cannot be written as a file
    assert blocker.args[1].startswith("Could not write")
    assert window.notice_bar.isVisible()


def test_an_exception_in_a_slot_lands_in_the_error_panel(window, qtbot, loop, tmp_path):
    from app.gui.exceptions import ExceptionRouter

    def broken_slot():
        raise RuntimeError("a bug in a slot")

    router = ExceptionRouter(log_path=tmp_path / "fetchdeck.log")
    window.attach_router(router)
    window.settings_button.clicked.connect(broken_slot)
    with qtbot.captureExceptions() as passed_on:
        router.install(loop)
        try:
            with qtbot.waitSignal(router.internal_error, timeout=5_000):
                qtbot.mouseClick(window.settings_button, Qt.MouseButton.LeftButton)
        finally:
            router.uninstall()
            for dialog in window.findChildren(SettingsDialog):
                dialog.reject()
    assert [type(exc) for _, exc, _ in passed_on] == [RuntimeError]
    assert window.error_panel.model.counts() == {"internal": 1}
    (entry,) = window.error_panel.model.entries()
    assert "broken_slot" in entry.failure.traceback
    assert "a bug in a slot" in (tmp_path / "fetchdeck.log").read_text()
    assert "Internal error" in window.progress_label.text()


def test_panel_counts_agree_with_the_csv(window, qtbot, server, tmp_path):
    with ReservedPort() as closed:
        urls = [server.url("/ok"), server.url("/status/404"), server.url("/status/404"),
                server.url("/status/502"), "nope", f"http://127.0.0.1:{closed.port}/",
                server.url("/redirect-loop")]
        fetch(qtbot, window, "\n".join(urls))
    path = tmp_path / "out.csv"
    with qtbot.waitSignal(window.export_finished, timeout=10_000):
        window.export_csv(str(path))
    with path.open(newline="", encoding="utf-8") as stream:
        kinds = [row["error_kind"] for row in csv.DictReader(stream) if row["error_kind"]]
    tally = {kind: kinds.count(kind) for kind in set(kinds)}
    assert window.error_panel.model.counts() == tally
    assert tally == {"http_4xx": 2, "http_5xx": 1, "invalid_url": 1, "refused": 1,
                     "too_many_redirects": 1}


@pytest.mark.slow
def test_demo_every_failure_then_cancel_then_close_logs_no_loop_error(window, qtbot):
    """The whole demo (every kind of outcome), a run cancelled mid-way and a window closed
    mid-run: the autouse guard fails this test if asyncio, qasync or aiohttp log any error
    ('Task exception was never retrieved', 'Unclosed client session', ...)."""
    window.start_demo()
    with qtbot.waitSignal(window.run_finished, timeout=60_000):
        window.start_run()
    counts = window.error_panel.model.counts()
    assert {"http_4xx", "http_5xx", "too_many_redirects", "unsafe_redirect", "reset", "truncated",
            "protocol", "body_too_large", "refused"} <= set(counts)
    assert sum(o is Outcome.OK for o in outcomes(window)) >= 4

    window.start_run()
    qtbot.waitUntil(lambda: window.model.result(0) is not None)
    with qtbot.waitSignal(window.run_finished, timeout=10_000):
        window.controller.cancel()
    assert Outcome.CANCELLED in outcomes(window)

    window.start_run()
    qtbot.waitUntil(lambda: window.model.result(0) is not None)
    with qtbot.waitSignal(window.closed, timeout=10_000):
        close_mid_run(qtbot, window)
    assert None not in outcomes(window)
    assert window.demo_server is None


def test_sort_and_filter_the_table_while_keeping_the_selection(window, qtbot, server):
    urls = [server.url("/ok"), server.url("/status/404"), server.url("/status/500"),
            "not a url", server.url("/redirect/1")]
    fetch(qtbot, window, "\n".join(urls))
    window.select_row(2)
    header = window.table.horizontalHeader()
    with qtbot.waitSignal(window.model.arranged, timeout=5_000):
        qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                         pos=QPoint(header.sectionViewportPosition(COL_STATUS_) + 5,
                                    header.height() // 2))
    statuses = [window.model.result(window.model.index_at(r)).status
                for r in range(window.model.rowCount())]
    assert statuses == sorted(statuses, key=lambda s: float("inf") if s is None else s)
    assert window.selected_result().index == 2
    with qtbot.waitSignal(window.model.arranged, timeout=5_000):
        window.outcome_filter.setCurrentIndex(1)  # Failures
    assert sorted(window.model.index_at(r) for r in range(window.model.rowCount())) == [1, 2, 3]
    assert window.rows_label.text() == "3 of 5 rows"
    with qtbot.waitSignal(window.model.arranged, timeout=5_000):
        window.select_row(0)  # hidden by the filter: the filter is cleared to show it
    assert window.selected_result().index == 0


def test_closing_during_an_export_waits_for_the_file(window, qtbot, server, tmp_path):
    fetch(qtbot, window, "\n".join(server.url(f"/ok?n={i}") for i in range(20)))
    path = tmp_path / "out.csv"
    window.export_csv(str(path))
    assert not window.export_button.isEnabled() and not window.export_action.isEnabled()
    with qtbot.waitSignal(window.closed, timeout=10_000):
        window.close()
    with path.open(newline="", encoding="utf-8") as stream:
        assert len(list(csv.DictReader(stream))) == 20


def test_progress_text_repaints_its_line_without_laying_out_the_window(window, qtbot):
    from PySide6.QtCore import QEvent, QObject
    from PySide6.QtWidgets import QApplication, QLabel

    class LayoutRequests(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.seen: list[str] = []

        def eventFilter(self, obj, event):  # noqa: N802
            if event.type() == QEvent.Type.LayoutRequest and obj in (window,
                                                                    window.statusBar()):
                self.seen.append(type(obj).__name__)
            return False

    def set_texts(widget):
        for n in range(1, 21):
            widget.setText(f"Fetching: {n * 1234:,} / 20,000 done · {n * 1234:,} ok")
            QApplication.processEvents()

    settle(qtbot, rounds=3)  # the window's own first layouts
    watcher = LayoutRequests()
    QApplication.instance().installEventFilter(watcher)
    try:
        set_texts(window.progress_label)
        assert watcher.seen == []
        # A QLabel in its place would cost a layout of the status bar and the window per text.
        label = QLabel()
        window.statusBar().addWidget(label)
        QApplication.processEvents()
        watcher.seen.clear()
        set_texts(label)
        assert "MainWindow" in watcher.seen
    finally:
        QApplication.instance().removeEventFilter(watcher)


def test_a_long_status_text_is_elided_and_does_not_widen_the_window(window, qtbot):
    before = window.minimumSizeHint().width()
    long_text = "Exported 1,000,000 rows to /" + "very-long-folder-name/" * 40 + "out.csv"
    window.progress_label.setText(long_text)
    assert window.minimumSizeHint().width() == before
    assert window.progress_label.text() == long_text
    assert "out.csv" in window.progress_label.toolTip()
    assert window.progress_label.accessibleName() == long_text


def test_a_row_whose_details_were_not_kept_says_so_and_fetches_again(window, qtbot, server,
                                                                    monkeypatch):
    from app.core import details
    from app.gui.failure_details import failure_details
    from app.gui.row_details import RowDetails

    monkeypatch.setattr(details, "KEEP_ALL", 10)  # one row too few
    monkeypatch.setattr(details, "KEEP_RECENT", 2)
    monkeypatch.setattr(details, "KEEP_FAILED", 1)
    urls = [server.url(f"/ok?n={i}") for i in range(8)] + [
        server.url(f"/status/500?n={i}") for i in range(3)]
    fetch(qtbot, window, "\n".join(urls))
    kept = [window.model.result(i).details is not None for i in range(11)]
    # The most recent failure keeps its details, and ok rows among the run's last two to
    # finish; which rows finished last depends on the server's timing.
    assert sum(kept[:8]) <= 2 and sum(kept[8:]) == 1
    dropped = kept.index(False)
    pane: RowDetails = window.details

    window.select_row(dropped)
    bar = pane.findChild(QLabel, "details_not_kept")
    button = pane.findChild(QPushButton, "details_fetch_again")
    assert bar.isVisibleTo(pane) and "not kept, to save memory" in bar.text()
    assert "up to 2,000 URLs" in bar.text()  # the shipped numbers, not the test's
    assert button.isEnabled()
    assert pane.findChild(QPlainTextEdit, "response_headers").toPlainText() == (
        "Not kept for this row, to save memory.")
    assert pane.text_of("status") == "200 OK"  # the row itself is whole

    with qtbot.waitSignal(window.run_finished, timeout=20_000):
        qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    assert window.model.result(dropped).details is not None
    assert window.selected_result().index == dropped
    assert not bar.isVisibleTo(pane)
    assert "content-type" in pane.findChild(QPlainTextEdit, "response_headers").toPlainText(
        ).lower()

    # The error panel says the same of an HTTP error whose page was not kept.
    texts = {entry.result.index: failure_details(entry, window.error_panel.model.masker)
             for entry in window.error_panel.visible_entries()}
    assert sorted(texts) == [8, 9, 10]
    for index, text in texts.items():
        has_details = window.model.result(index).details is not None
        assert ("Response headers and body: not kept, to save memory." in text) != has_details
        assert ("Response headers:" in text) == has_details


def test_fetch_again_waits_for_the_run(window, qtbot, server, monkeypatch):
    from app.core import details

    monkeypatch.setattr(details, "KEEP_ALL", 0)
    monkeypatch.setattr(details, "KEEP_RECENT", 0)
    fetch(qtbot, window, server.url("/ok"))
    window.select_row(0)
    button = window.details.findChild(QPushButton, "details_fetch_again")
    assert button.isVisibleTo(window.details) and button.isEnabled()
    window.form.set_text(server.url("/hang"))
    window.start_run()  # the pane clears for a new run; its button is off until the run ends
    assert not button.isEnabled() and "A run is going" in button.toolTip()
    with qtbot.waitSignal(window.run_finished, timeout=10_000):
        window.controller.cancel()
    assert button.isEnabled()




@pytest.fixture
def pooled_window(qtbot, loop, monkeypatch, tmp_path):
    """A window whose runs are fetched by it and a helper process."""
    yield from shown_window(qtbot, monkeypatch, tmp_path,
                            Settings(retries=0, timeout=5, per_host=0, processes=2,
                                     concurrency=4))


def test_rows_a_helper_process_fetched_fill_the_table_and_the_error_panel(pooled_window,
                                                                          qtbot, server):
    window = pooled_window
    with ReservedPort() as closed:
        # Slow rows first hold the window's own requests while the helper starts.
        urls = [server.url(f"/slow?seconds=0.5&n={i}") for i in range(2)]
        for i in range(20):
            urls += [server.url(f"/ok?n={i}"), server.url(f"/status/404?n={i}"),
                     f"http://127.0.0.1:{closed.port}/?n={i}"]
        fetch(qtbot, window, "\n".join(urls))
    run = window.controller.engine.run
    assert run.by_helpers > 30, "the helper fetched little: the test shows nothing"
    assert outcomes(window) == [Outcome.OK] * 2 + [Outcome.OK, Outcome.HTTP_ERROR,
                                                   Outcome.FAILED] * 20
    assert window.error_panel.model.counts() == {"http_4xx": 20, "refused": 20}
    assert "40 failed" in window.progress_label.text()
    refused = window.model.result(4)
    assert "Traceback (most recent call last)" in refused.failure.traceback


def test_cancel_stops_the_helper_too_and_every_row_is_accounted_for(pooled_window, qtbot,
                                                                    server):
    window = pooled_window
    before = server.seen.count("/hang")
    window.form.set_text("\n".join(server.url(f"/hang?n={i}") for i in range(40)))
    window.start_run()
    qtbot.waitUntil(lambda: server.seen.count("/hang") >= before + 4, timeout=10_000)
    run = window.controller.engine.run
    assert run.helper_pids
    with qtbot.waitSignal(window.run_finished, timeout=10_000):
        qtbot.mouseClick(window.fetch_button, Qt.MouseButton.LeftButton)
    assert outcomes(window) == [Outcome.CANCELLED] * 40
    assert "40 cancelled" in window.progress_label.text()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_closing_mid_run_stops_the_helper_too(pooled_window, qtbot, server):
    window = pooled_window
    before = server.seen.count("/hang")
    window.form.set_text("\n".join(server.url(f"/hang?n={i}") for i in range(40)))
    window.start_run()
    qtbot.waitUntil(lambda: server.seen.count("/hang") >= before + 4, timeout=10_000)
    (pid,) = window.controller.engine.run.helper_pids
    with qtbot.waitSignal(window.closed, timeout=10_000):
        close_mid_run(qtbot, window)
    assert outcomes(window) == [Outcome.CANCELLED] * 40
    qtbot.waitUntil(lambda: not _alive(pid), timeout=10_000)


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
