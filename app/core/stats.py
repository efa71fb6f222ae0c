"""A run at a glance, in numbers: outcome and status counts, a response-time histogram with its
percentiles, requests per second over time and a per-host table, in memory that does not grow
with the number of results.

:class:`RunStats` is fed each batch of finished results as the window receives them (one call a
tick, every 50 ms, on the GUI thread). What it costs per result is what matters: the GUI
thread's whole budget is ~95 us a request and the summary may take ~1 us of it. So
:meth:`RunStats.add` runs no Python code per result. Each field is read with
``map(attrgetter)``, a time's bucket is ``floor(log2(t) * 8)`` through ``map``, and everything
is counted by ``Counter.update`` into counters keyed by plain values: ``(outcome, status)``, a
bucket, ``(host, (outcome, status))``, ``host + bucket`` (a host is a multiple of
:data:`HOST_STRIDE`). Those are C loops; Python only runs per batch and per distinct key when
the summary is read, a few times a second.

Response times are counted in log-spaced buckets (:data:`BASE`: eight per doubling, each ~9 % of
its value wide), never kept one by one, so p50/p90/p99 come from the buckets and are within one
bucket's width of the exact values.

Hosts are keyed as the run keys them (:func:`app.core.targets.check_line`: lowercase, no port).
A result does not carry its host today, so it is found from ``Result.url``: the text up to the
first "/" after "//" fixes the host, and is looked up in a cache before any parsing. That lookup
is ~40 % of :meth:`~RunStats.add`'s cost; a ``Result.host`` filled by the run from
``Target.host`` would make it one ``attrgetter``.
"""

from __future__ import annotations

import heapq
import math
import time
from bisect import bisect_left
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import accumulate, repeat
from operator import add, attrgetter, itemgetter, mul
from typing import Protocol

from app.core.result import Finished, Outcome
from app.core.targets import check_line

__all__ = [
    "BASE",
    "FETCHED",
    "HostLive",
    "HostRow",
    "MAX_HOSTS",
    "OTHER_HOSTS",
    "RunStats",
    "TimeBins",
    "bucket_of",
    "bucket_range",
    "host_key",
]

# A time t > 0 (ms) falls in bucket floor(log2(t) * 8), which holds [BASE**b, BASE**(b+1)).
STEPS_PER_DOUBLING = 8
BASE = 2 ** (1 / STEPS_PER_DOUBLING)
_FASTEST = 1e-6  # ms; a time of 0 (or below) counts as this
_NO_TIME = 1e-300  # what a result without elapsed_ms is counted as: a bucket of its own
_TOO_SLOW = 1e12  # ms; slower (or not a number) counts as this


def bucket_of(ms: float) -> int:
    """The bucket of a time in ms, as :meth:`RunStats.add` counts it."""
    if ms == _NO_TIME:
        return NO_TIME_BUCKET
    if not ms < _TOO_SLOW:  # also NaN
        ms = _TOO_SLOW
    return math.floor(math.log2(max(ms, _FASTEST)) * STEPS_PER_DOUBLING)


def bucket_range(bucket: int) -> tuple[float, float]:
    """The times (ms) bucket ``bucket`` holds: [low, high)."""
    return BASE ** bucket, BASE ** (bucket + 1)


NO_TIME_BUCKET = math.floor(math.log2(_NO_TIME) * STEPS_PER_DOUBLING)
_STEPS = repeat(float(STEPS_PER_DOUBLING))  # endless: map() stops with the times
# A host's time counters are keyed host + bucket, hosts being multiples of this: every real
# bucket (-160 to 318) and NO_TIME_BUCKET (-7973) stay within half of it.
HOST_STRIDE = 1 << 14
NO_HOST = 0  # the "host" of a line that is not a fetchable URL

# Results that were really fetched (a request went out), as Progress.fetched_per_second counts.
FETCHED = frozenset({Outcome.OK, Outcome.HTTP_ERROR, Outcome.FAILED})
_FAILURES = frozenset({Outcome.HTTP_ERROR, Outcome.FAILED})

# Hosts are counted one by one up to this many; any further host's results count under
# OTHER_HOSTS, so a list of a million hosts keeps a bounded table.
MAX_HOSTS = 10_000
OTHER_HOSTS = "(other hosts)"
# Requests per second are kept in at most this many bins; past it, neighbours are merged and
# the bin width doubles (1 s, 2 s, 4 s...), so a day-long run keeps a bounded series.
MAX_RATE_BINS = 1800
_PREFIX_CACHE_LIMIT = 100_000

# How fetch() words a retry's note today (app/core/fetch.py), one phrase per attempt. A count per
# result from the engine (Retry-After waits, 429s seen) would be sturdier than reading prose.
_RETRY_AFTER_NOTE = "for Retry-After"
_THROTTLED_NOTE = ": 429,"

_OUTCOME = attrgetter("outcome")
_STATUS = attrgetter("status")
_ELAPSED = attrgetter("elapsed_ms")
_URL = attrgetter("url")
_NOTE = attrgetter("note")
_THIRD = itemgetter(2)


class HostLive(Protocol):
    """What the engine knows of a host right now (``app.core.fetch.HostState`` has it)."""

    @property
    def active(self) -> int: ...  # requests in flight

    @property
    def paused_until(self) -> float: ...  # time.monotonic() until which Retry-After holds it


@dataclass(frozen=True, slots=True)
class HostRow:
    """One host's counts, as of one moment. Its times: :meth:`RunStats.host_percentile`."""

    host: str
    in_flight: int = 0
    done: int = 0  # finished, whatever the outcome
    ok: int = 0
    failed: int = 0  # http_error + failed, as the status line counts failures
    throttled: int = 0  # 429 responses, retried ones included
    retry_after_waits: int = 0
    paused_for: float = 0.0  # seconds a Retry-After still holds the host


class TimeBins:
    """Counts per time bucket (a Counter of bucket -> count, :data:`NO_TIME_BUCKET` ignored),
    and the quantiles they imply."""

    __slots__ = ("counts",)

    def __init__(self, counts: Mapping[int, int]) -> None:
        self.counts = sorted((b, c) for b, c in counts.items() if c and b != NO_TIME_BUCKET)

    @property
    def total(self) -> int:
        return sum(count for _, count in self.counts)

    def percentile(self, q: float) -> float | None:
        """The ``q`` quantile (0 < q <= 1) in ms, None without times: the nearest-rank value
        is in the bucket this finds, so the answer is within that bucket's width of it."""
        total = self.total
        if not total:
            return None
        rank = min(total, max(1, math.ceil(q * total)))  # the rank-th fastest time
        before = 0
        for bucket, count in self.counts:
            if before + count >= rank:
                low, high = bucket_range(bucket)
                return low + (high - low) * (rank - before - 0.5) / count
            before += count
        raise AssertionError("unreachable: the counts add up to total")

    def bins(self) -> list[tuple[float, float, int]]:
        """(low ms, high ms, count) of every bucket from the fastest to the slowest one that
        has a time, empty ones between included."""
        if not self.counts:
            return []
        counts = dict(self.counts)
        first, last = self.counts[0][0], self.counts[-1][0]
        return [(*bucket_range(b), counts.get(b, 0)) for b in range(first, last + 1)]


def host_key(url: str) -> str:
    """The per-host key of a URL as the run keys hosts; "" when it is not a fetchable URL."""
    host, failure = check_line(url)
    return "" if failure is not None else host


class RunStats:
    """Everything the run summary shows, fed batch by batch; memory stays bounded.

    ``clock`` times each :meth:`add` (``time.monotonic`` by default); the run is taken to start
    at ``started``, or when this object is made.
    """

    def __init__(self, started: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self.started = clock() if started is None else started
        self.last_added = self.started
        self.total = 0
        self.generation = 0  # grows with every add: a view redraws only when it moved
        self._outcomes: Counter[Outcome] = Counter()
        self._statuses: Counter[int | None] = Counter()
        self._buckets: Counter[int] = Counter()
        self._host_pairs: Counter[tuple[int, Outcome, int | None]] = Counter()
        self._host_buckets: Counter[int] = Counter()
        self._host_notes: Counter[tuple[int, str]] = Counter()  # (host, phrase) -> times seen
        self._host_names: list[str] = [""]  # host id // HOST_STRIDE -> name; 0 is no host
        self._host_ids: dict[str, int] = {}
        self._prefix_host: dict[str, int] = {}  # URL text before its path -> host id
        self._live: Mapping[str, HostLive] | None = None
        self._tally: _Tally | None = None
        self.rate_bin_seconds = 1.0
        self._rate_bins: list[int] = []

    # -- feeding -------------------------------------------------------------------------------

    def add(self, results: Sequence[Finished], now: float | None = None) -> None:
        """Count a batch of finished results, as of ``now`` (the clock's time when not given).

        Response times are those of fetched results (ok, http_error, failed: a timeout is a
        slow request); cancelled and invalid ones have none.
        """
        if not results:
            return
        now = self._clock() if now is None else now
        self.last_added = max(self.last_added, now)
        self.generation += 1
        self.total += len(results)
        outcomes = list(map(_OUTCOME, results))
        times = list(map(_ELAPSED, results))
        unfetched = outcomes.count(Outcome.CANCELLED) + outcomes.count(Outcome.INVALID)
        if unfetched:
            times = [t if o in FETCHED else None for o, t in zip(outcomes, times, strict=True)]
        if None in times:
            times = [_NO_TIME if t is None else t for t in times]
        try:
            buckets = list(map(math.floor, map(mul, map(math.log2, times), _STEPS)))
        except (ValueError, OverflowError):  # 0, inf or NaN among them: never seen so far
            buckets = list(map(bucket_of, times))
        self._buckets.update(buckets)
        hosts = self._host_ids_of(results)
        statuses = list(map(_STATUS, results))
        # Totals are kept apart from the per-host counts (~0.1 us a result more) so that
        # reading them does not walk every host's counts: the charts read them ~2.5 times a
        # second, the host table can be read less often when hosts are many.
        self._outcomes.update(outcomes)
        self._statuses.update(statuses)
        self._host_pairs.update(zip(hosts, outcomes, statuses, strict=True))
        self._host_buckets.update(map(add, hosts, buckets))
        if any(map(_NOTE, results)):
            self._count_notes(results, hosts)
        self._count_rate(len(results) - unfetched, now)

    def watch_hosts(self, live: Mapping[str, HostLive] | None) -> None:
        """Read requests in flight and Retry-After pauses from ``live`` (the run's own per-host
        state, keyed like :func:`host_key`) whenever rows are asked for; None to stop."""
        self._live = live

    def _host_ids_of(self, results: Sequence[Finished]) -> list[int]:
        """Each result's host id. A URL's host is fixed by its text up to the first "/" after
        "//", so that part is looked up before the URL is parsed."""
        urls = list(map(_URL, results))
        try:
            prefixes = list(map(_THIRD, map(str.split, urls, repeat("/"), repeat(3))))
        except IndexError:  # some text without "//": not a URL
            prefixes = [_prefix(url) for url in urls]
        cache = self._prefix_host
        hosts: list[int | None] = list(map(cache.get, prefixes))
        if None in hosts:
            for i, host in enumerate(hosts):
                if host is None:
                    name = host_key(urls[i])
                    hosts[i] = host = self._host_id(name) if name else NO_HOST
                    # Only valid URLs' prefixes: "http://a/x y" is invalid, "http://a/x" not.
                    if host and len(cache) < _PREFIX_CACHE_LIMIT:
                        cache[prefixes[i]] = host
        return hosts  # type: ignore[return-value]  # every None was replaced

    def _host_id(self, name: str) -> int:
        host = self._host_ids.get(name)
        if host is None:
            if len(self._host_names) > MAX_HOSTS:
                name = OTHER_HOSTS
                host = self._host_ids.get(name)
                if host is not None:
                    return host
            host = self._host_ids[name] = len(self._host_names) * HOST_STRIDE
            self._host_names.append(name)
        return host

    def _count_notes(self, results: Sequence[Finished], hosts: list[int]) -> None:
        notes = self._host_notes
        for host, note in zip(hosts, map(_NOTE, results), strict=True):
            if note:
                notes[host, _RETRY_AFTER_NOTE] += note.count(_RETRY_AFTER_NOTE)
                notes[host, _THROTTLED_NOTE] += note.count(_THROTTLED_NOTE)

    def _count_rate(self, fetched: int, now: float) -> None:
        if not fetched:
            return
        index = int(max(0.0, now - self.started) / self.rate_bin_seconds)
        bins = self._rate_bins
        while index >= MAX_RATE_BINS:  # merge neighbours: half as many bins, twice as wide
            bins[:] = [sum(bins[i:i + 2]) for i in range(0, len(bins), 2)]
            self.rate_bin_seconds *= 2
            index //= 2
        if index >= len(bins):
            bins.extend([0] * (index + 1 - len(bins)))
        bins[index] += fetched

    # -- reading -------------------------------------------------------------------------------

    @property
    def outcomes(self) -> Counter[Outcome]:
        return Counter(self._outcomes)

    @property
    def statuses(self) -> Counter[int]:
        """Final status codes of results that got a response."""
        return Counter({status: count for status, count in self._statuses.items()
                        if status is not None})

    def _tallied(self) -> _Tally:
        """Per-host counts, worked out once per generation: a walk over every (host, outcome,
        status) seen, ~1 us a step, so ~10 ms for a list of a thousand hosts."""
        tally = self._tally
        if tally is not None and tally.generation == self.generation:
            return tally
        tally = self._tally = _Tally(self.generation)
        hosts = tally.hosts
        ok, failures, invalid = Outcome.OK, _FAILURES, Outcome.INVALID
        for (host, outcome, status), count in self._host_pairs.items():
            if host == NO_HOST or outcome is invalid:
                continue
            row = hosts.get(host)
            if row is None:
                row = hosts[host] = [0, 0, 0, 0, 0]
            row[0] += count
            if outcome is ok:
                row[1] += count
            elif outcome in failures:
                row[2] += count
            if status == 429:
                row[3] += count
        for (host, phrase), count in self._host_notes.items():
            if host in hosts:
                hosts[host][3 if phrase == _THROTTLED_NOTE else 4] += count
        return tally

    @property
    def times(self) -> TimeBins:
        return TimeBins(self._buckets)

    def percentile(self, q: float) -> float | None:
        """The ``q`` quantile of all response times in ms (see :meth:`TimeBins.percentile`)."""
        return self.times.percentile(q)

    def rate_series(self, now: float | None = None) -> list[tuple[float, float]]:
        """(seconds since the start, requests fetched per second) at the end of each bin, from
        the start to ``now`` (the last add when not given); the bin still filling counts over
        the part of it that has passed, once a quarter of it has."""
        now = self.last_added if now is None else now
        width = self.rate_bin_seconds
        elapsed = max(0.0, now - self.started)
        series = []
        for i, count in enumerate(self._rate_bins):
            start, end = i * width, (i + 1) * width
            if end <= elapsed:
                series.append((end, count / width))
            elif elapsed - start >= width / 4:
                series.append((elapsed, count / (elapsed - start)))
        return series

    def host_rows(self, now: float | None = None, limit: int | None = None) -> list[HostRow]:
        """One row per host that finished a result or has one in flight, busiest (finished +
        in flight) first; only the ``limit`` busiest when given. ``now``
        (``time.monotonic()`` when not given) is when Retry-After pauses are measured from."""
        now = time.monotonic() if now is None else now
        counts = self._tallied().hosts
        names = self._host_names
        live = self._live or {}
        busy: dict[int | str, int] = {host: row[0] for host, row in counts.items()}
        for name, state in live.items():
            if state.active:
                known = self._host_ids.get(name)
                if known is None or known not in busy:
                    busy[name] = state.active  # in flight, none finished yet
                else:
                    busy[known] += state.active
        chosen = busy if limit is None or len(busy) <= limit else heapq.nlargest(
            limit, busy, key=busy.__getitem__)
        rows: list[HostRow] = []
        for key in chosen:
            if isinstance(key, str):  # only in flight so far
                in_flight, paused = _live_of(live.get(key), now)
                rows.append(HostRow(key, in_flight, paused_for=paused))
                continue
            name = names[key // HOST_STRIDE]
            in_flight, paused = _live_of(live.get(name), now)
            done, ok, failed, throttled, waits = counts[key]
            rows.append(HostRow(name, in_flight, done, ok, failed, throttled, waits, paused))
        rows.sort(key=lambda row: (-(row.done + row.in_flight), row.host))
        return rows

    def host_times(self, host: str, quantiles: Sequence[float] = (0.5, 0.9),
                   ) -> tuple[float | None, ...]:
        """Quantiles of one host's response times in ms, as :meth:`percentile` gives them."""
        base = self._host_ids.get(host)
        buckets = [b for b in self._buckets if b != NO_TIME_BUCKET]
        if base is None or not buckets:
            return tuple(None for _ in quantiles)
        first, last = min(buckets), max(buckets)
        counts = list(map(self._host_buckets.get, range(base + first, base + last + 1),
                          repeat(0)))
        totals = list(accumulate(counts))
        total = totals[-1]
        answers: list[float | None] = []
        for q in quantiles:
            if not total:
                answers.append(None)
                continue
            rank = min(total, max(1, math.ceil(q * total)))
            i = bisect_left(totals, rank)  # the bucket holding the rank-th fastest time
            before = totals[i - 1] if i else 0
            low, high = bucket_range(first + i)
            answers.append(low + (high - low) * (rank - before - 0.5) / counts[i])
        return tuple(answers)

    def host_percentile(self, host: str, q: float) -> float | None:
        """The ``q`` quantile of one host's response times in ms, as :meth:`percentile`."""
        return self.host_times(host, (q,))[0]


@dataclass(slots=True)
class _Tally:
    generation: int
    # host id -> [done, ok, failed, throttled, Retry-After waits]
    hosts: dict[int, list[int]] = field(default_factory=dict)


def _live_of(state: HostLive | None, now: float) -> tuple[int, float]:
    """(requests in flight, seconds of Retry-After pause left) from a host's live state."""
    if state is None:
        return 0, 0.0
    return state.active, max(0.0, state.paused_until - now)


def _prefix(url: str) -> str:
    parts = url.split("/", 3)
    return parts[2] if len(parts) > 2 else "\0" + url
