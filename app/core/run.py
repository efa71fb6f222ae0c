"""A run: fetch a list of targets keeping at most N requests in flight (and at most M per host),
one asyncio task per URL, each task's outcome consumed by its done-callback.

Every target yields exactly one :class:`Result` through the sink: invalid lines at once, fetched
URLs when their task ends (ok, http_error or failed), and anything not finished when the run is
cancelled as ``cancelled``. Nothing is gathered or awaited over the whole list, so memory and
start-up stay flat however long the list is.
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

from yarl import URL

from app.core.environment import Environment
from app.core.errors import Failure, Kind, kind_for_status
from app.core.fetch import Fetcher, HostState, fetch, make_ssl, open_session
from app.core.result import Outcome, Result
from app.core.settings import Settings, SettingsError
from app.core.targets import Target, mask_password

Sink = Callable[[Result], None]

# How many targets may wait for a busy host before the run stops reading ahead.
MAX_PARKED = 50_000


@dataclass(frozen=True, slots=True)
class Progress:
    total: int
    done: int
    ok: int
    http_error: int
    failed: int
    invalid: int
    cancelled: int
    in_flight: int
    elapsed: float
    fetched_per_second: float

    @property
    def failures(self) -> int:
        return self.http_error + self.failed

    @property
    def eta(self) -> float | None:
        """Seconds left at the current pace, or None before there is a pace."""
        if self.fetched_per_second <= 0:
            return None
        return (self.total - self.done) / self.fetched_per_second


_STATUS_FAILURES: dict[tuple[int, str], Failure] = {}


def _status_failure(kind: Kind, status: int, reason: str) -> Failure:
    """One shared, immutable Failure per status line: 404s by the thousand cost one object."""
    failure = _STATUS_FAILURES.get((status, reason))
    if failure is None:
        failure = Failure.plain(kind, f"HTTP {status} {reason}".strip())
        if len(_STATUS_FAILURES) < 4096:
            _STATUS_FAILURES[(status, reason)] = failure
    return failure


class Run:
    """One press of Fetch (or one Retry). Start with :meth:`start`, stop with :meth:`cancel`.

    ``sink`` is called on the loop thread once per target with its finished result; an exception
    from the sink is reported to the loop's exception handler and the run goes on.
    """

    def __init__(
        self,
        targets: Iterable[Target],
        settings: Settings,
        sink: Sink,
        *,
        total: int | None = None,
        details_for_last: int | None = None,
    ) -> None:
        """``details_for_last``: None keeps every result's :class:`Details` (headers, body
        preview); N drops those of ok results as they finish, except the last N of the run.
        Dropped there, while the response's objects are still in the CPU cache, they cost
        nothing; kept for a while and dropped later, ~5 us a request (docs/benchmarks.md)."""
        self.settings = settings
        self._targets: Iterator[Target] = iter(targets)
        self._sink = sink
        if total is None and hasattr(targets, "__len__"):
            total = len(targets)  # type: ignore[arg-type]
        if details_for_last is not None and total is None:
            raise ValueError("details_for_last needs the run's total: pass total=")
        self.total = total or 0
        self._counts = dict.fromkeys(Outcome, 0)
        # Results are kept with their details once fewer than this many are left to finish.
        self._details_from = (None if details_for_last is None
                              else self.total - details_for_last)
        self._done = 0
        self._tasks: dict[asyncio.Task[None], tuple[Target, Result, HostState]] = {}
        self._parked: dict[str, deque[Target]] = {}
        self._parked_count = 0
        self._ready_hosts: deque[str] = deque()
        self._wakeup = asyncio.Event()
        self._fetcher: Fetcher | None = None
        self._started = 0.0
        self._finished: float | None = None
        self._main: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancelling = False
        self._entered = False
        self._exhausted = False
        self._stopping = False

    # -- control -------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Begin fetching; returns the task that ends when every target has its result."""
        if self._main is not None:
            raise RuntimeError("a run can only be started once")
        self._started = time.monotonic()
        # Kept: asking asyncio for the running loop costs a getpid() system call each time.
        self._loop = asyncio.get_running_loop()
        self._main = self._loop.create_task(self._dispatch(), name="fetchdeck-run")
        # Added before any caller's callback, so rows are complete when callers hear of the end.
        self._main.add_done_callback(self._on_main_done)
        return self._main

    def cancel(self) -> None:
        """Stop quickly: in-flight requests are cancelled, unstarted targets become cancelled."""
        if self._main is not None and not self._main.done():
            self._cancelling = self._stopping = True
            self._main.cancel()

    @property
    def done(self) -> bool:
        return self._main is not None and self._main.done()

    @property
    def cancelled(self) -> bool:
        return self._cancelling

    def progress(self) -> Progress:
        c = self._counts
        done = sum(c.values())
        end = self._finished if self._finished is not None else time.monotonic()
        elapsed = max(0.0, end - self._started) if self._started else 0.0
        fetched = c[Outcome.OK] + c[Outcome.HTTP_ERROR] + c[Outcome.FAILED]
        return Progress(
            total=max(self.total, done),
            done=done,
            ok=c[Outcome.OK],
            http_error=c[Outcome.HTTP_ERROR],
            failed=c[Outcome.FAILED],
            invalid=c[Outcome.INVALID],
            cancelled=c[Outcome.CANCELLED],
            in_flight=len(self._tasks),
            elapsed=elapsed,
            fetched_per_second=fetched / elapsed if elapsed > 0.05 else 0.0,
        )

    # -- dispatch ------------------------------------------------------------------------------

    def _on_main_done(self, task: asyncio.Task[None]) -> None:
        if not self._entered:
            # Cancelled before its first step ran: no row has been touched yet.
            self._cancel_unstarted()
            self._finished = time.monotonic()

    async def _dispatch(self) -> None:
        self._entered = True
        try:
            environment, ssl_arg = await asyncio.to_thread(
                lambda: (Environment.load(), make_ssl(self.settings)))
            async with open_session(self.settings, ssl_arg) as session:
                self._fetcher = Fetcher(self.settings, session, environment)
                try:
                    await self._feed()
                finally:
                    await self._cancel_in_flight()
        except asyncio.CancelledError:
            self._cancel_unstarted()
            raise
        except SettingsError as exc:
            # A setting the run cannot use (an unreadable CA file): every row says so.
            self._fail_unstarted(exc)
        except BaseException as exc:
            # A bug: every unfinished row says why, and the run's task carries it to the panel.
            self._fail_unstarted(exc)
            raise
        finally:
            self._finished = time.monotonic()

    async def _feed(self) -> None:
        # Requests are started from the done-callbacks (see _fill); this task only waits for
        # the end, so a finished request costs no extra task step.
        self._fill()
        while not (self._exhausted and not self._tasks and not self._parked_count):
            self._wakeup.clear()
            await self._wakeup.wait()
            self._fill()

    def _fill(self) -> None:
        """Start requests until ``concurrency`` are in flight or nothing more can start."""
        if self._stopping:
            return
        concurrency = self.settings.concurrency
        while len(self._tasks) < concurrency:
            target = self._next_ready() if self._ready_hosts else None
            if target is None and not self._exhausted and self._parked_count < MAX_PARKED:
                target, self._exhausted = self._read_ahead()
            if target is None:
                return
            self._launch(target)

    def _next_ready(self) -> Target | None:
        per_host = self.settings.per_host
        while self._ready_hosts:
            host = self._ready_hosts[0]
            queue = self._parked.get(host)
            if not queue:
                self._ready_hosts.popleft()
                self._parked.pop(host, None)
                continue
            assert self._fetcher is not None
            if per_host and self._fetcher.host(host).active >= per_host:
                self._ready_hosts.popleft()
                continue
            self._parked_count -= 1
            target = queue.popleft()
            if not queue:
                del self._parked[host]
                self._ready_hosts.popleft()
            return target
        return None

    def _read_ahead(self) -> tuple[Target | None, bool]:
        """Take the next target whose host has room, parking the others; (target, exhausted)."""
        per_host = self.settings.per_host
        assert self._fetcher is not None
        for target in self._targets:
            if target.failure is not None:
                result = Result(target.index, target.line, target.text, Outcome.INVALID,
                                failure=target.failure)
                self._emit(result)
                continue
            host = target.host
            if per_host and (
                host in self._parked or self._fetcher.host(host).active >= per_host
            ):
                self._parked.setdefault(host, deque()).append(target)
                self._parked_count += 1
                if self._parked_count >= MAX_PARKED:
                    return None, False
                continue
            return target, False
        return None, True

    def _launch(self, target: Target) -> None:
        assert self._fetcher is not None and self._loop is not None
        try:
            # A line already in yarl's normal form skips its re-encoding (see targets._EXACT_URL).
            url = URL(target.text, encoded=True) if target.exact else URL(target.text)
        except ValueError as exc:  # the quick line check passed something yarl refuses
            self._emit(Result(target.index, target.line, target.text, Outcome.INVALID,
                              failure=Failure.plain(Kind.INVALID_URL, f"not a valid URL: {exc}")))
            return
        result = Result(target.index, target.line, target.text)
        host = self._fetcher.host(target.host)
        host.active += 1
        task = self._loop.create_task(fetch(self._fetcher, url, result, host))
        self._tasks[task] = (target, result, host)
        task.add_done_callback(self._on_done)

    def _on_done(self, task: asyncio.Task[None]) -> None:
        """Turn the task's outcome into the row's final record. Never raises."""
        target, result, host = self._tasks.pop(task)
        try:
            host.active -= 1
            if self._parked and target.host in self._parked:
                self._ready_hosts.append(target.host)
            if task.cancelled():
                result.outcome = Outcome.CANCELLED
                result.failure = Failure.plain(Kind.CANCELLED, "cancelled before it finished")
            elif (exc := task.exception()) is not None:
                result.outcome = Outcome.FAILED
                result.failure = Failure.from_exception(exc)
            else:
                status = result.status
                assert status is not None
                if status < 400:  # kind_for_status's None, without the call for every ok row
                    result.outcome = Outcome.OK
                    if self._details_from is not None and self._done < self._details_from:
                        result.details = None
                else:
                    kind = kind_for_status(status)
                    assert kind is not None
                    result.outcome = Outcome.HTTP_ERROR
                    result.failure = _status_failure(kind, status, result.reason)
        except BaseException as exc:  # a bug here must still leave a row, and be seen
            result.outcome = Outcome.FAILED
            result.failure = dataclasses.replace(
                Failure.from_exception(exc), kind=Kind.INTERNAL,
                message=f"Internal error: {exc!r}")
        self._emit(result)
        try:
            self._fill()
        finally:
            if not self._tasks:
                self._wakeup.set()  # the end, or nothing could start: let _feed look

    def _emit(self, result: Result) -> None:
        self._counts[result.outcome] += 1
        self._done += 1
        try:
            self._sink(result)
        except Exception as exc:
            asyncio.get_running_loop().call_exception_handler({
                "message": f"Fetchdeck could not show the result of {mask_password(result.url)}",
                "exception": exc,
            })

    # -- stopping ------------------------------------------------------------------------------

    async def _cancel_in_flight(self) -> None:
        self._stopping = True
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        if tasks:
            # Their done-callbacks record each one; this only waits for them to finish.
            await asyncio.wait(tasks)

    def _cancel_unstarted(self) -> None:
        self._finish_unstarted(Outcome.CANCELLED,
                               Failure.plain(Kind.CANCELLED, "cancelled before it started"))

    def _fail_unstarted(self, exc: BaseException) -> None:
        self._finish_unstarted(Outcome.FAILED, Failure.from_exception(exc))

    def _finish_unstarted(self, outcome: Outcome, failure: Failure) -> None:
        """Give every target the run never reached its row: invalid lines as invalid, the rest
        with ``outcome`` and ``failure``."""
        for target in self._unstarted():
            if target.failure is not None:
                self._emit(Result(target.index, target.line, target.text, Outcome.INVALID,
                                  failure=target.failure))
            else:
                self._emit(Result(target.index, target.line, target.text, outcome,
                                  failure=failure))

    def _unstarted(self) -> Iterator[Target]:
        for queue in self._parked.values():
            yield from queue
        self._parked.clear()
        self._parked_count = 0
        yield from self._targets
