"""Runs as the window sees them: the engine's results delivered to the window in timed batches.

The engine (:class:`~app.core.engine.Engine`) calls its sinks once per result; the controller's
sink is a plain ``list.append``, and every ``FLUSH_MS`` it stores what arrived in the results
model and hands the batch to the rest of the window, so a run of thousands of results per
second costs the GUI one repaint per tick, not one per result. How much detail rows keep is the
engine's :class:`~app.core.details.DetailPolicy`.
"""

from __future__ import annotations

import asyncio
import gc
import time
from collections.abc import Sequence

import shiboken6
from PySide6.QtCore import QObject, QTimer, Signal

from app.core.details import RULE as DETAILS_KEPT
from app.core.engine import Engine, use_run_gc_threshold
from app.core.redact import mask_url
from app.core.result import Result
from app.core.settings import Settings
from app.core.store import Ended, StoredRow
from app.core.stored_rows import LiveRows, StoredRows
from app.core.tally import Progress
from app.core.targets import TargetList
from app.gui.results_model import ResultsModel
from app.gui.run_history import RunHistory

__all__ = ["DETAILS_KEPT", "FLUSH_MS", "RunController"]

# How often arrived results go to the model and the views. 50 ms, not 100: with helper
# processes fetching too, a 100 ms tick carried ~650 rows and the GUI lag's p99 went over 16 ms
# (docs/benchmarks.md, session 9).
FLUSH_MS = 50
# A reopened run's rows are shown at most this often while they load (measured at 100 ms).
STORED_FLUSH_MS = 100
# Every this many results, the objects alive are frozen out of the garbage collector's view.
# A run of a million rows otherwise spent a quarter of its time in full collections, each
# scanning every row so far, with GUI stalls of up to 1.1 s (docs/benchmarks.md).
FREEZE_EVERY = 10_000


class RunController(QObject):
    """Owns the current run. One run at a time; a retry is a run over some rows.

    Signals:
        started(): a run began.
        results_arrived(list): a batch of finished results since the last tick.
        progressed(object): the current run's :class:`Progress`, every tick.
        finished(object): the run ended (completed or cancelled); its final Progress.
    """

    started = Signal()
    # object, not list: PySide converts a list signal argument element by element (~0.3 ms a
    # tick for 600 results), where an object is passed as it is.
    results_arrived = Signal(object)
    progressed = Signal(object)
    finished = Signal(object)

    def __init__(self, model: ResultsModel, settings: Settings,
                 parent: QObject | None = None, *, history: RunHistory | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.settings = settings
        # Where each run is recorded: its results are handed over at every tick.
        self.history = history
        self.engine: Engine | None = None
        self._batch: list[Result | StoredRow] = []  # what results_arrived hands on next
        # The engine's sink: results land here (list.append, no Python call per result) and
        # are stored in the model at the next tick, where the table hears of them anyway.
        self._arrived: list[Result] = []
        self._since_freeze = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self._tick)
        self.last_progress: Progress | None = None
        self._shown_at = 0.0  # when stored rows were last shown (monotonic s)
        self._paged = False  # the table reads the stored run shown from its file

    @property
    def running(self) -> bool:
        return self.engine is not None and self.engine.running

    def start(self, targets: TargetList, source: str = "pasted") -> None:
        """Fetch ``targets`` from scratch: the table gets one queued row per target. The run
        is recorded in the history as coming from ``source`` (a file's path, or "pasted")."""
        if self.running:
            raise RuntimeError("a run is already going")
        history = self.history
        # Recorded, the table holds each result only until the history has written it, and
        # reads it back from the file when shown: memory stays flat however long the list.
        rows = LiveRows(len(targets)) if history is not None and history.recording else None
        self.model.reset_rows(targets, rows)
        self._paged = False
        gc.unfreeze()  # the previous run's rows are gone; let the collector see the rest again
        self.engine = Engine(targets, self.settings, [self._arrived.append])
        if history is not None:
            history.record(targets, self.settings, source, rows)
        self._begin(self.engine.start)

    def retry(self, indexes: Sequence[int], settings: Settings | None = None) -> None:
        """Fetch these rows again with the current settings (or ``settings``); their rows
        update in place, and the history records them into the same run."""
        engine = self.engine
        if self.running or not indexes or engine is None:
            return
        wanted = sorted({i for i in indexes if 0 <= i < len(engine.targets)})
        if not wanted:
            return
        engine.settings = settings if settings is not None else self.settings
        self.model.requeue(wanted)
        self.model.flush()
        if self.history is not None:
            self.history.resume(rows=self.model.stored_rows)
        self._begin(lambda: engine.retry(wanted))

    def show_stored(self, targets: TargetList, rows: StoredRows | None = None) -> None:
        """Show a stored run: one queued row per line until :meth:`add_stored` fills them,
        or, given its ``rows``, each row read from the file as the table shows it (then
        :meth:`add_stored` only counts and announces them). Later retries fetch into it."""
        if self.running:
            raise RuntimeError("a run is already going")
        self.model.reset_rows(targets, rows)
        self._paged = rows is not None
        gc.unfreeze()
        use_run_gc_threshold()  # rows arrive as in a run
        self.engine = Engine(targets, self.settings, [self._arrived.append])
        self.last_progress = None

    def add_stored(self, results: list[Result | StoredRow]) -> None:
        """Stored results of the run shown (a chunk read from the history): into the model,
        the counts and the rest of the window, as a run's arrive, but not recorded again.
        The window hears of them at most every ``STORED_FLUSH_MS``, and at
        :meth:`flush_stored`.
        A run read from its file (``rows`` given to :meth:`show_stored`) may hand light
        :class:`StoredRow` objects for its ok rows: only counted and summarised."""
        engine = self.engine
        if engine is None:
            return
        count = engine.tally.add
        for result in results:
            count(result)
        if self._paged:  # the table reads them from the file: nothing kept here
            self._batch += results
            self._since_freeze += len(results)
        else:  # held in memory: whole results only
            if any(isinstance(r, StoredRow) for r in results):
                raise TypeError("a stored run's light rows need its rows read from the file")
            self._store(results)  # type: ignore[arg-type]  # every one a Result (checked)
        # What stays (the error panel's rows, the table's pages) out of the collector's view:
        # a full collection walking it on the reading thread holds the GIL, and the window,
        # for 100+ ms (measured).
        self._freeze_rows()
        if time.monotonic() - self._shown_at >= STORED_FLUSH_MS / 1000:
            self.flush_stored()

    def finish_stored(self) -> None:
        """Every stored row is in: show the last ones, and freeze what stays."""
        self.flush_stored()
        self._since_freeze = FREEZE_EVERY
        self._freeze_rows()

    def flush_stored(self) -> None:
        """Show every stored result added so far."""
        self._shown_at = time.monotonic()
        self.model.flush()
        batch, self._batch = self._batch, []
        if batch:
            self.results_arrived.emit(batch)
        if self.engine is not None:
            self.last_progress = self.engine.progress()

    def cancel(self) -> None:
        if self.engine is not None:
            self.engine.cancel()

    def _begin(self, start: object) -> None:
        self._batch = []
        self._arrived.clear()
        task = start()  # type: ignore[operator]
        task.add_done_callback(self._on_run_done)
        if self.engine is not None and self.engine.run is not None:
            # Queued rows the run is working on read "fetching" (or "waiting 20 s").
            self.model.set_in_flight(self.engine.run.activity)
        self._timer.start()
        self.started.emit()
        self._tick()

    def hand_over(self) -> None:
        """Give the history every result that arrived since the last tick, now (the window
        is going without another tick: its display went away)."""
        if self._arrived and self.history is not None:
            self.history.add(self._arrived[:])
            self._arrived.clear()

    def _store(self, results: list[Result]) -> None:
        """Put results in the model and in this tick's batch."""
        stored = self.model.store_all(results, on_error=self._store_failed)
        self._batch += stored
        self._since_freeze += len(stored)

    def _store_failed(self, result: Result, exc: Exception) -> None:
        task = self.engine.task if self.engine is not None else None
        loop = task.get_loop() if task is not None else asyncio.get_event_loop()
        loop.call_exception_handler({
            "message": f"Fetchdeck could not show the result of {mask_url(result.url)}",
            "exception": exc,
        })

    def _tick(self) -> None:
        if self._arrived:
            arrived = self._arrived[:]
            self._arrived.clear()  # the engine appends to this very list
            self._store(arrived)
            if self.history is not None:
                self.history.add(arrived)
        self._freeze_rows()
        self.model.flush()
        if self._batch:
            batch, self._batch = self._batch, []
            self.results_arrived.emit(batch)
        if self.engine is not None:
            self.last_progress = self.engine.progress()
            self.progressed.emit(self.last_progress)

    def _freeze_rows(self) -> None:
        if self._since_freeze >= FREEZE_EVERY:
            # Rows are never garbage cycles: freed by reference counting when a new run
            # replaces them, frozen or not. A failed request leaves ~90 objects of cyclic
            # garbage (its exception's traceback and frames); collected first, or each freeze
            # would keep the last collection's leftovers for the rest of the run (~1 object a
            # row in an all-failing run). Both young generations: 3-5 ms per 10,000 rows.
            self._since_freeze = 0
            gc.collect(1)
            gc.freeze()

    def _on_run_done(self, task: asyncio.Task[None]) -> None:
        if not shiboken6.isValid(self._timer):
            # The window went first (closed with the run still draining): nobody to tell.
            return
        self._timer.stop()
        self._tick()
        if self.history is not None:
            run = self.engine.run if self.engine is not None else None
            self.history.end(Ended.CANCELLED if run is not None and run.cancelled
                             else Ended.FINISHED)
        if not task.cancelled() and (exc := task.exception()) is not None:
            # Rows already carry this failure; the loop's handler puts it in the error panel too.
            task.get_loop().call_exception_handler({
                "message": "The run stopped because of an error", "exception": exc, "task": task,
            })
        self.finished.emit(self.last_progress)
