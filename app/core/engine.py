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
import sys
from collections.abc import Callable, Iterable, Sequence

from app.core.details import DetailPolicy
from app.core.redact import mask_url
from app.core.result import Outcome, Result
from app.core.run import Run, Sink
from app.core.settings import Settings
from app.core.tally import Progress, Tally
from app.core.targets import Target, TargetList

__all__ = ["Engine", "FILES_PER_REQUEST_RESERVE", "fit_to_file_limit"]

# Files a process needs besides one socket per request: the loop, logs, the store, threads...
FILES_PER_REQUEST_RESERVE = 64


class Engine:
    """The rows of one list and the runs that fetch them (a first run, then any retries).

    ``sinks`` are called on the loop thread with every result, after the detail policy and the
    tally; one that raises is reported to the loop's exception handler and the others still
    get the result. ``notices`` collects what the user should be told about the engine itself
    (a concurrency lowered to the file limit).
    """

    def __init__(self, targets: TargetList | Sequence[Target], settings: Settings,
                 sinks: Iterable[Sink] = (), *, details: DetailPolicy | None = None) -> None:
        self.targets = targets
        self.settings = settings
        self.tally = Tally(len(targets))
        self.details = details if details is not None else DetailPolicy(len(targets))
        self.sinks: list[Sink] = list(sinks)
        self.run: Run | None = None
        self._task: asyncio.Task[None] | None = None
        self.notices: list[str] = []

    # -- control -------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    def start(self) -> asyncio.Task[None]:
        """Fetch every row; the task ends when each has its result."""
        return self._begin(self.targets, len(self.targets))

    def retry(self, indexes: Iterable[int]) -> asyncio.Task[None]:
        """Fetch these rows again (with the current settings); their results replace the old
        ones in the tally, and the detail policy lets go of the old ones."""
        wanted = sorted({i for i in indexes if 0 <= i < len(self.targets)})
        self.details.forget(wanted)
        targets = [self.targets[i] for i in wanted]
        return self._begin(targets, len(targets))

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
        if notice and notice not in self.notices:
            self.notices.append(notice)
        self.details.begin_run(total)
        run = Run(targets, settings, self._deliverer(), total=total)
        self.run = run
        self._task = run.start()
        return self._task

    def _deliverer(self) -> Sink:
        admit = self.details.admit
        count = self.tally.add
        sinks = tuple(self.sinks)
        if len(sinks) == 1:
            (only,) = sinks

            def deliver_one(result: Result) -> None:
                admit(result)
                count(result)
                only(result)

            return deliver_one

        def deliver(result: Result) -> None:
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

        return deliver

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
