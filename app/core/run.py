"""A run: fetch a list of targets keeping at most N requests in flight (and at most M per host),
one asyncio task per URL, each task's outcome consumed by its done-callback.

Every target yields exactly one :class:`Result` through the sink: invalid lines at once, fetched
URLs when their task ends (ok, http_error or failed), and anything not finished when the run is
cancelled as ``cancelled``. Nothing is gathered or awaited over the whole list, so memory and
start-up stay flat however long the list is. :class:`app.core.engine.Engine` runs these.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Protocol

from yarl import URL

from app.core.environment import Environment
from app.core.errors import Failure, FetchFailed, Kind, kind_for_status
from app.core.fetch import Fetcher, fetch
from app.core.pacing import Hosts, HostState
from app.core.redact import mask_url
from app.core.result import Outcome, Response, Result
from app.core.settings import Settings, SettingsError
from app.core.targets import Target
from app.core.transport import SharedJar, make_ssl, open_session

__all__ = ["MAX_PARKED", "Activity", "Keeper", "Run", "RunClock", "Sink"]

Sink = Callable[[Result], None]

# How many targets may wait for a busy host before the run stops reading ahead.
MAX_PARKED = 50_000


class Keeper(Protocol):
    """Where a run's results are kept safe (the run history's writer,
    :class:`app.core.store_writer.RunWriter`), as a run with one sees it.

    A run with a keeper counts a row as in flight from its request's start until the keeper
    has it safe, not only until its answer is in: requests under way plus results not yet
    kept never exceed ``concurrency``. So a ``kill -9`` at any moment loses at most
    ``concurrency`` rows' work, whatever the rate, and a resume fetches no more than that again
    (docs/benchmarks.md, finding 65). A keeper that falls behind (a slow disk) slows the run
    instead of filling memory.
    """

    def add(self, result: Result) -> None:
        """Keep ``result`` (called on the loop thread, for every result: cheap)."""
        ...

    def unkept(self) -> int:
        """Results handed over and not yet safe (0 once the keeper has stopped keeping)."""
        ...

    def hurry(self) -> None:
        """The run is waiting for room: keep what you have now, without waiting for more."""
        ...

    def listen(self, kept: Callable[[], None]) -> None:
        """Call ``kept`` (from any thread) whenever results were kept, or keeping stopped."""
        ...

    def fail(self, reason: str) -> None:
        """Keeping failed in a helper process (``reason``, in plain words): the run's history
        stops here too, and says so once, as if it had failed here."""
        ...

    def for_helpers(self) -> tuple[str, int, int | None, bool] | None:
        """Where helper processes (:mod:`app.core.pool`) keep their own results: (file, run,
        size cap, whether rows may be there already); None when they cannot, and send them
        here instead."""
        ...


_STATUS_FAILURES: dict[tuple[int, str], Failure] = {}


def _status_failure(kind: Kind, status: int, reason: str) -> Failure:
    """One shared, immutable Failure per status line: 404s by the thousand cost one object."""
    failure = _STATUS_FAILURES.get((status, reason))
    if failure is None:
        failure = Failure.plain(kind, f"HTTP {status} {reason}".strip())
        if len(_STATUS_FAILURES) < 4096:
            _STATUS_FAILURES[(status, reason)] = failure
    return failure


_CANCELLED_RUNNING = Failure.plain(Kind.CANCELLED, "cancelled before it finished")
_CANCELLED_WAITING = Failure.plain(Kind.CANCELLED, "cancelled before it started")


class Activity:
    """The rows a run is working on, for views: ``index in activity`` while its request is
    under way, and :meth:`label` says "fetching", or "waiting 20 s" while the request waits
    for its host (a Retry-After pause, the rate limit). A live view of the run's own table,
    never a copy."""

    __slots__ = ("_rows",)

    def __init__(self, rows: dict[int, tuple[HostState, object]]) -> None:
        self._rows = rows

    def __contains__(self, index: object) -> bool:
        return index in self._rows

    def __len__(self) -> int:
        return len(self._rows)

    def label(self, index: int) -> str:
        row = self._rows.get(index)
        if row is None:
            return "queued"
        host, task = row
        until = host.waiting.get(task) if host.waiting else None
        wait = 0.0 if until is None else until - time.monotonic()
        return f"waiting {math.ceil(wait)} s" if wait > 0.5 else "fetching"


class RunClock:
    """How long a run took and how fast it fetched, for views: a :class:`Run`'s, or a pooled
    run's (:class:`app.core.pool.Pool`). Its owner sets ``started_at`` and ``finished_at``
    (monotonic) and says how many rows were fetched so far."""

    started_at: float
    finished_at: float | None

    def fetched_so_far(self) -> int:
        raise NotImplementedError

    @property
    def elapsed(self) -> float:
        if not self.started_at:
            return 0.0
        end = self.finished_at if self.finished_at is not None else time.monotonic()
        return max(0.0, end - self.started_at)

    @property
    def fetched_per_second(self) -> float:
        elapsed = self.elapsed
        return self.fetched_so_far() / elapsed if elapsed > 0.05 else 0.0


class Run(RunClock):
    """One pass over some targets (a whole list, or the rows of a retry). Start with
    :meth:`start`, stop with :meth:`cancel`.

    ``sink`` is called on the loop thread once per target with its finished result; an exception
    from the sink is reported to the loop's exception handler and the run goes on.

    ``targets`` may be a live source (a helper's, fed by :mod:`app.core.pool`): it yields None
    when it has nothing yet, its owner calls :meth:`more` when it has, and it ends (stops
    yielding None) when no more will come or the run is cancelled.
    """

    def __init__(
        self,
        targets: Iterable[Target | None],
        settings: Settings,
        sink: Sink,
        *,
        total: int | None = None,
        on_cookies: Callable[[Sequence[str], str], None] | None = None,
        on_pause: Callable[[str, float], None] | None = None,
        keeper: Keeper | None = None,
    ) -> None:
        self.settings = settings
        self._targets: Iterator[Target | None] = iter(targets)
        self._sink = sink
        if total is None and hasattr(targets, "__len__"):
            total = len(targets)  # type: ignore[arg-type]
        self.total = total or 0
        self.done = 0  # results emitted
        self.fetched = 0  # of which fetched (not invalid, not cancelled)
        self.hosts = Hosts()
        self._tasks: dict[asyncio.Task[Response], tuple[Target, HostState]] = {}
        # Rows whose request is under way, with their host and task: what views show.
        self._rows: dict[int, tuple[HostState, object]] = {}
        self.activity = Activity(self._rows)
        self._parked: dict[str, deque[Target]] = {}
        self._parked_count = 0
        self._ready_hosts: deque[str] = deque()
        self._wakeup = asyncio.Event()
        self._fetcher: Fetcher | None = None
        self.started_at = 0.0
        self.finished_at: float | None = None
        self._main: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancelling = False
        self._entered = False
        self._exhausted = False
        self._stopping = False
        # What the other processes of a pooled run hear of (app.core.pool): cookies a
        # response set, a host a Retry-After paused; and what they told this one.
        self._on_cookies = on_cookies
        self._on_pause = on_pause
        self._jar: SharedJar | None = None
        self._cookies_heard: list[tuple[Sequence[str], str]] = []
        self._keeper = keeper
        self._held = False  # a request could not start until the keeper catches up

    # -- control -------------------------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        """Begin fetching; returns the task that ends when every target has its result."""
        if self._main is not None:
            raise RuntimeError("a run can only be started once")
        self.started_at = time.monotonic()
        # Kept: asking asyncio for the running loop costs a getpid() system call each time.
        self._loop = asyncio.get_running_loop()
        if self._keeper is not None:
            self._keeper.listen(self._kept)
        self._main = self._loop.create_task(self._dispatch(), name="fetchdeck-run")
        # Added before any caller's callback, so rows are complete when callers hear of the end.
        self._main.add_done_callback(self._on_main_done)
        return self._main

    def cancel(self) -> None:
        """Stop quickly: in-flight requests are cancelled, unstarted targets become cancelled.
        A second cancel (another Ctrl+C) changes nothing: the first is already finishing every
        row, and cancelling that would leave rows without a result."""
        if self._cancelling:
            return
        if self._main is not None and not self._main.done():
            self._cancelling = self._stopping = True
            self._main.cancel()

    @property
    def finished(self) -> bool:
        return self._main is not None and self._main.done()

    @property
    def cancelled(self) -> bool:
        return self._cancelling

    @property
    def in_flight(self) -> int:
        return len(self._tasks)

    def fetched_so_far(self) -> int:
        return self.fetched

    def more(self) -> None:
        """A live source has more targets (see :meth:`_read_ahead`): start them."""
        if self._loop is not None:
            self._wakeup.set()

    def take_cookies(self, headers: Sequence[str], url: str) -> None:
        """Cookies another process of the run was sent (``Set-Cookie`` values, and the URL
        that sent them): later requests here send them too."""
        if self._jar is None:
            self._cookies_heard.append((headers, url))
        else:
            self._jar.hear(headers, url)

    def take_pause(self, host: str, seconds: float) -> None:
        """Another process of the run was told by ``host`` to wait (Retry-After)."""
        state = self.hosts[host]
        state.paused_until = max(state.paused_until, time.monotonic() + seconds)

    def waiting(self) -> int:
        """Requests waiting for their host (a Retry-After pause, the rate limit)."""
        return sum(len(state.waiting) for state in self.hosts.values() if state.waiting)

    def _kept(self) -> None:
        """The keeper kept some results (on its own thread): a held run may go on."""
        if self._held:
            self._held = False
            loop = self._loop
            assert loop is not None
            with contextlib.suppress(RuntimeError):  # the loop closed: nothing waits any more
                loop.call_soon_threadsafe(self._wakeup.set)

    # -- dispatch ------------------------------------------------------------------------------

    def _on_main_done(self, task: asyncio.Task[None]) -> None:
        if not self._entered:
            # Cancelled before its first step ran: no row has been touched yet.
            self._finish_unstarted(Outcome.CANCELLED, _CANCELLED_WAITING)
            self.finished_at = time.monotonic()

    async def _dispatch(self) -> None:
        self._entered = True
        try:
            environment, ssl_arg = await asyncio.to_thread(
                lambda: (Environment.load(), make_ssl(self.settings)))
            async with open_session(self.settings, ssl_arg,
                                    on_cookies=self._on_cookies) as session:
                jar = session.cookie_jar
                if isinstance(jar, SharedJar):
                    self._jar = jar
                    for headers, url in self._cookies_heard:
                        jar.hear(headers, url)
                    self._cookies_heard.clear()
                self._fetcher = Fetcher(self.settings, session, environment,
                                        on_pause=self._on_pause)
                try:
                    await self._feed()
                finally:
                    await self._cancel_in_flight()
        except asyncio.CancelledError:
            self._finish_unstarted(Outcome.CANCELLED, _CANCELLED_WAITING)
            raise
        except SettingsError as exc:
            # A setting the run cannot use (an unreadable CA file): every row says so.
            self._finish_unstarted(Outcome.FAILED, Failure.from_exception(exc))
        except BaseException as exc:
            # A bug: every unfinished row says why, and the run's task carries it to the panel.
            self._finish_unstarted(Outcome.FAILED, Failure.internal(exc))
            raise
        finally:
            self.finished_at = time.monotonic()

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
        keeper = self._keeper
        while len(self._tasks) < concurrency:
            if keeper is not None and len(self._tasks) + keeper.unkept() >= concurrency:
                # Results not yet kept count as in flight (see Keeper): wait for the keeper.
                # Flagged, then counted again: a report the keeper made in between (its last,
                # if it just stopped) found no flag, and this count sees what it reported.
                self._held = True
                if len(self._tasks) + keeper.unkept() >= concurrency:
                    keeper.hurry()
                    return
                self._held = False
            target = self._next_ready() if self._ready_hosts else None
            if target is None and not self._exhausted and self._parked_count < MAX_PARKED:
                target, self._exhausted = self._read_ahead()
            if target is None:
                return
            self._launch(target)

    def _next_ready(self) -> Target | None:
        per_host = self.settings.per_host
        hosts = self.hosts
        while self._ready_hosts:
            host = self._ready_hosts[0]
            queue = self._parked.get(host)
            if not queue:
                self._ready_hosts.popleft()
                self._parked.pop(host, None)
                continue
            if per_host and hosts[host].active >= per_host:
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
        hosts = self.hosts
        for target in self._targets:
            if target is None:  # a live source with nothing yet; more() when it has
                return None, False
            if target.failure is not None:
                self._emit(Result(target.index, target.line, target.text, Outcome.INVALID,
                                  target.failure))
                continue
            host = target.host
            if per_host and (host in self._parked or hosts[host].active >= per_host):
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
                              Failure.plain(Kind.INVALID_URL, f"not a valid URL: {exc}")))
            return
        host = self.hosts[target.host]
        host.active += 1
        task = self._loop.create_task(fetch(self._fetcher, url, target.text, host))
        self._tasks[task] = (target, host)
        self._rows[target.index] = (host, task)
        task.add_done_callback(self._on_done)

    def _on_done(self, task: asyncio.Task[Response]) -> None:
        """Build the row's one record from the task's outcome. Never raises."""
        target, host = self._tasks.pop(task)
        self._rows.pop(target.index, None)
        try:
            host.active -= 1
            if self._parked and target.host in self._parked:
                self._ready_hosts.append(target.host)
            # An ok row, the common case, without a further call; the rest in _result.
            if not task.cancelled() and task.exception() is None:
                response = task.result()
                status = response.status
                if status is not None and status < 400:
                    result = Result(target.index, target.line, target.text, Outcome.OK, None,
                                    response)
                else:
                    result = self._result(target, task)
            else:
                result = self._result(target, task)
        except BaseException as exc:  # a bug here must still leave a row, and be seen
            result = Result(target.index, target.line, target.text, Outcome.FAILED,
                            Failure.internal(exc))
        if result.outcome is not Outcome.CANCELLED:
            self.fetched += 1
        self.done += 1
        try:
            self._sink(result)
        except Exception as exc:
            self._sink_failed(result, exc)
        try:
            self._fill()
        finally:
            if not self._tasks:
                self._wakeup.set()  # the end, or nothing could start: let _feed look

    @staticmethod
    def _result(target: Target, task: asyncio.Task[Response]) -> Result:
        if task.cancelled():
            return Result(target.index, target.line, target.text, Outcome.CANCELLED,
                          _CANCELLED_RUNNING)
        exc = task.exception()
        if exc is None:
            response = task.result()
            status = response.status
            assert status is not None
            if status < 400:  # kind_for_status's None, without the call for every ok row
                return Result(target.index, target.line, target.text, Outcome.OK, None,
                              response)
            kind = kind_for_status(status)
            assert kind is not None
            return Result(target.index, target.line, target.text, Outcome.HTTP_ERROR,
                          _status_failure(kind, status, response.reason), response)
        if isinstance(exc, FetchFailed) and exc.__cause__ is not None:
            return Result(target.index, target.line, target.text, Outcome.FAILED,
                          Failure.from_exception(exc.__cause__), exc.response)
        return Result(target.index, target.line, target.text, Outcome.FAILED,
                      Failure.internal(exc))

    def _emit(self, result: Result) -> None:
        self.done += 1
        try:
            self._sink(result)
        except Exception as exc:
            self._sink_failed(result, exc)

    @staticmethod
    def _sink_failed(result: Result, exc: Exception) -> None:
        asyncio.get_running_loop().call_exception_handler({
            "message": f"Fetchdeck could not deliver the result of {mask_url(result.url)}",
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

    def _finish_unstarted(self, outcome: Outcome, failure: Failure) -> None:
        """Give every target the run never reached its row: invalid lines as invalid, the rest
        with ``outcome`` and ``failure``."""
        for target in self._unstarted():
            if target.failure is not None:
                self._emit(Result(target.index, target.line, target.text, Outcome.INVALID,
                                  target.failure))
            else:
                self._emit(Result(target.index, target.line, target.text, outcome, failure))

    def _unstarted(self) -> Iterator[Target]:
        for queue in self._parked.values():
            yield from queue
        self._parked.clear()
        self._parked_count = 0
        for target in self._targets:
            if target is None:  # a live source is empty for now; it ends on cancel
                return
            yield target
