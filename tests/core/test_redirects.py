"""Redirects as Fetchdeck follows them, HEAD-then-GET, announced lengths and compressed bodies:
what curl would report for the same URLs, counted at the server."""

from __future__ import annotations

import json

import pytest
from yarl import URL

from app.core.errors import Kind
from app.core.result import Outcome
from app.core.settings import Settings
from tests.core.runs import fetch_all, fetch_one
from tests.servers import (
    BASIC_AUTH,
    RawServers,
    ReservedPort,
    ThreadedServer,
    compress,
    encoded_page,
)

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server():
    with ThreadedServer() as s:
        yield s


@pytest.fixture(autouse=True)
def fresh_counts(server):
    server.seen.clear()


def redirect_to(server: ThreadedServer, target: str, status: int = 302) -> str:
    return str(URL(server.url("/redirect-to")).with_query(url=target, status=status))


# -- the chain survives a failure after a redirect ---------------------------------------------

def test_a_redirect_to_a_refused_port_keeps_the_hop_and_says_where_it_broke(server):
    with ReservedPort() as refused:
        result = fetch_one(redirect_to(server, refused.url("/gone")))
    assert result.failure.kind is Kind.REFUSED
    assert result.redirects == 1
    assert [hop.status for hop in result.chain] == [302]
    assert result.first_status == 302
    assert result.final_url == refused.url("/gone")
    assert result.error.endswith(f"(after 1 redirect, at {refused.url('/gone')})")


def test_a_redirect_to_a_host_the_resolver_refuses_keeps_the_hop(server):
    result = fetch_one(redirect_to(server, "http://a..b/x"))
    assert result.failure.kind is Kind.INVALID_URL, result.error
    assert result.redirects == 1 and result.first_status == 302
    assert result.error.endswith("(after 1 redirect, at http://a..b/x)")


def test_a_body_failing_after_redirects_keeps_the_whole_chain(server):
    with RawServers() as raw:
        result = fetch_one(redirect_to(server, raw.url("truncated")))
    assert result.failure.kind is Kind.TRUNCATED
    assert [hop.status for hop in result.chain] == [302, 200]
    assert "(after" not in result.error  # it broke at the final URL, which the row shows
    assert result.final_url == raw.url("truncated")


@pytest.mark.parametrize(("path", "scheme"), [("/redirect-file", "file:"),
                                              ("/redirect-js", "javascript:")])
def test_an_unsafe_redirect_records_the_redirect_it_got(server, path, scheme):
    result = fetch_one(server.url(path))
    assert result.failure.kind is Kind.UNSAFE_REDIRECT
    assert scheme in result.error
    assert [hop.status for hop in result.chain] == [302]
    assert result.first_status == 302


def test_a_chain_counts_every_hop_and_the_first_status(server):
    result = fetch_one(redirect_to(server, "/redirect/2", status=301))
    assert result.outcome is Outcome.OK
    assert result.redirects == 3
    assert [hop.status for hop in result.chain] == [301, 302, 302, 200]
    assert result.first_status == 301
    assert result.final_url == server.url("/ok")
    assert result.title == "OK"


def test_too_many_redirects_still_counts_what_was_followed(server):
    result = fetch_one(server.url("/redirect/5"), max_redirects=2)
    assert result.failure.kind is Kind.TOO_MANY_REDIRECTS
    assert result.redirects == 2
    assert len(result.chain) == 3
    assert [r.path for r in server.seen.requests()] == ["/redirect/5", "/redirect/4",
                                                        "/redirect/3"]


def test_not_following_redirects_answers_with_the_redirect(server):
    result = fetch_one(server.url("/redirect/2"), follow_redirects=False)
    assert result.outcome is Outcome.OK
    assert result.status == 302 and result.redirects == 0 and result.first_status == 302
    assert server.seen.count() == 1


# -- what each hop sends ------------------------------------------------------------------------

def test_credentials_follow_a_redirect_on_the_same_origin_only(server):
    settings = Settings(retries=0, auth=":".join(BASIC_AUTH),
                        headers=(("Cookie", "mine=1"), ("X-Team", "crawl")))
    other_origin = f"http://localhost:{server.port}/headers"
    result = fetch_one(redirect_to(server, redirect_to(server, other_origin)), settings)
    assert result.outcome is Outcome.OK, result.error
    first, second, third = server.seen.requests()
    for seen in (first, second):  # 127.0.0.1: the list's origin
        assert seen.header("Authorization").startswith("Basic ")
        assert seen.header("Cookie") == "mine=1"
    assert third.host.startswith("localhost")
    assert third.header("Authorization") is None
    assert third.header("Cookie") is None
    assert third.header("X-Team") == "crawl"  # other headers go everywhere


def test_credentials_in_the_url_follow_a_same_origin_redirect(server):
    user, password = BASIC_AUTH
    base = URL(server.url("/redirect-to")).with_user(user).with_password(password)
    result = fetch_one(str(base.with_query(url="/basic-auth")))
    assert result.outcome is Outcome.OK, result.error
    assert result.title == "Welcome"


def test_a_cookie_set_by_a_redirect_is_sent_to_its_target(server):
    result = fetch_one(server.url("/cookie-redirect?to=/cookie-echo"))
    assert result.outcome is Outcome.OK
    assert json.loads(result.details.preview) == {"hop": "1"}


def test_the_attempts_timeout_covers_the_whole_chain(server):
    # The attempt's timeout covers the whole chain: the slow target fails as a timeout.
    result = fetch_one(redirect_to(server, "/slow?seconds=5"), timeout=0.5)
    assert result.failure.kind is Kind.TIMEOUT
    assert result.redirects == 1
    assert "(after 1 redirect" in result.error


# -- HEAD, HEAD-then-GET, lengths ----------------------------------------------------------------

def test_head_reads_no_body_and_reports_the_announced_length(server):
    got = fetch_one(server.url("/ok"))
    result = fetch_one(server.url("/ok"), method="head")
    assert result.status == 200
    assert result.bytes is None  # body bytes read: none
    assert result.content_length == got.bytes == got.content_length


def test_content_length_is_as_announced_and_bytes_as_decoded(server):
    result = fetch_one(server.url("/encoded/gzip?bytes=50000"))
    assert result.outcome is Outcome.OK
    assert result.bytes == 50000
    assert result.content_length == len(compress(encoded_page(50000), "gzip"))
    assert result.content_length < result.bytes


@pytest.mark.parametrize("path", ["/status/404", "/status/403", "/status/500", "/head-405"])
def test_head_then_get_asks_again_when_a_get_may_answer_otherwise(server, path):
    result = fetch_one(server.url(path), method="head-then-get")
    assert [r.method for r in server.seen.requests()] == ["HEAD", "GET"]
    assert result.bytes is not None and result.bytes > 0


@pytest.mark.parametrize(("path", "kind"), [("/redirect-loop", Kind.TOO_MANY_REDIRECTS),
                                            ("/redirect-file", Kind.UNSAFE_REDIRECT)])
def test_head_then_get_does_not_repeat_what_a_get_would_meet_again(server, path, kind):
    result = fetch_one(server.url(path), method="head-then-get", max_redirects=3)
    assert result.failure.kind is kind
    assert {r.method for r in server.seen.requests()} == {"HEAD"}


def test_head_then_get_keeps_a_real_answer(server):
    result = fetch_one(server.url("/status/410"), method="head-then-get")
    assert result.status == 410
    assert [r.method for r in server.seen.requests()] == ["HEAD"]


def test_head_then_get_falls_back_with_the_gets_own_numbers(server):
    result = fetch_one(server.url("/head-405"), method="head-then-get")
    assert result.outcome is Outcome.OK
    assert result.bytes is not None and result.bytes == result.content_length
    assert result.title == "No HEAD here"


# -- compressed bodies ---------------------------------------------------------------------------

@pytest.mark.parametrize("coding", ["br", "zstd", "gzip", "deflate"])
def test_compressed_bodies_are_decoded(server, coding):
    result = fetch_one(server.url(f"/encoded/{coding}?bytes=20000"))
    assert result.outcome is Outcome.OK, result.error
    assert result.bytes == 20000
    assert result.title == "Encoded"
    assert result.content_length == len(compress(encoded_page(20000), coding))


def test_many_compressed_bodies_in_one_run(server):
    urls = [server.url(f"/encoded/{c}?bytes={1000 + i}") for i in range(20)
            for c in ("br", "zstd")]
    results = fetch_all(urls, concurrency=10)
    assert all(r.outcome is Outcome.OK for r in results)
    assert [r.bytes for r in results] == [1000 + i for i in range(20) for _ in (0, 1)]
