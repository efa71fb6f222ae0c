"""The engine: a list of targets and the runs over it, from targets to results, without Qt.

Both faces stand on it: ``fetchdeck run`` hands its results to a file writer and the run store;
the window hands them to its models. Every result goes, in the order it finishes, through the
list's :class:`~app.core.details.DetailPolicy` (how much detail a row keeps), its
:class:`~app.core.tally.Tally` (the counts every view shows, the exit status) and then to each
sink. One task per URL; each task's outcome is consumed by the run's done-callback, so no
exception is ever left unretrieved.
"""

from __future__ import annotations

import asyncio
import gc
import os
import sys
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from app.core.checks import CheckOptions, check_result
from app.core.details import DetailPolicy
from app.core.redact import mask_url
from app.core.result import NO_RESPONSE, Outcome, Response, Result
from app.core.run import Keeper, Run, Sink
from app.core.settings import Settings
from app.core.tally import Progress, Tally
from app.core.targets import Target, TargetList

if TYPE_CHECKING:
    from app.core.pool import Pool

__all__ = ["AUTO_MIN_TARGETS", "Engine", "FILES_PER_REQUEST_RESERVE", "GC_YOUNG_THRESHOLD",
           "MAX_AUTO_PROCESSES", "fit_to_file_limit", "processes_for", "use_run_gc_threshold"]

# Files a process needs besides one socket per request: the loop, logs, the store, threads...
FILES_PER_REQUEST_RESERVE = 64
# Python collects its youngest generation every 700 new objects by default; a request makes
# hundreds, so that is a collection every few requests. 10,000 cut the window's CPU per request
# by ~12% (docs/benchmarks.md, finding 23); 50,000 made a 20,000-URL run's ~10 collections one.
# `fetchdeck run` without it spent ~0.27 s more of 3.4 on 20,000 URLs (finding 51). What is
# kept is swept by the window's collection before each freeze; `fetchdeck run` keeps nothing.
# An all-failing run still collects every ~500 failures (each leaves ~90 objects of garbage).
GC_YOUNG_THRESHOLD = 50_000
# "Automatic" fetches with helper processes (app.core.pool) only lists this long: a helper
# takes ~0.3 s of CPU to start. One a core, up to this many.
AUTO_MIN_TARGETS = 5_000
MAX_AUTO_PROCESSES = 4


def use_run_gc_threshold() -> None:
    """Set the garbage collector's young threshold to ``GC_YOUNG_THRESHOLD`` for this whole
    process, and leave it there: the setting both faces fetch with (the window sets it again
    before it loads a stored run's rows). Called as each run starts."""
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])


class Engine:
    """The rows of one list and the runs that fetch them (a first run, then any retries).

    ``sinks`` are called on the loop thread with every result, after the detail policy and the
    tally; one that raises is reported to the loop's exception handler and the others still
    get the result. ``notices`` collects what the user should be told about the engine itself
    (a concurrency lowered to the file limit).

    ``keeper``, when given, is where results are kept safe (the run history's writer), a sink
    after the others: every run then counts a result as in flight until it is kept there (see
    :class:`~app.core.run.Keeper`), which bounds what a ``kill -9`` loses. Helper processes
    keep their own results in the same run, so the keeper hears only of this process's.
    """

    def __init__(self, targets: TargetList | Sequence[Target], settings: Settings,
                 sinks: Iterable[Sink] = (), *, details: DetailPolicy | None = None,
                 keeper: Keeper | None = None) -> None:
        self.targets = targets
        self.settings = settings
        self.tally = Tally(len(targets))
        self.details = details if details is not None else DetailPolicy(len(targets))
        self.sinks: list[Sink] = list(sinks)
        self.keeper = keeper
        self.run: Run | Pool | None = None
        self._task: asyncio.Task[None] | None = None
        self.notices: list[str] = []

    # -- control -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> asyncio.Task[None]:
        """Fetch every row; the task ends when each has its result. A URL that repeats an
        earlier row's is fetched once (unless ``fetch_duplicates``): its row gets the first
        one's result, with a note."""
        later = self._later_copies()
        if not later:
            return self._begin(self.targets, len(self.targets))
        targets = (t for t in self.targets if t.index not in later)
        return self._begin(targets, len(self.targets) - len(later))

    def retry(self, indexes: Iterable[int]) -> asyncio.Task[None]:
        """Fetch these rows again (with the current settings); their results replace the old
        ones in the tally, and the detail policy lets go of the old ones. A later copy of a
        URL is retried through its first row, and every copy gets the new result."""
        later = self._later_copies()
        size = len(self.targets)
        wanted = sorted({later.get(i, i) for i in indexes if 0 <= i < size})
        self.details.forget(wanted)
        targets = [self.targets[i] for i in wanted]
        return self._begin(targets, len(targets))

    def _later_copies(self) -> dict[int, int]:
        if self.settings.fetch_duplicates or not isinstance(self.targets, TargetList):
            return {}
        return self.targets.copies()[1]

    @property
    def duplicates(self) -> int:
        """Rows that repeat an earlier row's URL (fetched once unless fetch_duplicates)."""
        return len(self._later_copies())

    def cancel(self) -> None:
        """Stop the current run quickly; every unfinished row becomes ``cancelled``."""
        if self.run is not None:
            self.run.cancel()

    @property
    def task(self) -> asyncio.Task[None] | None:
        return self._task

    def _begin(self, targets: Iterable[Target], total: int) -> asyncio.Task[None]:
        if self.running:
            raise RuntimeError("a run is already going")
        settings, notice = fit_to_file_limit(self.settings)
        use_run_gc_threshold()
        self._tell(notice)
        self.details.begin_run(total)
        graded_and_kept = self.keeper is not None and self._checker() is not None
        processes, notice = processes_for(settings, total, graded_and_kept=graded_and_kept)
        self._tell(notice)
        run: Run | Pool
        if processes > 1:
            from app.core.pool import Pool  # noqa: PLC0415 - only runs that use helpers

            # Helpers keep their own results (see processes_for: never graded ones).
            keeper = self.keeper
            run = Pool(targets, settings, self._deliverer(), total=total, processes=processes,
                       keep_details=self.details.keep_all, keeper=keeper,
                       kept_sink=self._deliverer(kept=True) if keeper is not None else None)
        else:
            run = Run(targets, settings, self._deliverer(), total=total, keeper=self.keeper)
        self.run = run
        self._task = run.start()
        return self._task

    def _tell(self, notice: str) -> None:
        """Add ``notice`` (if any) to what the user is told, once."""
        if notice and notice not in self.notices:
            self.notices.append(notice)

    def _deliverer(self, *, kept: bool = False) -> Sink:
        """The run's sink: each result is checked (when the list has expectations), admitted
        by the detail policy, counted, handed to every sink and the keeper, then copied to the
        rows that repeat its URL. The common case (no checks, no copies, one sink) is three
        calls. ``kept``: for results a helper process has kept already (not the keeper's)."""
        admit = self.details.admit
        count = self.tally.add
        keeper = self.keeper
        sinks = (*self.sinks, *((keeper.add,) if keeper is not None and not kept else ()))
        graded = self._checker()
        copies = self._later_copies() and self.targets.copies()[0]  # type: ignore[union-attr]
        if len(sinks) == 1 and graded is None and not copies:
            (only,) = sinks

            def deliver_one(result: Result) -> None:
                admit(result)
                count(result)
                only(result)

            return deliver_one

        def deliver(result: Result) -> None:
            if graded is not None:
                graded(result)
            admit(result)
            count(result)
            for sink in sinks:
                try:
                    sink(result)
                except Exception as exc:
                    asyncio.get_running_loop().call_exception_handler({
                        "message": f"Fetchdeck could not deliver the result of "
                                   f"{mask_url(result.url)}",
                        "exception": exc,
                    })
            if copies and result.index in copies:
                for index in copies[result.index]:
                    whole(self._copy(result, index))  # a copy is this process's to keep

        whole = self._deliverer() if kept and copies else deliver
        return deliver

    def _copy(self, result: Result, index: int) -> Result:
        """The result of a row whose URL repeats ``result``'s row: the same answer, its own
        line, and a note saying where it came from."""
        targets = self.targets
        assert isinstance(targets, TargetList)
        note = f"same URL as line {result.line}; fetched once"
        response = result.response
        if response is not NO_RESPONSE:
            response = response.copy()
            response.note = f"{response.note}; {note}" if response.note else note
        else:
            response = Response.of(note=note)
        return Result(index, targets.lines[index], targets.texts[index], result.outcome,
                      result.failure, response)

    def _checker(self) -> Callable[[Result], None] | None:
        """Grades each result against its row's expected answer (a redirect map), or None
        when the list expects nothing. Part of building the row: before any sink sees it."""
        targets = self.targets
        if not isinstance(targets, TargetList):
            return None
        expected, statuses = targets.expected, targets.expected_status
        if expected is None and statuses is None:
            return None
        options = CheckOptions(self.settings.trailing_slash_matters,
                               self.settings.query_matters)

        def grade(result: Result) -> None:
            index = result.index
            verdict = check_result(result, expected[index] if expected else None,
                                   statuses[index] if statuses else None, options)
            if verdict is not None:
                result.check, result.check_reason, result.check_code = verdict

        return grade

    # -- what the views show -------------------------------------------------------------------

    def progress(self) -> Progress:
        tally, run = self.tally, self.run
        count = tally.count
        if run is None:
            state, in_flight, elapsed, rate, run_total, run_done, waiting = (
                "idle", 0, 0.0, 0.0, 0, 0, 0)
        else:
            state = ("cancelled" if run.cancelled else "finished") if run.finished else "running"
            in_flight, elapsed, rate = run.in_flight, run.elapsed, run.fetched_per_second
            run_total, run_done = max(run.total, run.done), run.done
            waiting = run.waiting() if state == "running" else 0
        return Progress(
            total=tally.size,
            done=tally.done,
            ok=count(Outcome.OK),
            http_error=count(Outcome.HTTP_ERROR),
            failed=count(Outcome.FAILED),
            invalid=count(Outcome.INVALID),
            cancelled=count(Outcome.CANCELLED),
            in_flight=in_flight,
            elapsed=elapsed,
            fetched_per_second=rate,
            run_total=run_total,
            run_done=run_done,
            checks_failed=tally.checks_failed,
            waiting=waiting,
            state=state,
        )

    def exit_status(self) -> int:
        return self.tally.exit_status()

    def summary(self) -> str:
        run = self.run
        return self.tally.summary(run.elapsed if run is not None else None,
                                  cancelled=run is not None and run.cancelled)


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def processes_for(settings: Settings, fetchable: int, *,
                  graded_and_kept: bool = False) -> tuple[int, str]:
    """How many processes fetch a run of ``fetchable`` URLs, and a notice when the user asked
    for more than one and the run cannot have them. ``graded_and_kept``: the list's rows are
    graded against expected answers, in this process, and kept in the run history, where a
    helper would have kept them before they were graded."""
    asked = settings.processes
    if asked == 1:
        return 1, ""
    why = ""
    if settings.per_host or settings.rate:
        why = "a per-host limit or rate is kept by one process (use --per-host 0 --rate 0)"
    elif graded_and_kept:
        why = "a list with expected answers is checked and recorded by one process"
    elif sys.platform == "win32" or getattr(sys, "frozen", False):
        why = "helper processes need a Python interpreter and POSIX pipes"
    if why:
        return 1, (f"Fetching in one process, not {asked}: {why}." if asked else "")
    wanted = asked or (min(MAX_AUTO_PROCESSES, cpu_count())
                       if fetchable >= AUTO_MIN_TARGETS else 1)
    return max(1, min(wanted, settings.concurrency, fetchable)), ""


def fit_to_file_limit(settings: Settings,
                      limit: Callable[[], int | None] | None = None) -> tuple[Settings, str]:
    """``settings`` with a concurrency this process can open sockets for, and a notice when
    it had to be lowered. Raises the soft file limit to the hard one first where it can.

    Each request in flight holds a socket; past the limit every new connection fails with
    EMFILE ("Too many open files"), which no retry cures.
    """
    available = (limit or _raise_file_limit)()
    if available is None:
        return settings, ""
    room = max(1, available - FILES_PER_REQUEST_RESERVE)
    if settings.concurrency <= room:
        return settings, ""
    notice = (f"Requests in flight lowered from {settings.concurrency:,} to {room:,}: this "
              f"process may open only {available:,} files (see `ulimit -n`).")
    return settings.replace(concurrency=room), notice


def _raise_file_limit() -> int | None:
    if sys.platform == "win32":
        return None
    import resource  # noqa: PLC0415 - POSIX only

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and (hard == resource.RLIM_INFINITY or hard > soft):
        target = hard if hard != resource.RLIM_INFINITY else max(soft, 65536)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
            soft = target
        except (ValueError, OSError):
            pass
    return None if soft == resource.RLIM_INFINITY else int(soft)
