"""Measuring tools the benchmarks share: a bounded child process with its own CPU time and peak
RSS (from ``wait4``), percentiles, and a 10 ms QTimer that measures how late the GUI thread is.
"""

from __future__ import annotations

import bisect
import contextlib
import gc
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

PROBE_MS = 10


@dataclass
class Child:
    """How one child process went: exit code, output, its own CPU time and peak RSS."""

    command: list[str]
    returncode: int | None  # None: killed at the time limit
    stdout: str
    stderr: str
    wall: float  # seconds from spawn to exit
    spawned_at: float  # time.time() just before the spawn
    user: float
    system: float
    max_rss: int  # bytes
    timed_out: bool = False
    killed_for: str = ""  # "time limit" or "RSS limit" when the parent killed it
    stack_dump: str = ""  # py-spy dump taken at the time limit, when py-spy is installed
    events: list[dict[str, Any]] = field(default_factory=list)

    @property
    def cpu(self) -> float:
        return self.user + self.system

    @property
    def result(self) -> dict[str, Any]:
        """The last ``{"result": ...}`` line the child printed (clients print one at the end)."""
        for event in reversed(self.events):
            if "result" in event:
                return dict(event["result"])
        return {}

    def failure(self) -> str:
        tail = "\n".join(self.stderr.strip().splitlines()[-15:])
        if self.killed_for:
            return f"killed at the {self.killed_for} after {self.wall:.0f} s\n{tail}"
        return f"exit status {self.returncode}\n{tail}"


def run_child(command: Sequence[str], timeout: float, env: dict[str, str] | None = None,
              cwd: str | None = None, dump_on_timeout: bool = True,
              on_line: Callable[[dict[str, Any]], None] | None = None,
              rss_limit: int | None = None) -> Child:
    """Run ``command`` in a session of its own, at most ``timeout`` seconds, and reap it with
    ``wait4`` so that its CPU time and peak RSS are its own (and its waited-for children's).

    Lines the child prints that parse as JSON objects are collected as events (and passed to
    ``on_line`` as they arrive, for progress); a child still running at the time limit, or
    whose RSS passes ``rss_limit`` bytes, gets a py-spy stack dump when py-spy is installed, then
    is killed with its whole process group.
    """
    with tempfile.TemporaryFile("w+b") as out, tempfile.TemporaryFile("w+b") as err:
        spawned_at = time.time()
        start = time.perf_counter()
        process = subprocess.Popen(list(command), stdin=subprocess.DEVNULL, stdout=out,
                                   stderr=err, env=env, cwd=cwd, start_new_session=True)
        deadline = start + timeout
        timed_out = False
        killed_for = ""
        stack_dump = ""
        read_pos = 0
        events: list[dict[str, Any]] = []
        status = 0
        usage = None
        while True:
            pid, status, usage = os.wait4(process.pid, os.WNOHANG)
            read_pos = _collect(out, read_pos, events, on_line)
            if pid:
                break
            if time.perf_counter() >= deadline:
                killed_for = "time limit"
            elif rss_limit is not None and _rss_of(process.pid) > rss_limit:
                killed_for = "RSS limit"
            if killed_for:
                timed_out = True
                if dump_on_timeout:
                    stack_dump = py_spy_dump(process.pid)
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                _, status, usage = os.wait4(process.pid, 0)
                break
            time.sleep(0.05)
        wall = time.perf_counter() - start
        process.returncode = os.waitstatus_to_exitcode(status)  # reaped above, not by Popen
        # Anything the child left in its group (a helper it started) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        _collect(out, read_pos, events, on_line)
        out.seek(0)
        err.seek(0)
        return Child(
            command=list(command),
            returncode=None if timed_out else process.returncode,
            stdout=out.read().decode(errors="replace"),
            stderr=err.read().decode(errors="replace"),
            wall=wall,
            spawned_at=spawned_at,
            user=usage.ru_utime,
            system=usage.ru_stime,
            max_rss=usage.ru_maxrss * 1024,  # KiB on Linux
            timed_out=timed_out,
            killed_for=killed_for,
            stack_dump=stack_dump,
            events=events,
        )


def _rss_of(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def _collect(stream: Any, pos: int, events: list[dict[str, Any]],
             on_line: Callable[[dict[str, Any]], None] | None) -> int:
    """Parse the complete lines written since ``pos``; return the new position."""
    stream.seek(pos)
    data = stream.read()
    end = data.rfind(b"\n")
    if end < 0:
        return pos
    for raw in data[: end + 1].splitlines():
        line = raw.strip()
        if not line.startswith(b"{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(event)
            if on_line is not None:
                on_line(event)
    return pos + end + 1


def py_spy_binary() -> str | None:
    local = Path(sys.executable).with_name("py-spy")
    return str(local) if local.exists() else shutil.which("py-spy")


def py_spy_dump(pid: int) -> str:
    """Where every thread of ``pid`` is now, or "" when py-spy is missing or cannot attach."""
    binary = py_spy_binary()
    if binary is None:
        return ""
    try:
        done = subprocess.run([binary, "dump", "--pid", str(pid)], capture_output=True,
                              text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return done.stdout if done.returncode == 0 else done.stderr


def emit(**event: Any) -> None:
    """What a client subprocess prints: one JSON object per line, flushed at once."""
    print(json.dumps(event), flush=True)


def rss_now() -> int:
    """This process's resident set size now, in bytes (Linux /proc; 0 elsewhere)."""
    return _rss_of(os.getpid())


def percentiles(values: list[float], prefix: str) -> dict[str, float]:
    """p50, p99 and max of ``values`` as ``{prefix}_p50_ms`` etc.; empty when there are none."""
    ordered = sorted(values)
    if not ordered:
        return {}
    return {
        f"{prefix}_p50_ms": statistics.median(ordered),
        f"{prefix}_p99_ms": ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        f"{prefix}_max_ms": ordered[-1],
    }


class QtLagProbe:
    """A 10 ms precise QTimer on the GUI thread: each tick's lateness is the gap to the previous
    tick minus 10 ms (floored at 0), i.e. how long Qt could not run its own events."""

    def __init__(self, parent: Any = None) -> None:
        from PySide6.QtCore import Qt, QTimer

        self.ticks: list[float] = []
        self._timer = QTimer(parent)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.setInterval(PROBE_MS)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        self.ticks.append(time.perf_counter())

    def stop(self) -> None:
        self._timer.stop()

    def lags(self, start: float, end: float) -> list[float]:
        # One tick either side of the window too, so a stall across its edges is counted.
        first = max(0, bisect.bisect_left(self.ticks, start) - 1)
        last = bisect.bisect_right(self.ticks, end) + 1
        timed = self.ticks[first:last]
        return [max(0.0, (b - a) * 1000 - PROBE_MS) for a, b in zip(timed, timed[1:],
                                                                    strict=False)]

    def worst(self, start: float, end: float, count: int = 5) -> list[tuple[float, float]]:
        """The ``count`` longest stalls in the window: (seconds after ``start``, lag ms)."""
        first = max(0, bisect.bisect_left(self.ticks, start) - 1)
        last = bisect.bisect_right(self.ticks, end) + 1
        timed = self.ticks[first:last]
        gaps = [(a - start, (b - a) * 1000 - PROBE_MS) for a, b in zip(timed, timed[1:],
                                                                       strict=False)]
        return sorted(gaps, key=lambda gap: gap[1], reverse=True)[:count]

    def max_since(self, start: float) -> float:
        return max(self.lags(start, float("inf")) or [0.0])


class GcWatch:
    """Python's cyclic garbage collector pauses, from ``gc.callbacks``: a full collection walks
    every tracked object, so its pause grows with what the process keeps alive."""

    def __init__(self) -> None:
        self.pauses: list[tuple[int, float, float]] = []  # (generation, ended at, ms)
        self._started = 0.0
        gc.callbacks.append(self._callback)

    def _callback(self, phase: str, info: dict[str, int]) -> None:
        now = time.perf_counter()
        if phase == "start":
            self._started = now
        else:
            self.pauses.append((info["generation"], now, (now - self._started) * 1000))

    def stop(self) -> None:
        with contextlib.suppress(ValueError):
            gc.callbacks.remove(self._callback)

    def summary(self, start: float, end: float) -> dict[str, float]:
        timed = [(gen, ms) for gen, at, ms in self.pauses if start <= at <= end]
        full = [ms for gen, ms in timed if gen == 2]
        return {"gc_count": len(timed), "gc_total_ms": sum(ms for _, ms in timed),
                "gc_max_ms": max((ms for _, ms in timed), default=0.0),
                "gc_full_count": len(full), "gc_full_max_ms": max(full, default=0.0)}
