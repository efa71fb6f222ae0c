"""Every failure kind, produced by a real condition on loopback and named precisely: the kind,
plain words, and the original exception kept in the chain and traceback."""

from __future__ import annotations

import pytest

from app.core.errors import KIND_INFO, Kind
from app.core.result import Outcome
from app.core.settings import MIB, Settings
from tests.core.runs import fetch_one
from tests.servers import TLS, RawServers, ReservedPort, ThreadedServer

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def web_server():
    with ThreadedServer() as server:
        yield server


@pytest.fixture(scope="module")
def raw():
    with RawServers() as servers:
        yield servers


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return TLS(tmp_path_factory.mktemp("tls"))


@pytest.fixture(scope="module")
def https_server(tls):
    with ThreadedServer(ssl_context=tls.server_context("127.0.0.1", "localhost")) as server:
        yield server


@pytest.fixture(scope="module")
def wrong_host_server(tls):
    with ThreadedServer(ssl_context=tls.server_context("example.org")) as server:
        yield server


def assert_failed(result, kind, *words):
    assert result.outcome is Outcome.FAILED, (result.outcome, result.error)
    assert result.failure is not None
    assert result.failure.kind is kind, (result.failure.kind, result.error, result.failure.chain)
    assert result.error.startswith(KIND_INFO[kind].title)
    for word in words:
        assert word in result.error
    assert result.failure.traceback, "the real traceback must be kept"
    assert result.failure.chain


def test_unresolvable_name_is_dns():
    result = fetch_one("http://no-such-host.invalid/")
    assert_failed(result, Kind.DNS, "no-such-host.invalid")
    assert "ClientConnectorDNSError" in result.failure.exception_type


def test_closed_port_is_refused():
    with ReservedPort() as port:
        result = fetch_one(f"http://127.0.0.1:{port.port}/")
    assert_failed(result, Kind.REFUSED, "Connection refused")


def test_localhost_name_goes_through_the_resolver(web_server):
    result = fetch_one(f"http://localhost:{web_server.port}/ok")
    assert result.outcome is Outcome.OK
    assert result.timings.dns_ms is not None


def test_connection_reset_at_once_is_reset(raw):
    assert_failed(fetch_one(raw.url("reset")), Kind.RESET)


def test_connection_closed_without_answer_is_reset(raw):
    assert_failed(fetch_one(raw.url("close")), Kind.RESET)


@pytest.mark.parametrize("name", ["garbage", "bad-status", "huge-header", "bad-chunked"])
def test_answers_that_are_not_valid_http_are_protocol(raw, name):
    assert_failed(fetch_one(raw.url(name)), Kind.PROTOCOL)


def test_body_shorter_than_content_length_is_truncated(raw):
    result = fetch_one(raw.url("truncated"))
    assert_failed(result, Kind.TRUNCATED)
    assert result.status == 200


def test_server_that_never_answers_is_a_timeout(raw):
    result = fetch_one(raw.url("silent"), timeout=0.5)
    assert_failed(result, Kind.TIMEOUT, "no response within 0.5 s")
    assert any("TimeoutError" in link for link in result.failure.chain)


def test_body_that_stalls_is_a_read_timeout(web_server):
    # Headers arrive at once; the body then flows for longer than the timeout allows.
    result = fetch_one(web_server.url("/endless"), timeout=0.5, max_body=10 * 1024 * MIB)
    assert_failed(result, Kind.READ_TIMEOUT, "the body did not finish")
    assert result.status == 200


def test_redirect_loop_is_too_many_redirects(web_server):
    result = fetch_one(web_server.url("/redirect-loop"), max_redirects=5)
    assert_failed(result, Kind.TOO_MANY_REDIRECTS)
    assert result.redirects == 5
    assert "/redirect-loop/" in result.redirect_chain_text()


@pytest.mark.parametrize(("path", "scheme"), [("/redirect-file", "file:"),
                                              ("/redirect-js", "javascript:")])
def test_redirect_to_a_non_http_scheme_is_never_followed(web_server, path, scheme):
    result = fetch_one(web_server.url(path))
    assert_failed(result, Kind.UNSAFE_REDIRECT, scheme)


def test_body_over_the_cap_stops_at_the_cap(web_server):
    result = fetch_one(web_server.url(f"/big?bytes={3 * MIB}"), max_body=1 * MIB)
    assert_failed(result, Kind.BODY_TOO_LARGE, "1,048,576 bytes")
    assert result.bytes == MIB
    assert result.status == 200


def test_gzip_bomb_is_capped_after_decompression(web_server):
    result = fetch_one(web_server.url("/gzip-bomb?mib=64"))
    assert_failed(result, Kind.BODY_TOO_LARGE)
    assert result.bytes == Settings().max_body


def test_endless_body_is_capped(web_server):
    result = fetch_one(web_server.url("/endless"), max_body=2 * MIB)
    assert_failed(result, Kind.BODY_TOO_LARGE)


@pytest.mark.parametrize(("code", "kind"), [(404, Kind.HTTP_4XX), (410, Kind.HTTP_4XX),
                                            (500, Kind.HTTP_5XX), (503, Kind.HTTP_5XX)])
def test_error_statuses_are_http_errors_not_failures(web_server, code, kind):
    result = fetch_one(web_server.url(f"/status/{code}"))
    assert result.outcome is Outcome.HTTP_ERROR
    assert result.failure is not None and result.failure.kind is kind
    assert result.status == code
    assert result.error.startswith(f"HTTP {code}")


def test_untrusted_certificate(https_server):
    result = fetch_one(https_server.url("/ok"))
    assert_failed(result, Kind.TLS_UNTRUSTED)


def test_certificate_for_another_host(tls, wrong_host_server):
    result = fetch_one(wrong_host_server.url("/ok"), ca_file=str(tls.ca_pem))
    assert_failed(result, Kind.TLS_HOSTNAME)


def test_tls_to_a_plain_http_port(web_server):
    result = fetch_one(f"https://127.0.0.1:{web_server.port}/ok")
    assert_failed(result, Kind.TLS)


def test_wrong_or_unknown_charset_is_not_a_failure_but_is_said(web_server):
    result = fetch_one(web_server.url("/latin1"))
    assert result.outcome is Outcome.OK
    assert result.note == "text is not valid utf-8; undecodable bytes replaced"
    result = fetch_one(web_server.url("/unknown-charset"))
    assert result.outcome is Outcome.OK
    assert "unknown charset 'x-no-such-charset'" in result.note
    assert fetch_one(web_server.url("/ok")).note == ""


@pytest.mark.parametrize(("content_type", "body", "title", "note"), [
    # ASCII under an ASCII-reading charset is valid without decoding it.
    ("text/html; charset=utf-8", "<html><TiTlE>A &amp; B</tItLe>", "A & B", ""),
    ("text/html; charset=shift_jis", "<html><title>x</title>", "x", ""),
    # No tag starting with t in any case: no title, found without scanning.
    ("text/html", "<html><body><p>no title here</p></body></html>", "", ""),
    ("text/html", "<html><table><tr><td>cells</td></tr></table>", "", ""),
    # ASCII bytes can still be invalid in a charset that does not read ASCII as itself.
    ("text/html; charset=utf-7", "<html><p>1+1=2</p>", "", "text is not valid utf-7"),
])
def test_titles_and_charset_notes_of_ascii_pages(web_server, content_type, body, title, note):
    from yarl import URL

    url = URL(web_server.url("/page")).with_query(ct=content_type, body=body)
    result = fetch_one(str(url))
    assert result.outcome is Outcome.OK
    assert result.title == title
    assert result.note.startswith(note) and bool(result.note) == bool(note)


@pytest.mark.parametrize(("content_type", "body", "note"), [
    # Python codecs that are no text charset, or raise more than UnicodeDecodeError: never an
    # internal error, at most a note.
    # punycode is no web charset, and decodes slowly enough to stall the loop: unknown.
    ("text/plain; charset=punycode", "abc-", "unknown charset 'punycode'"),
    ("text/html; charset=punycode", "<html><title>x</title>", "unknown charset 'punycode'"),
    ("text/html; charset=undefined", "<html><title>x</title>", "unknown charset 'undefined'"),
    # ASCII that is still invalid in its declared charset keeps its note.
    ("text/plain; charset=unicode-escape", "C:\\x41\\xZZ", "text is not valid unicode-escape"),
    ("text/plain; charset=raw-unicode-escape", "a\\u12", "text is not valid raw-unicode-escape"),
])
def test_odd_charsets_give_a_note_not_an_internal_error(web_server, content_type, body, note):
    from yarl import URL

    url = URL(web_server.url("/page")).with_query(ct=content_type, body=body)
    result = fetch_one(str(url))
    assert result.outcome is Outcome.OK, result.failure
    assert result.note.startswith(note) and bool(result.note) == bool(note)


def test_connect_timeout():
    # 10.255.255.1 would leave the machine; instead fill a listen backlog on loopback so that
    # the SYN is never answered. Linux drops SYNs to a full backlog, so connect hangs.
    import socket

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    try:
        for _ in range(8):
            s = socket.socket()
            s.setblocking(False)
            s.connect_ex(("127.0.0.1", port))
            fillers.append(s)
        result = fetch_one(f"http://127.0.0.1:{port}/", connect_timeout=0.5, timeout=5)
    finally:
        for s in fillers:
            s.close()
        listener.close()
    assert_failed(result, Kind.CONNECT_TIMEOUT)


def test_messages_are_one_line_and_the_details_stay_in_the_chain(raw):
    result = fetch_one(raw.url("garbage"))
    assert "\n" not in result.error
    assert result.error.startswith("Malformed response: Bad status line")
    assert any("SSH-2.0" in link for link in result.failure.chain)
