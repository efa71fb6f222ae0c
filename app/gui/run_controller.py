"""Runs as the window sees them: start, retry, cancel, and results delivered in timed batches.

Core's :class:`~app.core.run.Run` calls its sink once per result; the controller stores each in
the results model and hands batches to the rest of the window every ``FLUSH_MS``, so a run of
thousands of results per second costs the GUI one repaint per tick, not one per result.
"""

from __future__ import annotations

import asyncio
import gc
from array import array
from collections import deque
from collections.abc import Iterable, Sequence

from PySide6.QtCore import QObject, QTimer, Signal

from app.core.result import Outcome, Result
from app.core.run import Progress, Run
from app.core.settings import Settings
from app.core.targets import Target, TargetList, mask_password
from app.gui.results_model import ResultsModel

FLUSH_MS = 100
# Headers and body previews (the detail pane's, and the error panel's for HTTP errors) are kept
# for every row of a list of up to this many URLs; ...
KEEP_ALL_DETAILS = 2000
# ... runs over a longer list (retries included) keep them for the most recent failures, what a
# user most often looks into, and for the last rows of each run, so a million-URL run does not
# hold a million previews. The other ok rows drop theirs as they finish (Run's
# details_for_last): keeping a row's ~35 objects for a while and freeing them later, out of the
# CPU cache, cost ~5 us a request even when only the 300 most recent rows kept theirs
# (docs/benchmarks.md).
KEEP_FAILED_DETAILS = 2000
KEEP_RECENT_DETAILS = 300
DETAILS_KEPT = (f"A list of up to {KEEP_ALL_DETAILS:,} URLs keeps them for every row; a "
                f"longer one for the {KEEP_FAILED_DETAILS:,} most recent failures and the last "
                f"{KEEP_RECENT_DETAILS:,} rows of each run (of a cancelled run, only its "
                f"failures).")
_FAILED = frozenset({Outcome.HTTP_ERROR, Outcome.FAILED})  # not cancelled: not a failure
# Every this many results, the objects alive are frozen out of the garbage collector's view.
# A run of a million rows otherwise spent a quarter of its time in full collections, each
# scanning every row so far, with GUI stalls of up to 1.1 s (docs/benchmarks.md).
FREEZE_EVERY = 10_000
# Python collects its youngest generation every 700 new objects by default; a request makes
# hundreds, so that is a collection every few requests. 10,000 cut CPU per request by ~12%;
# 50,000, with the collection before each freeze doing the sweeping, ~10 collections of a
# 20,000-URL run become one (GC 40 -> 10 ms). An all-failing run still collects every ~500
# failures (each leaves ~90 objects of garbage), in pauses of a few ms.
GC_YOUNG_THRESHOLD = 50_000


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
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.settings = settings
        self._run: Run | None = None
        self._task: asyncio.Task[None] | None = None
        self._targets = TargetList([], array("L"))
        self._batch: list[Result] = []
        # The run's sink: results land here (list.append, no Python call per result) and are
        # stored in the model at the next tick, where the table hears of them anyway.
        self._arrived: list[Result] = []
        self._keep_all = True  # the table is short enough to keep every row's details
        self._recent: deque[Result] = deque()  # results whose details may be dropped
        self._failed: deque[Result] = deque()
        self._since_freeze = 0
        self._timer = QTimer(self)
        self._timer.setInterval(FLUSH_MS)
        self._timer.timeout.connect(self._tick)
        self.last_progress: Progress | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self, targets: TargetList) -> None:
        """Fetch ``targets`` from scratch: the table gets one queued row per target."""
        if self.running:
            raise RuntimeError("a run is already going")
        self._targets = targets
        self._recent.clear()
        self._failed.clear()
        self.model.reset_rows(targets)
        gc.unfreeze()  # the previous run's rows are gone; let the collector see the rest again
        self._begin(targets, len(targets))

    def retry(self, indexes: Sequence[int]) -> None:
        """Fetch these rows again with the current settings; their rows update in place."""
        if self.running or not indexes:
            return
        targets = [self._targets[i] for i in sorted(set(indexes)) if 0 <= i < len(self._targets)]
        again = {t.index for t in targets}
        # Their old results leave the table: the lists that may drop details let go of them too.
        self._recent = deque(r for r in self._recent if r.index not in again)
        self._failed = deque(r for r in self._failed if r.index not in again)
        self.model.requeue(t.index for t in targets)
        self.model.flush()
        self._begin(targets, len(targets))

    def cancel(self) -> None:
        if self._run is not None:
            self._run.cancel()

    def _begin(self, targets: Iterable[Target], total: int) -> None:
        gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
        # By the table's size, not the run's: retries of a long list stay bounded too.
        self._keep_all = len(self.model) <= KEEP_ALL_DETAILS
        self._batch = []
        self._arrived.clear()
        run = Run(targets, self.settings, self._arrived.append, total=total,
                  details_for_last=None if self._keep_all else KEEP_RECENT_DETAILS)
        self._run = run
        self._task = run.start()
        self._task.add_done_callback(self._on_run_done)
        self._timer.start()
        self.started.emit()
        self._tick()

    def _store(self, results: list[Result]) -> None:
        """Put results in the model and in this tick's batch. Headers and body previews are
        kept for every row of a table of up to ``KEEP_ALL_DETAILS`` rows, else for the last
        ``KEEP_FAILED_DETAILS`` failures and the last ``KEEP_RECENT_DETAILS`` other rows (a run
        of a longer list drops the other ok rows' as they finish: see ``_begin``)."""
        stored = self.model.store_all(results, on_error=self._store_failed)
        self._batch += stored
        self._since_freeze += len(stored)
        if self._keep_all:
            return
        recent, failed = self._recent, self._failed
        for result in stored:
            if result.details is not None:
                (failed if result.outcome in _FAILED else recent).append(result)
        for _ in range(len(recent) - KEEP_RECENT_DETAILS):
            recent.popleft().details = None
        for _ in range(len(failed) - KEEP_FAILED_DETAILS):
            failed.popleft().details = None

    def _store_failed(self, result: Result, exc: Exception) -> None:
        loop = self._task.get_loop() if self._task is not None else asyncio.get_event_loop()
        loop.call_exception_handler({
            "message": f"Fetchdeck could not show the result of {mask_password(result.url)}",
            "exception": exc,
        })

    def _tick(self) -> None:
        if self._arrived:
            arrived = self._arrived[:]
            self._arrived.clear()  # the run appends to this very list
            self._store(arrived)
        if self._since_freeze >= FREEZE_EVERY:
            # Rows are never garbage cycles: freed by reference counting when a new run
            # replaces them, frozen or not. A failed request leaves ~90 objects of cyclic
            # garbage (its exception's traceback and frames); collected first, or each freeze
            # would keep the last collection's leftovers for the rest of the run (~1 object a
            # row in an all-failing run). Both young generations: 3-5 ms per 10,000 rows.
            self._since_freeze = 0
            gc.collect(1)
            gc.freeze()
        self.model.flush()
        if self._batch:
            batch, self._batch = self._batch, []
            self.results_arrived.emit(batch)
        if self._run is not None:
            self.last_progress = self._run.progress()
            self.progressed.emit(self.last_progress)

    def _on_run_done(self, task: asyncio.Task[None]) -> None:
        self._timer.stop()
        self._tick()
        if not task.cancelled() and (exc := task.exception()) is not None:
            # Rows already carry this failure; the loop's handler puts it in the error panel too.
            task.get_loop().call_exception_handler({
                "message": "The run stopped because of an error", "exception": exc, "task": task,
            })
        self.finished.emit(self.last_progress)
