"""The window people live in: it fits the screen and remembers its layout, a selected row shows
its details and its failure, it works from the keyboard and its menus, it reads in a dark theme,
and it does not lose what the user typed or close a run without asking."""

from __future__ import annotations

import csv
import io
import json
from urllib.parse import quote

import pytest
from PySide6.QtCore import QRect, Qt
from PySide6.QtGui import QGuiApplication, QPalette, QStatusTipEvent
from PySide6.QtWidgets import QApplication, QMenu

from app.core.curl import curl_command
from app.core.result import Outcome
from app.core.settings import Settings
from app.core.targets import TargetList
from app.gui.colours import contrast_ratio, dark_palette, notice_colours, outcome_colours
from app.gui.main_window import MainWindow
from app.gui.results_model import COL_OUTCOME, COL_STATUS, COL_URL, HEADERS, ResultsModel
from app.gui.window_state import fit_rect, load_state
from tests.servers import ReservedPort, ThreadedServer

pytestmark = pytest.mark.timeout(90)


@pytest.fixture(scope="module")
def server():
    with ThreadedServer() as s:
        yield s


@pytest.fixture
def config(monkeypatch, tmp_path):
    folder = tmp_path / "config"
    monkeypatch.setenv("FETCHDECK_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def make_window(qtbot, loop, config):
    made = []

    def make(**settings):
        window = MainWindow(Settings(retries=0, timeout=5, **settings))
        qtbot.addWidget(window)
        made.append(window)
        window.show()
        qtbot.waitExposed(window)
        return window

    yield make
    for window in made:
        if window.controller.running:
            window.controller.cancel()
            qtbot.waitUntil(lambda w=window: not w.controller.running, timeout=10_000)


@pytest.fixture
def window(make_window):
    return make_window()


def fetch(qtbot, window, text, timeout=30_000):
    window.form.set_text(text)
    with qtbot.waitSignal(window.run_finished, timeout=timeout):
        window.start_run()


def close(qtbot, window):
    with qtbot.waitSignal(window.closed, timeout=10_000):
        window.close()


def available() -> QRect:
    return QGuiApplication.primaryScreen().availableGeometry()


# -- it fits, and remembers ---------------------------------------------------------------------


def test_the_first_window_fits_inside_the_screen(window):
    screen = available()
    frame = window.frameGeometry()
    assert screen.contains(window.geometry())
    assert frame.width() <= screen.width() and frame.height() <= screen.height()
    # Default 1280x800, made smaller only where the screen is.
    assert window.width() == min(1280, screen.width() - 16)
    assert window.height() == min(800, screen.height() - 40)


def test_size_place_docks_splitters_and_columns_come_back(qtbot, make_window, config):
    first = make_window()
    screen = available()
    first.setGeometry(QRect(screen.left() + 30, screen.top() + 50, screen.width() // 2,
                            screen.height() // 2))
    first.splitter.setSizes([150, 250])
    first.table.setColumnWidth(COL_URL, 333)
    header = first.table.horizontalHeader()
    header.moveSection(header.visualIndex(COL_STATUS), 0)  # moveSection takes visual indexes
    first.details_dock.setFloating(True)
    first.details_dock.hide()
    qtbot.waitUntil(lambda: not first.details_dock.isVisible())
    geometry, sizes = first.geometry(), first.splitter.sizes()
    close(qtbot, first)
    saved = json.loads((config / "window.json").read_text())
    assert saved["version"] == 1
    assert {"geometry", "docks", "splitter", "columns"} <= set(saved["parts"])

    second = make_window()
    assert second.geometry() == geometry
    assert second.splitter.sizes() == sizes
    assert second.table.columnWidth(COL_URL) == 333
    assert second.table.horizontalHeader().visualIndex(COL_STATUS) == 0
    assert not second.details_dock.isVisible()


def test_a_layout_saved_on_a_bigger_screen_is_brought_back_inside(qtbot, make_window, config):
    first = make_window()
    first.setGeometry(QRect(5000, 4000, 3000, 2000))  # off this screen, and larger than it
    close(qtbot, first)
    assert load_state()["geometry"]

    second = make_window()
    screen = available()
    assert screen.contains(second.geometry())
    assert second.width() <= screen.width() - 16 and second.height() <= screen.height() - 40


def test_a_damaged_state_file_gives_the_default_layout(make_window, config):
    config.mkdir(parents=True)
    (config / "window.json").write_text('{"version": 1, "parts": {"geometry": "!!"}}')
    window = make_window()
    assert available().contains(window.geometry())
    (config / "window.json").write_text("not json")
    assert load_state() == {}


@pytest.mark.parametrize(("rect", "screen", "expected"), [
    # at 1366x768 the 1280x800 default is cut to the screen, frame included
    (QRect(0, 0, 1280, 800), QRect(0, 0, 1366, 768), QRect(8, 32, 1280, 728)),
    # a 2x scale factor halves the logical screen: 683x384
    (QRect(100, 100, 1280, 800), QRect(0, 0, 683, 384), QRect(8, 32, 667, 344)),
    # off to the right of a second monitor that is gone: moved back, size kept
    (QRect(2500, 200, 800, 600), QRect(0, 0, 1920, 1080), QRect(1112, 200, 800, 600)),
    # a panel on the left: never under it
    (QRect(0, 0, 400, 300), QRect(64, 0, 1856, 1080), QRect(72, 32, 400, 300)),
])
def test_fit_rect_keeps_a_window_whole_on_the_screen(rect, screen, expected):
    fitted = fit_rect(rect, screen)
    assert fitted == expected
    assert screen.contains(fitted)


def test_the_window_can_be_made_as_small_as_a_laptop_at_2x(window):
    hint = window.minimumSizeHint()
    assert hint.width() <= 667 and hint.height() <= 344, hint


# -- selecting a row shows that row --------------------------------------------------------------


def test_selecting_a_failed_row_shows_its_details_and_its_failure(window, qtbot, server):
    with ReservedPort() as closed:
        fetch(qtbot, window, "\n".join([
            server.url("/status/404"), server.url("/ok"), f"http://127.0.0.1:{closed.port}/",
            server.url("/status/500")]))
    panel = window.error_panel
    assert panel.select_first_failure()  # the panel shows some failure: the first row's
    window.select_row(2)  # the refused connection
    assert window.details.result().index == 2
    assert "refused" in window.details.text_of("error").lower()
    entry = panel.model.entry(panel.proxy.mapToSource(panel.tree.currentIndex()))
    assert entry is not None and entry.row == 2
    assert "refused" in panel.details_text().lower()
    # Both in view at once, not behind one another's tab.
    assert window.details_dock.isVisible() and panel.isVisible()
    assert not window.tabifiedDockWidgets(panel)
    assert not window.details.visibleRegion().isEmpty()
    assert not panel.details.visibleRegion().isEmpty()

    window.select_row(1)  # an ok row: the panel shows no other row's failure
    assert window.details.result().index == 1
    assert not panel.tree.currentIndex().isValid() or panel.model.entry(
        panel.proxy.mapToSource(panel.tree.currentIndex())) is None
    assert panel.details_text() == ""


def test_a_failed_row_hidden_by_the_panels_filter_is_still_shown(window, qtbot, server):
    fetch(qtbot, window, "\n".join([server.url("/status/404"), server.url("/status/503")]))
    panel = window.error_panel
    panel.filter.setText("404")
    panel._apply_filter()
    window.select_row(1)
    assert "503" in panel.details_text()


# -- keyboard ---------------------------------------------------------------------------------


def test_tab_leaves_the_results_table(window, qtbot, server):
    fetch(qtbot, window, "\n".join(server.url(f"/ok?n={i}") for i in range(3)))
    window.table.setFocus()
    window.select_row(0)
    qtbot.waitUntil(window.table.hasFocus)
    qtbot.keyClick(window.table, Qt.Key.Key_Tab)
    focused = QApplication.focusWidget()
    assert focused is not window.table and not window.table.isAncestorOf(focused)
    assert window.table.currentIndex().row() == 0  # Tab did not move along the cells


def test_f6_and_shift_f6_cycle_the_main_areas(window, qtbot, server):
    fetch(qtbot, window, server.url("/status/404"))
    window.select_row(0)  # the details pane has something to focus
    window.form.editor.setFocus()
    qtbot.waitUntil(window.form.editor.hasFocus)
    seen = []
    for _ in range(4):
        qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_F6)
        seen.append(window.areas.areas[window.areas.current()].name)
    assert seen == ["Results", "Details", "Errors", "URL list"]
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_F6, Qt.KeyboardModifier.ShiftModifier)
    assert window.areas.areas[window.areas.current()].name == "Errors"
    assert window.error_panel.tree.hasFocus()
    # The area with focus has a visible ring around it.
    ring = window.focus_ring
    assert ring.isVisible() and ring.target is window.error_panel
    assert ring.geometry().contains(window.error_panel.geometry().center())


def test_help_lists_every_shortcut_from_the_actions(window, qtbot):
    dialog = window.show_shortcuts()
    rows = dialog.rows()
    keys = {what: keys for what, keys, _where in rows}
    assert keys["Fetch"] == "Ctrl+Return, Ctrl+Enter"
    assert keys["Next area"] == "F6" and keys["Previous area"] == "Shift+F6"
    assert keys["Copy rows"] == "Ctrl+C" and keys["Export"] == "Ctrl+E"
    assert keys["Open run"] == "Ctrl+Shift+O"
    wheres = {what: where for what, _keys, where in rows}
    assert wheres["Copy rows"] == "in the results table"
    # Made from the actions: a shortcut added anywhere in the window is listed.
    window.retry_failed_action.setShortcut("Ctrl+Shift+R")
    assert ("Retry all failures", "Ctrl+Shift+R", "anywhere") in window.show_shortcuts().rows()
    every = {a.text().replace("&", "").rstrip("…") for a in window.findChildren(type(
        window.fetch_action)) if a.shortcuts()}
    assert every <= set(keys) | {"Retry all failures"}


# -- copying and the context menu ---------------------------------------------------------------


def parse_tsv(text):
    return list(csv.reader(io.StringIO(text), delimiter="\t"))


def test_ctrl_c_copies_the_selected_rows_as_columns(window, qtbot, server):
    title = quote("=cmd|' /C calc'!A0\tand a tab")  # a formula and a tab in a server's text
    urls = [server.url("/ok"), server.url(f"/page?ct=text/html&body=<title>{title}</title>"),
            server.url("/status/404"), "not a url"]
    fetch(qtbot, window, "\n".join(urls))
    window.table.setFocus()
    window.table.selectAll()
    QApplication.clipboard().clear()
    qtbot.keyClick(window.table, Qt.Key.Key_C, Qt.KeyboardModifier.ControlModifier)
    rows = parse_tsv(QApplication.clipboard().text())
    # The columns as the table shows them: in its order, the Check column hidden (this list
    # expects no answers).
    header = window.table.horizontalHeader()
    shown = [HEADERS[header.logicalIndex(v)] for v in range(header.count())
             if not header.isSectionHidden(header.logicalIndex(v))]
    assert "Check" not in shown and len(shown) == len(HEADERS) - 1
    at = {name: shown.index(name) for name in shown}
    assert len(rows) == 4 and all(len(row) == len(shown) for row in rows)
    assert [row[at[HEADERS[COL_URL]]] for row in rows] == urls
    assert [row[at[HEADERS[COL_OUTCOME]]] for row in rows] == ["ok", "ok", "http error",
                                                               "invalid"]
    assert [row[at[HEADERS[COL_STATUS]]] for row in rows] == ["200", "200", "404", ""]
    title_cell = rows[1][at["Title"]]
    assert title_cell.startswith("'=cmd")  # inert in a spreadsheet
    assert "\t" not in title_cell

    window.results.copy_rows(header=True)
    with_header = parse_tsv(QApplication.clipboard().text())
    assert with_header[0] == shown and with_header[1:] == rows


def test_copy_follows_the_columns_as_shown(window, qtbot, server):
    fetch(qtbot, window, server.url("/status/500"))
    header = window.table.horizontalHeader()
    header.moveSection(header.visualIndex(COL_STATUS), 0)
    for column in range(len(HEADERS)):
        if column not in (COL_STATUS, COL_URL):
            window.table.setColumnHidden(column, True)
    window.select_row(0)
    window.results.copy_rows()
    assert parse_tsv(QApplication.clipboard().text()) == [["500", server.url("/status/500")]]


def test_the_context_menu_copies_urls_and_curl_retries_and_shows_the_error(window, qtbot,
                                                                           server):
    urls = [server.url("/ok"), server.url("/flaky?key=ctx-menu&failures=1")]
    fetch(qtbot, window, "\n".join(urls))
    assert window.model.result(1).outcome is Outcome.HTTP_ERROR
    window.select_row(1)
    menu = window.results.context_menu()
    assert isinstance(menu, QMenu)
    texts = [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]
    assert texts == ["Show error", "Open in browser", "Copy URL", "Copy rows",
                     "Copy rows with header", "Copy as curl", "Retry"]
    enabled = {a.text().replace("&", ""): a.isEnabled() for a in menu.actions()}
    assert all(enabled[t] for t in texts)

    window.results.copy_url_action.trigger()
    assert QApplication.clipboard().text() == urls[1] + "\n"
    window.results.curl_action.trigger()
    assert QApplication.clipboard().text() == curl_command(urls[1], window.settings) + "\n"

    window.error_panel.select_first_failure()
    window.select_row(0)
    window.select_row(1)
    window.error_panel.tree.clearFocus()
    window.results.show_error_action.trigger()
    assert window.error_panel.tree.hasFocus()
    assert "503" in window.error_panel.details_text()

    with qtbot.waitSignal(window.run_finished, timeout=20_000):
        window.results.retry_action.trigger()
    assert window.model.result(1).outcome is Outcome.OK
    assert window.model.result(0).attempts == 1  # only the selected row was fetched again

    window.select_row(0)  # ok: no error to show
    menu = window.results.context_menu()
    assert not window.results.show_error_action.isEnabled()


def test_open_in_browser_says_so_when_no_browser_opens(window, qtbot, server):
    # The offscreen platform has no browser to start: Qt's openUrl returns False, as on a
    # desktop without one.
    fetch(qtbot, window, server.url("/ok"))
    window.select_row(0)
    assert not window.notice_bar.isVisible()
    window.results.open_action.trigger()
    assert window.notice_bar.isVisible()
    assert "No web browser could be opened" in window.notice_bar.text()
    assert server.url("/ok") in window.notice_bar.text()

    window.notice_bar.dismiss()
    fetch(qtbot, window, server.url("/status/404"))
    window.error_panel.select_first_failure()
    window.error_panel.open_in_browser()
    assert "No web browser could be opened" in window.notice_bar.text()


# -- it keeps what the user typed, and asks before closing a run --------------------------------


def test_the_demo_keeps_the_typed_list_one_undo_away(window, qtbot):
    typed = "https://mine.example/one\nhttps://mine.example/two\n"
    window.form.editor.setFocus()
    for line in typed.splitlines():
        qtbot.keyClicks(window.form.editor, line)
        qtbot.keyClick(window.form.editor, Qt.Key.Key_Return)
    assert window.form.text() == typed
    window.demo_action.trigger()
    assert window.demo_server is not None
    assert window.form.text() == window.demo_server.sample_text()
    assert "Undo" in window.progress_label.text()
    qtbot.keyClick(window.form.editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.form.text() == typed
    window.form.refresh()
    assert len(window.form.targets()) == 2


def test_closing_during_a_run_asks_and_keep_running_keeps_it(window, qtbot, server):
    window.form.set_text("\n".join(server.url(f"/hang?n=ask{i}") for i in range(3)))
    window.start_run()
    with qtbot.waitSignal(window.close_asked, timeout=5_000) as asked:
        window.close()
    box = asked.args[0]
    assert box.isVisible()
    assert "A run is going" in box.text()
    (keep,) = [b for b in box.buttons() if b.text() == "Keep running"]
    with qtbot.waitSignal(box.finished, timeout=5_000):
        qtbot.mouseClick(keep, Qt.MouseButton.LeftButton)
    assert window.isVisible() and window.controller.running
    with qtbot.waitSignal(window.run_finished, timeout=10_000):
        window.controller.cancel()
    close(qtbot, window)  # nothing running: no question
    assert not window.isVisible()


# -- it reads at a glance, light or dark --------------------------------------------------------


def test_hovering_an_action_never_replaces_the_progress_line(window, qtbot):
    window.progress_label.setText("Fetching: 10 / 20 done")
    tip = window.error_panel.retry_action.statusTip()
    assert tip
    QApplication.sendEvent(window.error_panel.toolbar, QStatusTipEvent(tip))
    assert window.statusBar().currentMessage() == ""
    assert window.progress_label.isVisible()
    assert window.progress_label.text() == "Fetching: 10 / 20 done"


@pytest.mark.parametrize("dark", [False, True])
def test_outcome_and_notice_colours_read_on_the_palette(window, qtbot, dark):
    palette = dark_palette() if dark else window.style().standardPalette()
    window.setPalette(palette)
    try:
        backgrounds = [palette.color(QPalette.ColorRole.Base),
                       palette.color(QPalette.ColorRole.AlternateBase)]
        for outcome, colour in outcome_colours(palette).items():
            for background in backgrounds:
                assert contrast_ratio(colour, background) >= 4.5, (outcome, dark)
        # What the table paints is that colour.
        model: ResultsModel = window.model
        model.reset_rows(TargetList.from_text("https://a.example/"))
        shown = model.data(model.index(0, COL_OUTCOME), Qt.ItemDataRole.ForegroundRole)
        assert shown == outcome_colours(palette)[Outcome.PENDING]
        # The notice banner: its own text on its own background.
        window.notice_bar.show_notice("Settings: something to read")
        bar = window.notice_bar.palette()
        text = bar.color(QPalette.ColorRole.WindowText)
        background = bar.color(QPalette.ColorRole.Window)
        assert contrast_ratio(text, background) >= 4.5
        assert background == notice_colours(palette).background
        label = window.notice_bar.label.palette().color(QPalette.ColorRole.WindowText)
        assert contrast_ratio(label, background) >= 4.5
    finally:
        window.setPalette(QPalette())


def test_a_dark_palette_makes_the_notice_dark_and_its_text_light(window):
    window.setPalette(dark_palette())
    try:
        bar = window.notice_bar.palette()
        assert bar.color(QPalette.ColorRole.Window).lightnessF() < 0.4
        assert bar.color(QPalette.ColorRole.WindowText).lightnessF() > 0.7
    finally:
        window.setPalette(QPalette())
    bar = window.notice_bar.palette()
    assert bar.color(QPalette.ColorRole.Window).lightnessF() > 0.8


def test_rows_in_flight_read_fetching(qapp):
    model = ResultsModel()
    model.reset_rows(TargetList.from_text("https://a.example/\nhttps://b.example/\n"))
    in_flight: set[int] = set()
    model.set_in_flight(in_flight)
    cell = [model.index(row, COL_OUTCOME) for row in range(2)]
    assert [model.data(c) for c in cell] == ["queued", "queued"]
    in_flight.add(1)  # the run's live set: no call needed
    assert [model.data(c) for c in cell] == ["queued", "fetching"]


def test_the_run_summary_is_docked_hidden_fed_by_runs_and_filters_the_table(window, qtbot,
                                                                            server):
    dock = window.summary_dock
    assert dock.objectName() == "summary" and not dock.isVisible()
    assert dock.toggleViewAction() in window.view_menu.actions()
    assert window.dockWidgetArea(dock) == Qt.DockWidgetArea.RightDockWidgetArea
    dock.toggleViewAction().trigger()
    assert dock.isVisible()
    fetch(qtbot, window, "\n".join([server.url("/ok"), server.url("/status/404"),
                                    server.url("/status/404?n=2")]))
    stats = window.summary.stats
    assert sum(stats.statuses.values()) == 3 and stats.statuses[404] == 2
    # A click on the 404 bar arrives as this request: the table shows those rows, and says so.
    window.summary.filter_requested.emit(("status", 404))
    qtbot.waitUntil(lambda: window.model.rowCount() == 2)
    assert window.results.filter_edit.text() == "status:404"
    window.summary.filter_requested.emit(("outcome", "ok"))
    qtbot.waitUntil(lambda: window.model.rowCount() == 1)

def test_a_real_run_shows_fetching_and_waiting_rows(window, qtbot, server):
    # Row 0 hangs (fetching); row 1 answers 429 with Retry-After: 30, so while it waits to be
    # tried again its row says how long.
    window.settings = window.settings.replace(retries=1)
    window.controller.settings = window.settings
    # Two hosts (127.0.0.1 and localhost): only the second is paused by its Retry-After.
    retry = server.url("/retry-after?seconds=30").replace("127.0.0.1", "localhost")
    window.form.set_text(f"{server.url('/hang')}\n{retry}")
    window.start_run()
    cell = [window.model.index(row, COL_OUTCOME) for row in range(2)]
    qtbot.waitUntil(lambda: window.model.data(cell[0]) == "fetching", timeout=10_000)
    qtbot.waitUntil(lambda: str(window.model.data(cell[1])).startswith("waiting "),
                    timeout=10_000)
    seconds = int(window.model.data(cell[1]).split()[1])
    assert 20 <= seconds <= 30
    with qtbot.waitSignal(window.run_finished, timeout=10_000):
        window.controller.cancel()
    assert [window.model.data(c) for c in cell] == ["cancelled", "cancelled"]


def test_sigint_becomes_a_call_on_the_gui_thread_not_a_keyboard_interrupt(qtbot, loop):
    import os
    import signal
    import threading

    from app.gui.signals import SignalCancel

    seen: list[tuple[int, str]] = []
    handler = SignalCancel(lambda signum: seen.append((signum, threading.current_thread().name)))
    handler.install()
    try:
        os.kill(os.getpid(), signal.SIGINT)
        qtbot.waitUntil(lambda: bool(seen), timeout=5_000)
    finally:
        handler.uninstall()
    assert seen == [(signal.SIGINT, threading.main_thread().name)]
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
