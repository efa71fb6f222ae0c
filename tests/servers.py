"""Real servers on loopback that prove Fetchdeck's behaviour: an aiohttp app with every HTTP-level
misbehaviour, raw listeners for the ones no HTTP framework produces, TLS material, a forward proxy
and a refusing port. Each runs in a thread of its own and records what it saw, so a test can check
limits and rates as counted at the server.

The route handlers and raw-socket machinery shared with the built-in demo come from
``app.core.demo`` and ``app.core.loopback``; only what the demo does not need lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import formatdate
from pathlib import Path
from typing import Any

import aiohttp
import trustme
from aiohttp import web

from app.core.demo import (
    DEMO_ROUTES,
    GARBAGE,
    TRUNCATED,
    html_page,
    number_param,
    redirect,
    redirect_to,
)
from app.core.fetch import basic_auth as encode_basic_auth
from app.core.loopback import (
    RawHandler,
    ReservedPort,
    ServerThread,
    read_request_head,
    reply_and_close,
    reset_after_request,
    reset_at_once,
    silent,
    url_for,
)

__all__ = [
    "BASIC_AUTH",
    "HOSTILE_BEHAVIOURS",
    "RAW_BEHAVIOURS",
    "RawServers",
    "Recorder",
    "ReservedPort",
    "SeenRequest",
    "TLS",
    "ThreadedServer",
    "misbehaving_app",
    "proxy_app",
]

BASIC_AUTH = ("fetch", "deck:s3cret")
LATIN1_TEXT = "Café au lait, crème brûlée, naïve façade"


# --- what a server saw ----------------------------------------------------------------------


@dataclass(slots=True)
class SeenRequest:
    """One request as the server saw it. Times are ``time.monotonic()`` seconds."""

    method: str
    url: str  # absolute; for a proxied request, the target URL
    path: str
    host: str  # the Host header
    headers: tuple[tuple[str, str], ...]
    started: float
    finished: float | None = None

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


class Recorder:
    """Thread-safe log of a server's requests, with in-flight counts per Host header.

    ``host`` arguments match the whole Host header (``127.0.0.1:8080``) or its host name
    (``127.0.0.1``); ``None`` means all requests.
    """

    def __init__(self) -> None:
        self._seen: list[SeenRequest] = []
        self._in_flight: dict[str, int] = {}
        self._max_in_flight: dict[str, int] = {}
        self._changed = threading.Condition()

    def requests(self, path: str | None = None) -> list[SeenRequest]:
        with self._changed:
            return [r for r in self._seen if path is None or r.path == path]

    def count(self, path: str | None = None) -> int:
        return len(self.requests(path))

    def in_flight(self, host: str | None = None) -> int:
        with self._changed:
            return self._in_flight.get(_key(host), 0)

    def max_in_flight(self, host: str | None = None) -> int:
        with self._changed:
            return self._max_in_flight.get(_key(host), 0)

    def starts(self, host: str | None = None) -> list[float]:
        with self._changed:
            return [r.started for r in self._seen if host is None or _key(host) in _keys(r.host)]

    def wait_until(self, predicate: Callable[[Recorder], bool], timeout: float = 5.0) -> None:
        """Block until ``predicate(self)`` holds (checked on every change); fail after timeout."""
        with self._changed:
            if not self._changed.wait_for(lambda: predicate(self), timeout):
                raise TimeoutError(f"server never saw what was expected; saw {self._seen!r}")

    def clear(self) -> None:
        with self._changed:
            self._seen.clear()
            self._max_in_flight = dict(self._in_flight)
            self._changed.notify_all()

    def _begin(self, request: web.BaseRequest) -> SeenRequest:
        seen = SeenRequest(request.method, str(request.url), request.path, request.host,
                           tuple(request.headers.items()), time.monotonic())
        with self._changed:
            self._seen.append(seen)
            for key in _keys(seen.host):
                now = self._in_flight.get(key, 0) + 1
                self._in_flight[key] = now
                self._max_in_flight[key] = max(now, self._max_in_flight.get(key, 0))
            self._changed.notify_all()
        return seen

    def _end(self, seen: SeenRequest) -> None:
        with self._changed:
            seen.finished = time.monotonic()
            for key in _keys(seen.host):
                self._in_flight[key] -= 1
            self._changed.notify_all()


def _key(host: str | None) -> str:
    return "*" if host is None else host.lower()


def _keys(host_header: str) -> set[str]:
    host = host_header.lower()
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 or "]:" in host else host
    return {"*", host, name.strip("[]"), name}


def _recording(recorder: Recorder) -> Any:
    @web.middleware
    async def record(request: web.Request, handler: Any) -> web.StreamResponse:
        seen = recorder._begin(request)
        try:
            response: web.StreamResponse = await handler(request)
            return response
        finally:
            recorder._end(seen)

    return record


# --- the HTTP server --------------------------------------------------------------------------


class ThreadedServer:
    """An aiohttp application served on ``host`` (port picked by the system) from a thread and
    loop of its own, HTTPS with ``ssl_context``. ``seen`` records every request.

    ``start()`` returns once it listens; ``stop()`` cancels requests still running (``/hang``,
    ``/endless``) and returns once everything is closed.
    """

    def __init__(
        self,
        app: web.Application | None = None,
        host: str = "127.0.0.1",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.app = app if app is not None else misbehaving_app()
        self.host = host
        self.ssl_context = ssl_context
        self.seen = Recorder()
        self.app.middlewares.insert(0, _recording(self.seen))
        self.port = 0
        self._thread = ServerThread(f"test-server-{host}")

    @property
    def scheme(self) -> str:
        return "https" if self.ssl_context is not None else "http"

    @property
    def base_url(self) -> str:
        return self.url("").rstrip("/")

    def url(self, path: str = "/") -> str:
        if not self.port:
            raise RuntimeError("the server is not running")
        return url_for(self.host, self.port, path, self.scheme)

    def start(self) -> ThreadedServer:
        self._thread.start()
        try:
            self.port = self._thread.serve_app(self.app, self.host, ssl_context=self.ssl_context)
        except BaseException:
            self._thread.stop()
            raise
        return self

    def stop(self) -> None:
        self._thread.stop()

    def __enter__(self) -> ThreadedServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


# --- the misbehaving application --------------------------------------------------------------


def misbehaving_app(
    credentials: tuple[str, str] = BASIC_AUTH, flaky_failures: int = 2
) -> web.Application:
    """The demo's routes plus every misbehaviour the tests need (see the module docstring)."""
    flaky_counts: dict[str, int] = {}

    async def hang(request: web.Request) -> web.StreamResponse:
        await asyncio.get_running_loop().create_future()  # cancelled when the server stops
        raise AssertionError("unreachable")

    async def endless(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        chunk = b"e" * (64 * 1024)
        try:
            await response.prepare(request)  # the client may be gone already
            while True:
                await response.write(chunk)
                await asyncio.sleep(0)  # let the loop notice a client that went away
        except ConnectionError:
            return response

    async def latin1(request: web.Request) -> web.StreamResponse:
        charset = "x-no-such-charset" if request.path == "/unknown-charset" else "utf-8"
        return web.Response(body=LATIN1_TEXT.encode("latin-1"),
                            headers={"Content-Type": f"text/plain; charset={charset}"})

    async def retry_after(request: web.Request) -> web.StreamResponse:
        seconds = int(number_param(request, "seconds", 1, 10**6))
        value = formatdate(time.time() + seconds, usegmt=True) if "date" in request.query \
            else str(seconds)
        return web.Response(status=429, text="slow down\n", headers={"Retry-After": value})

    async def flaky(request: web.Request) -> web.StreamResponse:
        key = request.query.get("key", "")
        failures = int(number_param(request, "failures", flaky_failures, 10**6))
        flaky_counts[key] = flaky_counts.get(key, 0) + 1
        if flaky_counts[key] <= failures:
            return web.Response(status=503, text=f"attempt {flaky_counts[key]} fails\n")
        return html_page("Flaky", f"attempt {flaky_counts[key]} works")

    async def headers(request: web.Request) -> web.StreamResponse:
        echoed: dict[str, str] = {}
        for name, value in request.headers.items():
            echoed[name] = f"{echoed[name]}, {value}" if name in echoed else value
        return web.json_response(echoed)

    async def cookie_set(request: web.Request) -> web.StreamResponse:
        response = html_page("Cookie set")
        for name, value in (request.query or {"fetchdeck": "1"}).items():
            response.set_cookie(name, value, path="/")
        return response

    async def cookie_echo(request: web.Request) -> web.StreamResponse:
        return web.json_response(dict(request.cookies))

    async def basic_auth(request: web.Request) -> web.StreamResponse:
        expected = encode_basic_auth(*credentials)
        if request.headers.get("Authorization") != expected:
            return web.Response(status=401, text="who are you?\n",
                                headers={"WWW-Authenticate": 'Basic realm="fetchdeck tests"'})
        return html_page("Welcome", f"hello {credentials[0]}")

    async def head_405(request: web.Request) -> web.StreamResponse:
        if request.method == "HEAD":
            return web.Response(status=405, headers={"Allow": "GET"})
        return html_page("No HEAD here")

    async def page(request: web.Request) -> web.StreamResponse:
        # /page?ct=<Content-Type>&body=<text>: the body as ASCII bytes, under any declared type.
        return web.Response(body=request.query.get("body", "").encode("ascii"),
                            headers={"Content-Type": request.query.get("ct", "text/html")})

    async def redirect_to_query(request: web.Request) -> web.StreamResponse:
        if "url" not in request.query:
            raise web.HTTPBadRequest(text="url is missing")
        return redirect(request.query["url"], int(number_param(request, "status", 302, 399)))

    async def encoded(request: web.Request) -> web.StreamResponse:
        # /encoded/{br,zstd,gzip,deflate}?bytes=N: an HTML page of N bytes, really compressed.
        coding = request.match_info["coding"]
        body = encoded_page(int(number_param(request, "bytes", 5000, 10 * 1024 * 1024)))
        return web.Response(body=compress(body, coding), headers={
            "Content-Type": "text/html; charset=utf-8", "Content-Encoding": coding})

    async def pathological(request: web.Request) -> web.StreamResponse:
        # /pathological/{kind}?kb=N: N KiB of HTML made to slow a naive title parser.
        body = pathological_html(request.match_info["kind"],
                                 int(number_param(request, "kb", 256, 4096)) * 1024)
        return web.Response(body=body, headers={"Content-Type": "text/html"})

    async def chunked(request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/plain"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        for index in range(10):
            await response.write(f"chunk {index}\n".encode() * 100)
        await response.write_eof()
        return response

    async def cookie_redirect(request: web.Request) -> web.StreamResponse:
        response = redirect(request.query.get("to", "/cookie-echo"))
        response.set_cookie("hop", "1", path="/")
        return response

    app = web.Application()
    app.add_routes(DEMO_ROUTES)
    app.add_routes([
        web.get("/encoded/{coding}", encoded),
        web.get("/pathological/{kind}", pathological),
        web.get("/chunked", chunked),
        web.get("/cookie-redirect", cookie_redirect),
        web.get("/redirect-js", redirect_to("javascript:alert(1)")),
        web.get("/redirect-to", redirect_to_query),
        web.get("/page", page),
        web.get("/hang", hang),
        web.get("/endless", endless),
        web.get("/latin1", latin1),
        web.get("/unknown-charset", latin1),
        web.get("/retry-after", retry_after),
        web.get("/flaky", flaky),
        web.get("/headers", headers),
        web.get("/cookie-set", cookie_set),
        web.get("/cookie-echo", cookie_echo),
        web.get("/basic-auth", basic_auth),
        web.route("*", "/head-405", head_405),
    ])
    return app


def encoded_page(size: int) -> bytes:
    """An HTML page of exactly ``size`` bytes (at least a few dozen), titled "Encoded"."""
    head = b"<!doctype html><html><head><title>Encoded</title></head><body>"
    tail = b"</body></html>\n"
    filler = b"Fetchdeck reads what curl reads. " * (size // 33 + 1)
    return head + filler[: max(0, size - len(head) - len(tail))] + tail


def compress(body: bytes, coding: str) -> bytes:
    """``body`` compressed with a real encoder for ``Content-Encoding: coding``."""
    if coding == "br":
        import brotli

        return bytes(brotli.compress(body))
    if coding == "zstd":
        try:
            from compression import zstd  # type: ignore[import-not-found]
        except ImportError:
            from backports import zstd
        return bytes(zstd.compress(body))
    if coding == "gzip":
        import gzip

        return gzip.compress(body)
    if coding == "deflate":
        import zlib

        return zlib.compress(body)
    raise web.HTTPBadRequest(text=f"no such coding: {coding}")


def pathological_html(kind: str, size: int) -> bytes:
    """``size`` bytes of HTML that a naive title scan handles in quadratic time."""
    units = {
        "titles": b"<title>",  # every <title> opens, none closes
        "svgs": b"<svg><title>x</title>",  # titles that are not the page's, ever deeper
        "unclosed": b"<title",  # no ">" ever follows
        "no-gt": b"<a <b <c <title <svg ",  # tags that never end
        "closers": b"</title></svg>",  # closing tags with nothing open
    }
    if kind not in units:
        raise web.HTTPBadRequest(text=f"no such page: {kind}")
    unit = units[kind]
    return (unit * (size // len(unit) + 1))[:size]


# --- raw listeners ----------------------------------------------------------------------------

HUGE_HEADER = b"HTTP/1.1 200 OK\r\nX-Huge: " + b"h" * 100_000 + b"\r\nContent-Length: 0\r\n\r\n"
BAD_STATUS = b"HTTP/1.1 2x0 Fine\r\nContent-Length: 0\r\n\r\n"
BAD_CHUNKED = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"5\r\nhello\r\nZZ\r\nthis is no chunk size\r\n0\r\n\r\n")

RAW_BEHAVIOURS: dict[str, RawHandler] = {
    "reset": reset_at_once,  # RST as soon as accepted
    "reset-after-request": reset_after_request,  # reads the request head, then RST
    "close": reply_and_close(b""),  # reads the request head, then FIN with no answer
    "garbage": reply_and_close(GARBAGE),  # an SSH banner and binary bytes
    "bad-status": reply_and_close(BAD_STATUS),
    "huge-header": reply_and_close(HUGE_HEADER),  # one 100 kB header line
    "truncated": reply_and_close(TRUNCATED),  # Content-Length: 1000, 10 bytes, FIN
    "bad-chunked": reply_and_close(BAD_CHUNKED),
    "silent": silent,  # reads, never answers, holds the connection
}


def _held(data: bytes, then: bytes = b"") -> RawHandler:
    """Answer one request with ``data`` (and ``then`` a moment later), then keep the
    connection open without answering anything more: a keep-alive server that a client
    reusing the connection would wait on."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request_head(reader)
        writer.write(data)
        await writer.drain()
        if then:
            await asyncio.sleep(0.05)
            writer.write(then)
            await writer.drain()
        while await reader.read(64 * 1024):
            pass

    return handler


def _by_path(answers: dict[bytes, RawHandler]) -> RawHandler:
    """Dispatch on the request path's first bytes (the keys, longest first)."""

    async def handler(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = await read_request_head(reader)
        path = head.split(b" ", 2)[1] if head.count(b" ") >= 2 else b"/"
        for prefix in sorted(answers, key=len, reverse=True):
            if path.startswith(prefix):
                replay = asyncio.StreamReader()
                replay.feed_data(head)
                replay.feed_eof()
                await answers[prefix](replay, writer)
                while await reader.read(64 * 1024):
                    pass
                return

    return handler


def _answer(head: bytes, body: bytes) -> bytes:
    return head + b"Content-Length: %d\r\n\r\n" % len(body) + body


TLS_PROTOCOL_VERSION_ALERT = bytes([0x15, 0x03, 0x01, 0x00, 0x02, 0x02, 0x46])


async def tls_alert_protocol_version(reader: asyncio.StreamReader,
                                     writer: asyncio.StreamWriter) -> None:
    """Read a TLS ClientHello record and answer it as a server that speaks only TLS versions
    the client does not offer: a fatal protocol_version alert, then a clean close."""
    header = await reader.readexactly(5)
    await reader.readexactly(int.from_bytes(header[3:5], "big"))
    writer.write(TLS_PROTOCOL_VERSION_ALERT)
    await writer.drain()


def set_cookie_flood(count: int = 100, size: int = 8000) -> bytes:
    """A 200 answer with ``count`` Set-Cookie headers of about ``size`` bytes each."""
    cookies = b"".join(b"Set-Cookie: c%d=%s; Path=/\r\n" % (i, b"v" * size)
                       for i in range(count))
    # Connection: close, as the listener closes after answering: a client must not try to
    # reuse the connection (and fail on a closed one, by chance).
    return (b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n" + cookies
            + b"Content-Length: 2\r\n\r\nok")


# Servers that send what no honest server does: bytes that are not UTF-8, terminal escapes,
# impossible statuses, bodies where none may be, Locations that are no URL.
HOSTILE_BEHAVIOURS: dict[str, RawHandler] = {
    "latin1-reason": reply_and_close(
        b"HTTP/1.1 404 Nicht gefunden \xe4\r\nContent-Length: 0\r\n\r\n"),
    "escapes": reply_and_close(_answer(
        b"HTTP/1.1 200 O\x07K\r\nServer: x\x1b]0;pwned\x07\r\n"
        b"Content-Type: text/html; charset=\xe4\x1b[2J\r\nX-Thing: caf\xe9 \x1b[31mred\r\n",
        b"<title>nul\x00 bel\x07 esc\x1b[2J \xe4</title>")),
    "redirect-js-bytes": reply_and_close(
        b"HTTP/1.1 302 Found\r\nLocation: javascript:\xe4\x1b]0;x\x07\r\n"
        b"Content-Length: 0\r\n\r\n"),
    "redirect-port": reply_and_close(
        b"HTTP/1.1 301 Moved\r\nLocation: http://127.0.0.1:99999/\r\nContent-Length: 0\r\n\r\n"),
    "redirect-bad-host": reply_and_close(
        b"HTTP/1.1 302 Found\r\nLocation: http://\xe4\x1b/x\r\nContent-Length: 0\r\n\r\n"),
    "redirect-no-location": reply_and_close(
        b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"),
    "status-099": reply_and_close(b"HTTP/1.1 099 Early\r\nContent-Length: 0\r\n\r\n"),
    "status-600": reply_and_close(b"HTTP/1.1 600 Beyond\r\nContent-Length: 0\r\n\r\n"),
    "status-999": reply_and_close(b"HTTP/1.1 999 Custom\r\nContent-Length: 0\r\n\r\n"),
    # An interim answer left as the last one: a protocol switch nobody asked for, and one
    # before the real answer (which aiohttp reads past).
    "switching-protocols": reply_and_close(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade"
        b"\r\n\r\n"),
    "early-hints": reply_and_close(
        b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\n\r\n"
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    # A 204 whose body follows a moment later on a connection kept open, and a page on the
    # same server: a client that reuses the connection after the 204 waits forever.
    "no-content-body": _by_path({
        b"/204": _held(b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n", b"hello"),
        b"/": _held(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"),
    }),
    "cookie-flood": reply_and_close(set_cookie_flood()),
    "tls-alert": tls_alert_protocol_version,
}


class RawServers:
    """One listener per entry of ``behaviours`` (default :data:`RAW_BEHAVIOURS`), in a thread
    of their own. ``connections[name]`` counts the connections each accepted."""

    def __init__(self, host: str = "127.0.0.1",
                 behaviours: dict[str, RawHandler] | None = None) -> None:
        self.host = host
        self.behaviours = RAW_BEHAVIOURS if behaviours is None else behaviours
        self.ports: dict[str, int] = {}
        self.connections: dict[str, int] = {}
        self._lock = threading.Lock()
        self._thread = ServerThread(f"test-raw-{host}")

    def url(self, name: str, path: str = "/") -> str:
        return url_for(self.host, self.ports[name], path)

    def start(self) -> RawServers:
        self._thread.start()
        try:
            for name, handler in self.behaviours.items():
                self.connections[name] = 0
                self.ports[name] = self._thread.serve_raw(self._counted(name, handler), self.host)
        except BaseException:
            self._thread.stop()
            raise
        return self

    def stop(self) -> None:
        self._thread.stop()

    def __enter__(self) -> RawServers:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _counted(self, name: str, handler: RawHandler) -> RawHandler:
        async def counted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            with self._lock:
                self.connections[name] += 1
            await handler(reader, writer)

        return counted


# --- TLS --------------------------------------------------------------------------------------


class TLS:
    """A throwaway certificate authority (trustme) and the contexts built on it.

    ``ca_pem`` is the CA certificate as a PEM file, for ``--ca-file`` / ``Settings.ca_file``.
    """

    def __init__(self, directory: Path) -> None:
        self.ca = trustme.CA(organization_name="Fetchdeck test CA")
        self.ca_pem = directory / "fetchdeck-test-ca.pem"
        self.ca.cert_pem.write_to_path(str(self.ca_pem))

    def server_context(self, *hostnames: str) -> ssl.SSLContext:
        """A server context with a certificate for ``hostnames`` (default: 127.0.0.1, localhost)."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self.ca.issue_cert(*(hostnames or ("127.0.0.1", "localhost"))).configure_cert(context)
        return context

    def client_context(self) -> ssl.SSLContext:
        """A client context that trusts this CA only."""
        context = ssl.create_default_context()
        self.ca.configure_trust(context)
        return context


# --- forward proxy ----------------------------------------------------------------------------

HOP_BY_HOP = frozenset({
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "proxy-connection",
    "te", "trailer", "transfer-encoding", "upgrade",
})
_UPSTREAM = web.AppKey("upstream", aiohttp.ClientSession)


def proxy_app(credentials: tuple[str, str] | None = None) -> web.Application:
    """A forward proxy for plain ``http://`` requests (absolute-form request lines).

    Serve it with :class:`ThreadedServer`; its ``seen`` then records every proxied request, with
    the target URL. ``CONNECT`` (https through the proxy) is answered 501; with ``credentials``,
    requests without the matching ``Proxy-Authorization`` get 407; an unreachable target, 502.
    """

    async def open_session(app: web.Application) -> None:
        app[_UPSTREAM] = aiohttp.ClientSession(
            auto_decompress=False, cookie_jar=aiohttp.DummyCookieJar())

    async def close_session(app: web.Application) -> None:
        await app[_UPSTREAM].close()

    # A middleware, not a route: CONNECT's authority-form target ("host:port") matches no route.
    @web.middleware
    async def forward(request: web.Request, handler: Any) -> web.StreamResponse:
        if credentials is not None and request.headers.get("Proxy-Authorization") \
                != encode_basic_auth(*credentials):
            return web.Response(status=407, text="proxy credentials needed\n",
                                headers={"Proxy-Authenticate": 'Basic realm="test proxy"'})
        if request.method == "CONNECT":
            return web.Response(status=501, text="this proxy does not tunnel\n")
        if not request.raw_path.startswith("http://"):
            return web.Response(status=400, text="not a proxy request\n")
        upstream = request.app[_UPSTREAM]
        response: web.StreamResponse | None = None
        try:
            async with upstream.request(
                request.method, request.raw_path, headers=_end_to_end(request.headers.items()),
                data=await request.read() or None, allow_redirects=False,
            ) as answer:
                response = web.StreamResponse(status=answer.status, reason=answer.reason)
                response.headers.extend(_end_to_end(answer.headers.items()))
                await response.prepare(request)
                with contextlib.suppress(ConnectionError):  # the client went away
                    async for chunk in answer.content.iter_any():
                        await response.write(chunk)
                    await response.write_eof()
                return response
        except aiohttp.ClientError as exc:
            if response is None or not response.prepared:
                return web.Response(status=502, text=f"upstream failed: {exc!r}\n")
            if request.transport is not None:
                request.transport.close()  # mid-body: the client must not see a complete answer
            return response

    app = web.Application(middlewares=[forward])
    app.on_startup.append(open_session)
    app.on_cleanup.append(close_session)
    return app


def _end_to_end(headers: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in headers if k.lower() not in HOP_BY_HOP]
