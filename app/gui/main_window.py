"""The main window: builds the panes and connects their signals. Each pane lays itself out, the
controller runs, the export job writes; the window only says who hears whom.

Layout: the URL form on the left, the results pane (filter bar and table) on the right, and
below the table the Errors panel and the selected row's Details side by side, so a selected row's
details and its failure are both in view. Docks, splitters, column widths and the window's
place are remembered between starts (:mod:`app.gui.window_state`).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import shiboken6
from PySide6.QtCore import QByteArray, QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QDockWidget,
    QFrame,
    QHBoxLayout,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.core.errors import Failure, Kind
from app.core.redact import Redactor
from app.core.result import FAILURES, Outcome, Result
from app.core.settings import Settings, overrides_after_edit
from app.core.store import Ended, RunInfo
from app.core.tally import Progress, status_text
from app.gui.demo import Demo
from app.gui.error_panel import ErrorPanel
from app.gui.exceptions import ExceptionRouter
from app.gui.export_job import ExportJob, export_dialog
from app.gui.history_actions import HistoryActions
from app.gui.history_dialog import ended_text
from app.gui.keyboard import (
    Area,
    AreaCycle,
    FocusRing,
    ShortcutsDialog,
    actions_with_shortcuts,
)
from app.gui.notice_bar import NoticeBar
from app.gui.results_model import ResultsModel
from app.gui.results_pane import ResultsPane
from app.gui.row_details import RowDetails
from app.gui.run_controller import RunController
from app.gui.run_history import RunHistory
from app.gui.run_summary import RunSummary
from app.gui.settings_dialog import SettingsDialog
from app.gui.sitemap_dialog import SitemapDialog
from app.gui.status_text import StatusText
from app.gui.url_form import UrlForm
from app.gui.widgets import action, ask
from app.gui.window_state import load_state, place_on_screen, save_state

if TYPE_CHECKING:  # the demo server (aiohttp.web) is imported when first started
    from app.core.demo import DemoServer

__all__ = ["MainWindow"]


_RETRIED = frozenset({*FAILURES, Outcome.CANCELLED})


def _loop_running() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True

STATE_VERSION = 2  # of saveState's dock layout: bump when docks change, old layouts are dropped
FETCH_TIP = "Fetch every URL (Ctrl+Return); Esc cancels a run"


class MainWindow(QMainWindow):
    """Signals:
        closed(): the window has closed and any run in it has finished.
        run_finished(object): a run ended, with its final Progress.
        export_finished(str, str): an export ended: its path, and an error ("" if it worked).
        close_asked(QMessageBox): closing during a run opened this question (tests answer it).
    """

    closed = Signal()
    run_finished = Signal(object)
    export_finished = Signal(str, str)
    close_asked = Signal(QMessageBox)

    def __init__(self, settings: Settings, settings_warnings: list[str] | None = None, *,
                 overrides: Mapping[str, Any] | None = None,
                 state_file: Path | None = None) -> None:
        """``settings`` are the user's saved settings; ``overrides`` the fields set on the
        command line, which apply on top of them for this session only and are never saved.
        ``state_file``: where the layout is kept (default: ``window.json`` in the config dir)."""
        super().__init__()
        self.setWindowTitle("Fetchdeck")
        # The Settings dialog edits and saves these (plus credentials typed this session, which
        # stay in memory); runs use them with the command-line overrides applied on top.
        self.saved_settings = settings
        self.overrides = overrides_after_edit(settings, settings, overrides or {})
        settings = settings.replace(**self.overrides)
        self.settings = settings
        self._state_file = state_file
        self._closing = False
        self._history_closing = False
        self._close_box: QMessageBox | None = None
        self._bar_moved = 0.0  # when the progress bar last moved (monotonic s)
        self._followed: tuple[int, int, object] | None = None  # the row the panel shows
        self._router: ExceptionRouter | None = None
        self.demo = Demo()
        self.summary_dock: QDockWidget | None = None
        self.sitemap_dialog: SitemapDialog | None = None
        self._sitemap_url = ""

        self.model = ResultsModel(self)
        self.redactor = Redactor.for_settings(settings)
        self.model.set_redactor(self.redactor)
        self.model.set_palette(self.palette())
        # Every run is recorded here (unless keep_runs is off); the store opens off the GUI
        # thread, once, when first needed.
        self.history = RunHistory(settings, self)
        self.controller = RunController(self.model, settings, self, history=self.history)
        self.exports = ExportJob(self)

        self._build_panes()
        self.history_actions = HistoryActions(self.history, self.controller, self.notice_bar,
                                              lambda: self.settings, self)
        self._build_status_bar()
        self._build_menus()
        # The run summary (charts, per-host table): docked, hidden until asked for (View);
        # its charts library loads when it is first shown.
        self.summary = RunSummary()
        self.add_summary_view(self.summary, "Run summary").hide()
        self._connect()
        self.restore_layout()
        for warning in settings_warnings or []:
            self._show_notice(f"Settings: {warning}")
        if settings.keep_runs and _loop_running():
            self.history_actions.offer_interrupted()  # a run a crash cut short: Resume it?

    # -- construction --------------------------------------------------------------------------

    def _build_panes(self) -> None:
        self.form = UrlForm()
        self.form.set_settings(self.settings)
        self.fetch_button = QPushButton("Fetch")
        self.fetch_button.setDefault(True)
        self.fetch_button.setMinimumWidth(96)
        self.fetch_button.setToolTip(FETCH_TIP)
        self.settings_button = QPushButton("Settings…")
        self.export_button = QPushButton("Export…")
        self.export_button.setEnabled(False)
        buttons = QHBoxLayout()
        buttons.addWidget(self.fetch_button)
        buttons.addWidget(self.settings_button)
        buttons.addStretch(1)
        buttons.addWidget(self.export_button)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(8, 8, 4, 8)
        left_layout.addWidget(self.form, 1)
        left_layout.addLayout(buttons)

        self.results = ResultsPane(self.model)
        self.results.set_settings(self.settings)
        self.results.layout().setContentsMargins(4, 8, 8, 4)
        # The names the rest of the app (and its tests) have always used.
        self.table = self.results.table
        self.filter_edit = self.results.filter_edit
        self.outcome_filter = self.results.outcome_filter
        self.rows_label = self.results.rows_label
        self.form.drops.watch(self.table.viewport())  # a list dropped on the table imports too

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("main_splitter")
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.results)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([340, 940])
        self.notice_bar = NoticeBar()
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.setSpacing(0)
        central_layout.addWidget(self.notice_bar)
        central_layout.addWidget(self.splitter, 1)
        self.setCentralWidget(central)

        self.error_panel = ErrorPanel(self)
        self.error_panel.set_settings(self.settings)
        self.details = RowDetails()
        self.details_dock = QDockWidget("Details", self)
        self.details_dock.setObjectName("details")
        self.details_dock.setWidget(self.details)
        # Side by side under the table, not tabbed: the selected row's details and its failure
        # are both in view without looking for them.
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.error_panel)
        self.splitDockWidget(self.error_panel, self.details_dock, Qt.Orientation.Horizontal)
        self.resizeDocks([self.error_panel, self.details_dock], [55, 45],
                         Qt.Orientation.Horizontal)
        self.resizeDocks([self.error_panel], [260], Qt.Orientation.Vertical)

    def _build_status_bar(self) -> None:
        self.progress_label = StatusText("Ready")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setVisible(False)
        self.statusBar().addWidget(self.progress_label, 1)
        self.statusBar().addPermanentWidget(self.progress_bar)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.import_action = action(self, "&Import URL list…", self.form.choose_file,
                                    shortcut=QKeySequence.StandardKey.Open)
        self.import_sitemap_action = action(
            self, "Import &sitemap from URL…", self.choose_sitemap_url,
            tip="Read the pages a sitemap or sitemap index lists, with the current settings")
        self.open_run_action = action(self, "&Open run…",
                                      self.history_actions.show_open_dialog,
                                      shortcut="Ctrl+Shift+O",
                                      tip="Open, compare or delete a run from the run history")
        self.resume_action = action(self, "&Resume", self._resume,
                                    tip="Fetch the lines the last interrupted or cancelled run "
                                        "(or the one shown) did not finish, into that run")
        self.export_action = action(self, "&Export…", self.choose_export_path,
                                    shortcut="Ctrl+E",
                                    tip="Write every row as CSV, JSON Lines or XLSX")
        self.export_shown_action = action(self, "Export &shown rows…",
                                          lambda: self.choose_export_path(shown_only=True),
                                          tip="Write only the rows the filter shows")
        for act in (self.export_action, self.export_shown_action):
            act.setEnabled(False)
        self.quit_action = action(self, "&Quit", self.close, shortcut=QKeySequence.StandardKey.Quit)
        file_menu.addActions([self.import_action, self.import_sitemap_action])
        file_menu.addSeparator()
        file_menu.addActions([self.open_run_action, self.resume_action])
        file_menu.addSeparator()
        file_menu.addActions([self.export_action, self.export_shown_action])
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)

        edit_menu = self.menuBar().addMenu("&Edit")
        self.results.copy_rows_action.setProperty("where", "in the results table")
        self.error_panel.copy_action.setProperty("where", "in the Errors list")
        self.find_action = action(self, "&Filter rows", self._focus_filter, shortcut="Ctrl+F",
                                  tip="Type in the table's filter bar")
        edit_menu.addActions([self.results.copy_rows_action, self.results.copy_url_action,
                              self.results.curl_action])
        edit_menu.addSeparator()
        edit_menu.addAction(self.find_action)

        run_menu = self.menuBar().addMenu("&Run")
        self.fetch_action = action(self, "&Fetch", self.start_run)
        self.fetch_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.cancel_action = action(self, "&Cancel", self.controller.cancel,
                                    shortcut=QKeySequence(Qt.Key.Key_Escape))
        self.cancel_action.setEnabled(False)
        self.retry_failed_action = action(self, "&Retry all failures", self._retry_all_failures)
        self.settings_action = action(self, "&Settings…", self.open_settings,
                                      shortcut=QKeySequence.StandardKey.Preferences)
        run_menu.addActions([self.fetch_action, self.cancel_action, self.retry_failed_action])
        run_menu.addSeparator()
        run_menu.addAction(self.settings_action)
        for act in (self.fetch_action, self.cancel_action):
            self.addAction(act)  # shortcuts work wherever focus is

        self.view_menu = self.menuBar().addMenu("&View")
        self.view_menu.addAction(self.error_panel.toggleViewAction())
        self.view_menu.addAction(self.details_dock.toggleViewAction())
        self.view_menu.addSeparator()
        self.next_area_action = action(self, "&Next area", self._next_area, shortcut="F6",
                                       tip="Move to the next part of the window: URL list, "
                                           "results table, details, errors")
        self.previous_area_action = action(self, "&Previous area", self._previous_area,
                                           shortcut="Shift+F6")
        self.view_menu.addActions([self.next_area_action, self.previous_area_action])

        help_menu = self.menuBar().addMenu("&Help")
        self.shortcuts_action = action(self, "&Keyboard shortcuts", self.show_shortcuts,
                                       shortcut=QKeySequence.StandardKey.HelpContents)
        self.demo_action = action(self, "Try the &demo", self.start_demo,
                                  tip="Start a small server on this computer that shows every "
                                      "kind of outcome, and load its URLs")
        about_action = action(self, "&About Fetchdeck", self._about)
        help_menu.addActions([self.shortcuts_action, self.demo_action, about_action])

        self.areas = AreaCycle([
            Area("URL list", lambda: self.form.editor if self.form.editor.isVisible()
                 else self.form.import_button, self.form),
            Area("Results", lambda: self.table),
            Area("Details", lambda: self.details.focus_target(), self.details_dock),
            Area("Errors", lambda: self.error_panel.tree, self.error_panel),
        ])
        self.focus_ring = FocusRing(self, self.areas.areas)

    def _connect(self) -> None:
        self.fetch_button.clicked.connect(self.toggle_run)
        self.settings_button.clicked.connect(self.open_settings)
        self.export_button.clicked.connect(self.choose_export_path)
        self.form.import_failed.connect(self._show_notice)
        self.controller.started.connect(self._on_started)
        self.controller.results_arrived.connect(self.error_panel.update_results)
        self.controller.results_arrived.connect(self.summary.add)
        self.summary.filter_requested.connect(self._filter_from_summary)
        self.controller.results_arrived.connect(self._log_internal_rows)
        self.controller.progressed.connect(self._on_progress)
        self.controller.finished.connect(self._on_finished)
        self.error_panel.retry_requested.connect(self.retry)
        self.error_panel.row_selected.connect(self.select_row)
        self.error_panel.notice.connect(self._show_notice)
        self.details.fetch_again_requested.connect(self._fetch_again)
        self.results.current_changed.connect(self._show_row)
        self.results.retry_requested.connect(self.retry)
        self.results.show_error_requested.connect(self.show_error)
        self.results.notice.connect(self._show_notice)
        self.exports.progressed.connect(self.progress_label.setText)
        self.exports.finished.connect(self._on_export_finished)
        self.history.notice.connect(self._show_notice)
        self.history_actions.notice.connect(self._show_notice)
        self.history_actions.replacing.connect(self._clear_for_run)
        self.history_actions.run_opened.connect(self._on_run_opened)

    # -- running -------------------------------------------------------------------------------

    def toggle_run(self) -> None:
        if self.controller.running:
            self.controller.cancel()
        else:
            self.start_run()

    def start_run(self) -> None:
        if self.controller.running or self._closing:
            return
        if self.form.loading:
            self._show_notice("The URL list is still being read; Fetch again in a moment.")
            return
        targets = self.form.targets()
        if not len(targets):
            self._show_notice("There are no URLs to fetch: paste some, or use Import….")
            return
        self._clear_for_run()
        self.controller.start(targets, source=", ".join(self.form.source_paths) or "pasted")

    def _clear_for_run(self) -> None:
        """The table is about to show another run: what belonged to the old one goes."""
        self.error_panel.clear()
        self.summary.start()  # a stored run's rows are summarised afresh, not on top
        self.summary.watch_hosts(None)
        self._followed = None
        self.details.show_result(None, redactor=self.redactor)
        self.results.reset_for_run()

    def retry(self, indexes: list[int]) -> None:
        if not indexes or self._closing:  # closing waits for an export, then closes
            return
        if self.controller.running:
            self._show_notice("A run is going: cancel it or let it finish, then retry.")
            return
        if self.history_actions.loading:
            self._show_notice("The run is still being opened: retry once its rows are all in.")
            return
        self.controller.retry(indexes)

    def _resume(self) -> None:
        self.history_actions.resume()

    def _on_run_opened(self, info: RunInfo) -> None:
        """A stored run is in the table, every row read."""
        self.model.rearrange()
        self._enable_export()
        started = info.started.astimezone().strftime("%Y-%m-%d %H:%M")
        engine = self.controller.engine
        counts = engine.tally.summary() if engine is not None else ""
        self.progress_label.setText(f"Run {info.id} of {started} ({info.source}, "
                                    f"{ended_text(info)}): {counts}")

    def _fetch_again(self, index: int) -> None:
        self.retry([index])

    def _retry_all_failures(self) -> None:
        # Every row with a failure: failed, HTTP errors, invalid and cancelled (a reopened
        # run's are asked of its file, not read row by row on the GUI thread).
        self.retry(self.model.indexes_where(_RETRIED))

    def _on_started(self) -> None:
        engine = self.controller.engine
        run = engine.run if engine is not None else None
        self.summary.start(run.started_at if run is not None else None)
        self.summary.watch_hosts(run.hosts if run is not None else None)
        self.fetch_button.setText("Cancel")
        self.fetch_button.setToolTip("Stop the run (Esc); results so far are kept")
        self.fetch_action.setEnabled(False)
        self.cancel_action.setEnabled(True)
        self.retry_failed_action.setEnabled(False)
        self.details.set_fetch_again_enabled(False)
        self._enable_export()
        self.progress_bar.setVisible(True)

    def _on_progress(self, progress: Progress) -> None:
        self.progress_label.setText(status_text(progress))
        per_mille = progress.done * 1000 // max(1, progress.total)
        now = time.monotonic()
        # Twice a second is smooth enough for a bar, and each move paints it.
        if per_mille != self.progress_bar.value() and (
                now - self._bar_moved >= 0.5 or per_mille == 1000):
            self._bar_moved = now
            # QProgressBar.setValue repaints at once, outside Qt's batched painting (~2 ms a
            # call); with updates off it only changes the value, and turning them on again
            # schedules the repaint together with the status line's.
            self.progress_bar.setUpdatesEnabled(False)
            self.progress_bar.setValue(per_mille)
            self.progress_bar.setUpdatesEnabled(True)

    def _on_finished(self, progress: Progress | None) -> None:
        if self.summary.isVisible():
            self.summary.redraw()  # the last batch at once, not a part every 80 ms
        self.fetch_button.setText("Fetch")
        self.fetch_button.setToolTip(FETCH_TIP)
        self.fetch_action.setEnabled(True)
        self.cancel_action.setEnabled(False)
        self.retry_failed_action.setEnabled(True)
        self.details.set_fetch_again_enabled(True)
        self._enable_export()
        self.progress_bar.setVisible(False)
        self.model.rearrange()  # rows finished since the table was sorted or filtered
        if progress is not None:
            self.progress_label.setText(status_text(progress))
        self.run_finished.emit(progress)
        if self._closing:
            self.close()

    # -- table, details and panel --------------------------------------------------------------

    def select_row(self, index: int) -> None:
        """Select input row ``index`` in the table, clearing a filter that hides it."""
        self.results.select_row(index)

    def selected_result(self) -> Result | None:
        return self.results.selected_result()

    def _show_row(self, result: Result | None) -> None:
        """The selected row, in full: its details, and its failure in the Errors panel."""
        self.details.show_result(result, redactor=self.redactor)
        # This runs at every tick while the selected row is among the rows that changed: the
        # panel follows only when the row, or its result, is another one.
        followed = None if result is None else (result.index, id(result), result.outcome)
        if followed == self._followed:
            return
        self._followed = followed
        if result is not None:
            self.error_panel.select_row_failure(result.index)
            if result.failure is not None:
                for dock in (self.details_dock, self.error_panel):
                    if dock.isHidden() and not dock.isFloating():
                        dock.show()

    def show_error(self, index: int) -> None:
        """The row's failure, selected in the Errors panel, which takes the focus."""
        self.error_panel.show()
        self.error_panel.raise_()
        if self.error_panel.select_row_failure(index):
            self.error_panel.tree.setFocus(Qt.FocusReason.OtherFocusReason)

    def _focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    def _next_area(self) -> None:
        self.areas.next()

    def _previous_area(self) -> None:
        self.areas.previous()

    # -- notices and errors --------------------------------------------------------------------

    def _show_notice(self, text: str) -> None:
        """A message about the app itself (not a URL): a banner that stays until dismissed."""
        self.progress_label.setText(text)
        self.notice_bar.show_notice(text)

    @property
    def notices(self) -> list[str]:
        return self.notice_bar.notices

    def show_internal_error(self, failure: Failure) -> None:
        """An error outside any URL (a bug): it goes in the panel, and the panel comes forward."""
        self.error_panel.add_internal(failure)
        self.error_panel.show()
        self.error_panel.raise_()
        self.progress_label.setText(f"Internal error: {failure.message} (see the Errors panel)")

    def attach_router(self, router: ExceptionRouter) -> None:
        router.internal_error.connect(self.show_internal_error)
        self._router = router

    def _log_internal_rows(self, results: list[Result]) -> None:
        """A row whose failure is a bug in Fetchdeck is shown on its row and also logged."""
        if self._router is None:
            return
        for result in results:
            if result.failure is not None and result.failure.kind is Kind.INTERNAL:
                self._router.record(result.failure)

    def event(self, event: QEvent) -> bool:
        # A hovered action's status tip would replace the progress line (QStatusBar hides its
        # widgets to show a message); tooltips say the same where the pointer is.
        if event.type() == QEvent.Type.StatusTip:
            return True
        return super().event(event)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self.model.set_palette(self.palette())  # light and dark outcome colours

    # -- settings ------------------------------------------------------------------------------

    def open_settings(self) -> None:
        # The dialog shows the saved values, not the command line's: OK must not make a one-off
        # flag permanent. It says which fields the command line overrides for this session.
        dialog = SettingsDialog(self.saved_settings, self, overrides=self.overrides)
        dialog.accepted.connect(lambda: self.apply_settings(dialog.settings()))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def apply_settings(self, saved: Settings) -> None:
        """Save the user's edited settings and run with them, keeping the command-line
        overrides of the fields the user did not change."""
        from app.core.config import save_settings

        self.overrides = overrides_after_edit(self.saved_settings, saved, self.overrides)
        self.saved_settings = saved
        settings = saved.replace(**self.overrides)
        self.settings = settings
        self.controller.settings = settings
        self.form.set_settings(settings)
        self.history.set_settings(settings)
        self.redactor = Redactor.for_settings(settings)
        self.model.set_redactor(self.redactor)
        self.error_panel.set_settings(settings)
        self.results.set_settings(settings)
        self._show_row(self.selected_result())  # the details pane masks (or unmasks) at once
        try:
            save_settings(saved)
        except OSError as exc:
            self._show_notice(f"Settings are in use but could not be saved: {exc}")

    # -- export --------------------------------------------------------------------------------

    def choose_export_path(self, shown_only: bool = False) -> None:
        """Ask where to write the rows (all, or only those the filter shows); the chosen
        file type (CSV, JSON Lines, XLSX) is the format."""
        dialog = export_dialog(self, "Export the rows the filter shows" if shown_only
                               else "Export results", time.strftime("fetchdeck-%Y%m%d-%H%M%S"))
        dialog.fileSelected.connect(lambda path: self.export_results(path,
                                                                     shown_only=shown_only))
        dialog.open()

    def export_csv(self, path: str) -> asyncio.Future[int]:
        """Write the table to ``path`` as CSV off the GUI thread; ``export_finished`` reports
        the end."""
        return self.export_results(path, fmt="csv")

    def export_results(self, path: str, *, shown_only: bool = False,
                       fmt: str | None = None) -> asyncio.Future[int]:
        """Write every row (or only those the filter shows), in input order, to ``path`` as
        CSV, JSON Lines or XLSX (``fmt``, else by the extension) off the GUI thread."""
        engine = self.controller.engine
        rows = self.model.shown_snapshot() if shown_only else self.model.snapshot()
        task = self.exports.start(path, rows, self.settings,
                                  targets=engine.targets if engine is not None else None,
                                  protect=list(self.form.source_paths), fmt=fmt)
        self._enable_export()
        return task

    def _on_export_finished(self, path: str, error: str) -> None:
        self._enable_export()
        if error and error != "export cancelled":
            self._show_notice(error)
        self.export_finished.emit(path, error)
        if self._closing:
            self.close()  # the window waited for the file to be complete

    def _enable_export(self) -> None:
        """Export needs finished rows, no run going and no export already writing."""
        can = len(self.model) > 0 and not self.controller.running and not self.exports.running
        self.export_button.setEnabled(can)
        self.export_action.setEnabled(can)
        self.export_shown_action.setEnabled(can)

    # -- help ----------------------------------------------------------------------------------

    @property
    def demo_server(self) -> DemoServer | None:
        return self.demo.server

    def start_demo(self) -> DemoServer | None:
        """Start the built-in demo server (once) and put its sample URLs in the form. What was
        typed there stays one Undo (Ctrl+Z) away."""
        if self.controller.running:
            self._show_notice("Cancel the run before loading the demo.")
            return None
        if self.form.is_big_list:
            self._show_notice("An imported list is loaded: use Clear list first if you want "
                              "the demo instead of it.")
            return None
        try:
            text = self.demo.sample_text()
        except OSError as exc:
            self._show_notice(f"The demo server could not start: {exc}")
            return None
        typed = self.form.text().strip() and self.form.text() != text
        self.form.replace_text(text)
        self.progress_label.setText(
            "Demo loaded: press Fetch to see every kind of outcome."
            + (" Your list is one Undo away (Ctrl+Z in the URL list)." if typed else ""))
        return self.demo.server

    def show_shortcuts(self) -> ShortcutsDialog:
        dialog = ShortcutsDialog(self.shortcut_actions(), self)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        return dialog

    def shortcut_actions(self) -> list[QAction]:
        return actions_with_shortcuts(self)

    def _filter_from_summary(self, what: object) -> None:
        """A bar or host clicked in the run summary: the table shows those rows."""
        self.results.filter_by(what)  # type: ignore[arg-type]

    def add_summary_view(self, widget: QWidget, title: str = "Summary") -> QDockWidget:
        """Dock the run-summary view (charts, per-host table) on the right; View shows it.
        It scrolls rather than make the window taller, and the first time it is shown it
        takes a width that fits two charts side by side."""
        dock = QDockWidget(title, self)
        dock.setObjectName("summary")
        scroller = QScrollArea()
        scroller.setWidgetResizable(True)
        scroller.setFrameShape(QFrame.Shape.NoFrame)
        scroller.setWidget(widget)
        dock.setWidget(scroller)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, dock)
        sized: list[bool] = []

        def first_shown(visible: bool) -> None:
            if visible and not sized:
                sized.append(True)
                width = max(700, self.width() * 2 // 5)
                QTimer.singleShot(0, lambda: self.resizeDocks(
                    [dock], [width], Qt.Orientation.Horizontal))

        dock.visibilityChanged.connect(first_shown)
        dock.show()
        self.view_menu.insertAction(self.view_menu.actions()[2], dock.toggleViewAction())
        self.summary_dock = dock
        return dock

    def _about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "About Fetchdeck",
                          f"Fetchdeck {__version__}\n\nFetch many URLs at once and see exactly "
                          "what happened to each.", QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.finished.connect(box.deleteLater)
        box.open()

    # -- layout --------------------------------------------------------------------------------

    def layout_parts(self) -> dict[str, QByteArray]:
        """What :meth:`restore_layout` puts back: place, docks, splitters, columns."""
        return {
            "geometry": self.saveGeometry(),
            "docks": self.saveState(STATE_VERSION),
            "splitter": self.splitter.saveState(),
            "errors_splitter": self.error_panel.splitter.saveState(),
            "columns": self.table.horizontalHeader().saveState(),
        }

    def restore_layout(self) -> None:
        """The layout of the last close, fitted to the screen as it is now; else the default
        size within the screen."""
        parts = load_state(self._state_file)
        if "docks" in parts:
            self.restoreState(parts["docks"], STATE_VERSION)
        if "splitter" in parts:
            self.splitter.restoreState(parts["splitter"])
        if "errors_splitter" in parts:
            self.error_panel.splitter.restoreState(parts["errors_splitter"])
        if "columns" in parts:
            self.table.horizontalHeader().restoreState(parts["columns"])
            self.results.place_added_columns()  # a layout saved before they existed
        place_on_screen(self, parts.get("geometry"))

    def save_layout(self) -> None:
        with contextlib.suppress(OSError):  # a read-only config dir costs the layout, no more
            save_state(self.layout_parts(), self._state_file)

    # -- closing -------------------------------------------------------------------------------

    def display_lost(self) -> None:
        """The window system went away, and the loop with it: write every result that
        arrived and end the run going as interrupted, on this thread, without the loop or the
        screen (no layout is saved from a display that is gone)."""
        self.controller.hand_over()
        self.history.close_now(Ended.INTERRUPTED)

    def cancel_and_close(self) -> None:
        """Cancel the run (if any) and close once every row has its result."""
        self._closing = True
        self.close()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        """Closing mid-run asks first; then the run is cancelled and the window closes once
        every row has its result (and any export has finished writing)."""
        if self.controller.running:
            if not self._closing:
                event.ignore()
                self._ask_before_closing()
                return
            self.controller.cancel()
            self.progress_label.setText("Cancelling before closing…")
            event.ignore()
            return
        if self.exports.running:
            self._closing = True
            self.progress_label.setText("Finishing the export before closing…")
            event.ignore()
            return
        if self._close_box is not None:
            self._close_box.done(0)
        self.save_layout()
        super().closeEvent(event)
        self.demo.stop()
        self._close_history()

    def _close_history(self) -> None:
        """``closed`` once the history has written what it holds (a bounded wait, off the
        GUI thread). Once: a second close event (Qt's own, at exit) finds it done."""
        if self._history_closing:
            return
        self._history_closing = True
        self.history_actions.stop_loading()
        if not _loop_running():  # a probe without a loop: nothing was ever recorded
            self.closed.emit()
            return
        self.history.shutdown().add_done_callback(self._history_closed)

    def _history_closed(self, _done: object) -> None:
        if shiboken6.isValid(self):
            self.closed.emit()

    def _ask_before_closing(self) -> None:
        if self._close_box is not None:
            self._close_box.raise_()
            return
        progress = self.controller.last_progress
        done = f" ({progress.done:,} of {progress.total:,} done)" if progress else ""
        self._close_box = ask(
            self, "Close Fetchdeck?", f"A run is going{done}. Closing cancels it; "
            + ("every row so far is kept in the run history (File → Open run…)."
               if self.settings.keep_runs else
               "its results are gone unless you export them first (the run history is off)."),
            "Cancel the run and close", "Keep running", self.cancel_and_close)
        self._close_box.finished.connect(self._forget_close_box)
        self.close_asked.emit(self._close_box)

    def _forget_close_box(self) -> None:
        self._close_box = None

    def choose_sitemap_url(self) -> SitemapDialog:
        """File → Import sitemap from URL…: the form reads it, progress in its summary."""
        dialog = SitemapDialog(self, self._sitemap_url)
        dialog.url_chosen.connect(self._import_sitemap)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        self.sitemap_dialog = dialog
        return dialog

    def _import_sitemap(self, url: str) -> None:
        self._sitemap_url = url
        self.form.load_sitemap(url)

    def load_path(self, path: str | Path) -> asyncio.Task[None]:
        """Import a URL file; the task ends once the form shows it."""
        return self.form.start_loading(path)
