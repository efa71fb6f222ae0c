"""One URL, fetched: attempts with retries, redirects, a capped body read, timings.

:func:`fetch` fills the :class:`Result` it is given as it goes, so that whatever it learned
(status, redirect chain, attempts) survives an exception; the run's done-callback finishes the
record from the task's outcome.
"""

from __future__ import annotations

import asyncio
import codecs
import contextvars
import email.utils
import functools
import hashlib
import html
import random
import re
import socket
import ssl
import sys
import time
from dataclasses import dataclass, field
from typing import Any

import aiohappyeyeballs
import aiohttp
from aiohttp.abc import ResolveResult
from multidict import CIMultiDict, istr
from yarl import URL

from app.core.environment import Environment
from app.core.errors import KIND_INFO, RETRYABLE, RETRYABLE_STATUS, FetchError, Kind, classify
from app.core.result import NO_TIMINGS, Details, Hop, Result, Timings
from app.core.settings import Settings, SettingsError

CHUNK = 64 * 1024
PREVIEW_BYTES = 16 * 1024
TITLE_SCAN_BYTES = 256 * 1024
BACKOFF_BASE = 0.5
BACKOFF_MAX = 30.0

CHARSET_CHECK_BYTES = 64 * 1024
_TEXTUAL = re.compile(r"json|xml|javascript|csv")
_TITLE_RE = re.compile(rb"<title[^>]*>(.*?)</title", re.IGNORECASE | re.DOTALL)


@dataclass(slots=True)
class HostState:
    """What a run knows about one host: requests in flight, and when the next may start."""

    active: int = 0
    next_start: float = 0.0  # monotonic time; rate limit
    paused_until: float = 0.0  # monotonic time; Retry-After


@dataclass(slots=True)
class Fetcher:
    """The per-run context every URL's task shares."""

    settings: Settings
    session: aiohttp.ClientSession
    environment: Environment = field(default_factory=Environment)
    hosts: dict[str, HostState] = field(default_factory=dict)
    timeout: aiohttp.ClientTimeout = field(init=False)
    # Every request's keyword arguments to aiohttp, made once per run.
    options: dict[str, Any] = field(init=False)
    # Timings of new connections by the task that made them (see _TimedConnector).
    new_connections: dict[Any, Any] = field(init=False)

    def __post_init__(self) -> None:
        self.timeout = aiohttp.ClientTimeout(total=self.settings.timeout,
                                             connect=self.settings.connect_timeout)
        self.options = {
            "allow_redirects": self.settings.follow_redirects,
            # aiohttp gives up when the Nth redirect arrives, having followed N-1 of them.
            "max_redirects": self.settings.max_redirects + 1,
            "timeout": self.timeout,
        }
        self.new_connections = getattr(self.session.connector, "phases", {})

    def host(self, name: str) -> HostState:
        state = self.hosts.get(name)
        if state is None:
            state = self.hosts[name] = HostState()
        return state


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
class _Phases:
    """A new connection's timings, in ms; None for a phase that did not happen."""

    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None


# The connection the current task is resolving a host name for, set only while it does.
_RESOLVING_FOR: contextvars.ContextVar[_Phases | None] = contextvars.ContextVar(
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
        self.phases: dict[asyncio.Task[Any] | None, _Phases] = {}

    def _phases(self) -> _Phases:
        task = asyncio.current_task(self._loop)
        phases = self.phases.get(task)
        if phases is None:
            phases = self.phases[task] = _Phases()
        return phases

    async def _resolve_host(self, host: str, port: int, traces: Any = None) -> Any:
        token = _RESOLVING_FOR.set(self._phases())
        try:
            return await super()._resolve_host(host, port, traces=traces)
        finally:
            _RESOLVING_FOR.reset(token)

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


def open_session(settings: Settings,
                 ssl_arg: ssl.SSLContext | bool | None = None) -> aiohttp.ClientSession:
    """The session for one run. Call inside a coroutine; close it before the loop stops.

    ``ssl_arg`` is :func:`make_ssl`'s answer when the caller made it already (off the loop).
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
    jar: aiohttp.abc.AbstractCookieJar = (
        aiohttp.CookieJar(unsafe=True) if settings.cookies else aiohttp.DummyCookieJar()
    )
    return aiohttp.ClientSession(
        connector=connector,
        cookie_jar=jar,
        # The user's own headers only: merging session headers into every request costs
        # more than aiohttp's default headers, which is where the User-Agent goes.
        headers=CIMultiDict(settings.headers) if settings.headers else None,
        request_class=_request_class(settings.user_agent),
        proxy=settings.proxy,
        # Environment proxies and netrc are read once per run (see app.core.environment).
        trust_env=False,
        auto_decompress=True,
        timeout=aiohttp.ClientTimeout(total=None),
    )


async def fetch(fetcher: Fetcher, url: URL, result: Result,
                host: HostState | None = None) -> None:
    """Fetch ``url`` into ``result``, retrying what is worth retrying.

    Returns normally when a response was read (any status); raises when there is none. Before
    raising, ``result`` holds what was learned; the exception's ``__cause__`` chain is intact.
    ``host`` is the run's state for the URL's host (rate limit, Retry-After pause), keyed as
    :func:`app.core.targets.check_line` keys hosts; looked up when not given.
    """
    settings = fetcher.settings
    if host is None:
        host = fetcher.host((url.raw_host or "").lower())
    method = settings.method.upper()
    attempt = 0
    notes: list[str] = []
    while True:
        attempt += 1
        if attempt > 1:
            _forget_attempt(result)
        result.attempts = attempt
        if settings.rate > 0 or host.paused_until:
            await _wait_turn(host, settings)
        try:
            if method == "HEAD-THEN-GET":
                status = await _head_then_get(fetcher, url, result, notes)
            else:  # the common case, one coroutine less per request
                status = await _request(fetcher, method, url, result)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            kind, _ = classify(exc)
            if kind not in RETRYABLE or attempt > settings.retries:
                result.note = "; ".join(notes)
                raise
            delay = _backoff(attempt)
            notes.append(f"attempt {attempt} failed ({kind.value}); retried after {delay:.1f} s")
        else:
            if status not in RETRYABLE_STATUS or attempt > settings.retries:
                if notes:
                    result.note = "; ".join(n for n in (*notes, result.note) if n)
                return
            pause = _retry_after(result, settings)
            if pause is not None:
                host.paused_until = max(host.paused_until, time.monotonic() + pause)
                notes.append(f"attempt {attempt}: {status}, waited {pause:.1f} s for Retry-After")
                delay = 0.0  # the host pause above is the wait
            else:
                delay = _backoff(attempt)
                notes.append(f"attempt {attempt}: {status}, retried after {delay:.1f} s")
        await asyncio.sleep(delay)


def _forget_attempt(result: Result) -> None:
    """Clear what an earlier attempt recorded, so a row never mixes two attempts (a 503's
    title on the retry's 200, a status on a retry that got no answer)."""
    result.status = result.bytes = result.elapsed_ms = None
    result.reason = result.final_url = result.content_type = result.server = ""
    result.title = result.sha256 = result.note = ""
    result.redirects = 0
    result.chain = ()
    result.details = None
    result.timings = NO_TIMINGS


def basic_auth(user: str, password: str) -> str:
    """The ``Authorization`` value for HTTP basic auth."""
    encode = getattr(aiohttp, "encode_basic_auth", None)  # aiohttp 3.14 deprecates BasicAuth
    if encode is not None:
        return str(encode(user, password))
    return str(aiohttp.BasicAuth(user, password).encode())


def _backoff(attempt: int) -> float:
    """Exponential backoff with jitter: about 0.5, 1, 2, 4... seconds, capped."""
    base: float = min(BACKOFF_MAX, BACKOFF_BASE * 2.0 ** (attempt - 1))
    return base * random.uniform(0.75, 1.25)


def _retry_after(result: Result, settings: Settings) -> float | None:
    if result.details is None:
        return None
    value = next((v for k, v in result.details.response_headers if k.lower() == "retry-after"),
                 None)
    if value is None:
        return None
    return parse_retry_after(value, settings.retry_after_cap)


def parse_retry_after(value: str, cap: float) -> float | None:
    """Seconds to wait for a ``Retry-After`` value (delta-seconds or HTTP date), capped."""
    value = value.strip()
    seconds: float
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            return None
        seconds = float(when.timestamp()) - time.time()
    return max(0.0, min(seconds, cap))


async def _wait_turn(host: HostState, settings: Settings) -> None:
    """Hold the request until the host's Retry-After pause and rate limit allow it."""
    while True:
        now = time.monotonic()
        start = max(now, host.paused_until)
        if settings.rate > 0:
            start = max(start, host.next_start)
        if start <= now:
            if settings.rate > 0:
                host.next_start = now + 1.0 / settings.rate
            return
        if settings.rate > 0 and host.paused_until <= now:
            # Reserve the slot now so that waiters queue up one interval apart.
            host.next_start = start + 1.0 / settings.rate
            await asyncio.sleep(start - now)
            return
        await asyncio.sleep(start - now)


async def _head_then_get(fetcher: Fetcher, url: URL, result: Result, notes: list[str]) -> int:
    try:
        status = await _request(fetcher, "HEAD", url, result)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        kind, _ = classify(exc)
        if kind is Kind.INTERNAL:
            raise
        notes.append(f"HEAD failed ({kind.value}); fetched with GET")
    else:
        if status not in (405, 501):
            return status
        notes.append(f"HEAD answered {status}; fetched with GET")
    return await _request(fetcher, "GET", url, result)


async def _request(fetcher: Fetcher, method: str, url: URL, result: Result) -> int:
    settings = fetcher.settings
    started = time.perf_counter()
    options = fetcher.options
    environment = fetcher.environment
    if settings.auth or environment.credentials is not None or environment.proxies:
        headers = None
        if url.user is None:
            login = (settings.auth.partition(":")[::2] if settings.auth
                     else environment.login_for(url.host or ""))
            if login is not None:
                headers = {"Authorization": basic_auth(*login)}
        proxy = None if settings.proxy else environment.proxy_for(url)
        if headers is not None or proxy is not None:
            options = {**options, "headers": headers, "proxy": proxy}
    ttfb: float | None = None
    try:
        async with fetcher.session.request(method, url, **options) as resp:
            ttfb = (time.perf_counter() - started) * 1000
            _record_response(result, resp, url)
            result.details = Details(resp.request_info.headers, resp.headers)
            if method != "HEAD":
                await _read_body(resp, result, settings.max_body)
            else:
                length = resp.headers.get("Content-Length", "")
                result.bytes = int(length) if length.isdigit() else None
            return resp.status
    except aiohttp.TooManyRedirects as exc:
        # Every response received, the last being the redirect that was not followed.
        result.chain = tuple(Hop(h.status, str(h.url)) for h in exc.history)
        result.redirects = max(0, len(exc.history) - 1)
        raise FetchError(
            Kind.TOO_MANY_REDIRECTS,
            f"{KIND_INFO[Kind.TOO_MANY_REDIRECTS].title}: followed {result.redirects} "
            f"(the limit) and the server still redirects; see the redirect chain",
        ) from exc
    except TimeoutError as exc:
        # aiohttp's total timeout is the builtin TimeoutError; say which phase it cut.
        if ttfb is not None:
            raise FetchError(
                Kind.READ_TIMEOUT,
                f"{KIND_INFO[Kind.READ_TIMEOUT].title}: the response started but the body did not "
                f"finish within {settings.timeout:g} s ({result.bytes or 0:,} bytes read)",
            ) from exc
        if not isinstance(exc, aiohttp.ClientError):
            raise FetchError(
                Kind.TIMEOUT,
                f"{KIND_INFO[Kind.TIMEOUT].title}: no response within {settings.timeout:g} s",
            ) from exc
        raise
    finally:
        result.elapsed_ms = (time.perf_counter() - started) * 1000
        new = fetcher.new_connections
        phases = new.pop(asyncio.current_task(), None) if new else None
        if phases is not None:  # this attempt opened a connection (the last one, if several)
            result.timings = Timings(phases.dns_ms, phases.connect_ms, phases.tls_ms, ttfb)
        elif ttfb is not None:
            result.timings = Timings(None, None, None, ttfb)
        else:
            result.timings = NO_TIMINGS


def _record_response(result: Result, resp: aiohttp.ClientResponse, url: URL) -> None:
    # Rows can number a million: share the strings that repeat from row to row.
    result.status = resp.status
    result.reason = sys.intern(resp.reason or "")
    headers = resp.headers
    result.content_type = sys.intern(headers.get("Content-Type", ""))
    result.server = sys.intern(headers.get("Server", ""))
    history = resp.history
    if not history and resp.url is url:  # not redirected: the URL as the user wrote it
        result.final_url = result.url
        result.redirects = 0
        result.chain = ()
        return
    final = str(resp.url)
    result.final_url = result.url if final == result.url else final
    result.redirects = len(history)
    result.chain = (*(Hop(h.status, str(h.url)) for h in history),
                    Hop(resp.status, final)) if history else ()


async def _read_body(resp: aiohttp.ClientResponse, result: Result, cap: int) -> None:
    """Read the body in chunks, hashing as it goes, stopping at ``cap`` decompressed bytes.

    The first bytes are kept as the row's preview even when reading fails part way (cap,
    truncation, timeout), since those bytes are often what explains the failure.
    """
    digest = None  # made from the first chunk: a body that comes whole is hashed in one call
    head = b""
    size = 0
    result.bytes = 0
    content = resp.content
    read = content.read
    try:
        while chunk := await read(CHUNK):
            if not head:
                head = chunk[:TITLE_SCAN_BYTES]
            elif len(head) < TITLE_SCAN_BYTES:
                head += chunk[: TITLE_SCAN_BYTES - len(head)]
            if size + len(chunk) > cap:
                result.bytes = cap
                raise FetchError(
                    Kind.BODY_TOO_LARGE,
                    f"{KIND_INFO[Kind.BODY_TOO_LARGE].title}: stopped after {cap:,} bytes "
                    f"(cap {_human(cap)}); the body is larger",
                )
            if digest is None:
                digest = hashlib.sha256(chunk)
            else:
                digest.update(chunk)
            size += len(chunk)
            result.bytes = size
            if content.at_eof():
                break  # a small body is usually whole at the first read: no second await
    except aiohttp.ClientPayloadError as exc:
        if classify(exc)[0] is not Kind.TRUNCATED:
            raise
        announced = resp.content_length
        title = KIND_INFO[Kind.TRUNCATED].title
        raise FetchError(
            Kind.TRUNCATED,
            f"{title}: the server announced {announced:,} bytes and sent {size:,} before "
            "closing the connection" if announced is not None
            else f"{title}: the body ended after {size:,} bytes",
        ) from exc
    finally:
        if result.details is not None:
            result.details.preview = head[:PREVIEW_BYTES]
    result.sha256 = (digest or hashlib.sha256()).hexdigest()
    content_type = _lower(result.content_type)
    is_html = "html" in content_type or head[:512].lstrip().lower().startswith(
        (b"<!doctype html", b"<html"))
    if is_html or content_type.startswith("text/") or _TEXTUAL.search(content_type):
        codec, note = _codec(_charset(resp, result.content_type))
        # A wrong or unknown charset is no failure, but it is worth saying.
        sample = head[:CHARSET_CHECK_BYTES]
        # ASCII text is valid in any codec that reads ASCII as itself: no need to decode it.
        if not note and not (sample.isascii() and _reads_ascii(codec)):
            try:
                _whole_chars(sample, size).decode(codec)
            except UnicodeError:  # stateful codecs raise more than UnicodeDecodeError
                note = f"text is not valid {codec}; undecodable bytes replaced"
        if note:
            result.note = note
        if is_html:
            result.title = _title(head, codec)


def _whole_chars(data: bytes, size: int) -> bytes:
    """``data`` without a multi-byte character cut at its end by the check's own limit."""
    if len(data) >= size:
        return data
    return data[:-3] + data[-3:].rstrip(bytes(range(0x80, 0x100))) if len(data) > 3 else data


def extract_title(head: bytes, charset: str | None) -> tuple[str, str]:
    """The page's ``<title>`` as plain text, and a note when the charset had to be guessed."""
    codec, note = _codec(charset)
    title = _title(head, codec)
    if title and not note:
        try:
            _TITLE_RE.search(head).group(1).decode(codec)  # type: ignore[union-attr]
        except UnicodeError:
            note = f"text is not valid {codec}; undecodable bytes replaced"
    return title, note


def _title(head: bytes, codec: str) -> str:
    # One case-insensitive scan: 1.4 us for a 2.5 KB page without a title. Two bytes searches
    # for b"<t" and b"<T" as a filter before it cost 2 us each on the same page.
    match = _TITLE_RE.search(head)
    if not match:
        return ""
    text = _decode_replacing(match.group(1), codec)
    return " ".join(html.unescape(text).split())[:300]


def _decode_replacing(data: bytes, codec: str) -> str:
    """``data.decode(codec, errors="replace")``, which some codecs (punycode, UTF-7) still
    refuse for some input: then UTF-8, which never does."""
    try:
        return data.decode(codec, errors="replace")
    except UnicodeError:
        return data.decode("utf-8", errors="replace")


def decode_text(data: bytes, charset: str | None) -> tuple[str, str]:
    """Decode server text without ever failing: replacement characters, and a note saying so."""
    codec, note = _codec(charset)
    try:
        return data.decode(codec), note
    except UnicodeError:
        return (_decode_replacing(data, codec),
                note or f"text is not valid {codec}; undecodable bytes replaced")


@functools.lru_cache(maxsize=256)
def _codec(charset: str | None) -> tuple[str, str]:
    """The codec name for a declared charset, and a note when it is unknown (then UTF-8)."""
    name = (charset or "utf-8").strip().strip('"').lower()
    try:
        info = codecs.lookup(name)
        # Python has codecs that are no text charset (punycode, undefined, base64...): a server
        # naming one must not turn its row into an internal error when its text is decoded.
        usable = getattr(info, "_is_text_encoding", True)
        if usable:
            b"<title>x</title>".decode(name, errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        usable = False
    if not usable:
        return "utf-8", (f"unknown charset {charset!r}; "
                         "decoded as UTF-8 with replacement characters")
    return name, ""


_CHARSETS: dict[str, str | None] = {}


def _charset(resp: aiohttp.ClientResponse, content_type: str) -> str | None:
    """``resp.charset``, remembered by Content-Type value: aiohttp parses the header again for
    every response, and a run sees the same few values thousands of times."""
    try:
        return _CHARSETS[content_type]
    except KeyError:
        charset = _CHARSETS[content_type] = resp.charset
        if len(_CHARSETS) > 256:
            _CHARSETS.clear()
        return charset


@functools.lru_cache(maxsize=256)
def _reads_ascii(codec: str) -> bool:
    """Whether ``codec`` is known to decode any ASCII text as itself: the web's usual charsets
    (UTF-8, ASCII, ISO-8859-x, Windows-125x, KOI8, Shift JIS, EUC, GB, Big5). Not UTF-16, nor
    UTF-7, HZ, ISO-2022 (ASCII sequences switch modes), nor unicode-escape (backslashes do)."""
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return False
    return name in _ASCII_READING or name.startswith(("iso8859-", "cp125", "koi8-"))


_ASCII_READING = frozenset({
    "utf-8", "utf-8-sig", "ascii", "latin-1", "shift_jis", "cp932", "euc_jp", "euc_kr",
    "cp949", "gb2312", "gbk", "gb18030", "big5", "big5hkscs", "cp950", "tis-620", "mac-roman",
})


@functools.lru_cache(maxsize=256)
def _lower(content_type: str) -> str:
    return content_type.lower()


def _human(size: int) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:g} {unit}" if unit == "bytes" else f"{size:.4g} {unit}"
        size /= 1024  # type: ignore[assignment]
    return f"{size} bytes"
