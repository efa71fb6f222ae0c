"""The URL form: a multi-line editor, Import…, and a live account of what the list is (a list,
a table and its columns, a sitemap), which lines will be fetched and which will not, and why.

Files are read off the GUI thread; a table whose URL column cannot be found asks for it in the
column dialog, and any table's columns can be changed there (Columns…). A sitemap index, from
a file or a URL, is expanded with the run's settings, its progress shown in the summary line.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from pathlib import Path
from typing import Any, NamedTuple

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontDatabase, QTextCursor
from PySide6.QtWidgets import (
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QPlainTextEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.imported import ColumnNotFound, ImportedList, TableColumns, TablePreview
from app.core.settings import Settings
from app.core.sources import SourceError, line_by_line, parse_text, preview_table
from app.core.targets import Summary, TargetList, summarize
from app.gui.drops import ListDrops
from app.gui.import_dialog import ColumnDialog
from app.gui.import_words import count, describe_import, duplicates_phrase
from app.gui.list_reader import (
    BIG_LIST,
    SHOWN_REJECTS,
    Read,
    prepared,
    prepared_targets,
    read_file,
    read_files,
)
from app.gui.widgets import secondary

__all__ = ["BIG_LIST", "IMPORT_FILTERS", "SHOWN_REJECTS", "UrlForm"]

IMPORT_FILTERS = [
    "URL lists (*.txt *.lst *.csv *.tsv *.tab *.xlsx *.xlsm *.xls *.ods *.xml *.gz *.html *.htm "
    "*.rss *.atom)",
    "Text files (*.txt *.lst)",
    "Tables (*.csv *.tsv *.tab *.xlsx *.xlsm *.xls *.ods)",
    "Sitemaps and feeds (*.xml *.xml.gz *.gz *.rss *.atom)",
    "All files (*)",
]


class _Kept(NamedTuple):
    """A list kept apart from the editor (long, a table, a sitemap, several files)."""

    name: str
    paths: tuple[str, ...]  # the files it came from ("" for a sitemap URL)
    read: Read
    description: tuple[str, ...]


class UrlForm(QWidget):
    """Where the user gives the URL list.

    Small plain lists live in the editor. Anything else (a list of more than ``BIG_LIST``
    lines, a table, a sitemap, several files at once) is kept as rows and described instead:
    an editor holding a million lines freezes for seconds, and a table's columns would be lost
    in it.

    Signals:
        changed(int, int): fetchable count and rejected count, after each (debounced) edit.
        import_failed(str): a file or sitemap could not be read; the text says why.
        columns_asked(object): the column dialog was opened (a :class:`ColumnDialog`).
    """

    changed = Signal(int, int)
    import_failed = Signal(str)
    columns_asked = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = QPlainTextEdit()
        self.editor.setPlaceholderText(
            "Paste URLs here, one per line, or cells copied from a spreadsheet.\n"
            "https://example.com/\nhttps://example.org/about\n\n"
            "Blank lines and lines starting with # are skipped. Drop files here to import "
            "them.")
        self.editor.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        fixed = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        fixed.setStyleHint(QFont.StyleHint.Monospace)
        self.editor.setFont(fixed)
        self.editor.setTabChangesFocus(True)
        self.editor.setMinimumHeight(48)

        self.big_label = QLabel()
        self.big_label.setTextFormat(Qt.TextFormat.PlainText)
        self.big_label.setWordWrap(True)
        self.big_label.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.big_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.big_label.setObjectName("bigList")
        self.big_label.setStyleSheet("#bigList { padding: 12px; border: 1px solid palette(mid); }")
        self.clear_button = QPushButton("Clear list")
        self.clear_button.setToolTip("Forget the imported list and go back to the editor")
        self.clear_button.setVisible(False)
        self.big_label.setVisible(False)
        self.columns_button = QPushButton("Columns…")
        self.columns_button.setObjectName("columns_button")
        self.columns_button.setToolTip("Choose the column that holds the URLs, and those that "
                                       "hold the expected answers")
        self.columns_button.setVisible(False)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop reading the list")
        self.stop_button.setVisible(False)

        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Load a URL list: text, CSV/TSV, a spreadsheet (XLSX, "
                                      "ODS) or a sitemap. Files can also be dropped here.")
        self.source_info = QLabel()
        self.source_info.setObjectName("sourceInfo")
        self.source_info.setTextFormat(Qt.TextFormat.PlainText)
        self.source_info.setWordWrap(True)
        self.source_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        secondary(self.source_info)
        self.source_info.setVisible(False)
        self.summary = QLabel("No URLs yet")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.summary.setWordWrap(True)
        self.rejects = QListWidget()
        self.rejects.setMaximumHeight(90)
        self.rejects.setVisible(False)
        self.rejects.setToolTip("These lines will not be fetched; each gets a row saying why.")

        top = QHBoxLayout()
        top.addWidget(QLabel("URLs"))
        top.addStretch(1)
        top.addWidget(self.stop_button)
        top.addWidget(self.columns_button)
        top.addWidget(self.clear_button)
        top.addWidget(self.import_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.big_label, 1)
        layout.addWidget(self.source_info)
        layout.addWidget(self.summary)
        layout.addWidget(self.rejects)

        self._settings = Settings()
        self._targets = TargetList.empty()
        self._summary = Summary(0, ())
        self._duplicates = 0
        self._kept: _Kept | None = None
        # The editor's text as last read: its table preview, a column choice for it, and
        # where it came from when a file put it there.
        self._text_preview: TablePreview | None = None
        self._text_columns: TableColumns | None = None
        self._origin: list[str] = []
        self._text_imported: ImportedList | None = None
        self._text_problem = ""
        self._stale = True
        self._loading: asyncio.Task[None] | None = None
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.refresh)
        self.editor.textChanged.connect(self._on_text_changed)
        self.import_button.clicked.connect(self.choose_file)
        self.clear_button.clicked.connect(lambda: self.set_text(""))
        self.columns_button.clicked.connect(self.choose_columns)
        self.stop_button.clicked.connect(self.cancel_loading)
        self._dialog: QFileDialog | None = None
        self.column_dialog: ColumnDialog | None = None
        # Files dropped anywhere on the form are imported; text dropped outside the editor
        # becomes the list (the editor inserts text where it falls, as editors do).
        self.drops = ListDrops(self)
        self.drops.watch(self)
        self.drops.watch(self.editor.viewport(), text=False)
        self.drops.files_dropped.connect(self.load_files)
        self.drops.text_dropped.connect(self.drop_text)

    # -- text ----------------------------------------------------------------------------------

    def text(self) -> str:
        return self.editor.toPlainText()

    @property
    def source_path(self) -> str:
        """The file the rows were imported from and are kept apart from the editor, if any."""
        kept = self._kept
        return kept.paths[0] if kept is not None and kept.paths else ""

    @property
    def source_paths(self) -> tuple[str, ...]:
        """Every file the kept rows came from (several when several were dropped)."""
        return self._kept.paths if self._kept is not None else ()

    @property
    def is_big_list(self) -> bool:
        return self._kept is not None

    @property
    def loading(self) -> bool:
        return self._loading is not None and not self._loading.done()

    @property
    def imported(self) -> ImportedList | None:
        """How the kept list was read (its kind, columns, notices), if one is kept."""
        return self._kept.read.imported if self._kept is not None else None

    @property
    def duplicates(self) -> int:
        """Rows that repeat an earlier row's URL (fetched once unless the settings say not)."""
        return self._duplicates

    def set_settings(self, settings: Settings) -> None:
        """Settings that change what the form says (repeated URLs fetched once or not) and
        how a sitemap index is expanded (timeouts, TLS, proxy, size cap)."""
        self._settings = settings
        self._show_summary(self._summary, self._duplicates)

    def set_text(self, text: str) -> None:
        self._leave_big_mode()
        self._forget_text_source()
        self.editor.setPlainText(text)
        self.refresh()

    def replace_text(self, text: str) -> None:
        """Put ``text`` in the editor as one edit the user can undo (Ctrl+Z), unlike
        :meth:`set_text`, which starts the editor's history afresh."""
        self._leave_big_mode()
        self._forget_text_source()
        cursor = QTextCursor(self.editor.document())
        cursor.beginEditBlock()
        cursor.select(QTextCursor.SelectionType.Document)
        cursor.insertText(text)
        cursor.endEditBlock()
        cursor.movePosition(QTextCursor.MoveOperation.Start)
        self.editor.setTextCursor(cursor)  # the list's first lines in view, not its last
        self.refresh()

    def targets(self) -> TargetList:
        """The parsed form, current even if the debounce timer has not fired yet."""
        if self._stale and not self.is_big_list:
            self.refresh()
        return self._targets

    def _forget_text_source(self) -> None:
        self._text_columns = None
        self._text_preview = None
        self._origin = []

    # -- import --------------------------------------------------------------------------------

    def choose_file(self) -> None:
        # open(), not exec() or a static helper: those re-enter the event loop under qasync.
        dialog = QFileDialog(self, "Import URL list")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFiles)
        dialog.setNameFilters(IMPORT_FILTERS)
        dialog.filesSelected.connect(self.load_files)
        dialog.finished.connect(dialog.deleteLater)
        self._dialog = dialog
        dialog.open()

    def start_loading(self, path: str | Path, *,
                      columns: TableColumns | None = None) -> asyncio.Task[None]:
        """Read a URL file off the GUI thread; the returned task ends when the form shows it.
        ``columns`` are a table's columns as chosen in the column dialog."""
        path = Path(path)
        return self._start(self._load(path, columns), f"Reading {path.name}…")

    def load_files(self, paths: Sequence[str | Path]) -> asyncio.Task[None] | None:
        """Import one file or several (a drop, or several chosen): several are read one after
        the other into one list, kept apart from the editor."""
        paths = [Path(p) for p in paths]
        if not paths:
            return None
        if len(paths) == 1:
            return self.start_loading(paths[0])
        return self._start(self._load_many(paths), f"Reading {len(paths):,} files…")

    def load_sitemap(self, url: str) -> asyncio.Task[None]:
        """Read the pages a sitemap (or sitemap index) at ``url`` lists, with the settings'
        timeouts, TLS options and size cap; progress shows in the summary line."""
        return self._start(self._load_sitemap(url), f"Reading the sitemap {url}…")

    def drop_text(self, text: str) -> None:
        """Text dropped on the window (not in the editor, which takes it where it falls): it
        becomes the list, one Undo away from what was there."""
        self.replace_text(text)

    def cancel_loading(self) -> None:
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()

    def _start(self, work: Coroutine[Any, Any, None], message: str) -> asyncio.Task[None]:
        self.cancel_loading()
        self.summary.setText(message)
        self.stop_button.setVisible(True)
        task = asyncio.ensure_future(work)
        self._loading = task
        task.add_done_callback(self._loading_done)
        return task

    def _loading_done(self, task: asyncio.Task[None]) -> None:
        if task is not self._loading:
            return  # replaced by a newer import, which says what it does
        self.stop_button.setVisible(False)
        if task.cancelled():
            self._show_summary(self._summary, self._duplicates)
            self.summary.setText(f"Import stopped; the list is as it was · "
                                 f"{self.summary.text()}")

    async def _load(self, path: Path, columns: TableColumns | None) -> None:
        try:
            read = await asyncio.to_thread(read_file, path, columns)
        except OSError as exc:
            self._could_not(path.name, f"Could not read {path}: {exc.strerror or exc}")
            return
        except ColumnNotFound as exc:
            self.summary.setText(f"{path.name}: choose the column that holds the URLs")
            self._ask_columns(exc.preview, path.name, self._reload(path),
                              load_sheet=_sheet_loader(path), message=(
                f"No column of {path.name} could be told to hold URLs: choose it below (a "
                "click on a column's title chooses it). The other columns are kept and "
                "exported after Fetchdeck's own."))
            return
        except SourceError as exc:
            self._could_not(path.name, f"{path.name}: {exc}")
            return
        if read.text is not None:
            self.set_text(read.text)
            self._origin = [f"Read from {path.name}.", *describe_import(read.imported)[1:]]
            self._show_info()
            return
        if read.imported.kind == "sitemap_index":
            expanded = await self._expand(read.data, path.name)
            if expanded is None:
                return
            read = await asyncio.to_thread(prepared, expanded)
        description = describe_import(read.imported)
        description[0] = description[0][0].upper() + description[0][1:] + "."
        self._enter_big_mode(path.name, (str(path),), read, description)

    async def _load_many(self, paths: list[Path]) -> None:
        reads, problems = await asyncio.to_thread(read_files, paths)
        for problem in problems:
            self.import_failed.emit(problem)
        if not reads:
            self._show_summary(self._summary, self._duplicates)
            return
        combined: TargetList | None = None
        description: list[str] = []
        for path, read in reads:
            assert read.targets is not None
            lines = describe_import(read.imported)
            description.append(f"{path.name}: {lines[0]}")
            description += [f"  {line}" for line in lines[1:]]
            if combined is None:
                combined = read.targets
            else:
                combined.extend(read.targets)
        assert combined is not None
        whole = await asyncio.to_thread(prepared_targets, combined, reads[0][1].imported)
        name = f"{len(reads):,} files" if len(reads) > 1 else reads[0][0].name
        self._enter_big_mode(name, tuple(str(p) for p, _ in reads), whole, description)

    async def _load_sitemap(self, url: str) -> None:
        from app.core.sitemap import SitemapFetchError, expand_sitemap  # noqa: PLC0415

        try:
            imported = await expand_sitemap(url, self._settings,
                                            progress=self._progress(url))
        except SitemapFetchError as exc:
            self._could_not(url, f"Sitemap: {exc}")
            return
        except SourceError as exc:
            self._could_not(url, f"Sitemap {url}: {exc}")
            return
        read = await asyncio.to_thread(prepared, imported)
        description = describe_import(imported)
        description[0] = description[0][0].upper() + description[0][1:] + "."
        self._enter_big_mode(url, (), read, description)

    async def _expand(self, data: bytes, name: str) -> ImportedList | None:
        from app.core.sitemap import expand_sitemap  # noqa: PLC0415

        try:
            return await expand_sitemap(data, self._settings, progress=self._progress(name))
        except SourceError as exc:
            self._could_not(name, f"{name}: {exc}")
            return None

    def _progress(self, name: str) -> Callable[[Any], None]:
        def show(progress: Any) -> None:
            self.summary.setText(
                f"Reading the sitemap index {name}: {progress.sitemaps_done:,} / "
                f"{progress.sitemaps_total:,} sitemaps, {count(progress.urls, 'URL')} so far…")
        return show

    def _could_not(self, name: str, message: str) -> None:
        self.summary.setText(f"Could not read {name}")
        self.import_failed.emit(message)

    def _reload(self, path: Path) -> Callable[[TableColumns], object]:
        return lambda columns: self.start_loading(path, columns=columns)

    # -- columns -------------------------------------------------------------------------------

    def choose_columns(self) -> ColumnDialog | None:
        """Open the column dialog for the table shown (kept or in the editor), if any."""
        kept = self._kept
        if kept is not None:
            preview = kept.read.imported.table
            if preview is None or len(kept.paths) != 1:
                return None
            path = Path(kept.paths[0])
            return self._ask_columns(preview, kept.name, self._reload(path),
                                     load_sheet=_sheet_loader(path))
        if self._stale:
            self.refresh()
        if self._text_preview is None:
            return None
        return self._ask_columns(self._text_preview, "the pasted table", self._use_text_columns)

    def _use_text_columns(self, columns: TableColumns) -> None:
        self._text_columns = columns
        self.refresh()

    def _ask_columns(self, preview: TablePreview, name: str,
                     chosen: Callable[[TableColumns], object], *, message: str = "",
                     load_sheet: Callable[[str], Awaitable[TablePreview]] | None = None,
                     ) -> ColumnDialog:
        if self.column_dialog is not None:
            self.column_dialog.close()
        dialog = ColumnDialog(preview, name, self, message=message, load_sheet=load_sheet)
        dialog.chosen.connect(chosen)
        dialog.finished.connect(dialog.deleteLater)
        dialog.destroyed.connect(self._column_dialog_gone)
        self.column_dialog = dialog
        dialog.open()  # not exec(): a nested loop would re-enter qasync
        self.columns_asked.emit(dialog)
        return dialog

    def _column_dialog_gone(self) -> None:
        self.column_dialog = None

    # -- kept lists ----------------------------------------------------------------------------

    def _enter_big_mode(self, name: str, paths: tuple[str, ...], read: Read,
                        description: list[str]) -> None:
        assert read.targets is not None and read.summary is not None
        self._debounce.stop()
        self.editor.blockSignals(True)
        self.editor.clear()
        self.editor.blockSignals(False)
        self.editor.setVisible(False)
        self._forget_text_source()
        self._kept = _Kept(name, paths, read, tuple(description))
        self._targets = read.targets
        self._stale = False
        size = len(read.targets)
        if read.imported.kind == "text" and size >= BIG_LIST:
            why = (f"A list this long is not shown for editing (an editor with {size:,} lines "
                   "would freeze the window); it is fetched exactly as imported.")
        else:
            why = "Kept as imported, with its columns; it is not shown for editing."
        self.big_label.setText("\n".join([name, "", *description, "", why,
                                          "Use Clear list to go back to the editor."]))
        self.big_label.setVisible(True)
        self.clear_button.setVisible(True)
        self.columns_button.setVisible(read.imported.table is not None and len(paths) == 1)
        self.source_info.setVisible(False)
        self._show_summary(read.summary, read.duplicates)

    def _leave_big_mode(self) -> None:
        if not self.is_big_list:
            return
        self._kept = None
        self.big_label.setVisible(False)
        self.clear_button.setVisible(False)
        self.columns_button.setVisible(False)
        self.editor.setVisible(True)

    # -- summary -------------------------------------------------------------------------------

    def _on_text_changed(self) -> None:
        self._stale = True
        self._debounce.start()

    def refresh(self) -> None:
        self._debounce.stop()
        if self.is_big_list:
            return
        self._stale = False
        text = self.text()
        problem = ""
        imported: ImportedList | None = None
        try:
            imported = parse_text(text, columns=self._text_columns)
        except ColumnNotFound as exc:
            self._text_preview = exc.preview
            problem = f"{exc}: use Columns…"
        except SourceError as exc:
            if self._text_columns is not None:  # edited since: the chosen column is gone
                self._text_columns = None
                self.refresh()
                return
            # Half-typed XML: read line by line, as TargetList.from_text does, and say so.
            self._text_preview = None
            imported = line_by_line(text)
            problem = f"{exc}; it is read line by line"
        if imported is not None:
            self._text_preview = imported.table
            self._targets = TargetList.from_imported(imported)
        else:
            self._targets = TargetList.empty()
        self._text_imported = imported
        self._text_problem = problem
        self._show_info()
        self._show_summary(summarize(self._targets, keep_rejected=SHOWN_REJECTS),
                           len(self._targets.copies()[1]))

    def _show_info(self) -> None:
        """What the editor's text is, when there is more to say than 'a list of URLs'."""
        lines = list(self._origin)
        imported = self._text_imported
        if imported is not None and imported.kind != "text":
            lines += describe_import(imported)
            lines[len(self._origin)] = "The text is " + lines[len(self._origin)]
        problem = self._text_problem
        if problem:
            kind = "a table" if self._text_preview is not None else "this text"
            lines.append(f"The text looks like {kind}, but {problem}")
        self.source_info.setText("\n".join(lines))
        self.source_info.setVisible(bool(lines) and not self.is_big_list)
        self.columns_button.setVisible(self._text_preview is not None)

    def _show_summary(self, summary: Summary, duplicates: int) -> None:
        self._summary, self._duplicates = summary, duplicates
        rejected = summary.rejected_count
        if not summary.total:
            self.summary.setText("No URLs yet")
        else:
            parts = [f"{summary.fetchable:,} URL{'s' if summary.fetchable != 1 else ''} to fetch"]
            if not self._settings.fetch_duplicates:
                repeated = duplicates_phrase(duplicates, fetch_again=False)
                if repeated:
                    parts.append(repeated)
            if rejected:
                parts.append(f"{rejected:,} line{'s' if rejected != 1 else ''} will not be "
                             "fetched:")
            self.summary.setText(" · ".join(parts))
        self.rejects.clear()
        for target in summary.rejected:
            assert target.failure is not None
            self.rejects.addItem(f"line {target.line}: {target.failure.message}")
        if rejected > len(summary.rejected):
            self.rejects.addItem(f"… and {rejected - len(summary.rejected):,} more")
        self.rejects.setVisible(rejected > 0)
        self.changed.emit(summary.fetchable, rejected)


def _sheet_loader(path: Path) -> Callable[[str], Awaitable[TablePreview]]:
    """What the column dialog calls to show another sheet of the workbook at ``path``."""

    def read(sheet: str) -> TablePreview:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise SourceError(f"cannot read {path.name}: {exc.strerror or exc}") from None
        preview = preview_table(data, path.name, sheet=sheet)
        if preview is None:
            raise SourceError("it holds no table")
        return preview

    async def load(sheet: str) -> TablePreview:
        return await asyncio.to_thread(read, sheet)

    return load
