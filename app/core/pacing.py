"""Per-host pacing: how many requests a host has in flight, when the next may start (the rate
limit), how long a ``Retry-After`` pauses it, and the backoff between a URL's attempts."""

from __future__ import annotations

import asyncio
import email.utils
import random
import time
from dataclasses import dataclass, field

from app.core.settings import Settings

__all__ = ["HostState", "Hosts", "backoff", "parse_retry_after", "wait_turn"]

BACKOFF_BASE = 0.5
BACKOFF_MAX = 30.0


@dataclass(slots=True)
class HostState:
    """What a run knows about one host: requests in flight, when the next may start, and
    which of its requests are waiting for that moment (what views show as "waiting")."""

    active: int = 0
    next_start: float = 0.0  # monotonic time; rate limit
    paused_until: float = 0.0  # monotonic time; Retry-After
    waiting: dict[object, float] = field(default_factory=dict)  # task -> until (monotonic)
    name: str = ""  # the host's key in Hosts


class Hosts(dict[str, HostState]):
    """The run's hosts by key (lowercase, IDNA: see :func:`app.core.targets.check_line`)."""

    def __missing__(self, name: str) -> HostState:
        state = self[name] = HostState(name=name)
        return state


def backoff(attempt: int) -> float:
    """Exponential backoff with jitter: about 0.5, 1, 2, 4... seconds, capped."""
    base: float = min(BACKOFF_MAX, BACKOFF_BASE * 2.0 ** (attempt - 1))
    return base * random.uniform(0.75, 1.25)


def parse_retry_after(value: str, cap: float) -> float | None:
    """Seconds to wait for a ``Retry-After`` value (delta-seconds or HTTP date), capped."""
    value = value.strip()
    seconds: float
    if value.isdigit():
        # int() of a 5,000-digit value raises ValueError; a delay that long is the cap anyway.
        seconds = float(value) if len(value) < 12 else cap
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError, OverflowError):
            return None
        if when.tzinfo is None:
            return None
        seconds = float(when.timestamp()) - time.time()
    return max(0.0, min(seconds, cap))


async def wait_turn(host: HostState, settings: Settings) -> None:
    """Hold the request until the host's Retry-After pause and rate limit allow it."""
    task = asyncio.current_task()
    try:
        await _wait_turn(host, settings, task)
    finally:
        host.waiting.pop(task, None)


async def _wait_turn(host: HostState, settings: Settings, task: object) -> None:
    while True:
        now = time.monotonic()
        start = max(now, host.paused_until)
        if settings.rate > 0:
            start = max(start, host.next_start)
        if start <= now:
            if settings.rate > 0:
                host.next_start = now + 1.0 / settings.rate
            return
        host.waiting[task] = start
        if settings.rate > 0 and host.paused_until <= now:
            # Reserve the slot now so that waiters queue up one interval apart.
            host.next_start = start + 1.0 / settings.rate
            await asyncio.sleep(start - now)
            return
        await asyncio.sleep(start - now)
