"""The transport: the aiohttp session of a run, its TLS context, and the timed connector.

The single home of aiohttp's internals in Fetchdeck: :class:`_TimedConnector` repeats part of
aiohttp 3.11-3.14's ``TCPConnector`` to time DNS, TCP and TLS, and falls back to aiohttp's own
code where those internals are not what it expects.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aiohappyeyeballs
import aiohttp
from aiohttp.abc import ResolveResult
from multidict import CIMultiDict, istr
from yarl import URL

from app.core.settings import Settings, SettingsError

__all__ = ["Phases", "SharedJar", "basic_auth", "discard_connection", "make_ssl", "open_session",
           "origin_bound"]


def make_ssl(settings: Settings) -> ssl.SSLContext | bool:
    """What the connector verifies certificates with. Reads files: call it off the loop thread.

    ``True`` is aiohttp's default verifying context, made once when aiohttp is imported: making
    one per run cost ~40 ms of certificate loading on the GUI thread as Fetch was pressed.
    """
    if not settings.verify_tls:
        return False
    if not settings.ca_file:
        return True
    context = ssl.create_default_context()
    try:
        context.load_verify_locations(cafile=settings.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise SettingsError(f"cannot use CA file {settings.ca_file}: {exc}") from exc
    return context


class _TimedResolver(aiohttp.ThreadedResolver):
    """aiohttp's default resolver, timing each lookup into the connection being made."""

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[ResolveResult]:
        # aiohttp resolves in a task of its own, made in the asking request's context.
        phases = _RESOLVING_FOR.get()
        started = time.perf_counter()
        try:
            return await super().resolve(host, port, family)
        finally:
            if phases is not None:
                phases.dns_ms = (time.perf_counter() - started) * 1000


@dataclass(slots=True)
class Phases:
    """A new connection's timings, in ms; None for a phase that did not happen."""

    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    # Set while the connection waits for its host name: a timeout then means the name server
    # did not answer, not that the host did not.
    resolving: bool = False


# The connection the current task is resolving a host name for, set only while it does.
_RESOLVING_FOR: contextvars.ContextVar[Phases | None] = contextvars.ContextVar(
    "fetchdeck_resolving_for", default=None)


class _TimedConnector(aiohttp.TCPConnector):
    """A TCPConnector that times a new connection's DNS lookup, TCP connect and TLS handshake.

    Timings come from here and from :class:`_TimedResolver` rather than aiohttp's TraceConfig,
    whose eight signals per request cost more than the rest of Fetchdeck's bookkeeping. They
    wait in :attr:`phases` under the task that made the connection, and that task's request
    takes them when it ends; a request on a reused connection (most of a run) finds the table
    empty and pays nothing. This repeats the body of aiohttp 3.11-3.14's
    ``_wrap_create_connection`` (open the socket with happy eyeballs, then hand it to
    ``create_connection``, which does TLS) with a clock between the two steps. Where aiohttp's
    internals are not what it expects, it defers to aiohttp unchanged and the connection is not
    timed.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.phases: dict[asyncio.Task[Any] | None, Phases] = {}

    def _phases(self) -> Phases:
        task = asyncio.current_task(self._loop)
        phases = self.phases.get(task)
        if phases is None:
            phases = self.phases[task] = Phases()
        return phases

    async def _resolve_host(self, host: str, port: int, traces: Any = None) -> Any:
        phases = self._phases()
        token = _RESOLVING_FOR.set(phases)
        phases.resolving = True
        try:
            result = await super()._resolve_host(host, port, traces=traces)
        finally:
            _RESOLVING_FOR.reset(token)
        # Only an answer (or an error) ends the wait: a timeout cancelling this leaves it set.
        phases.resolving = False
        return result

    async def _wrap_create_connection(self, *args: Any, **kwargs: Any) -> Any:
        needed = ("_local_addr_infos", "_happy_eyeballs_delay", "_interleave", "_socket_factory")
        if "addr_infos" not in kwargs or not all(hasattr(self, name) for name in needed):
            return await super()._wrap_create_connection(*args, **kwargs)
        phases = self._phases()
        addr_infos = kwargs.pop("addr_infos")
        req = kwargs.pop("req")
        timeout = kwargs.pop("timeout")
        client_error = kwargs.pop("client_error", aiohttp.ClientConnectorError)
        started = time.perf_counter()
        try:
            async with asyncio.timeout(timeout.sock_connect):
                sock = await aiohappyeyeballs.start_connection(
                    addr_infos=addr_infos,
                    local_addr_infos=self._local_addr_infos,
                    happy_eyeballs_delay=self._happy_eyeballs_delay,
                    interleave=self._interleave,
                    loop=self._loop,
                    socket_factory=self._socket_factory,
                )
                connected = time.perf_counter()
                phases.connect_ms = (connected - started) * 1000
                shutdown = getattr(self, "_ssl_shutdown_timeout", None)
                if kwargs.get("ssl") and shutdown:
                    kwargs["ssl_shutdown_timeout"] = shutdown
                connection = await self._loop.create_connection(*args, **kwargs, sock=sock)
                if kwargs.get("ssl"):
                    phases.tls_ms = (time.perf_counter() - connected) * 1000
                return connection
        except ssl.CertificateError as exc:
            raise aiohttp.ClientConnectorCertificateError(req.connection_key, exc) from exc
        except ssl.SSLError as exc:
            raise aiohttp.ClientConnectorSSLError(req.connection_key, exc) from exc
        except ConnectionResetError as exc:
            if phases.connect_ms is not None and kwargs.get("ssl"):
                # TCP was up: the server reset the TLS handshake (often a server that accepts
                # only TLS versions older than ours, and says so by hanging up).
                raise aiohttp.ClientConnectorSSLError(req.connection_key, exc) from exc
            raise client_error(req.connection_key, exc) from exc
        except OSError as exc:
            if exc.errno is None and isinstance(exc, asyncio.TimeoutError):
                raise
            raise client_error(req.connection_key, exc) from exc


@functools.lru_cache(maxsize=8)
def _request_class(user_agent: str) -> type[aiohttp.ClientRequest]:
    """aiohttp's request with ``user_agent`` among its default headers, which it adds to each
    request unless the user's headers have one (a User-Agent in the settings' headers wins)."""
    defaults = {**aiohttp.ClientRequest.DEFAULT_HEADERS, istr("User-Agent"): user_agent}
    return type("FetchdeckRequest", (aiohttp.ClientRequest,), {"DEFAULT_HEADERS": defaults})


class SharedJar(aiohttp.CookieJar):
    """A run's cookie jar when the run is fetched by several processes (:mod:`app.core.pool`):
    the ``Set-Cookie`` values each response brings are passed to ``on_cookies`` too, for the
    other processes' jars, and :meth:`hear` takes theirs. aiohttp parses them on either side."""

    def __init__(self, on_cookies: Callable[[Sequence[str], str], None]) -> None:
        super().__init__(unsafe=True)
        self._on_cookies = on_cookies

    def update_cookies_from_headers(self, headers: Sequence[str], response_url: URL) -> None:
        super().update_cookies_from_headers(headers, response_url)
        if headers:
            self._on_cookies(tuple(headers), str(response_url))

    def hear(self, headers: Sequence[str], url: str) -> None:
        super().update_cookies_from_headers(list(headers), URL(url))


def open_session(settings: Settings,
                 ssl_arg: ssl.SSLContext | bool | None = None, *,
                 on_cookies: Callable[[Sequence[str], str], None] | None = None,
                 ) -> aiohttp.ClientSession:
    """The session for one run. Call inside a coroutine; close it before the loop stops.

    ``ssl_arg`` is :func:`make_ssl`'s answer when the caller made it already (off the loop).
    ``on_cookies`` hears every response's cookies (a run fetched by several processes).
    """
    if ssl_arg is None:
        ssl_arg = make_ssl(settings)
    connector = _TimedConnector(
        # The run bounds requests in flight itself; a second queue here would only hide waits
        # inside the request's timeout.
        limit=0,
        limit_per_host=0,
        ttl_dns_cache=300,
        ssl=ssl_arg,
        resolver=_TimedResolver(),
    )
    # Credentials and cookies the user set go only to the origin of each URL in the list:
    # fetch adds them per request, and drops them when a redirect leaves that origin.
    headers = [(name, value) for name, value in settings.headers
               if (name, value) not in origin_bound(settings.headers)]
    jar: aiohttp.abc.AbstractCookieJar
    if not settings.cookies:
        jar = aiohttp.DummyCookieJar()
    elif on_cookies is not None:
        jar = SharedJar(on_cookies)
    else:
        jar = aiohttp.CookieJar(unsafe=True)
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=jar,
        # The user's own headers only: merging session headers into every request costs
        # more than aiohttp's default headers, which is where the User-Agent goes.
        headers=CIMultiDict(headers) if headers else None,
        request_class=_request_class(settings.user_agent),
        proxy=settings.proxy,
        # Environment proxies and netrc are read once per run (see app.core.environment).
        trust_env=False,
        auto_decompress=True,
        timeout=aiohttp.ClientTimeout(total=None),
    )


def discard_connection(resp: aiohttp.ClientResponse) -> None:
    """Close the connection ``resp`` came on, even when aiohttp already put it back in the
    pool: a response with no body (204, 304, HEAD) releases its connection as it starts, and a
    server that sends a body anyway leaves bytes there for the next request to read.

    Uses ``ClientResponse._protocol`` (aiohttp 3.11-3.14); without it, only ``close()``.
    """
    protocol = getattr(resp, "_protocol", None)
    close = getattr(protocol, "abort", None)
    if callable(close):
        close()
    resp.close()


# Request headers a redirect to another origin must not carry (aiohttp drops the same ones).
_ORIGIN_BOUND = frozenset({"authorization", "cookie", "proxy-authorization"})


def origin_bound(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """The user's headers that belong to one origin: credentials and cookies."""
    return tuple((name, value) for name, value in headers if name.lower() in _ORIGIN_BOUND)


def basic_auth(user: str, password: str) -> str:
    """The ``Authorization`` value for HTTP basic auth."""
    encode = getattr(aiohttp, "encode_basic_auth", None)  # aiohttp 3.14 deprecates BasicAuth
    if encode is not None:
        return str(encode(user, password))
    return str(aiohttp.BasicAuth(user, password).encode())
