"""Work and memory per response stay bounded whatever a server sends: titles are found in
linear time in pathological HTML, no charset takes long to check, and the headers a row keeps
are capped, with a note saying what was dropped."""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import psutil
import pytest

from app.core.fetch import MAX_KEPT_HEADER_BYTES, MAX_KEPT_HEADERS
from app.core.result import Outcome
from app.core.text import (
    TITLE_SCAN_BYTES,
    codec_for,
    decode_replacing,
    find_title,
    title_of,
    whole_chars,
)
from tests.core.runs import fetch_all
from tests.servers import (
    HOSTILE_BEHAVIOURS,
    RawServers,
    ThreadedServer,
    pathological_html,
    reply_and_close,
)

pytestmark = pytest.mark.timeout(120)

KINDS = ["titles", "svgs", "unclosed", "no-gt", "closers"]


def cost(work: Callable[[], object]) -> float:
    """CPU seconds one call of ``work`` takes on this thread, best of several batches: CPU
    time, not wall time, so that other processes on a busy machine do not count, and the best
    batch, since what noise remains only adds time."""
    clock = time.thread_time
    calls = 1
    while True:  # enough calls per batch to measure
        started = clock()
        for _ in range(calls):
            work()
        if clock() - started > 0.01 or calls >= 4096:
            break
        calls *= 2
    best = float("inf")
    for _ in range(5):
        started = clock()
        for _ in range(calls):
            work()
        best = min(best, (clock() - started) / calls)
    return best


def grows_linearly(work: Callable[[bytes], object], small: bytes, big: bytes) -> bool:
    """Whether ``work`` on 16x the input costs well under the 256x a quadratic scan would:
    under 64x, room for the 2-4x that caches, page faults and a busy machine add."""
    assert len(big) == 16 * len(small)
    return cost(lambda: work(big)) < 64 * cost(lambda: work(small))


@pytest.mark.parametrize("kind", KINDS)
def test_titles_are_found_in_linear_time_in_pathological_html(kind):
    small = pathological_html(kind, TITLE_SCAN_BYTES // 16)
    big = pathological_html(kind, TITLE_SCAN_BYTES)
    assert grows_linearly(find_title, small, big)
    assert grows_linearly(lambda head: title_of(head, "utf-8"), small, big)


def test_the_ratio_check_catches_a_quadratic_scan():
    """The check above can fail: a scan that restarts at every ``<title`` is caught."""

    def quadratic(head: bytes) -> int:
        found = 0
        at = head.find(b"<title")
        while at >= 0:
            found += head.count(b"</title", at)  # rescans the rest each time
            at = head.find(b"<title", at + 1)
        return found

    small = pathological_html("titles", 4 * 1024)
    big = pathological_html("titles", 64 * 1024)
    assert not grows_linearly(quadratic, small, big)


def test_punycode_is_no_charset_a_body_is_checked_in():
    # Half a second per 64 KiB on the loop thread, where every other codec takes < 30 ms.
    assert codec_for("punycode") == (
        "utf-8", "unknown charset 'punycode'; decoded as UTF-8 with replacement characters")


@pytest.mark.parametrize("charset", ["utf-8", "utf-7", "shift_jis", "utf-16", "iso2022_jp",
                                     "unicode-escape"])
def test_no_declared_charset_makes_the_check_of_a_body_slow(charset):
    codec, _ = codec_for(charset)

    def check(data: bytes) -> None:
        sample = whole_chars(data, len(data) + 1)
        try:
            sample.decode(codec)
        except UnicodeError:
            decode_replacing(sample, codec)

    for unit in (b"a", b"\x80", b"+AAA-\\x41\x1b$B"):
        small = (unit * 16384)[:16384]
        big = (unit * 262144)[:262144]  # 4x the 64 KiB fetch checks
        assert grows_linearly(check, small, big), (charset, unit)


def test_pathological_pages_fetched_whole_give_the_right_title():
    with ThreadedServer() as server:
        urls = [server.url(f"/pathological/{kind}?kb=256") for kind in KINDS]
        results = fetch_all(urls)
    assert all(r.outcome is Outcome.OK for r in results)
    assert [r.bytes for r in results] == [256 * 1024] * len(KINDS)
    titles = {kind: r.title for kind, r in zip(KINDS, results, strict=True)}
    # An unclosed <title> runs to the next tag (the next "<title>"): empty, not the page.
    assert titles == {"titles": "", "svgs": "", "unclosed": "", "no-gt": "", "closers": ""}


# -- headers kept per row -------------------------------------------------------------------------

def test_a_response_with_too_many_header_bytes_keeps_a_capped_share_and_says_so():
    with RawServers(behaviours={"flood": HOSTILE_BEHAVIOURS["cookie-flood"]}) as raw:
        (result,) = fetch_all([raw.url("flood")])
    assert result.outcome is Outcome.OK, result.error
    kept = list(result.details.response_headers)
    assert len(kept) <= MAX_KEPT_HEADERS
    assert sum(len(k) + len(v) for k, v in kept) <= MAX_KEPT_HEADER_BYTES
    assert kept[0] == ("Content-Type", "text/plain")
    # Content-Type, Connection, 100 Set-Cookie, Content-Length.
    assert f"response headers: kept {len(kept)} of 103" in result.note
    assert "dropped" in result.note


def test_a_response_with_many_small_headers_is_kept_whole():
    head = b"".join(b"X-H%d: %d\r\n" % (i, i) for i in range(60))
    answer = b"HTTP/1.1 200 OK\r\n" + head + b"Content-Length: 2\r\n\r\nok"
    with RawServers(behaviours={"many": reply_and_close(answer)}) as raw:
        (result,) = fetch_all([raw.url("many")])
    assert len(result.details.response_headers) == 61
    assert result.note == ""


def rss_growth(urls: list[str]) -> tuple[int, list]:
    gc.collect()
    process = psutil.Process()
    before = process.memory_info().rss
    results = fetch_all(urls, concurrency=20)
    gc.collect()
    return process.memory_info().rss - before, results


@pytest.mark.slow
def test_memory_stays_bounded_when_every_response_floods_headers():
    """300 responses with ~800 KB of Set-Cookie each: kept whole they would hold ~240 MB
    (the rows keep their details here, as a list of up to 2,000 URLs does)."""
    plain = (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n"
             b"Content-Length: 2\r\n\r\nok")
    behaviours = {"flood": HOSTILE_BEHAVIOURS["cookie-flood"], "plain": reply_and_close(plain)}
    with RawServers(behaviours=behaviours) as raw:
        baseline, plain_rows = rss_growth([raw.url("plain", f"/{i}") for i in range(300)])
        flooded, flood_rows = rss_growth([raw.url("flood", f"/{i}") for i in range(300)])
    assert all(r.outcome is Outcome.OK for r in plain_rows + flood_rows)
    assert all(r.details is not None for r in flood_rows)
    # 300 rows x 64 KiB kept is ~19 MiB; allow for the allocator's slack, not for ~240 MB.
    assert flooded - baseline < 60 * 1024 * 1024, (flooded, baseline)
