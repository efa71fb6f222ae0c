"""Writing the table to a CSV, JSON Lines or XLSX file off the GUI thread, one export at a time.

The rows are copied on the GUI thread (one C-level list copy) and written on a worker thread by
core's ``write_results``; progress comes back through the loop. The window waits for a running
export before it closes, so a file is never left half written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QFileDialog, QWidget

from app.core.history import write_results
from app.core.result import Result
from app.core.settings import Settings
from app.core.stored_rows import StoredRows
from app.core.targets import TargetList
from app.gui.threads import run_in_thread

__all__ = ["FILE_TYPES", "ExportJob", "export_dialog"]

PROGRESS_EVERY = 50_000  # rows
# The save dialog's file types: the one chosen gives the file its extension, and the
# extension gives the format.
FILE_TYPES = (("CSV files (*.csv)", "csv"), ("JSON Lines files (*.jsonl)", "jsonl"),
              ("Excel workbooks (*.xlsx)", "xlsx"))


def export_dialog(parent: QWidget, title: str, name: str) -> QFileDialog:
    """A save dialog offering CSV, JSON Lines and XLSX; ``name`` is the suggested file name
    without its extension. Opened by the caller (``open()``, never ``exec()``)."""
    dialog = QFileDialog(parent, title)
    dialog.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
    dialog.setNameFilters([label for label, _ in FILE_TYPES])
    suffixes = dict(FILE_TYPES)
    dialog.setDefaultSuffix("csv")
    dialog.selectFile(f"{name}.csv")

    def chosen(label: str) -> None:
        suffix = suffixes.get(label, "csv")
        dialog.setDefaultSuffix(suffix)
        files = dialog.selectedFiles()
        stem = files[0].rsplit("/", 1)[-1].rsplit(".", 1)[0] if files else name
        dialog.selectFile(f"{stem or name}.{suffix}")

    dialog.filterSelected.connect(chosen)
    dialog.finished.connect(dialog.deleteLater)
    return dialog


class ExportJob(QObject):
    """Signals:
        progressed(str): a line for the status bar ("Exporting to ...: 50,000 of 1,000,000").
        finished(str, str): the path, and the error message ("" when the file is complete).
    """

    progressed = Signal(str)
    finished = Signal(str, str)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._task: asyncio.Future[int] | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, path: str, rows: Sequence[Result | None], settings: Settings, *,
              targets: TargetList | None = None,
              protect: Sequence[str] = (), fmt: str | None = None) -> asyncio.Future[int]:
        """Write ``rows`` (None: a queued row, skipped) to ``path``; the future gives the count.
        ``finished`` is emitted either way, once the file is complete or the write failed.
        ``targets`` adds the list's expected answers and imported columns; a path in
        ``protect`` (the imported list) is never written over. ``fmt``: csv, jsonl or xlsx
        (default: by the path's extension, else CSV)."""
        if self.running:
            raise RuntimeError("an export is already running")
        total = len(rows)
        loop = asyncio.get_running_loop()
        progressed = self.progressed
        progressed.emit(f"Exporting {total:,} rows to {path}…")

        def progress(written: int) -> None:  # called on the export thread
            percent = written * 100 // max(1, total)
            loop.call_soon_threadsafe(
                progressed.emit, f"Exporting to {path}: {written:,} of {total:,} rows ({percent}%)")

        def export() -> int:
            if isinstance(rows, StoredRows):  # every row in the file: written from there
                with rows.file_results() as stored:
                    if stored is not None:
                        return write_results(path, stored, settings, fmt=fmt,
                                             progress=progress, every=PROGRESS_EVERY,
                                             targets=targets, protect=protect)
            results = (r for r in rows if r is not None)
            return write_results(path, results, settings, fmt=fmt, progress=progress,
                                 every=PROGRESS_EVERY, targets=targets, protect=protect)

        # Not asyncio.to_thread: its worker may drop the last reference to the window.
        task = run_in_thread(export)
        self._task = task

        def done(task: asyncio.Future[int]) -> None:
            self._task = None
            if task.cancelled():
                self.finished.emit(path, "export cancelled")
            elif (exc := task.exception()) is not None:
                self.finished.emit(
                    path, f"Could not write {path}: {getattr(exc, 'strerror', None) or exc}")
            else:
                self.progressed.emit(f"Exported {task.result():,} rows to {path}")
                self.finished.emit(path, "")

        task.add_done_callback(done)
        return task
