"""Run statistics: counts, time percentiles, rate and the per-host table, from real fetches on
loopback and from synthetic results for volume."""

from __future__ import annotations

import math
import random

import pytest

from app.core import stats as stats_module
from app.core.errors import Failure, Kind
from app.core.fetch import HostState
from app.core.result import Outcome, Result
from app.core.stats import (
    OTHER_HOSTS,
    HostRow,
    RunStats,
    TimeBins,
    bucket_of,
    bucket_range,
    host_key,
)
from tests.core.runs import fetch_all


def exact_percentile(values: list[float], q: float) -> float:
    """Nearest rank: the ceil(q * n)-th smallest value."""
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def within_a_bucket(estimate: float | None, exact: float) -> bool:
    assert estimate is not None
    low, high = bucket_range(bucket_of(exact))
    return abs(estimate - exact) <= (high - low) * (1 + 1e-9)


def synthetic(count: int, hosts: int = 5, seed: int = 1) -> list[Result]:
    """Results as a run makes them, with log-normal times over ``hosts`` hosts."""
    rnd = random.Random(seed)
    results = []
    for i in range(count):
        host = f"h{rnd.randrange(hosts)}.example"
        roll = rnd.random()
        if roll < 0.8:
            outcome, status, failure = Outcome.OK, 200, None
        elif roll < 0.9:
            outcome, status = Outcome.HTTP_ERROR, rnd.choice((404, 429, 503))
            failure = Failure.plain(Kind.HTTP_4XX if status < 500 else Kind.HTTP_5XX, "")
        else:
            outcome, status, failure = Outcome.FAILED, None, Failure.plain(Kind.REFUSED, "")
        results.append(Result.of(i, i + 1, f"https://{host}/page/{i}", outcome, status=status,
                              elapsed_ms=rnd.lognormvariate(3, 1.2), failure=failure))
    return results


def fed(results: list[Result], batch: int = 500, per_second: float = 1000.0) -> RunStats:
    stats = RunStats(started=0.0)
    for start in range(0, len(results), batch):
        stats.add(results[start:start + batch], now=start / per_second)
    return stats


# -- from real fetches -------------------------------------------------------------------------


def test_a_real_run_is_counted_by_outcome_status_and_host(http_server, refused_port):
    local = http_server.url("/").replace("127.0.0.1", "localhost")
    urls = ([http_server.url(f"/ok?n={i}") for i in range(6)]
            + [http_server.url(f"/status/404?n={i}") for i in range(3)]
            + [http_server.url("/status/500"), http_server.url("/slow?seconds=0.3")]
            + [f"{local}ok?n={i}" for i in range(4)]
            + [refused_port.url("/"), "not a url"])
    results = fetch_all(urls)
    stats = RunStats()
    stats.add(results[:7])
    stats.add(results[7:])

    assert stats.total == 17
    assert stats.outcomes == {Outcome.OK: 11, Outcome.HTTP_ERROR: 4, Outcome.FAILED: 1,
                              Outcome.INVALID: 1}
    assert stats.statuses == {200: 11, 404: 3, 500: 1}
    rows = {row.host: row for row in stats.host_rows()}
    assert set(rows) == {"127.0.0.1", "localhost"}  # the invalid line has no host
    assert rows["127.0.0.1"] == HostRow("127.0.0.1", in_flight=0, done=12, ok=7, failed=5,
                                        throttled=0, retry_after_waits=0, paused_for=0.0)
    assert rows["localhost"].done == rows["localhost"].ok == 4
    assert [row.host for row in stats.host_rows()] == ["127.0.0.1", "localhost"]  # busiest


def test_real_response_times_give_percentiles_within_a_bucket(http_server):
    urls = ([http_server.url(f"/ok?n={i}") for i in range(8)]
            + [http_server.url(f"/slow?seconds=0.{i}") for i in range(1, 5)])
    results = fetch_all(urls)
    stats = RunStats()
    stats.add(results)
    times = [r.elapsed_ms for r in results]
    for q in (0.5, 0.9, 0.99):
        assert within_a_bucket(stats.percentile(q), exact_percentile(times, q))
    assert stats.percentile(0.99) >= 400  # the slowest page took 0.4 s
    host_p50, host_p90 = stats.host_times("127.0.0.1", (0.5, 0.9))
    assert within_a_bucket(host_p50, exact_percentile(times, 0.5))
    assert within_a_bucket(host_p90, exact_percentile(times, 0.9))
    assert stats.host_times("elsewhere.example") == (None, None)


def test_retry_after_waits_and_429s_are_counted_per_host(http_server):
    results = fetch_all([http_server.url("/retry-after?seconds=3600"), http_server.url("/ok")],
                        retries=1, retry_after_cap=0.2)
    stats = RunStats()
    stats.add(results)
    (row,) = stats.host_rows()
    assert row.throttled == 2  # the first answer, retried after the wait, and the last one
    assert row.retry_after_waits == 1
    assert row.failed == 1 and row.ok == 1


# -- percentiles and volume --------------------------------------------------------------------


def test_percentiles_are_within_a_buckets_width_of_the_exact_ones():
    results = synthetic(50_000)
    stats = fed(results)
    times = [r.elapsed_ms for r in results]
    for q in (0.01, 0.25, 0.5, 0.9, 0.99, 0.999, 1.0):
        assert within_a_bucket(stats.percentile(q), exact_percentile(times, q)), q
    by_host = [r.elapsed_ms for r in results if "//h3.example/" in r.url]
    for q in (0.5, 0.9):
        assert within_a_bucket(stats.host_percentile("h3.example", q),
                               exact_percentile(by_host, q))


def test_bins_cover_every_time_and_add_up():
    results = synthetic(5_000)
    bins = fed(results).times.bins()
    assert sum(count for _, _, count in bins) == 5_000
    fastest = min(r.elapsed_ms for r in results)
    slowest = max(r.elapsed_ms for r in results)
    assert bins[0][0] <= fastest < bins[0][1] and bins[-1][0] <= slowest < bins[-1][1]
    assert all(high == pytest.approx(next_low) for (_, high, _), (next_low, _, _)
               in zip(bins, bins[1:], strict=False))


def test_memory_does_not_grow_with_the_number_of_results():
    def size(stats: RunStats) -> int:
        return (len(stats._buckets) + len(stats._host_pairs) + len(stats._host_buckets)
                + len(stats._host_notes) + len(stats._rate_bins))

    results = synthetic(200_000, hosts=20)
    stats = fed(results[:40_000], per_second=10_000)
    early = size(stats)
    for start in range(40_000, 200_000, 500):
        stats.add(results[start:start + 500], now=start / 10_000)
    assert stats.total == 200_000
    assert size(stats) < early * 1.2  # a few more tail buckets, nothing per result


def test_times_of_results_that_never_went_out_are_not_counted():
    stats = RunStats(started=0.0)
    stats.add([
        Result.of(0, 1, "https://a.example/", Outcome.OK, status=200, elapsed_ms=12.0),
        Result.of(1, 2, "https://a.example/x", Outcome.CANCELLED, elapsed_ms=5000.0),
        Result.of(2, 3, "https://a.example/y", Outcome.CANCELLED),
        Result.of(3, 4, "ftp://a.example/", Outcome.INVALID),
        Result.of(4, 5, "no url here", Outcome.INVALID),
        Result.of(5, 6, "https://a.example/z", Outcome.FAILED, elapsed_ms=0.0),
    ], now=0.5)
    assert stats.times.total == 2
    assert stats.percentile(1.0) < 13
    assert stats.percentile(0.01) < 0.001  # the 0 ms failure counts as the fastest time
    (row,) = stats.host_rows()
    assert (row.host, row.done, row.ok, row.failed) == ("a.example", 4, 1, 1)
    assert stats.rate_series(now=1.0) == [(1.0, 2.0)]  # fetched: the ok and the failure


def test_strange_times_and_urls_do_not_break_counting():
    stats = RunStats(started=0.0)
    stats.add([
        Result.of(0, 1, "https://a.example/", Outcome.OK, status=200, elapsed_ms=math.inf),
        Result.of(1, 2, "https://a.example/", Outcome.OK, status=200, elapsed_ms=math.nan),
        Result.of(2, 3, "https://a.example/", Outcome.OK, status=200, elapsed_ms=-3.0),
        Result.of(3, 4, "http:/x", Outcome.INVALID),
        Result.of(4, 5, "https://A.Example:8443/", Outcome.OK, status=200, elapsed_ms=1.0),
    ])
    assert stats.times.total == 4
    (row,) = stats.host_rows()
    assert (row.host, row.done) == ("a.example", 4)


# -- hosts -------------------------------------------------------------------------------------


def test_host_keys_are_the_runs_keys():
    assert host_key("https://User:pw@WWW.Example.ORG:8443/a?b#c") == "www.example.org"
    assert host_key("http://[::1]:8080/") == "::1"
    assert host_key("https://bücher.example/") == "xn--bcher-kva.example"
    assert host_key("not a url") == ""


def test_a_url_whose_text_is_invalid_does_not_spoil_its_hosts_cache():
    stats = RunStats(started=0.0)
    stats.add([Result.of(0, 1, "http://a.example/x y", Outcome.INVALID)])
    stats.add([Result.of(1, 2, "http://a.example/x", Outcome.OK, status=200, elapsed_ms=3.0)])
    assert [row.host for row in stats.host_rows()] == ["a.example"]


def test_live_host_state_gives_in_flight_and_retry_after_pauses():
    stats = fed(synthetic(100, hosts=2))
    live = {"h0.example": HostState(active=3, paused_until=105.0),
            "waiting.example": HostState(active=2)}
    stats.watch_hosts(live)
    rows = {row.host: row for row in stats.host_rows(now=100.0)}
    assert rows["h0.example"].in_flight == 3
    assert rows["h0.example"].paused_for == pytest.approx(5.0)
    assert rows["h1.example"].in_flight == 0 and rows["h1.example"].paused_for == 0
    assert rows["waiting.example"] == HostRow("waiting.example", in_flight=2)
    busiest = stats.host_rows(now=100.0, limit=2)
    assert [row.host for row in busiest] == sorted(
        rows, key=lambda h: -(rows[h].done + rows[h].in_flight))[:2]
    live["h0.example"].active = 0  # read when asked, not copied
    assert {row.host: row for row in stats.host_rows(now=106.0)}["h0.example"].paused_for == 0


def test_hosts_past_the_limit_are_counted_together(monkeypatch):
    monkeypatch.setattr(stats_module, "MAX_HOSTS", 3)
    results = [Result.of(i, i + 1, f"https://h{i}.example/", Outcome.OK, status=200,
                      elapsed_ms=10.0) for i in range(6)]
    stats = RunStats()
    stats.add(results)
    rows = {row.host: row.done for row in stats.host_rows()}
    assert rows == {"h0.example": 1, "h1.example": 1, "h2.example": 1, OTHER_HOSTS: 3}


# -- rate --------------------------------------------------------------------------------------


def test_requests_per_second_are_binned_since_the_start():
    stats = RunStats(started=100.0)
    ok = Result.of(0, 1, "https://a.example/", Outcome.OK, status=200, elapsed_ms=1.0)
    stats.add([ok] * 30, now=100.4)
    stats.add([ok] * 20, now=100.9)
    stats.add([ok] * 10, now=102.5)
    cancelled = Result.of(1, 2, "https://a.example/", Outcome.CANCELLED)
    stats.add([cancelled] * 500, now=102.6)  # not fetched: no rate
    assert stats.rate_series(now=103.0) == [(1.0, 50.0), (2.0, 0.0), (3.0, 10.0)]
    # The second still filling counts over its part so far, once a quarter has passed.
    assert stats.rate_series(now=102.5) == [(1.0, 50.0), (2.0, 0.0), (2.5, 20.0)]
    assert stats.rate_series(now=102.1) == [(1.0, 50.0), (2.0, 0.0)]


def test_a_long_run_keeps_a_bounded_rate_series(monkeypatch):
    monkeypatch.setattr(stats_module, "MAX_RATE_BINS", 10)
    stats = RunStats(started=0.0)
    ok = Result.of(0, 1, "https://a.example/", Outcome.OK, status=200, elapsed_ms=1.0)
    for second in range(35):
        stats.add([ok] * 4, now=second + 0.5)
    assert stats.rate_bin_seconds == 4.0
    series = stats.rate_series(now=36.0)
    assert len(series) <= 10
    assert [end for end, _ in series] == [4.0 * i for i in range(1, 10)]
    assert sum(rate * 4 for _, rate in series) == 4 * 35  # every request counted once
    assert [rate for _, rate in series] == [4.0] * 8 + [3.0]  # 32-36 s: three seconds of four


def test_time_bins_alone():
    bins = TimeBins({bucket_of(10.0): 3, bucket_of(1000.0): 1})
    assert bins.total == 4
    assert within_a_bucket(bins.percentile(0.5), 10.0)
    assert within_a_bucket(bins.percentile(1.0), 1000.0)
    assert TimeBins({}).percentile(0.5) is None
