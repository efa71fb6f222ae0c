"""A run fetched by several processes: this one and helpers (:mod:`app.core.helper`).

One Python process fetches at most one core's worth: past a few thousand requests a second, the
loop itself is the bottleneck (docs/benchmarks.md, session 9). A :class:`Pool` looks like a
:class:`~app.core.run.Run` to the engine and the views, and is one: its own ``Run`` fetches
here, a task per URL with its done-callback, while each helper runs one more over the targets
handed to it. Targets are handed out a chunk at a time as results come back, so a slower
process (the window's, which also paints) simply takes fewer. Every result, a helper's too,
reaches the same sink on this process's loop, in the order it arrives, exactly once.

What the processes of one run share, they tell each other through this one: the cookies a
response set (every jar gets them, a few milliseconds later) and a host's ``Retry-After`` pause.
Per-host limits and rates are not shared: a run with either stays in one process
(:func:`app.core.engine.processes_for` decides how many processes fetch).

Nothing a helper does is lost. Its results come back whole (failures with their exception chain
and traceback); what fails inside it is reported through this loop's exception handler; if it
dies, every row it held fails with the reason, and the pool's task then raises
:class:`HelperFailed` (an internal error: exit status 3, the window's error panel).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from app.core import wire
from app.core.details import KEEP_RECENT
from app.core.errors import Failure, Kind
from app.core.redact import mask_url
from app.core.result import Outcome, Result
from app.core.run import Activity, Keeper, Run, RunClock, Sink
from app.core.settings import Settings
from app.core.targets import Target

__all__ = ["HelperFailed", "Pool"]

# Targets a helper holds beyond its requests in flight, and the chunk they are sent in.
CHUNK = 64
# The longest this loop spends on what a helper sent before other callbacks get a turn: the
# window's loop is its GUI thread.
SLICE_SECONDS = 0.004
# How long a helper may take to start (to say READY): its imports, on a slow disk.
START_TIMEOUT = 30.0
# How long a helper may take to hand back its rows once told to stop.
STOP_GRACE = 3.0

_CANCELLED = Failure.plain(Kind.CANCELLED, "cancelled before it started")


class HelperFailed(Exception):
    """A helper process failed: its rows say so, and the run is reported as broken."""


class _Helper:
    """One helper process as the pool sees it."""

    def __init__(self, process: subprocess.Popen[bytes], errors: IO[bytes],
                 concurrency: int) -> None:
        self.process = process
        self.errors = errors
        self.concurrency = concurrency
        self.window = concurrency + 2 * CHUNK
        self.frames = wire.FrameReader()
        self.out = bytearray()  # frames not written yet (its pipe was full)
        self.writing = False
        self.paused = False  # not read from while what it sent waits its turn
        self.held: dict[int, Target] = {}  # handed out, no result back yet
        self.ready = False
        self.ended = False  # told END
        self.done = False  # said DONE, or is gone
        self.said_done = False
        self.finished = asyncio.get_running_loop().create_future()
        assert process.stdin is not None and process.stdout is not None
        self.write_fd = process.stdin.fileno()
        self.read_fd = process.stdout.fileno()

    def error_text(self) -> str:
        """The end of what the helper wrote on standard error."""
        return _tail(self.errors)


class _Activity:
    """The rows a pooled run is working on, for views (as :class:`Activity`): this process's
    requests under way, and the rows handed to helpers without a result yet."""

    __slots__ = ("_local", "_helpers")

    def __init__(self, local: Activity, helpers: list[_Helper]) -> None:
        self._local = local
        self._helpers = helpers

    def __contains__(self, index: object) -> bool:
        return index in self._local or any(index in h.held for h in self._helpers)

    def __len__(self) -> int:
        return len(self._local) + sum(len(h.held) for h in self._helpers)

    def label(self, index: int) -> str:
        # A helper's row may be under way or waiting its turn there: this process cannot tell.
        return self._local.label(index) if index in self._local else "with a helper"


class Pool(RunClock):
    """A run over ``targets`` by this process and ``processes - 1`` helpers; the same
    interface as :class:`Run` (start, cancel, the counters views read)."""

    def __init__(self, targets: Iterable[Target], settings: Settings, sink: Sink, *,
                 total: int, processes: int, keep_details: bool, keeper: Keeper | None = None,
                 kept_sink: Sink | None = None) -> None:
        self.settings = settings
        self.total = total
        self._source: Iterator[Target] = iter(targets)
        self._sink = sink
        # Helpers keep their own results where this process's keeper keeps its (each counts
        # its rows in flight until they are committed: see Keeper); ``kept_sink`` takes them.
        self._keeper = keeper
        self._kept_sink = kept_sink
        self._processes = processes
        self._keep_details = keep_details
        self._pulled = 0  # targets taken from the source
        self._exhausted = False
        self._tail = False
        base, extra = divmod(settings.concurrency, processes)
        self._shares = [base + extra] + [base] * (processes - 1)
        self.local = Run(self._local_targets(), settings.replace(concurrency=self._shares[0]),
                         sink, on_cookies=functools.partial(self._share_cookies, None),
                         on_pause=functools.partial(self._share_pause, None), keeper=keeper)
        self.hosts = self.local.hosts
        self._helpers: list[_Helper] = []
        self.activity = _Activity(self.local.activity, self._helpers)
        self._helper_done = 0  # results from helpers (and rows given up for them)
        self._helper_fetched = 0
        self._problems: list[str] = []
        self._main: asyncio.Task[None] | None = None
        self._stop: asyncio.Event | None = None  # set by cancel: wakes the wait for helpers
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancelling = False
        self.started_at = 0.0
        self.finished_at: float | None = None

    # -- the Run interface -----------------------------------------------------------------

    def start(self) -> asyncio.Task[None]:
        if self._main is not None:
            raise RuntimeError("a run can only be started once")
        self.started_at = time.monotonic()
        self._loop = asyncio.get_running_loop()
        self._main = self._loop.create_task(self._run(), name="fetchdeck-pool")
        return self._main

    def cancel(self) -> None:
        if self._cancelling or self._main is None or self._main.done():
            return
        self._cancelling = True
        self._stop_all()
        if self._stop is not None:
            self._stop.set()

    @property
    def finished(self) -> bool:
        return self._main is not None and self._main.done()

    @property
    def cancelled(self) -> bool:
        return self._cancelling

    @property
    def done(self) -> int:
        return self.local.done + self._helper_done

    @property
    def fetched(self) -> int:
        return self.local.fetched + self._helper_fetched

    def fetched_so_far(self) -> int:
        return self.fetched

    @property
    def in_flight(self) -> int:
        return self.local.in_flight + sum(min(len(h.held), h.concurrency)
                                          for h in self._helpers)

    def waiting(self) -> int:
        return self.local.waiting()

    @property
    def by_helpers(self) -> int:
        """Rows whose results came from helper processes (or were given up for them)."""
        return self._helper_done

    @property
    def helper_pids(self) -> list[int]:
        return [helper.process.pid for helper in self._helpers]

    # -- the run ---------------------------------------------------------------------------

    async def _run(self) -> None:
        self._stop = asyncio.Event()
        try:
            for share in self._shares[1:]:
                try:
                    self._spawn(share)
                except Exception as exc:  # no helper (a full disk, no processes left)
                    self._no_helper(share, exc)
            local = self.local.start()
            if self._cancelling:  # cancelled before this task's first step
                self._stop_all()
            await asyncio.wait([local])
            await self._wait_for_helpers()
        except asyncio.CancelledError:
            # The task itself was cancelled (the loop is closing): stop everything now.
            self._cancelling = True
            self.local.cancel()
            for helper in self._helpers:
                self._lost(helper, "the run was stopped", cancelled=True)
            raise
        finally:
            self.finished_at = time.monotonic()
            for helper in self._helpers:
                self._close(helper)
        if not local.cancelled() and local.exception() is not None:
            for problem in self._problems:  # reported too, not left behind the run's own
                self._problem(problem)
            raise local.exception()  # type: ignore[misc]
        if self._problems:
            raise HelperFailed("\n\n".join(self._problems))

    async def _wait_for_helpers(self) -> None:
        """Until every helper said DONE or was given up; a cancel gives them ``STOP_GRACE``."""
        while not all(h.done for h in self._helpers):
            waiting = [h.finished for h in self._helpers if not h.done]
            if self._cancelling:
                await asyncio.wait(waiting, timeout=STOP_GRACE)
                for helper in self._helpers:
                    if not helper.done:
                        # Rows it holds are cancelled like the rest; a helper that held none
                        # was still starting, which is no fault of its own.
                        self._lost(helper, "it did not stop within "
                                   f"{STOP_GRACE:g} s of being asked", cancelled=not helper.held)
                return
            assert self._stop is not None
            stop = asyncio.ensure_future(self._stop.wait())
            try:
                await asyncio.wait([*waiting, stop], return_when=asyncio.FIRST_COMPLETED)
            finally:
                stop.cancel()

    def _stop_all(self) -> None:
        self.local.cancel()
        for helper in self._helpers:
            self._send(helper, wire.CANCEL, None)

    def _no_helper(self, share: int, exc: BaseException) -> None:
        """A helper could not be started: this process takes its share, and says why."""
        self._shares[0] += share
        self.local.settings = self.local.settings.replace(concurrency=self._shares[0])
        asyncio.get_running_loop().call_exception_handler({
            "message": f"Fetchdeck could not start a helper process ({exc}); fetching with "
                       f"fewer processes", "exception": exc})

    def _started_in_time(self, helper: _Helper) -> None:
        if not helper.ready and not helper.done:
            self._lost(helper, f"it did not start within {START_TIMEOUT:g} s",
                       cancelled=self._cancelling)

    def _local_targets(self) -> Iterator[Target]:
        for target in self._source:
            self._pulled += 1
            self._check_tail()
            yield target
        self._source_ended(None)

    def _take(self, helper: _Helper) -> Target | None:
        """The next fetchable target for ``helper``; invalid lines get their rows here."""
        for target in self._source:
            self._pulled += 1
            self._check_tail()
            if target.failure is None:
                return target
            self._helper_done += 1
            self._deliver(Result(target.index, target.line, target.text, Outcome.INVALID,
                                 target.failure))
        self._source_ended(helper)
        return None

    def _source_ended(self, filling: _Helper | None) -> None:
        """No more targets: each ready helper is told, except the one being given its last
        chunk (``filling``), which is told after that chunk (END must not overtake it)."""
        if self._exhausted:
            return
        self._exhausted = True
        for helper in self._helpers:
            if helper.ready and not helper.ended and helper is not filling:
                helper.ended = True
                self._send(helper, wire.END, None)

    def _check_tail(self) -> None:
        # The last rows of a long run keep their details (app.core.details): from here on,
        # helpers send every row's.
        if not self._tail and (self.total - self._pulled
                               <= KEEP_RECENT + 2 * self.settings.concurrency):
            self._tail = True
            for helper in self._helpers:
                self._send(helper, wire.TAIL, None)

    def _deliver(self, result: Result, sink: Sink | None = None) -> None:
        try:
            (sink or self._sink)(result)
        except Exception as exc:
            asyncio.get_running_loop().call_exception_handler({
                "message": f"Fetchdeck could not deliver the result of {mask_url(result.url)}",
                "exception": exc,
            })

    # -- helpers -----------------------------------------------------------------------------

    def _spawn(self, concurrency: int) -> None:
        """Start a helper, or raise (and leave nothing behind)."""
        import tempfile  # noqa: PLC0415 - only runs with helpers

        root = str(Path(__file__).resolve().parents[2])
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (root, env.get("PYTHONPATH", "")) if p)
        errors = tempfile.TemporaryFile()  # noqa: SIM115 - kept while the helper lives
        try:
            # -P: the current directory is not put on the helper's path (an app/ or random.py
            # there must not be imported); -m finds the app through PYTHONPATH instead.
            process = subprocess.Popen(
                [sys.executable, "-P", "-m", "app.core.helper"], stdin=subprocess.PIPE,
                stdout=subprocess.PIPE, stderr=errors, env=env, close_fds=True,
                process_group=0)  # Ctrl+C in a terminal reaches this process, not helpers
        except BaseException:
            errors.close()
            raise
        try:
            helper = _Helper(process, errors, concurrency)
            os.set_blocking(helper.write_fd, False)
            os.set_blocking(helper.read_fd, False)
            assert self._loop is not None
            self._loop.add_reader(helper.read_fd, self._readable, helper)
            keeps = None
            if self._keeper is not None and self._kept_sink is not None:
                keeps = self._keeper.for_helpers()
            self._send(helper, wire.SETTINGS, (self.settings.to_dict(), concurrency,
                                               self._keep_details or self._tail, keeps))
        except BaseException:
            with contextlib.suppress(Exception):
                assert self._loop is not None
                self._loop.remove_reader(process.stdout.fileno())  # type: ignore[union-attr]
            process.kill()
            for stream in (process.stdin, process.stdout):
                with contextlib.suppress(OSError):
                    if stream is not None:
                        stream.close()
            threading.Thread(target=_reap, args=(process, errors), daemon=True).start()
            raise
        self._helpers.append(helper)
        if self._cancelling:
            self._send(helper, wire.CANCEL, None)
        self._loop.call_later(START_TIMEOUT, self._started_in_time, helper)

    def _readable(self, helper: _Helper) -> None:
        try:
            data = os.read(helper.read_fd, 1 << 18)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._ended(helper)
            return
        self._handle(helper, data)

    def _handle(self, helper: _Helper, data: bytes) -> None:
        """Act on what the helper sent, for at most ``SLICE_SECONDS``: past that, the rest
        waits in the buffer (and the helper, its pipe full, waits too) while this loop's other
        callbacks, and the window's painting, get their turn."""
        if helper.done:
            return  # given up on: what it still sends is ignored
        deadline = time.perf_counter() + SLICE_SECONDS
        frames = helper.frames.feed(data)
        try:
            for kind, payload in frames:
                self._message(helper, kind, payload)
                if helper.done or (time.perf_counter() > deadline and helper.frames.pending):
                    break
        except Exception as exc:  # a garbled pipe, or a bug here: the helper's rows fail
            self._lost(helper, f"its messages could not be read ({exc!r})")
            return
        finally:
            frames.close()
        assert self._loop is not None
        if helper.frames.has_frame and not helper.done:
            if not helper.paused:
                helper.paused = True
                self._loop.remove_reader(helper.read_fd)
            self._loop.call_soon(self._handle, helper, b"")
        elif helper.paused and not helper.done:
            helper.paused = False
            self._loop.add_reader(helper.read_fd, self._readable, helper)

    def _message(self, helper: _Helper, kind: int, payload: Any) -> None:
        if kind == wire.RESULTS or kind == wire.KEPT:
            held = helper.held
            deliver = self._deliver
            # Rows the helper committed itself skip this process's keeper; any other reach it.
            sink = self._kept_sink if kind == wire.KEPT else None
            for item in payload:
                result = wire.decode_result(item)
                if held.pop(result.index, None) is None:
                    self._problem(f"a helper sent a result for row {result.index + 1} "
                                  f"it was not given; ignored")
                    continue
                self._helper_done += 1
                if result.outcome is not Outcome.CANCELLED:
                    self._helper_fetched += 1
                deliver(result, sink)
            self._top_up(helper)
        elif kind == wire.READY:
            helper.ready = True
            self._top_up(helper)
        elif kind == wire.COOKIES:
            self._share_cookies(helper, *payload)
        elif kind == wire.PAUSE:
            self._share_pause(helper, *payload)
        elif kind == wire.UNKEPT:  # its history writer stopped: the run's history stops
            if self._keeper is not None:
                self._keeper.fail(str(payload))
        elif kind == wire.PROBLEM:
            message, exception_type, text, fatal = payload
            problem = (f"{message} (in helper process {helper.process.pid})"
                       + (f":\n{text}" if text else f": {exception_type}"))
            if fatal:  # its run broke, as a run here would: the pool's task says so
                self._problems.append(problem)
            else:
                self._problem(problem)
        elif kind == wire.DONE:
            helper.said_done = True
            for index, target in list(helper.held.items()):
                # Every row it was given comes back before DONE; one that did not is a bug.
                self._give_up(helper, index, target, Failure.plain(
                    Kind.INTERNAL, "Fetchdeck's helper process ended without this row's "
                    "result"))
            helper.done = True
            if not helper.finished.done():
                helper.finished.set_result(None)

    def _top_up(self, helper: _Helper) -> None:
        if not helper.ready or helper.done or self._cancelling:
            return
        room = helper.window - len(helper.held)
        if room < CHUNK // 2 and helper.held:
            return
        chunk: list[Target] = []
        while len(chunk) < room and not self._exhausted:
            target = self._take(helper)
            if target is None:
                break
            chunk.append(target)
            helper.held[target.index] = target
        if chunk:
            self._send(helper, wire.TARGETS, wire.encode_targets(chunk))
        if self._exhausted and not helper.ended:
            helper.ended = True
            self._send(helper, wire.END, None)

    def _share_cookies(self, source: _Helper | None, headers: Sequence[str], url: str) -> None:
        if source is not None:
            self.local.take_cookies(headers, url)
        for helper in self._helpers:
            if helper is not source:
                self._send(helper, wire.COOKIES, (tuple(headers), url))

    def _share_pause(self, source: _Helper | None, host: str, seconds: float) -> None:
        if source is not None:
            self.local.take_pause(host, seconds)
        for helper in self._helpers:
            if helper is not source:
                self._send(helper, wire.PAUSE, (host, seconds))

    def _send(self, helper: _Helper, kind: int, payload: Any) -> None:
        if helper.done:
            return
        helper.out += wire.frame(kind, payload)
        self._write(helper)

    def _write(self, helper: _Helper) -> None:
        assert self._loop is not None
        try:
            while helper.out:
                written = os.write(helper.write_fd, helper.out)
                del helper.out[:written]
        except BlockingIOError:
            if not helper.writing:
                helper.writing = True
                self._loop.add_writer(helper.write_fd, self._write, helper)
            return
        except OSError:
            helper.out.clear()  # it is gone; its end of the other pipe says how
        if helper.writing:
            helper.writing = False
            self._loop.remove_writer(helper.write_fd)

    def _ended(self, helper: _Helper) -> None:
        """The helper closed its end: after DONE, as it should; before, it died."""
        assert self._loop is not None
        self._loop.remove_reader(helper.read_fd)
        if helper.done:
            return
        status = helper.process.poll()
        if status is not None:
            self._lost(helper, _how_it_ended(status))
            return
        # Not reaped yet: a thread waits for it (never this loop, which may be the GUI's),
        # so the rows it held say how it ended.
        loop = self._loop

        def wait() -> None:
            try:
                ended: int | None = helper.process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                ended = None
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._lost, helper, _how_it_ended(ended))

        threading.Thread(target=wait, name="fetchdeck-helper-exit", daemon=True).start()

    def _lost(self, helper: _Helper, why: str, *, cancelled: bool = False) -> None:
        """Give up on a helper: every row it held gets a result here."""
        if helper.done:
            return
        helper.done = True
        assert self._loop is not None
        with contextlib.suppress(Exception):
            self._loop.remove_reader(helper.read_fd)
        text = helper.error_text()
        message = f"Fetchdeck's helper process {helper.process.pid} stopped: {why}"
        if not cancelled:
            report = message + (f"\n{text}" if text else "")
            if helper.held:  # rows fail for it: the run is broken (exit 3, the panel)
                self._problems.append(report)
            else:  # nothing lost (this process fetched its share): said, not fatal
                self._problem(report)
        failure = _CANCELLED if cancelled or self._cancelling else Failure.plain(
            Kind.INTERNAL, message)
        for index, target in list(helper.held.items()):
            self._give_up(helper, index, target, failure)
        with contextlib.suppress(OSError):
            helper.process.kill()
        if not helper.finished.done():
            helper.finished.set_result(None)

    def _give_up(self, helper: _Helper, index: int, target: Target, failure: Failure) -> None:
        del helper.held[index]
        self._helper_done += 1
        outcome = Outcome.CANCELLED if failure.kind is Kind.CANCELLED else Outcome.FAILED
        self._deliver(Result(target.index, target.line, target.text, outcome, failure))

    def _problem(self, text: str) -> None:
        """Something went wrong that the run survives: reported as the loop reports its own."""
        asyncio.get_running_loop().call_exception_handler({
            "message": "A helper process reported a problem", "exception": HelperFailed(text)})

    def _close(self, helper: _Helper) -> None:
        """Let go of a helper: its pipes now, the process once it has exited (by then it has
        said DONE, or is dead); a thread waits for that, so the loop never does."""
        assert self._loop is not None
        with contextlib.suppress(Exception):
            self._loop.remove_reader(helper.read_fd)
        if helper.writing:
            with contextlib.suppress(Exception):
                self._loop.remove_writer(helper.write_fd)
        for stream in (helper.process.stdin, helper.process.stdout):
            with contextlib.suppress(OSError):
                if stream is not None:
                    stream.close()
        loop = self._loop

        def exited_badly(text: str) -> None:  # after DONE: its rows are whole, but say so
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._problem, text)

        threading.Thread(target=_reap, args=(helper.process, helper.errors,
                                             exited_badly if helper.said_done else None),
                         name="fetchdeck-reap", daemon=True).start()


def _tail(errors: IO[bytes]) -> str:
    """The last 2,000 bytes a helper wrote on standard error, as text ("" if unreadable)."""
    with contextlib.suppress(OSError, ValueError):
        errors.seek(0, os.SEEK_END)
        errors.seek(max(0, errors.tell() - 2000))
        return errors.read().decode("utf-8", "replace").strip()
    return ""


def _how_it_ended(status: int | None) -> str:
    if status is None:
        return "it closed its output and did not exit"
    if status < 0:
        return f"it was killed by signal {-status}"
    return f"it exited with status {status}"


def _reap(process: subprocess.Popen[bytes], errors: IO[bytes],
          report: Callable[[str], None] | None = None) -> None:
    """Wait for a helper to exit (kill it if it does not); ``report`` hears of a helper that
    had finished its rows and then exited with an error."""
    try:
        try:
            status = process.wait(STOP_GRACE)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            status = 0  # it had nothing left to do: killed here, not failed
        if status and report is not None:
            text = _tail(errors)
            report(f"Fetchdeck's helper process {process.pid} {_how_it_ended(status)} after "
                   f"its last row" + (f":\n{text}" if text else ""))
    except (OSError, ValueError):
        pass
    finally:
        errors.close()
