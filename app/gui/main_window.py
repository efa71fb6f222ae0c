"""The main window: composition and wiring only. Widgets lay out; the controller runs."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDockWidget,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSplitter,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QVBoxLayout,
    QWidget,
)

from app import __version__
from app.core.demo import DemoServer
from app.core.errors import Failure, Kind
from app.core.export import write_csv
from app.core.result import Outcome, Result
from app.core.settings import Settings, overrides_after_edit
from app.core.tally import Progress, status_text
from app.gui.error_panel import ErrorPanel
from app.gui.exceptions import ExceptionRouter
from app.gui.results_model import (
    COL_CONTENT_TYPE,
    COL_ERROR,
    COL_FINAL_URL,
    COL_LINE,
    COL_OUTCOME,
    COL_REDIRECTS,
    COL_SIZE,
    COL_STATUS,
    COL_TIME,
    COL_TITLE,
    COL_URL,
    ResultsModel,
    RowFilter,
)
from app.gui.results_view import ResultsView
from app.gui.row_details import RowDetails
from app.gui.run_controller import RunController
from app.gui.settings_dialog import SettingsDialog
from app.gui.status_text import StatusText
from app.gui.threads import run_in_thread
from app.gui.url_form import UrlForm

OUTCOME_FILTERS: tuple[tuple[str, frozenset[Outcome]], ...] = (
    ("All rows", frozenset()),
    ("Failures", frozenset({Outcome.HTTP_ERROR, Outcome.FAILED, Outcome.INVALID})),
    ("OK", frozenset({Outcome.OK})),
    ("HTTP errors", frozenset({Outcome.HTTP_ERROR})),
    ("Failed", frozenset({Outcome.FAILED})),
    ("Invalid", frozenset({Outcome.INVALID})),
    ("Cancelled", frozenset({Outcome.CANCELLED})),
    ("Queued", frozenset({Outcome.PENDING})),
)


class _ElideRight(QStyledItemDelegate):
    """Messages read left to right: cut their end, not their middle as URLs are."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: object) -> None:  # noqa: N802
        super().initStyleOption(option, index)  # type: ignore[arg-type]
        option.textElideMode = Qt.TextElideMode.ElideRight


class MainWindow(QMainWindow):
    """Signals:
        closed(): the window has closed and any run in it has finished.
        run_finished(object): a run ended, with its final Progress.
    """

    closed = Signal()
    run_finished = Signal(object)
    export_finished = Signal(str, str)  # path, error message ("" when it worked)

    def __init__(self, settings: Settings, settings_warnings: list[str] | None = None, *,
                 overrides: Mapping[str, Any] | None = None) -> None:
        """``settings`` are the user's saved settings; ``overrides`` the fields set on the
        command line, which apply on top of them for this session only and are never saved."""
        super().__init__()
        self.setWindowTitle("Fetchdeck")
        self.resize(1280, 800)
        # The Settings dialog edits and saves these (plus credentials typed this session, which
        # stay in memory); runs use them with the command-line overrides applied on top.
        self.saved_settings = settings
        self.overrides = overrides_after_edit(settings, settings, overrides or {})
        settings = settings.replace(**self.overrides)
        self.settings = settings
        self._closing = False
        self._export_task: asyncio.Future[int] | None = None
        self._dialogs: list[QWidget] = []
        self._pending_selection: int | None = None
        self._bar_moved = 0.0  # when the progress bar last moved (monotonic s)
        self._router: ExceptionRouter | None = None
        self.demo_server: DemoServer | None = None

        self.form = UrlForm()
        self.fetch_button = QPushButton("Fetch")
        self.fetch_button.setDefault(True)
        self.fetch_button.setMinimumWidth(110)
        self.fetch_button.setToolTip("Fetch every URL (Ctrl+Return); Esc cancels a run")
        self.settings_button = QPushButton("Settings…")
        self.export_button = QPushButton("Export CSV…")
        self.export_button.setEnabled(False)

        self.model = ResultsModel(self)
        self.model.set_mask_passwords(settings.mask_passwords)
        self.table = ResultsView()
        self.table.setModel(self.model)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_LINE, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        vheader = self.table.verticalHeader()
        vheader.setVisible(False)
        vheader.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        vheader.setDefaultSectionSize(self.fontMetrics().height() + 8)
        hheader = self.table.horizontalHeader()
        hheader.setStretchLastSection(True)
        widths = {COL_LINE: 50, COL_URL: 280, COL_OUTCOME: 80, COL_STATUS: 55, COL_ERROR: 260,
                  COL_TIME: 75, COL_SIZE: 75, COL_REDIRECTS: 70, COL_FINAL_URL: 200,
                  COL_CONTENT_TYPE: 130, COL_TITLE: 180}
        for column, width in widths.items():
            self.table.setColumnWidth(column, width)
        self._elide_right = _ElideRight(self.table)
        for column in (COL_ERROR, COL_TITLE, COL_CONTENT_TYPE):
            self.table.setItemDelegateForColumn(column, self._elide_right)

        self.controller = RunController(self.model, settings, self)

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
        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter rows by URL, error, title or status")
        self.filter_edit.setClearButtonEnabled(True)
        self.outcome_filter = QComboBox()
        for label, outcomes in OUTCOME_FILTERS:
            self.outcome_filter.addItem(label, outcomes)
        self.rows_label = QLabel()
        self.rows_label.setTextFormat(Qt.TextFormat.PlainText)
        filter_bar = QHBoxLayout()
        filter_bar.setContentsMargins(4, 8, 8, 0)
        filter_bar.addWidget(self.filter_edit, 1)
        filter_bar.addWidget(self.outcome_filter)
        filter_bar.addWidget(self.rows_label)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addLayout(filter_bar)
        right_layout.addWidget(self.table, 1)
        self._filter_timer = QTimer(self)
        self._filter_timer.setSingleShot(True)
        self._filter_timer.setInterval(200)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(left)
        splitter.addWidget(right)
        splitter.setStretchFactor(0, 0)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([360, 920])
        self.notices: list[str] = []
        self.notice_label = QLabel()
        self.notice_label.setTextFormat(Qt.TextFormat.PlainText)
        self.notice_label.setWordWrap(True)
        dismiss = QPushButton("Dismiss")
        dismiss.clicked.connect(self._dismiss_notices)
        self.notice_bar = QWidget()
        self.notice_bar.setObjectName("notice")
        self.notice_bar.setStyleSheet(
            "#notice { background: #fff4ce; border-bottom: 1px solid #e0c060; }")
        notice_layout = QHBoxLayout(self.notice_bar)
        notice_layout.setContentsMargins(10, 4, 10, 4)
        notice_layout.addWidget(self.notice_label, 1)
        notice_layout.addWidget(dismiss)
        self.notice_bar.setVisible(False)
        central = QWidget()
        central_layout = QVBoxLayout(central)
        central_layout.setContentsMargins(0, 0, 0, 0)
        central_layout.setSpacing(0)
        central_layout.addWidget(self.notice_bar)
        central_layout.addWidget(splitter, 1)
        self.setCentralWidget(central)

        self.error_panel = ErrorPanel(self)
        self.error_panel.set_settings(settings)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.error_panel)
        self.details = RowDetails()
        self.details_dock = QDockWidget("Details", self)
        self.details_dock.setObjectName("details")
        self.details_dock.setWidget(self.details)
        self.addDockWidget(Qt.DockWidgetArea.BottomDockWidgetArea, self.details_dock)
        self.tabifyDockWidget(self.error_panel, self.details_dock)
        self.error_panel.raise_()

        self.progress_label = StatusText("Ready")
        self.progress_bar = QProgressBar()
        self.progress_bar.setRange(0, 1000)
        self.progress_bar.setTextVisible(False)
        self.progress_bar.setMaximumWidth(220)
        self.progress_bar.setVisible(False)
        self.statusBar().addWidget(self.progress_label, 1)
        self.statusBar().addPermanentWidget(self.progress_bar)

        self._build_menus()
        self._connect()
        for warning in settings_warnings or []:
            self._show_notice(f"Settings: {warning}")

    # -- construction --------------------------------------------------------------------------

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        self.import_action = QAction("&Import URL list…", self)
        self.import_action.setShortcut(QKeySequence.StandardKey.Open)
        self.export_action = QAction("&Export CSV…", self)
        self.export_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_action.setEnabled(False)
        quit_action = QAction("&Quit", self)
        quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        quit_action.triggered.connect(self.close)
        file_menu.addActions([self.import_action, self.export_action])
        file_menu.addSeparator()
        file_menu.addAction(quit_action)

        run_menu = self.menuBar().addMenu("&Run")
        self.fetch_action = QAction("&Fetch", self)
        self.fetch_action.setShortcuts([QKeySequence("Ctrl+Return"), QKeySequence("Ctrl+Enter")])
        self.cancel_action = QAction("&Cancel", self)
        self.cancel_action.setShortcut(QKeySequence(Qt.Key.Key_Escape))
        self.cancel_action.setEnabled(False)
        self.retry_failed_action = QAction("&Retry all failures", self)
        self.settings_action = QAction("&Settings…", self)
        self.settings_action.setShortcut(QKeySequence.StandardKey.Preferences)
        run_menu.addActions([self.fetch_action, self.cancel_action, self.retry_failed_action])
        run_menu.addSeparator()
        run_menu.addAction(self.settings_action)
        for action in (self.fetch_action, self.cancel_action):
            self.addAction(action)  # shortcuts work wherever focus is

        view_menu = self.menuBar().addMenu("&View")
        view_menu.addAction(self.error_panel.toggleViewAction())
        view_menu.addAction(self.details_dock.toggleViewAction())

        help_menu = self.menuBar().addMenu("&Help")
        self.demo_action = QAction("Try the &demo", self)
        self.demo_action.setToolTip("Start a small server on this computer that shows every "
                                    "kind of outcome, and load its URLs")
        self.demo_action.triggered.connect(self.start_demo)
        about_action = QAction("&About Fetchdeck", self)
        about_action.triggered.connect(self._about)
        help_menu.addActions([self.demo_action, about_action])

    def _connect(self) -> None:
        self.fetch_button.clicked.connect(self.toggle_run)
        self.fetch_action.triggered.connect(self.start_run)
        self.cancel_action.triggered.connect(self.controller.cancel)
        self.settings_button.clicked.connect(self.open_settings)
        self.settings_action.triggered.connect(self.open_settings)
        self.export_button.clicked.connect(self.choose_export_path)
        self.export_action.triggered.connect(self.choose_export_path)
        self.import_action.triggered.connect(self.form.choose_file)
        self.retry_failed_action.triggered.connect(self._retry_all_failures)
        self.form.import_failed.connect(self._show_notice)
        self.controller.started.connect(self._on_started)
        self.controller.results_arrived.connect(self.error_panel.update_results)
        self.controller.results_arrived.connect(self._log_internal_rows)
        self.controller.progressed.connect(self._on_progress)
        self.controller.finished.connect(self._on_finished)
        self.error_panel.retry_requested.connect(self.retry)
        self.details.fetch_again_requested.connect(self._fetch_again)
        self.error_panel.row_selected.connect(self.select_row)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_row)
        self.model.dataChanged.connect(self._refresh_details)
        self.filter_edit.textChanged.connect(self._filter_timer.start)
        self._filter_timer.timeout.connect(self._apply_filter)
        self.outcome_filter.currentIndexChanged.connect(self._apply_filter)
        self.model.arranged.connect(self._update_rows_label)
        self.model.modelReset.connect(self._update_rows_label)

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
        self.error_panel.clear()
        self.details.show_result(None, mask_passwords=self.settings.mask_passwords)
        for widget in (self.filter_edit, self.outcome_filter):
            widget.blockSignals(True)
        self.filter_edit.clear()
        self.outcome_filter.setCurrentIndex(0)
        for widget in (self.filter_edit, self.outcome_filter):
            widget.blockSignals(False)
        self.table.horizontalHeader().setSortIndicator(COL_LINE, Qt.SortOrder.AscendingOrder)
        self.controller.start(targets)

    def retry(self, indexes: list[int]) -> None:
        if not indexes or self._closing:  # closing waits for an export, then closes
            return
        if self.controller.running:
            self._show_notice("A run is going: cancel it or let it finish, then retry.")
            return
        self.controller.retry(indexes)

    def _fetch_again(self, index: int) -> None:
        self.retry([index])

    def _retry_all_failures(self) -> None:
        self.retry([r.index for r in self.model.results() if r.failure is not None])

    def _on_started(self) -> None:
        self.fetch_button.setText("Cancel")
        self.fetch_button.setToolTip("Stop the run (Esc); results so far are kept")
        self.fetch_action.setEnabled(False)
        self.cancel_action.setEnabled(True)
        self.retry_failed_action.setEnabled(False)
        self.details.set_fetch_again_enabled(False)
        self.export_button.setEnabled(False)
        self.export_action.setEnabled(False)
        self.progress_bar.setVisible(True)
        self._run_started_at = time.monotonic()

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
        self.fetch_button.setText("Fetch")
        self.fetch_button.setToolTip("Fetch every URL (Ctrl+Return); Esc cancels a run")
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

    # -- table and panel -----------------------------------------------------------------------

    def select_row(self, index: int) -> None:
        """Select input row ``index`` in the table, clearing a filter that hides it."""
        if self.model.row_of(index) is None and self.model.row_filter:
            self.filter_edit.clear()
            self.outcome_filter.setCurrentIndex(0)
            self._pending_selection = index
            self._apply_filter()
            return
        row = self.model.row_of(index)
        if row is None:
            return
        cell = self.model.index(row, 0)
        self.table.selectionModel().setCurrentIndex(
            cell, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        self.table.scrollTo(cell, QAbstractItemView.ScrollHint.PositionAtCenter)

    def selected_result(self) -> Result | None:
        current = self.table.selectionModel().currentIndex()
        if not current.isValid():
            return None
        return self.model.result(self.model.index_at(current.row()))

    def _apply_filter(self) -> None:
        self._filter_timer.stop()
        outcomes = self.outcome_filter.currentData() or frozenset()
        self.model.set_filter(RowFilter(self.filter_edit.text().strip(), outcomes))

    def _update_rows_label(self) -> None:
        shown, total = self.model.rowCount(), len(self.model)
        self.rows_label.setText(f"{shown:,} of {total:,} rows" if shown != total else "")
        self._on_current_row()  # the selected row may have been filtered out
        if self._pending_selection is not None:
            index, self._pending_selection = self._pending_selection, None
            self.select_row(index)

    def _on_current_row(self, *_: object) -> None:
        self.details.show_result(self.selected_result(),
                                 mask_passwords=self.settings.mask_passwords)

    def _refresh_details(self, top: object, bottom: object) -> None:
        current = self.table.selectionModel().currentIndex()
        if not current.isValid():
            return
        row = current.row()
        if top.row() <= row <= bottom.row():  # type: ignore[attr-defined]
            self._on_current_row()

    def _show_notice(self, text: str) -> None:
        """A message about the app itself (not a URL): a banner that stays until dismissed."""
        self.progress_label.setText(text)
        self.notices.append(text)
        self.notice_label.setText("\n".join(self.notices[-5:]))
        self.notice_bar.setVisible(True)

    def _dismiss_notices(self) -> None:
        self.notices.clear()
        self.notice_bar.setVisible(False)

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
        self.model.set_mask_passwords(settings.mask_passwords)
        self.error_panel.set_settings(settings)
        self._on_current_row()  # the details pane masks (or unmasks) at once
        try:
            save_settings(saved)
        except OSError as exc:
            self._show_notice(f"Settings are in use but could not be saved: {exc}")

    # -- export --------------------------------------------------------------------------------

    def choose_export_path(self) -> None:
        dialog = QFileDialog(self, "Export results as CSV")
        dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        dialog.setDefaultSuffix("csv")
        dialog.setNameFilters(["CSV files (*.csv)", "All files (*)"])
        dialog.selectFile(time.strftime("fetchdeck-%Y%m%d-%H%M%S.csv"))
        dialog.fileSelected.connect(self.export_csv)
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()

    def export_csv(self, path: str) -> asyncio.Future[int]:
        """Write the table to ``path`` off the GUI thread; ``export_finished`` reports the end."""
        rows = self.model.snapshot()  # a C-level list copy: the GUI thread does no more
        total = len(rows)
        settings = self.settings
        loop = asyncio.get_running_loop()
        self.export_button.setEnabled(False)
        self.export_action.setEnabled(False)
        self.progress_label.setText(f"Exporting {total:,} rows to {path}…")

        def progress(written: int) -> None:  # called on the export thread
            percent = written * 100 // max(1, total)
            loop.call_soon_threadsafe(
                self.progress_label.setText,
                f"Exporting to {path}: {written:,} of {total:,} rows ({percent}%)")

        def export() -> int:
            results = (r for r in rows if r is not None)
            return write_csv(path, results, settings, progress=progress, every=50_000)

        # Not asyncio.to_thread: its worker may drop the last reference to this window.
        task = run_in_thread(export)
        self._export_task = task

        def done(task: asyncio.Future[int]) -> None:
            self._export_task = None
            self._enable_export()
            if task.cancelled():
                self.export_finished.emit(path, "export cancelled")
            elif (exc := task.exception()) is not None:
                message = f"Could not write {path}: {getattr(exc, 'strerror', None) or exc}"
                self._show_notice(message)
                self.export_finished.emit(path, message)
            else:
                self.progress_label.setText(f"Exported {task.result():,} rows to {path}")
                self.export_finished.emit(path, "")
            if self._closing:
                self.close()  # the window waited for the file to be complete

        task.add_done_callback(done)
        return task

    def _enable_export(self) -> None:
        """Export needs finished rows, no run going and no export already writing."""
        can = (len(self.model) > 0 and not self.controller.running
               and (self._export_task is None or self._export_task.done()))
        self.export_button.setEnabled(can)
        self.export_action.setEnabled(can)

    # -- help, closing -----------------------------------------------------------------------

    def start_demo(self) -> DemoServer | None:
        """Start the built-in demo server (once) and put its sample URLs in the form."""
        if self.controller.running:
            self._show_notice("Cancel the run before loading the demo.")
            return None
        if self.demo_server is None:
            server = DemoServer()
            try:
                server.start()
            except OSError as exc:
                self._show_notice(f"The demo server could not start: {exc}")
                return None
            self.demo_server = server
        self.form.set_text(self.demo_server.sample_text())
        self.progress_label.setText("Demo loaded: press Fetch to see every kind of outcome.")
        return self.demo_server

    def _about(self) -> None:
        box = QMessageBox(QMessageBox.Icon.Information, "About Fetchdeck",
                          f"Fetchdeck {__version__}\n\nFetch many URLs at once and see exactly "
                          "what happened to each.", QMessageBox.StandardButton.Ok, self)
        box.setTextFormat(Qt.TextFormat.PlainText)
        box.finished.connect(box.deleteLater)
        box.open()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        """Closing mid-run cancels the run and closes once every row has its result."""
        if self.controller.running:
            self._closing = True
            self.controller.cancel()
            self.progress_label.setText("Cancelling before closing…")
            event.ignore()
            return
        if self._export_task is not None and not self._export_task.done():
            self._closing = True
            self.progress_label.setText("Finishing the export before closing…")
            event.ignore()
            return
        super().closeEvent(event)
        if self.demo_server is not None:
            self.demo_server.stop()
            self.demo_server = None
        self.closed.emit()

    def load_path(self, path: str | Path) -> asyncio.Task[None]:
        """Import a URL file; the task ends once the form shows it."""
        return self.form.start_loading(path)
