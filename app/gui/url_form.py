"""The URL form: a multi-line editor, Import…, and a live account of which lines will be fetched
and which will not, and why."""

from __future__ import annotations

import asyncio
from array import array
from pathlib import Path

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

from app.core.sources import SourceError, decode_bytes, parse_bytes
from app.core.targets import Summary, TargetList, summarize

SHOWN_REJECTS = 200
BIG_LIST = 20_000  # lines; longer imports are kept as a list, not put in the editor


class UrlForm(QWidget):
    """Where the user gives the URL list.

    Small lists live in the editor. A file of more than ``BIG_LIST`` lines is kept as a list
    and shown as a summary instead: an editor holding a million lines freezes for seconds.

    Signals:
        changed(int, int): fetchable count and rejected count, after each (debounced) edit.
        import_failed(str): a file could not be read; the text says why.
    """

    changed = Signal(int, int)
    import_failed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.editor = QPlainTextEdit()
        self.editor.setPlaceholderText(
            "Paste URLs here, one per line.\n"
            "https://example.com/\nhttps://example.org/about\n\n"
            "Blank lines and lines starting with # are skipped.")
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
        self.big_label.setObjectName("bigList")
        self.big_label.setStyleSheet("#bigList { padding: 12px; border: 1px solid palette(mid); }")
        self.clear_button = QPushButton("Clear list")
        self.clear_button.setToolTip("Forget the imported list and go back to the editor")
        self.clear_button.setVisible(False)
        self.big_label.setVisible(False)

        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Load a text file with one URL per line (UTF-8)")
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
        top.addWidget(self.clear_button)
        top.addWidget(self.import_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.big_label, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.rejects)

        self._targets = TargetList([], array("L"))
        self._big_source = ""
        self._stale = True
        self._loading: asyncio.Task[None] | None = None
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.refresh)
        self.editor.textChanged.connect(self._on_text_changed)
        self.import_button.clicked.connect(self.choose_file)
        self.clear_button.clicked.connect(lambda: self.set_text(""))
        self._dialog: QFileDialog | None = None

    # -- text ----------------------------------------------------------------------------------

    def text(self) -> str:
        return self.editor.toPlainText()

    @property
    def source_path(self) -> str:
        """The file the rows were imported from and are kept apart from the editor, if any."""
        return self._big_source

    @property
    def is_big_list(self) -> bool:
        return bool(self._big_source)

    @property
    def loading(self) -> bool:
        return self._loading is not None and not self._loading.done()

    def set_text(self, text: str) -> None:
        self._leave_big_mode()
        self.editor.setPlainText(text)
        self.refresh()

    def replace_text(self, text: str) -> None:
        """Put ``text`` in the editor as one edit the user can undo (Ctrl+Z), unlike
        :meth:`set_text`, which starts the editor's history afresh."""
        self._leave_big_mode()
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

    # -- import --------------------------------------------------------------------------------

    def choose_file(self) -> None:
        # open(), not exec() or a static helper: those re-enter the event loop under qasync.
        dialog = QFileDialog(self, "Import URL list")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters(["Text files (*.txt *.csv *.lst)", "All files (*)"])
        dialog.fileSelected.connect(self.start_loading)
        dialog.finished.connect(dialog.deleteLater)
        self._dialog = dialog
        dialog.open()

    def start_loading(self, path: str | Path) -> asyncio.Task[None]:
        """Read a URL file off the GUI thread; the returned task ends when the form shows it."""
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()
        self.summary.setText(f"Reading {Path(path).name}…")
        self._loading = asyncio.ensure_future(self._load(Path(path)))
        return self._loading

    async def _load(self, path: Path) -> None:
        try:
            text, targets, summary = await asyncio.to_thread(_read, path)
        except OSError as exc:
            self.summary.setText(f"Could not read {path.name}")
            self.import_failed.emit(f"Could not read {path}: {exc.strerror or exc}")
            return
        except SourceError as exc:
            self.summary.setText(f"Could not read {path.name}")
            self.import_failed.emit(f"{path.name}: {exc}")
            return
        if text is not None:
            self.set_text(text)
            return
        assert targets is not None and summary is not None
        self._enter_big_mode(path, targets, summary)
        for notice in targets.notices:
            self.import_failed.emit(f"{path.name}: {notice}")

    # -- big lists -----------------------------------------------------------------------------

    def _enter_big_mode(self, path: Path, targets: TargetList, summary: Summary) -> None:
        self._debounce.stop()
        self.editor.blockSignals(True)
        self.editor.clear()
        self.editor.blockSignals(False)
        self.editor.setVisible(False)
        self._big_source = str(path)
        self._targets = targets
        self._stale = False
        self.big_label.setText(
            f"{path.name}\n\n{len(targets):,} lines imported from {path}.\n\n"
            f"A list this long is not shown for editing (an editor with "
            f"{len(targets):,} lines would freeze the window); it is fetched exactly as "
            "imported. Use Clear list to go back to the editor.")
        self.big_label.setVisible(True)
        self.clear_button.setVisible(True)
        self._show_summary(summary)

    def _leave_big_mode(self) -> None:
        if not self.is_big_list:
            return
        self._big_source = ""
        self.big_label.setVisible(False)
        self.clear_button.setVisible(False)
        self.editor.setVisible(True)

    # -- summary -------------------------------------------------------------------------------

    def _on_text_changed(self) -> None:
        self._stale = True
        self._debounce.start()

    def refresh(self) -> None:
        self._debounce.stop()
        if self.is_big_list:
            return
        self._targets = TargetList.from_text(self.text())
        self._stale = False
        self._show_summary(summarize(self._targets, keep_rejected=SHOWN_REJECTS))

    def _show_summary(self, summary: Summary) -> None:
        rejected = summary.rejected_count
        if not summary.total:
            self.summary.setText("No URLs yet")
        else:
            parts = [f"{summary.fetchable:,} URL{'s' if summary.fetchable != 1 else ''} to fetch"]
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


def _read(path: Path) -> tuple[str | None, TargetList | None, Summary | None]:
    """A file for the form: a short plain list as text for the editor; anything else (a long
    list, a table, a sitemap) as rows kept apart, with their summary."""
    data = path.read_bytes()
    imported = parse_bytes(data, path.name)
    if imported.kind == "text" and len(imported) < BIG_LIST:
        return decode_bytes(data).text, None, None
    targets = TargetList.from_imported(imported)
    return None, targets, summarize(targets, keep_rejected=SHOWN_REJECTS)
