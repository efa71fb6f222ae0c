"""A run, counted at the server: one result per line, limits that hold, retries that happen,
Retry-After that pauses one host only, and cancellation that leaves every row accounted for."""

from __future__ import annotations

import asyncio

import pytest

from app.core import details
from app.core.engine import Engine
from app.core.errors import Kind
from app.core.result import Outcome
from app.core.run import Run
from app.core.settings import Settings
from app.core.targets import TargetList, parse_text
from tests.core.runs import fetch_all, fetch_one, fetch_with_progress, run_fresh
from tests.servers import BASIC_AUTH, TLS, ReservedPort, ThreadedServer, proxy_app

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def server():
    with ThreadedServer() as s:
        yield s


@pytest.fixture(scope="module")
def server2():
    """The same app on a second loopback address: a second host."""
    with ThreadedServer(host="127.0.0.2") as s:
        yield s


@pytest.fixture(autouse=True)
def fresh_counts(request):
    for name in ("server", "server2"):
        if name in request.fixturenames:
            request.getfixturevalue(name).seen.clear()


def test_every_line_gets_exactly_one_result_in_input_order(server):
    urls = [server.url("/ok"), "not a url", server.url("/status/404"), "ftp://x.example/",
            server.url("/redirect/2"), server.url("/ok")]
    results, progress = fetch_with_progress(urls)
    assert [r.index for r in results] == list(range(6))
    assert [r.outcome for r in results] == [
        Outcome.OK, Outcome.INVALID, Outcome.HTTP_ERROR, Outcome.INVALID, Outcome.OK, Outcome.OK]
    assert (progress.total, progress.done, progress.ok, progress.http_error, progress.invalid) \
        == (6, 6, 3, 1, 2)
    redirected = results[4]
    assert redirected.redirects == 2
    assert redirected.final_url == server.url("/ok")
    assert [hop.status for hop in redirected.chain] == [302, 302, 200]


def test_successful_rows_carry_what_a_user_looks_at(server):
    result = fetch_one(server.url("/ok"))
    assert result.status == 200 and result.reason == "OK"
    assert result.content_type.startswith("text/html")
    assert result.title
    assert result.bytes and len(result.sha256) == 64
    assert result.elapsed_ms is not None and result.timings.ttfb_ms is not None
    assert result.attempts == 1
    assert result.details is not None and result.details.preview


def test_requests_in_flight_never_exceed_the_concurrency(server):
    urls = [server.url(f"/slow?seconds=0.2&n={i}") for i in range(24)]
    results = fetch_all(urls, concurrency=6, per_host=0)
    assert all(r.outcome is Outcome.OK for r in results)
    assert server.seen.max_in_flight() == 6


def test_per_host_limit_holds_while_another_host_is_served(server, server2):
    # All of host A first, then host B: B must not wait for A's queue to drain.
    urls = [server.url(f"/slow?seconds=0.3&n={i}") for i in range(12)]
    urls += [server2.url(f"/slow?seconds=0.3&n={i}") for i in range(4)]
    results = fetch_all(urls, concurrency=20, per_host=2)
    assert all(r.outcome is Outcome.OK for r in results)
    assert server.seen.max_in_flight() == 2
    assert server2.seen.max_in_flight() == 2
    first_b = min(server2.seen.starts())
    last_a = max(server.seen.starts())
    assert first_b < last_a, "the second host waited behind the first host's queue"


def test_rate_limit_spaces_requests_per_host(server, server2):
    urls = [server.url(f"/ok?n={i}") for i in range(5)] + [server2.url(f"/ok?n={i}")
                                                           for i in range(5)]
    fetch_all(urls, rate=10, per_host=0)
    for host in (server, server2):
        starts = sorted(host.seen.starts())
        gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        assert len(starts) == 5
        # Started 0.1 s apart at the client; connection set-up adds jitter at the server.
        assert min(gaps) >= 0.06, gaps
        assert starts[-1] - starts[0] >= 0.36, gaps


def test_max_redirects_is_the_number_followed(server):
    assert fetch_one(server.url("/redirect/3"), max_redirects=3).outcome is Outcome.OK
    result = fetch_one(server.url("/redirect/4"), max_redirects=3)
    assert result.failure.kind is Kind.TOO_MANY_REDIRECTS
    assert result.redirects == 3
    assert "followed 3" in result.error
    no_follow = fetch_one(server.url("/redirect/1"), follow_redirects=False)
    assert no_follow.outcome is Outcome.OK and no_follow.status == 302


def test_retries_happen_the_right_number_of_times_with_growing_delays(server):
    result = fetch_one(server.url("/flaky?key=grow&failures=2"), retries=2)
    assert result.outcome is Outcome.OK
    assert result.attempts == 3
    starts = sorted(server.seen.starts())
    assert len(starts) == 3
    assert starts[2] - starts[1] > starts[1] - starts[0] > 0.3
    assert "retried" in result.note


def test_retries_give_up_after_the_limit(server):
    result = fetch_one(server.url("/flaky?key=give-up&failures=9"), retries=1)
    assert result.outcome is Outcome.HTTP_ERROR and result.status == 503
    assert result.attempts == 2
    assert server.seen.count() == 2


def test_no_retry_on_a_plain_404(server):
    result = fetch_one(server.url("/status/404"), retries=3)
    assert result.attempts == 1


def test_retry_after_pauses_that_host_only(server, server2):
    urls = [server.url("/retry-after?seconds=1"), server2.url("/slow?seconds=0.1")]
    results = fetch_all(urls, retries=1)
    limited, other = results
    assert limited.attempts == 2
    assert limited.status == 429
    assert "Retry-After" in limited.note
    starts = sorted(server.seen.starts())
    assert starts[1] - starts[0] >= 0.95
    assert other.outcome is Outcome.OK
    assert max(server2.seen.starts()) < starts[1], "the other host waited for Retry-After"


def test_retry_after_as_an_http_date(server):
    result = fetch_one(server.url("/retry-after?seconds=2&date=1"), retries=1)
    assert result.attempts == 2
    starts = sorted(server.seen.starts())
    assert starts[1] - starts[0] >= 0.95  # an HTTP date has whole seconds: 2 s means 1 to 2 s


def test_retry_after_is_capped(server):
    result = fetch_one(server.url("/retry-after?seconds=3600"), retries=1, retry_after_cap=0.2)
    assert result.attempts == 2
    assert "waited 0.2 s" in result.note


def test_head_then_get_falls_back_on_405(server):
    result = fetch_one(server.url("/head-405"), method="head-then-get")
    assert result.outcome is Outcome.OK
    assert [r.method for r in server.seen.requests()] == ["HEAD", "GET"]
    assert "HEAD answered 405" in result.note


def test_head_only_sends_head(server):
    result = fetch_one(server.url("/ok"), method="head")
    assert result.status == 200
    assert [r.method for r in server.seen.requests()] == ["HEAD"]


def test_headers_user_agent_and_auth_arrive(server):
    settings = Settings(retries=0, headers=(("X-Team", "crawl"),), user_agent="Probe/2",
                        auth=":".join(BASIC_AUTH))
    first = fetch_one(server.url("/basic-auth"), settings)
    assert first.outcome is Outcome.OK, first.failure
    (seen,) = server.seen.requests("/basic-auth")
    assert seen.header("X-Team") == "crawl"
    assert seen.header("User-Agent") == "Probe/2"
    assert seen.header("Authorization").startswith("Basic ")
    result = fetch_one(server.url("/basic-auth"), settings)
    assert result.outcome is Outcome.OK
    assert fetch_one(server.url("/basic-auth")).status == 401


def test_cookies_are_kept_within_a_run_unless_turned_off(server):
    urls = [server.url("/cookie-set?flavour=oat"), server.url("/cookie-echo")]
    fetch_all(urls, concurrency=1)
    assert server.seen.requests("/cookie-echo")[-1].header("Cookie") == "flavour=oat"
    fetch_all(urls, concurrency=1, cookies=False)
    assert server.seen.requests("/cookie-echo")[-1].header("Cookie") is None


def test_a_real_proxy_is_used_when_set(server):
    with ThreadedServer(proxy_app()) as proxy:
        result = fetch_one(server.url("/ok"), proxy=proxy.base_url)
        assert result.outcome is Outcome.OK
        assert proxy.seen.count() == 1
        assert proxy.seen.requests()[0].path.endswith("/ok") or \
            server.url("/ok") in proxy.seen.requests()[0].path


def test_tls_with_a_private_ca(tmp_path):
    tls = TLS(tmp_path)
    with ThreadedServer(ssl_context=tls.server_context()) as https:
        url = https.url("/ok")
        assert fetch_one(url).failure.kind is Kind.TLS_UNTRUSTED
        assert fetch_one(url, ca_file=str(tls.ca_pem)).outcome is Outcome.OK
        assert fetch_one(url, verify_tls=False).outcome is Outcome.OK


def test_timings_split_dns_tcp_and_tls(tmp_path):
    tls = TLS(tmp_path)
    with ThreadedServer(ssl_context=tls.server_context()) as https:
        secure = fetch_one(f"https://localhost:{https.port}/ok", ca_file=str(tls.ca_pem))
    t = secure.timings
    assert secure.outcome is Outcome.OK
    assert None not in (t.dns_ms, t.connect_ms, t.tls_ms, t.ttfb_ms)
    assert t.ttfb_ms >= t.tls_ms


def test_plain_http_has_no_tls_time(server):
    result = fetch_one(server.url("/ok"))
    assert result.timings.tls_ms is None and result.timings.connect_ms is not None


def test_a_missing_ca_file_fails_every_row_with_a_reason(server, tmp_path):
    results = fetch_all([server.url("/ok")] * 2, ca_file=str(tmp_path / "missing.pem"))
    assert [r.outcome for r in results] == [Outcome.FAILED] * 2
    assert "cannot use CA file" in results[0].error


def cancel_mid_run(server, cancels: int = 1):
    """3 quick URLs and 10 that hang, cancelled once the quick ones are in (``cancels`` times,
    the later ones while the first is still finishing): every result, and the progress."""
    urls = [server.url("/ok")] * 3 + [server.url(f"/hang?n={i}") for i in range(10)]
    results = []

    async def go():
        engine = Engine(TargetList.from_text("\n".join(urls)), Settings(concurrency=5, per_host=0),
                        [results.append])
        task = engine.start()
        while sum(r.outcome is Outcome.OK for r in results) < 3:
            await asyncio.sleep(0.01)
        engine.cancel()
        for _ in range(cancels - 1):  # the first cancel is mid-way through its clean-up
            await asyncio.sleep(0)
            engine.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return engine.progress()

    return results, run_fresh(go())


def test_cancel_marks_unfinished_rows_cancelled_and_keeps_the_rest(server):
    results, progress = cancel_mid_run(server)
    assert sorted(r.index for r in results) == list(range(13))
    assert sum(r.outcome is Outcome.OK for r in results) == 3
    cancelled = [r for r in results if r.outcome is Outcome.CANCELLED]
    assert len(cancelled) == 10
    assert all(r.error_kind == "cancelled" for r in cancelled)
    assert progress.cancelled == 10


def test_a_second_cancel_while_the_first_is_finishing_loses_no_row(server):
    results, progress = cancel_mid_run(server, cancels=4)  # Ctrl+C, then again and again
    assert sorted(r.index for r in results) == list(range(13))
    assert progress.cancelled == 10 and progress.done == 13


@pytest.mark.parametrize("keep", [None, 3, 0, 20])
def test_details_are_kept_by_the_last_ok_rows_of_a_run_and_by_failures(server, keep,
                                                                       monkeypatch):
    # One at a time: rows finish in input order. Row 2 is an HTTP error, row 5 an invalid line.
    urls = [server.url(f"/ok?n={i}") for i in range(10)]
    urls[2] = server.url("/status/500")
    urls[5] = "ftp://not.fetched.example/"
    results = []
    if keep is not None:  # a list "too long" to keep everything, keeping the last `keep` rows
        monkeypatch.setattr(details, "KEEP_ALL", 5)
        monkeypatch.setattr(details, "KEEP_RECENT", keep)

    async def go():
        await Engine(TargetList.from_text("\n".join(urls)), Settings(concurrency=1, retries=0),
                     [results.append]).start()

    run_fresh(go())
    assert [r.index for r in results] == list(range(10))
    kept = [r.index for r in results if r.details is not None]
    if keep is None or keep == 20:  # all, or the last 20 of 10
        assert kept == [0, 1, 2, 3, 4, 6, 7, 8, 9]  # every row that got a response
    elif keep == 3:
        assert kept == [2, 7, 8, 9]  # the failure, and the ok rows among the last three
    else:
        assert kept == [2]
    assert all(r.status == 200 for r in results if r.index not in (2, 5))  # only details go


def test_a_failing_sink_is_reported_and_the_run_goes_on(server):
    reported = []
    seen = []

    def sink(result):
        seen.append(result)
        if result.index == 0:
            raise ValueError("view broke")

    async def go():
        asyncio.get_running_loop().set_exception_handler(lambda loop, ctx: reported.append(ctx))
        await Run(parse_text(f"{server.url('/ok')}\n{server.url('/ok')}"), Settings(), sink).start()

    run_fresh(go())
    assert len(seen) == 2
    assert isinstance(reported[0]["exception"], ValueError)


def test_large_list_keeps_only_in_flight_tasks(server):
    """10,000 URLs: tasks alive at any moment stay at the concurrency, not the list length."""
    urls = [server.url(f"/ok?n={i}") for i in range(2000)]
    peak = 0
    results = []

    async def go():
        nonlocal peak
        run = Run(parse_text("\n".join(urls)), Settings(concurrency=20, per_host=0),
                  results.append)
        task = run.start()
        while not task.done():
            peak = max(peak, len(asyncio.all_tasks()))
            await asyncio.sleep(0)
        await task

    run_fresh(go())
    assert len(results) == 2000
    assert peak <= 20 + 2  # the run's own task and this one


def test_cancel_before_the_run_took_its_first_step_still_accounts_for_every_row(server):
    results = []

    async def go():
        run = Run(parse_text(f"{server.url('/ok')}\nnot a url\n{server.url('/ok')}"),
                  Settings(), results.append)
        task = run.start()
        run.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run_fresh(go())
    assert sorted((r.index, r.outcome) for r in results) == [
        (0, Outcome.CANCELLED), (1, Outcome.INVALID), (2, Outcome.CANCELLED)]


def test_environment_proxy_and_netrc_are_honoured(server, tmp_path, monkeypatch):
    netrc_file = tmp_path / "netrc"
    netrc_file.write_text(f"machine 127.0.0.1 login {BASIC_AUTH[0]} password {BASIC_AUTH[1]}\n")
    netrc_file.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc_file))
    assert fetch_one(server.url("/basic-auth")).outcome is Outcome.OK
    with ThreadedServer(proxy_app()) as proxy:
        monkeypatch.setenv("http_proxy", proxy.base_url)
        monkeypatch.setenv("no_proxy", "")
        assert fetch_one(server.url("/ok")).outcome is Outcome.OK
        assert proxy.seen.count() == 1
        monkeypatch.setenv("no_proxy", "127.0.0.1")
        assert fetch_one(server.url("/ok")).outcome is Outcome.OK
        assert proxy.seen.count() == 1


def test_a_retried_row_shows_only_its_last_attempt():
    from aiohttp import web

    calls = []

    async def busy_then_json(request):
        calls.append(1)
        if len(calls) == 1:
            return web.Response(status=503, text="<html><title>Busy</title></html>",
                                content_type="text/html", headers={"Server": "first"})
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_get("/", busy_then_json)
    with ThreadedServer(app) as once:
        result = fetch_one(once.url("/"), retries=1)
    assert result.outcome is Outcome.OK and result.attempts == 2
    assert result.title == ""  # the 503's title must not stay on the 200's row
    assert result.server != "first"
    assert result.content_type.startswith("application/json")


def test_a_user_agent_header_wins_over_the_user_agent_setting(server):
    settings = Settings(retries=0, headers=(("user-agent", "Mine/1"),), user_agent="Probe/2")
    result = fetch_one(server.url("/ok"), settings)
    assert result.outcome is Outcome.OK, result.failure
    (seen,) = server.seen.requests("/ok")
    assert [v for k, v in seen.headers if k.lower() == "user-agent"] == ["Mine/1"]
    # The detail pane shows what was sent.
    assert ("User-Agent", "Probe/2") not in list(result.details.request_headers)
    assert [v for k, v in result.details.request_headers if k.lower() == "user-agent"] == [
        "Mine/1"]


def test_the_user_agent_setting_is_sent_once_and_shown_in_the_details(server):
    result = fetch_one(server.url("/ok"), Settings(retries=0, user_agent="Probe/3"))
    (seen,) = server.seen.requests("/ok")
    assert [v for k, v in seen.headers if k.lower() == "user-agent"] == ["Probe/3"]
    assert ("User-Agent", "Probe/3") in list(result.details.request_headers)


def test_only_a_request_that_opened_its_connection_has_connect_timings(server):
    # One at a time to one host: the first request opens the connection, the rest reuse it.
    results = fetch_all([server.url(f"/ok?n={i}") for i in range(3)], concurrency=1)
    first, *rest = results
    assert first.timings.connect_ms is not None
    for result in rest:
        assert result.outcome is Outcome.OK
        assert result.timings.dns_ms is None and result.timings.connect_ms is None
        assert result.timings.ttfb_ms is not None


def test_a_failed_tls_handshake_keeps_its_connect_time(tmp_path):
    tls = TLS(tmp_path)
    with ThreadedServer(ssl_context=tls.server_context()) as https:
        result = fetch_one(f"https://localhost:{https.port}/ok")  # untrusted: no CA file
    assert result.failure.kind is Kind.TLS_UNTRUSTED
    assert result.timings.dns_ms is not None and result.timings.connect_ms is not None


def test_new_connection_timings_are_all_taken_by_their_requests(server):
    import asyncio

    from yarl import URL

    from app.core.errors import FetchFailed
    from app.core.fetch import Fetcher, fetch
    from app.core.pacing import HostState
    from app.core.transport import open_session

    with ReservedPort() as closed:
        urls = [server.url("/ok"), server.url("/status/404"), f"http://127.0.0.1:{closed.port}/",
                f"http://localhost:{server.port}/ok", server.url("/hang")]

        async def go():
            settings = Settings(retries=0, timeout=0.5)
            async with open_session(settings) as session:
                fetcher = Fetcher(settings, session)
                answers = await asyncio.gather(*(fetch(fetcher, URL(url), url, HostState())
                                                 for url in urls), return_exceptions=True)
                responses = [a.response if isinstance(a, FetchFailed) else a for a in answers]
                return dict(fetcher.new_connections), responses

        left, results = run_fresh(go())
    assert left == {}  # ok, 404, refused, resolved and timed out: none left behind
    assert all(result.timings.connect_ms is not None for result in results[:2])
    assert results[3].timings.dns_ms is not None


def test_a_run_collects_young_garbage_less_often_in_either_face(server):
    """The engine owns the collector's setting for a run, so `fetchdeck run` gets what the
    window gets (it had Python's default of 700 and spent ~8 % more time: finding 51)."""
    import gc

    from app.core.engine import GC_YOUNG_THRESHOLD

    before = gc.get_threshold()
    gc.set_threshold(700, *before[1:])
    try:
        results = fetch_all([server.url("/ok")])
        assert results[0].outcome is Outcome.OK
        assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    finally:
        gc.set_threshold(*before)
