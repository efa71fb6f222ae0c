"""What the commands share: messages on standard error, the run history opened as settings
say, and the progress bar."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
from collections import Counter
from typing import Any

from app.core.checks import check_info
from app.core.engine import Engine
from app.core.result import Result
from app.core.settings import Settings
from app.core.store import RunStore, StoreError
from app.core.tally import EXIT_SIGINT, EXIT_SIGTERM

__all__ = ["FailedChecks", "Progress", "UsageError", "exit_status_for", "open_history", "say",
           "until_done"]


class UsageError(Exception):
    """Exit 2 with this message."""


def say(message: str) -> None:
    """A line for the user on standard error (standard output carries only results)."""
    print(f"fetchdeck: {message}", file=sys.stderr, flush=True)


def open_history(settings: Settings, *, required: bool = False) -> RunStore | None:
    """The run history the settings name, or None when it is turned off or cannot be used
    (then the run goes on in memory, and says so). ``required``: a command that only reads
    the history (runs, export, diff) fails instead, raising StoreError."""
    if not settings.keep_runs and not required:
        return None
    try:
        return RunStore.open(settings.db_path)
    except StoreError as exc:
        if required:
            raise
        say(f"results are kept in memory only: {exc}")
        return None


class FailedChecks:
    """A sink counting failed redirect-map checks by what failed, for the closing summary:
    ``failed checks: Redirected to the wrong place (12), Wrong first status (3)``."""

    def __init__(self) -> None:
        self.codes: Counter[str] = Counter()

    def add(self, result: Result) -> None:
        if result.check == "fail":
            self.codes[result.check_code] += 1

    def summary(self) -> str:
        """One line naming each failed check by its title, most frequent first; empty when
        none failed."""
        if not self.codes:
            return ""
        return "failed checks: " + ", ".join(
            f"{check_info(code).title} ({count:,})" for code, count in self.codes.most_common())


class Progress:
    """A progress bar on standard error (tqdm), refreshed from the engine's counts."""

    INTERVAL = 0.2

    def __init__(self, engine: Engine, *, enabled: bool, total: int | None = None) -> None:
        self.engine = engine
        self.enabled = enabled
        self.total = total
        self._bar: Any = None
        self._handle: asyncio.TimerHandle | None = None

    def start(self) -> None:
        if not self.enabled:
            return
        # Imported only now: a script's run (no terminal) never pays for it, and the first
        # requests are already on their way.
        from tqdm import tqdm  # type: ignore[import-untyped]  # noqa: PLC0415

        total = self.total if self.total is not None else len(self.engine.targets)
        self._bar = tqdm(total=total, unit="URL", file=sys.stderr, dynamic_ncols=True,
                         smoothing=0.1, leave=False)
        self._tick()

    def _tick(self) -> None:
        progress = self.engine.progress()
        bar = self._bar
        bar.n = progress.run_done if self.total is not None else progress.done
        parts = [f"ok {progress.ok:,}"]
        if progress.failures:
            parts.append(f"failed {progress.failures:,}")
        if progress.waiting:
            parts.append(f"waiting {progress.waiting:,}")
        bar.set_postfix_str(" · ".join(parts), refresh=False)
        bar.refresh()
        self._handle = asyncio.get_running_loop().call_later(self.INTERVAL, self._tick)

    def stop(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        if self._bar is not None:
            self._bar.close()


async def until_done(engine: Engine, task: asyncio.Task[None], progress: Progress) -> int | None:
    """Wait for the engine's run to end, showing ``progress``; SIGINT or SIGTERM cancel it
    (every unfinished row becomes cancelled). Returns the signal that stopped it, or None."""
    loop = asyncio.get_running_loop()
    received: list[int] = []

    def stop(signum: int) -> None:
        if not received:
            received.append(signum)
        engine.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        # Windows has no add_signal_handler: Ctrl+C raises KeyboardInterrupt there instead.
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signum, stop, signum)
    progress.start()
    try:
        await asyncio.wait([task])
    finally:
        progress.stop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signum)
    return received[0] if received else None


def exit_status_for(signum: int) -> int:
    """130 after SIGINT, 143 after SIGTERM, as a shell reports a process they ended."""
    return EXIT_SIGINT if signum == signal.SIGINT else EXIT_SIGTERM
