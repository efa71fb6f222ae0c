"""The URL form: a multi-line editor, Import…, and a live account of which lines will be fetched
and which will not, and why."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont, QFontDatabase
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

from app.core.targets import Target, parse_text, read_url_file, summarize

SHOWN_REJECTS = 200


class UrlForm(QWidget):
    """Where the user gives the URL list.

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

        self.import_button = QPushButton("Import…")
        self.import_button.setToolTip("Load a text file with one URL per line (UTF-8)")
        self.summary = QLabel("No URLs yet")
        self.summary.setTextFormat(Qt.TextFormat.PlainText)
        self.rejects = QListWidget()
        self.rejects.setMaximumHeight(90)
        self.rejects.setVisible(False)
        self.rejects.setToolTip("These lines will not be fetched; each gets a row saying why.")

        top = QHBoxLayout()
        top.addWidget(QLabel("URLs"))
        top.addStretch(1)
        top.addWidget(self.import_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.summary)
        layout.addWidget(self.rejects)

        self._targets: list[Target] = []
        self._stale = True
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(250)
        self._debounce.timeout.connect(self.refresh)
        self.editor.textChanged.connect(self._on_text_changed)
        self.import_button.clicked.connect(self.choose_file)
        self._dialog: QFileDialog | None = None

    # -- text ----------------------------------------------------------------------------------

    def text(self) -> str:
        return self.editor.toPlainText()

    def set_text(self, text: str) -> None:
        self.editor.setPlainText(text)
        self.refresh()

    def load_file(self, path: str | Path) -> bool:
        try:
            text = read_url_file(path)
        except OSError as exc:
            self.import_failed.emit(f"Could not read {path}: {exc.strerror or exc}")
            return False
        self.set_text(text)
        return True

    def targets(self) -> list[Target]:
        """The parsed form, current even if the debounce timer has not fired yet."""
        if self._stale:
            self.refresh()
        return self._targets

    # -- import --------------------------------------------------------------------------------

    def choose_file(self) -> None:
        # open(), not exec() or a static helper: those re-enter the event loop under qasync.
        dialog = QFileDialog(self, "Import URL list")
        dialog.setFileMode(QFileDialog.FileMode.ExistingFile)
        dialog.setNameFilters(["Text files (*.txt *.csv *.lst)", "All files (*)"])
        dialog.fileSelected.connect(self.load_file)
        dialog.finished.connect(dialog.deleteLater)
        self._dialog = dialog
        dialog.open()

    # -- summary -------------------------------------------------------------------------------

    def _on_text_changed(self) -> None:
        self._stale = True
        self._debounce.start()

    def refresh(self) -> None:
        self._debounce.stop()
        self._targets = parse_text(self.text())
        self._stale = False
        summary = summarize(self._targets, keep_rejected=SHOWN_REJECTS)
        rejected = sum(1 for t in self._targets if t.url is None)
        if not self._targets:
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
