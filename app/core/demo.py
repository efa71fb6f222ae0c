"""The built-in demo: a loopback server whose URLs show every outcome Fetchdeck reports.

Help -> Try the demo and ``fetchdeck --demo`` start a :class:`DemoServer` and put its
:meth:`~DemoServer.sample_text` in the form. The route handlers are also the test servers'
building blocks (tests/servers.py adds the misbehaviours only tests need).
"""

from __future__ import annotations

import asyncio
import functools
import html
import zlib
from collections.abc import Callable, Coroutine
from typing import Any

from aiohttp import web

from app.core.loopback import (
    RawHandler,
    ReservedPort,
    ServerThread,
    reply_and_close,
    reset_after_request,
    url_for,
)

__all__ = [
    "DEMO_ROUTES",
    "DemoServer",
    "GARBAGE",
    "PAGES",
    "TRUNCATED",
    "demo_app",
    "gzip_bomb_body",
    "html_page",
    "number_param",
    "redirect",
    "redirect_to",
]

MIB = 1024 * 1024

# path -> (title, text) of the pages that load fine.
PAGES: dict[str, tuple[str, str]] = {
    "/": ("Fetchdeck demo", "Every URL of the demo list is served by this small server."),
    "/ok": ("OK", "A plain page that loads."),
    "/news": ("Demo news", "Nothing happened today, which is good news."),
    "/about": ("About the demo", "Pages, errors, redirects, resets and bombs, all on loopback."),
}

# A body that stops after 10 of the 1000 bytes its Content-Length announces.
TRUNCATED = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1000\r\n\r\n0123456789"
# What an SSH server says first: the kind of answer a URL with the wrong port gets.
GARBAGE = b"SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n\x00\x00\x01\x0c\x0a\x14\xde\xad\xbe\xef"

Handler = Callable[[web.Request], Coroutine[Any, Any, web.StreamResponse]]


def number_param(request: web.Request, name: str, default: float, top: float) -> float:
    """The number in query parameter or path part ``name``; a 400 answer if it is not one."""
    text = request.query.get(name) or request.match_info.get(name)
    if text is None:
        return default
    try:
        value = float(text)
    except ValueError:
        raise web.HTTPBadRequest(text=f"{name} must be a number") from None
    if not 0 <= value <= top:
        raise web.HTTPBadRequest(text=f"{name} must be between 0 and {top:g}")
    return value


def html_page(title: str, text: str = "", status: int = 200) -> web.Response:
    title, text = html.escape(title), html.escape(text)
    body = (
        f'<!doctype html>\n<html><head><meta charset="utf-8"><title>{title}</title></head>\n'
        f"<body><h1>{title}</h1><p>{text}</p></body></html>\n"
    )
    return web.Response(status=status, text=body, content_type="text/html")


def redirect(location: str, status: int = 302) -> web.Response:
    """A redirect to ``location`` exactly as given, whatever its scheme."""
    return web.Response(status=status, headers={"Location": location})


async def page(request: web.Request) -> web.StreamResponse:
    title, text = PAGES[request.path]
    return html_page(title, text)


async def status(request: web.Request) -> web.StreamResponse:
    """``/status/{code}``: answer with that status (200-599)."""
    code = int(number_param(request, "code", 200, 599))
    if code < 200:
        raise web.HTTPBadRequest(text="code must be between 200 and 599")
    if code in (204, 304):
        return web.Response(status=code)
    return web.Response(status=code, text=f"This page answers with status {code}.\n")


async def redirect_chain(request: web.Request) -> web.StreamResponse:
    """``/redirect/{hops}``: that many 302s, the last one to /ok."""
    hops = int(number_param(request, "hops", 1, 100))
    return redirect("/ok" if hops <= 1 else f"/redirect/{hops - 1}")


async def redirect_loop(request: web.Request) -> web.StreamResponse:
    """``/redirect-loop`` and ``/redirect-loop/`` send to each other, like a trailing-slash rule
    fighting another one."""
    return redirect("/redirect-loop" if request.path.endswith("/") else "/redirect-loop/")


def redirect_to(location: str) -> Handler:
    async def handler(request: web.Request) -> web.StreamResponse:
        return redirect(location)

    return handler


async def slow(request: web.Request) -> web.StreamResponse:
    """``/slow?seconds=S``: wait, then answer with a page (default 3 s)."""
    seconds = number_param(request, "seconds", 3.0, 600.0)
    await asyncio.sleep(seconds)
    return html_page("Slow page", f"This page took {seconds:g} seconds.")


async def big(request: web.Request) -> web.StreamResponse:
    """``/big?bytes=N``: a body of N bytes with a true Content-Length, sent in chunks."""
    size = int(number_param(request, "bytes", 12 * MIB, 64 * 1024 * MIB))
    response = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
    response.content_length = size
    chunk = b"x" * (256 * 1024)
    left = size
    try:
        await response.prepare(request)  # the client may be gone already (a cancelled run)
        while left > 0:
            await response.write(chunk[:left])
            left -= len(chunk)
        await response.write_eof()
    except ConnectionError:
        pass  # the client stopped reading (a body cap): aiohttp would log this as a server error
    return response


@functools.lru_cache(maxsize=4)
def gzip_bomb_body(mib: int) -> bytes:
    """``mib`` MiB of zeros, gzip-compressed (64 MiB make about 64 KiB)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = bytes(MIB)
    return b"".join(compressor.compress(block) for _ in range(mib)) + compressor.flush()


async def gzip_bomb(request: web.Request) -> web.StreamResponse:
    """``/gzip-bomb?mib=M``: a small gzip body that unpacks to M MiB (default 64)."""
    mib = int(number_param(request, "mib", 64, 1024))
    body = await asyncio.to_thread(gzip_bomb_body, mib)  # compressing takes ~0.2 s
    headers = {"Content-Encoding": "gzip", "Content-Type": "text/html"}
    return web.Response(body=body, headers=headers)


DEMO_ROUTES: list[web.RouteDef] = [
    *(web.get(path, page) for path in PAGES),
    web.get("/status/{code}", status),
    web.get("/redirect/{hops}", redirect_chain),
    web.get("/redirect-loop", redirect_loop),
    web.get("/redirect-loop/", redirect_loop),
    web.get("/redirect-file", redirect_to("file:///etc/passwd")),
    web.get("/slow", slow),
    web.get("/big", big),
    web.get("/gzip-bomb", gzip_bomb),
]

# Misbehaviours aiohttp.web cannot produce, each on a port of its own.
DEMO_RAW: dict[str, RawHandler] = {
    "reset": reset_after_request,
    "truncated": reply_and_close(TRUNCATED),
    "not-http": reply_and_close(GARBAGE),
}

# (comment, URLs): "/path" is on the demo's web server, "@name/path" on the raw listener or the
# refusing port of that name (which ignores the path; it is there to be read).
SAMPLES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Pages that load: status 200, each with a title", ("/", "/news", "/about")),
    ("The server answers with an error: not found, internal error, unavailable (retried first)",
     ("/status/404", "/status/500", "/status/503")),
    ("Redirects: three hops to a page; a loop that never ends; a redirect to a file on your\n"
     "# computer, which Fetchdeck never follows",
     ("/redirect/3", "/redirect-loop", "/redirect-file")),
    ("A slow page: it answers after 3 seconds", ("/slow?seconds=3",)),
    ("Broken answers: the connection is reset; the body is shorter than its Content-Length;\n"
     "# the answer is not HTTP at all (an SSH server)",
     ("@reset/reset", "@truncated/truncated", "@not-http/not-http")),
    ("Too much: a 12 MiB body, over the 10 MiB cap; a gzip bomb, 64 KiB that unpack to 64 MiB",
     (f"/big?bytes={12 * MIB}", "/gzip-bomb")),
    ("Nothing listens on this port: the connection is refused", ("@refused/refused",)),
)


def demo_app() -> web.Application:
    app = web.Application()
    app.add_routes(DEMO_ROUTES)
    return app


class DemoServer:
    """The demo's web server and raw listeners, in a thread of their own on loopback.

    ``start()`` returns once everything listens; ``stop()`` closes it all. Ports are picked by
    the system, so ``sample_urls()`` is only known after ``start()``.
    """

    def __init__(self, host: str = "127.0.0.1") -> None:
        self.host = host
        self._thread = ServerThread("fetchdeck-demo")
        self._ports: dict[str, int] = {}
        self._refused: ReservedPort | None = None

    def start(self) -> None:
        self._thread.start()
        try:
            self._ports[""] = self._thread.serve_app(demo_app(), self.host)
            for name, handler in DEMO_RAW.items():
                self._ports[name] = self._thread.serve_raw(handler, self.host)
            self._refused = ReservedPort(self.host)
            self._ports["refused"] = self._refused.port
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        self._thread.stop()
        if self._refused is not None:
            self._refused.close()
            self._refused = None
        self._ports.clear()

    def __enter__(self) -> DemoServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` of the demo's web server."""
        return self.url("").rstrip("/")

    def url(self, path: str) -> str:
        """The URL of ``path`` on the web server, or of ``@name/path`` on a raw listener."""
        name = ""
        if path.startswith("@"):
            name, _, path = path[1:].partition("/")
        if name not in self._ports:
            raise RuntimeError("the demo server is not running" if not self._ports
                               else f"no demo listener named {name!r}")
        return url_for(self.host, self._ports[name], path)

    def sample_urls(self) -> list[str]:
        return [self.url(path) for _, paths in SAMPLES for path in paths]

    def sample_text(self) -> str:
        """The sample URLs as form text, each group under ``#`` comments that say what it shows."""
        lines = [
            f"# The Fetchdeck demo: a small server on this computer ({self.base_url})",
            "# that stops when Fetchdeck quits. Fetch to see every kind of outcome; all",
            "# finish within about a minute. Lines starting with # are skipped.",
        ]
        for comment, paths in SAMPLES:
            lines += ["", f"# {comment}", *(self.url(path) for path in paths)]
        return "\n".join(lines) + "\n"
