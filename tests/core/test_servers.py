"""The test servers do what they claim, as seen by a plain aiohttp client (no Fetchdeck code).

These also pin down what aiohttp 3.14 raises for each misbehaviour, which the failure taxonomy
(app/core/errors.py) is built on: when aiohttp changes, these fail first and say where.
"""

from __future__ import annotations

import asyncio
import errno
import json
import ssl
import time
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import pytest
from aiohttp import http_exceptions

from app.core.errors import causes
from tests.core.runs import run_fresh
from tests.servers import BASIC_AUTH, LATIN1_TEXT, TLS, RawServers, ThreadedServer, proxy_app

MIB = 1024 * 1024
# Every request is bounded, so that a server that fails to answer fails its test quickly.
LIMIT = aiohttp.ClientTimeout(total=10)


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str]
    body: bytes
    history: list[int]
    url: str
    charset: str | None


async def _get(url: str, session_kw: dict[str, Any], kw: dict[str, Any]) -> Answer:
    async with aiohttp.ClientSession(**{"timeout": LIMIT, **session_kw}) as session, \
            session.request(kw.pop("method", "GET"), url, **kw) as resp:
        body = await resp.read()
        return Answer(resp.status, resp.headers, body, [r.status for r in resp.history],
                      str(resp.url), resp.charset)


def get(url: str, session_kw: dict[str, Any] | None = None, **kw: Any) -> Answer:
    """One request in a fresh session on a fresh loop; the whole body read with ``read()``."""
    return run_fresh(_get(url, session_kw or {}, kw))


def failure(url: str, **kw: Any) -> Exception:
    with pytest.raises(Exception) as info:
        get(url, **kw)
    return info.value


def cause_types(exc: BaseException) -> list[type[BaseException]]:
    return [type(c) for c in causes(exc)]


# --- ThreadedServer ---------------------------------------------------------------------------


def test_server_listens_once_started_and_refuses_once_stopped(start_server):
    server = start_server()
    assert server.url("/ok").startswith("http://127.0.0.1:")
    assert get(server.url("/ok")).status == 200
    server.stop()
    assert isinstance(failure(server.url("/ok")), aiohttp.ClientConnectorError)


def test_server_runs_on_another_loopback_address(start_server):
    server = start_server(host="127.0.0.2")
    answer = get(server.url("/ok"))
    assert answer.status == 200
    assert server.seen.requests()[0].host == f"127.0.0.2:{server.port}"


def test_server_records_each_request(http_server):
    get(http_server.url("/ok?n=1"), headers={"X-Probe": "one"})
    get(http_server.url("/status/404"))
    assert http_server.seen.count() == 2
    assert http_server.seen.count("/ok") == 1
    (seen,) = http_server.seen.requests("/ok")
    assert seen.method == "GET"
    assert seen.url == http_server.url("/ok?n=1")
    assert seen.header("x-probe") == "one"
    assert seen.finished is not None and seen.started <= seen.finished
    starts = http_server.seen.starts()
    assert starts == sorted(starts) and len(starts) == 2
    assert http_server.seen.in_flight() == 0
    assert http_server.seen.max_in_flight() == 1


def test_server_counts_requests_in_flight_per_host_header(http_server):
    by_ip, by_name = http_server.url("/hang"), f"http://localhost:{http_server.port}/hang"

    async def scenario() -> None:
        async with aiohttp.ClientSession(timeout=LIMIT) as session:

            async def hang(url: str) -> None:
                async with session.get(url) as resp:
                    await resp.read()

            tasks = [asyncio.create_task(hang(url)) for url in [by_ip] * 3 + [by_name] * 2]
            await asyncio.to_thread(http_server.seen.wait_until, lambda s: s.in_flight() == 5)
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    run_fresh(scenario())
    seen = http_server.seen
    assert seen.max_in_flight() == 5
    assert seen.max_in_flight("127.0.0.1") == 3
    assert seen.max_in_flight(f"127.0.0.1:{http_server.port}") == 3
    assert seen.max_in_flight("LOCALHOST") == 2
    assert len(seen.starts("localhost")) == 2


def test_stop_cancels_hanging_and_endless_requests_at_once(start_server):
    server = start_server()

    async def scenario() -> tuple[float, list[Any]]:
        stopped = asyncio.Event()
        async with aiohttp.ClientSession(timeout=LIMIT) as session:

            async def hang() -> None:
                async with session.get(server.url("/hang")) as resp:
                    await resp.read()

            async def endless() -> None:
                async with session.get(server.url("/endless")) as resp:
                    await resp.content.readexactly(MIB)
                    # A client that stops reading leaves unsent data at the server: stopping
                    # must close the connection anyway, or this client would wait forever.
                    await stopped.wait()
                    async for _ in resp.content.iter_chunked(MIB):
                        pass

            tasks = [asyncio.create_task(hang()), asyncio.create_task(endless())]
            await asyncio.to_thread(server.seen.wait_until, lambda s: s.in_flight() == 2)
            started = time.monotonic()
            await asyncio.to_thread(server.stop)
            elapsed = time.monotonic() - started
            stopped.set()
            return elapsed, await asyncio.gather(*tasks, return_exceptions=True)

    elapsed, (hung, streamed) = run_fresh(scenario())
    assert elapsed < 1.5
    # The GET was dropped (ServerDisconnectedError) and aiohttp silently retried it on a new
    # connection, which the stopped server refused: the caller sees only the refusal.
    assert type(hung) is aiohttp.ClientConnectorError
    assert hung.os_error.errno == errno.ECONNREFUSED
    assert isinstance(streamed, aiohttp.ClientPayloadError)  # chunked body cut off mid-stream
    assert http_exceptions.TransferEncodingError in cause_types(streamed)


# --- the misbehaving app ----------------------------------------------------------------------


def test_ok_is_an_html_page_with_a_title(http_server):
    answer = get(http_server.url("/ok"))
    assert answer.status == 200
    assert answer.headers["Content-Type"].startswith("text/html")
    assert b"<title>OK</title>" in answer.body


@pytest.mark.parametrize("code", [200, 204, 404, 418, 500, 503, 599])
def test_status_answers_with_any_status(http_server, code):
    assert get(http_server.url(f"/status/{code}")).status == code


@pytest.mark.parametrize("path", [
    "/status/abc", "/status/99", "/slow?seconds=-1", "/big?bytes=x", "/retry-after?seconds=x",
    "/flaky?failures=-1", "/redirect-to"])
def test_bad_parameters_are_a_400_not_a_server_error(http_server, path):
    assert get(http_server.url(path)).status == 400


def test_redirect_chain_takes_n_hops_to_ok(http_server):
    answer = get(http_server.url("/redirect/3"))
    assert answer.history == [302, 302, 302]
    assert answer.url == http_server.url("/ok")
    assert http_server.seen.count() == 4


def test_redirect_loop_never_ends(http_server):
    first = get(http_server.url("/redirect-loop"), allow_redirects=False)
    assert (first.status, first.headers["Location"]) == (302, "/redirect-loop/")
    second = get(http_server.url("/redirect-loop/"), allow_redirects=False)
    assert second.headers["Location"] == "/redirect-loop"
    exc = failure(http_server.url("/redirect-loop"), max_redirects=5)
    assert isinstance(exc, aiohttp.TooManyRedirects)
    assert len(exc.history) == 5
    assert http_server.seen.count() == 2 + 5


@pytest.mark.parametrize(("max_redirects", "followed"), [(3, False), (4, True)])
def test_aiohttp_max_redirects_n_follows_only_n_minus_1(http_server, max_redirects, followed):
    """aiohttp raises TooManyRedirects on the N-th redirect answer, without following it."""
    url = http_server.url("/redirect/3")
    if followed:
        assert get(url, max_redirects=max_redirects).history == [302, 302, 302]
    else:
        assert isinstance(failure(url, max_redirects=max_redirects), aiohttp.TooManyRedirects)


@pytest.mark.parametrize(("path", "location"), [
    ("/redirect-file", "file:///etc/passwd"), ("/redirect-js", "javascript:alert(1)")])
def test_redirects_to_non_http_schemes(http_server, path, location):
    assert get(http_server.url(path), allow_redirects=False).headers["Location"] == location
    exc = failure(http_server.url(path))
    assert type(exc) is aiohttp.NonHttpUrlRedirectClientError
    assert str(exc) == location


def test_redirect_to_any_url(http_server):
    answer = get(http_server.url(f"/redirect-to?url={http_server.url('/news')}&status=301"))
    assert answer.history == [301]
    assert answer.url == http_server.url("/news")


def test_slow_answers_after_the_delay(http_server):
    started = time.monotonic()
    assert get(http_server.url("/slow?seconds=0.2")).status == 200
    assert time.monotonic() - started >= 0.2
    exc = failure(http_server.url("/slow?seconds=1"), timeout=aiohttp.ClientTimeout(sock_read=0.05))
    assert type(exc) is aiohttp.SocketTimeoutError


def test_hang_never_answers(http_server):
    exc = failure(http_server.url("/hang"), timeout=aiohttp.ClientTimeout(total=0.2))
    # A total timeout is the builtin TimeoutError, not an aiohttp.ClientError.
    assert type(exc) is TimeoutError
    assert not isinstance(exc, aiohttp.ClientError)
    assert http_server.seen.in_flight() == 1  # still hanging at the server


def test_big_sends_exactly_n_bytes(http_server):
    answer = get(http_server.url(f"/big?bytes={3 * MIB + 7}"))
    assert len(answer.body) == 3 * MIB + 7
    assert answer.headers["Content-Length"] == str(3 * MIB + 7)


def test_endless_streams_until_the_client_goes_away(http_server):
    async def read_some() -> int:
        received = 0
        async with aiohttp.ClientSession(timeout=LIMIT) as session, \
                session.get(http_server.url("/endless")) as resp:
            assert resp.headers["Transfer-Encoding"] == "chunked"
            async for chunk in resp.content.iter_chunked(64 * 1024):
                received += len(chunk)
                if received >= 4 * MIB:
                    break
        return received

    assert run_fresh(read_some()) >= 4 * MIB
    http_server.seen.wait_until(lambda s: s.in_flight() == 0)  # the handler noticed and ended


def test_gzip_bomb_is_small_on_the_wire_and_huge_unpacked(http_server):
    raw = get(http_server.url("/gzip-bomb"), session_kw={"auto_decompress": False})
    assert raw.headers["Content-Encoding"] == "gzip"
    assert int(raw.headers["Content-Length"]) == len(raw.body) < 100_000
    assert len(zlib.decompress(raw.body, 16 + zlib.MAX_WBITS)) == 64 * MIB
    # aiohttp has no size limit of its own: read() unpacks all of it in memory.
    assert len(get(http_server.url("/gzip-bomb?mib=8")).body) == 8 * MIB


@pytest.mark.parametrize(("path", "declared"), [
    ("/latin1", "utf-8"), ("/unknown-charset", "x-no-such-charset")])
def test_text_in_a_charset_other_than_declared(http_server, path, declared):
    answer = get(http_server.url(path))
    assert answer.charset == declared
    assert answer.body.decode("latin-1") == LATIN1_TEXT

    async def text() -> str:
        async with aiohttp.ClientSession(timeout=LIMIT) as session, \
                session.get(http_server.url(path)) as resp:
            return await resp.text()

    # An unknown charset falls back to utf-8 in aiohttp, so both fail the same way.
    with pytest.raises(UnicodeDecodeError):
        run_fresh(text())


def test_retry_after_in_seconds_and_as_a_date(http_server):
    answer = get(http_server.url("/retry-after?seconds=7"))
    assert (answer.status, answer.headers["Retry-After"]) == (429, "7")
    dated = get(http_server.url("/retry-after?seconds=30&date=1"))
    left = parsedate_to_datetime(dated.headers["Retry-After"]).timestamp() - time.time()
    assert 25 < left <= 31


def test_flaky_fails_n_times_per_key_then_works(http_server):
    statuses = [get(http_server.url("/flaky?key=a")).status for _ in range(3)]
    assert statuses == [503, 503, 200]
    assert get(http_server.url("/flaky?key=b&failures=1")).status == 503
    assert get(http_server.url("/flaky?key=b&failures=1")).status == 200
    assert get(http_server.url("/flaky?key=c&failures=0")).status == 200


def test_headers_are_echoed_as_json(http_server):
    answer = get(http_server.url("/headers"), headers={"X-Probe": "42", "User-Agent": "Probe/1"})
    echoed = json.loads(answer.body)
    assert echoed["X-Probe"] == "42"
    assert echoed["User-Agent"] == "Probe/1"


@pytest.mark.parametrize(("host", "unsafe", "kept"), [
    ("127.0.0.1", False, False), ("127.0.0.1", True, True), ("localhost", False, True)])
def test_cookies_set_then_echoed(http_server, host, unsafe, kept):
    """aiohttp's default CookieJar drops cookies from IP-address hosts: unsafe=True keeps them."""

    async def scenario() -> dict[str, str]:
        jar = aiohttp.CookieJar(unsafe=unsafe)
        async with aiohttp.ClientSession(cookie_jar=jar, timeout=LIMIT) as session:
            base = f"http://{host}:{http_server.port}"
            async with session.get(f"{base}/cookie-set?flavour=oat") as resp:
                assert resp.cookies["flavour"].value == "oat"
            async with session.get(f"{base}/cookie-echo") as resp:
                echoed: dict[str, str] = await resp.json()
                return echoed

    assert run_fresh(scenario()) == ({"flavour": "oat"} if kept else {})


def test_basic_auth_wants_the_right_credentials(http_server):
    url = http_server.url("/basic-auth")
    refused = get(url)
    assert refused.status == 401
    assert refused.headers["WWW-Authenticate"].startswith("Basic ")
    wrong = aiohttp.encode_basic_auth(BASIC_AUTH[0], "nope")
    assert get(url, headers={"Authorization": wrong}).status == 401
    right = aiohttp.encode_basic_auth(*BASIC_AUTH)
    assert get(url, headers={"Authorization": right}).status == 200
    # Credentials in the URL work too (the ':' in the password percent-encoded).
    user, password = BASIC_AUTH
    in_url = url.replace("http://", f"http://{user}:{password.replace(':', '%3A')}@")
    assert get(in_url).status == 200


def test_head_405_refuses_head_only(http_server):
    head = get(http_server.url("/head-405"), method="HEAD")
    assert (head.status, head.headers["Allow"]) == (405, "GET")
    assert get(http_server.url("/head-405")).status == 200
    assert get(http_server.url("/ok"), method="HEAD").status == 200


# --- raw listeners ----------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "raised", "cause"), [
    ("reset-after-request", aiohttp.ClientOSError, ConnectionResetError),
    ("close", aiohttp.ServerDisconnectedError, None),
    ("garbage", aiohttp.ClientResponseError, http_exceptions.BadStatusLine),
    ("bad-status", aiohttp.ClientResponseError, http_exceptions.BadStatusLine),
    ("huge-header", aiohttp.ClientResponseError, http_exceptions.LineTooLong),
    ("truncated", aiohttp.ClientPayloadError, http_exceptions.ContentLengthError),
    # The bad chunk comes in the same packet as the head, so the response itself fails; a bad
    # chunk arriving later would fail the body as ClientPayloadError(TransferEncodingError).
    ("bad-chunked", aiohttp.ClientResponseError, http_exceptions.BadHttpMessage),
])
def test_raw_misbehaviour_raises(raw_servers, name, raised, cause):
    exc = failure(raw_servers.url(name))
    assert type(exc) is raised
    if cause is not None:
        assert cause in cause_types(exc)


def test_reset_at_once_is_a_connection_reset(raw_servers):
    exc = failure(raw_servers.url("reset"))
    # Depending on whether the RST lands before aiohttp's connect completes, this is a
    # ClientConnectorError or a plain ClientOSError; both carry ECONNRESET.
    assert isinstance(exc, aiohttp.ClientOSError)
    assert exc.errno == errno.ECONNRESET or ConnectionResetError in cause_types(exc)


def test_truncated_body_fails_when_streamed_too(raw_servers):
    async def stream() -> int:
        received = 0
        async with aiohttp.ClientSession(timeout=LIMIT) as session, \
                session.get(raw_servers.url("truncated")) as resp:
            async for chunk in resp.content.iter_chunked(1024):
                received += len(chunk)
        return received

    with pytest.raises(aiohttp.ClientPayloadError) as info:
        run_fresh(stream())
    assert http_exceptions.ContentLengthError in cause_types(info.value)


@pytest.mark.parametrize(("method", "connections"), [("GET", 2), ("POST", 1)])
def test_aiohttp_retries_an_idempotent_request_once_on_a_dropped_connection(
        raw_servers, method, connections):
    """Even on a fresh connection: a server sees two attempts per GET that Fetchdeck makes."""
    assert isinstance(failure(raw_servers.url("close"), method=method),
                      aiohttp.ServerDisconnectedError)
    assert raw_servers.connections["close"] == connections


def test_silent_listener_times_out(raw_servers):
    exc = failure(raw_servers.url("silent"), timeout=aiohttp.ClientTimeout(sock_read=0.1))
    assert type(exc) is aiohttp.SocketTimeoutError
    exc = failure(raw_servers.url("silent"), timeout=aiohttp.ClientTimeout(total=0.1))
    assert type(exc) is TimeoutError


def test_raw_servers_listen_on_another_loopback_address():
    with RawServers(host="127.0.0.2") as servers:
        assert servers.url("close").startswith("http://127.0.0.2:")
        assert isinstance(failure(servers.url("close")), aiohttp.ServerDisconnectedError)


def test_refused_port_refuses_and_stays_refused(refused_port):
    for host in ("127.0.0.1", "localhost"):
        exc = failure(f"http://{host}:{refused_port.port}/")
        assert type(exc) is aiohttp.ClientConnectorError
        assert exc.os_error.errno == errno.ECONNREFUSED


# --- TLS --------------------------------------------------------------------------------------


def test_https_server_is_trusted_with_the_ca_file(https_server, ca_file):
    context = ssl.create_default_context(cafile=str(ca_file))
    for host in ("127.0.0.1", "localhost"):
        answer = get(f"https://{host}:{https_server.port}/ok", ssl=context)
        assert answer.status == 200
    assert https_server.url("/ok").startswith("https://")


def test_https_server_is_untrusted_without_the_ca(https_server):
    exc = failure(https_server.url("/ok"))
    assert type(exc) is aiohttp.ClientConnectorCertificateError
    assert exc.certificate_error.verify_code == 20  # unable to get local issuer certificate


@pytest.mark.parametrize(("host", "verify_code"), [
    ("127.0.0.1", 64),  # X509_V_ERR_IP_ADDRESS_MISMATCH: an IP literal is not a "hostname"
    ("localhost", 62),  # X509_V_ERR_HOSTNAME_MISMATCH
])
def test_certificate_for_another_host(wrong_host_server, tls: TLS, host, verify_code):
    exc = failure(f"https://{host}:{wrong_host_server.port}/ok", ssl=tls.client_context())
    assert type(exc) is aiohttp.ClientConnectorCertificateError
    assert exc.certificate_error.verify_code == verify_code


def test_plain_http_and_tls_crossed(http_server, https_server):
    exc = failure(f"https://127.0.0.1:{http_server.port}/ok")
    assert type(exc) is aiohttp.ClientConnectorSSLError
    exc = failure(f"http://127.0.0.1:{https_server.port}/ok")
    assert type(exc) is aiohttp.ServerDisconnectedError


# --- proxy ------------------------------------------------------------------------------------


def test_proxy_forwards_plain_http_and_counts(http_server, proxy_server):
    answer = get(http_server.url("/ok?via=proxy"), proxy=proxy_server.url())
    assert answer.status == 200 and b"<title>OK</title>" in answer.body
    (forwarded,) = proxy_server.seen.requests()
    assert forwarded.url == http_server.url("/ok?via=proxy")
    assert http_server.seen.count("/ok") == 1


def test_proxy_passes_bodies_through_untouched(http_server, proxy_server):
    answer = get(http_server.url("/gzip-bomb?mib=1"), proxy=proxy_server.url(),
                 session_kw={"auto_decompress": False})
    assert answer.headers["Content-Encoding"] == "gzip"
    assert len(zlib.decompress(answer.body, 16 + zlib.MAX_WBITS)) == MIB


def test_proxy_errors(http_server, https_server, proxy_server, refused_port, start_server):
    # https through a proxy needs CONNECT, which this one refuses: aiohttp raises.
    exc = failure(https_server.url("/ok"), proxy=proxy_server.url())
    assert type(exc) is aiohttp.ClientHttpProxyError
    assert exc.status == 501
    # For plain http the proxy's own error statuses are just the response: no exception.
    assert get(refused_port.url(), proxy=proxy_server.url()).status == 502
    guarded = start_server(proxy_app(credentials=("p", "q")))
    assert get(http_server.url("/ok"), proxy=guarded.url()).status == 407
    credentials = {"Proxy-Authorization": aiohttp.encode_basic_auth("p", "q")}
    # aiohttp sends proxy_headers only with CONNECT: for http:// they are dropped. Credentials in
    # the proxy URL, or Proxy-Authorization among the request's own headers, do reach the proxy.
    proxied = http_server.url("/ok")
    assert get(proxied, proxy=guarded.url(), proxy_headers=credentials).status == 407
    assert get(proxied, proxy=guarded.url().replace("//", "//p:q@")).status == 200
    assert get(proxied, proxy=guarded.url(), headers=credentials).status == 200
    assert http_server.seen.requests()[-1].header("Proxy-Authorization") is None
    exc = failure(http_server.url("/ok"), proxy=refused_port.url())
    assert type(exc) is aiohttp.ClientProxyConnectionError


def test_threaded_server_has_no_url_before_it_starts():
    with pytest.raises(RuntimeError):
        ThreadedServer().url("/ok")
