"""One URL, fetched: attempts with retries, redirects (followed here, hop by hop), a capped
body read, bounded headers, timings.

:func:`fetch` fills a :class:`~app.core.result.Response` of its own as it goes and returns it;
when there is no usable answer it raises :class:`~app.core.errors.FetchFailed`, which carries
that Response (so what was learned before the failure, the redirect chain, the attempts,
survives) with the real exception as its ``__cause__``. The run's done-callback builds the row.
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
from aiohttp import hdrs
from yarl import URL

from app.core.environment import Environment
from app.core.errors import (
    KIND_INFO,
    RETRYABLE,
    RETRYABLE_STATUS,
    FetchError,
    FetchFailed,
    Kind,
    classify,
)
from app.core.pacing import HostState, backoff, parse_retry_after, wait_turn
from app.core.result import NO_TIMINGS, Details, Hop, Response, Timings
from app.core.settings import Settings
from app.core.text import (
    TITLE_SCAN_BYTES,
    charset_of,
    clean,
    clean_text,
    codec_for,
    human_size,
    reads_ascii,
    title_of,
    whole_chars,
)
from app.core.transport import basic_auth, discard_connection, origin_bound

__all__ = ["CHUNK", "PREVIEW_BYTES", "Fetcher", "fetch"]

CHUNK = 64 * 1024
PREVIEW_BYTES = 16 * 1024
CHARSET_CHECK_BYTES = 64 * 1024
_TEXTUAL = re.compile(r"json|xml|javascript|csv")


@dataclass(slots=True)
class Fetcher:
    """The per-run context every URL's task shares."""

    settings: Settings
    session: aiohttp.ClientSession
    environment: Environment = field(default_factory=Environment)
    timeout: aiohttp.ClientTimeout = field(init=False)
    # Every request's keyword arguments to aiohttp, made once per run.
    options: dict[str, Any] = field(init=False)
    # Timings of new connections by the task that made them (see app.core.transport).
    new_connections: dict[Any, Any] = field(init=False)
    follow: bool = field(init=False)
    # The user's headers that are only sent to the origin of the URL in the list (see
    # app.core.transport.open_session, which leaves them out of the session's headers).
    bound_headers: tuple[tuple[str, str], ...] = field(init=False)
    # Whether requests need options of their own (credentials, environment proxies).
    per_request: bool = field(init=False)
    # Told of each Retry-After pause, (host, seconds): a run fetched by several processes
    # pauses the host in each (app.core.pool).
    on_pause: Callable[[str, float], None] | None = None

    def __post_init__(self) -> None:
        settings = self.settings
        self.timeout = aiohttp.ClientTimeout(total=settings.timeout,
                                             connect=settings.connect_timeout)
        # Redirects are followed by fetch itself (see _request).
        self.options = {"allow_redirects": False, "timeout": self.timeout}
        self.follow = settings.follow_redirects
        self.new_connections = getattr(self.session.connector, "phases", {})
        self.bound_headers = origin_bound(settings.headers)
        environment = self.environment
        self.per_request = bool(settings.auth or environment.credentials is not None
                                or environment.proxies or self.bound_headers)

    def request_options(self, url: URL, first: URL, keep_credentials: bool) -> dict[str, Any]:
        """The options of a request to ``url``, reached from ``first`` (the list's URL) by
        redirects; credentials only while ``keep_credentials`` (no origin change yet)."""
        settings, environment = self.settings, self.environment
        headers: dict[str, str] | None = None
        if keep_credentials:
            if self.bound_headers:
                headers = dict(self.bound_headers)
            if url.user is None:
                if first.user is not None:  # a redirect on the origin of a URL with userinfo
                    login: tuple[str, str] | None = (first.user, first.password or "")
                elif settings.auth:
                    user, _, password = settings.auth.partition(":")
                    login = (user, password)
                else:
                    login = environment.login_for(url.host or "")
                if login is not None:
                    headers = {**(headers or {}), "Authorization": basic_auth(*login)}
        proxy = None if settings.proxy else environment.proxy_for(url)
        if headers is None and proxy is None:
            return self.options  # shared: callers never change it
        return {**self.options, "headers": headers, "proxy": proxy}


async def fetch(fetcher: Fetcher, url: URL, text: str, host: HostState) -> Response:
    """Fetch ``url`` (written ``text`` in the list), retrying what is worth retrying.

    Returns the last attempt's :class:`Response` when one was read (any status). Raises
    :class:`FetchFailed` (its ``response`` what was learned, its ``__cause__`` the error) when
    there is none; cancellation propagates as it is. ``host`` is the run's state for the URL's
    host (rate limit, Retry-After pause).
    """
    settings = fetcher.settings
    method = settings.method.upper()
    response = Response()
    attempt = 0
    notes: list[str] = []
    while True:
        attempt += 1
        if attempt > 1:
            response.forget()
        response.attempts = attempt
        if settings.rate > 0 or host.paused_until:
            await wait_turn(host, settings)
        try:
            if method == "HEAD-THEN-GET":
                status = await _head_then_get(fetcher, url, text, response, notes)
            else:  # the common case, one coroutine less per request
                status = await _request(fetcher, method, url, text, response)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            kind, _ = classify(exc)
            if kind not in RETRYABLE or attempt > settings.retries:
                response.note = _join(*notes, response.note)
                raise FetchFailed(response) from exc
            delay = backoff(attempt)
            notes.append(f"attempt {attempt} failed ({kind.value}); retried after {delay:.1f} s")
        else:
            if status not in RETRYABLE_STATUS or attempt > settings.retries:
                if notes:
                    response.note = _join(*notes, response.note)
                return response
            pause = _retry_after(response, settings)
            if pause is not None:
                host.paused_until = max(host.paused_until, time.monotonic() + pause)
                if fetcher.on_pause is not None:
                    fetcher.on_pause(host.name, pause)
                notes.append(f"attempt {attempt}: {status}, waited {pause:.1f} s for Retry-After")
                delay = 0.0  # the host pause above is the wait
            else:
                delay = backoff(attempt)
                notes.append(f"attempt {attempt}: {status}, retried after {delay:.1f} s")
        await asyncio.sleep(delay)


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def _retry_after(response: Response, settings: Settings) -> float | None:
    if response.details is None:
        return None
    value = next((v for k, v in response.details.response_headers
                  if k.lower() == "retry-after"), None)
    if value is None:
        return None
    return parse_retry_after(value, settings.retry_after_cap)


# HEAD answers that a GET may well not share: a framework with no HEAD route (404, 405, 501),
# a firewall or CDN rule written for GET (400, 403, 406), a handler that crashes on HEAD (500).
# Other statuses (a 3xx, 401, 410, 429, the retried 502-504...) are the page's real answer.
HEAD_FALLBACK_STATUS = frozenset({400, 403, 404, 405, 406, 500, 501})
# Failures of a HEAD that a GET may not meet: the server closed or reset the connection, or
# answered HEAD with something that is not HTTP (a body after it). Never DNS, refused, TLS,
# timeouts, redirect limits or unsafe redirects: a GET would meet them again.
HEAD_FALLBACK_KINDS = frozenset({Kind.RESET, Kind.PROTOCOL})


async def _head_then_get(fetcher: Fetcher, url: URL, text: str, response: Response,
                         notes: list[str]) -> int:
    try:
        status = await _request(fetcher, "HEAD", url, text, response)
    except asyncio.CancelledError:
        raise
    except Exception as exc:
        kind, _ = classify(exc)
        if kind not in HEAD_FALLBACK_KINDS:
            raise
        notes.append(f"HEAD failed ({kind.value}); fetched with GET")
    else:
        if status not in HEAD_FALLBACK_STATUS:
            return status
        notes.append(f"HEAD answered {status}; fetched with GET")
    # The GET's own answer: nothing of the HEAD's (its chain, notes, length) may remain.
    attempts = response.attempts
    response.forget()
    response.attempts = attempts
    return await _request(fetcher, "GET", url, text, response)


# Statuses that send the client elsewhere when they carry a Location (as aiohttp follows).
REDIRECT_STATUS = frozenset({301, 302, 303, 307, 308})


async def _request(fetcher: Fetcher, method: str, url: URL, text: str,
                   response: Response) -> int:
    """One attempt: the request, the redirects it leads to, and the final response's body.

    Redirects are followed here rather than by aiohttp, so that every response answered is in
    the chain even when a later hop fails (refused, an invalid or unsafe Location), and the row
    says where it broke. Each hop keeps what aiohttp's own loop did: cookies (the session's
    jar), credentials only while the origin stays the same, 303 turning into GET, a relative
    Location resolved against the hop, a 3xx without Location being the final answer, and one
    total timeout for the whole attempt.
    """
    settings = fetcher.settings
    started = time.perf_counter()
    options = fetcher.options
    if fetcher.per_request:
        options = fetcher.request_options(url, url, True)
    ttfb: float | None = None
    first = url
    hops: list[Hop] | None = None
    keep_credentials = True
    unfollowed = False
    try:
        while True:
            async with fetcher.session.request(method, url, **options) as resp:
                status = resp.status
                if status in REDIRECT_STATUS and fetcher.follow:
                    location = resp.headers.get(hdrs.LOCATION) or resp.headers.get(hdrs.URI)
                    if location is not None:
                        if hops is None:
                            hops = []
                        hops.append(Hop(status, str(resp.url)))
                        _record_hops(response, hops, url)
                        url, method, options, keep_credentials = _next_hop(
                            fetcher, first, url, location, method, status, response, started,
                            keep_credentials)
                        continue
                    unfollowed = True
                ttfb = (time.perf_counter() - started) * 1000
                if not 200 <= status <= 599:
                    if 100 <= status < 200:
                        # aiohttp reads past interim answers (100, 103); one left as the
                        # final answer is no page (101: a protocol switch nobody asked for).
                        _record_response(response, resp, url, text, hops)
                        raise FetchError(Kind.PROTOCOL, (
                            f"{KIND_INFO[Kind.PROTOCOL].title}: the server answered "
                            f"{status} {response.reason}".rstrip()
                            + ", an interim answer, and no final one"))
                    raise FetchError(Kind.PROTOCOL, (
                        f"{KIND_INFO[Kind.PROTOCOL].title}: status {status} is outside "
                        "HTTP's 100-599"))
                _record_response(response, resp, url, text, hops)
                if unfollowed:
                    response.note = _join(response.note, f"a {status} without a Location "
                                          "header: nothing to follow")
                headers = resp.headers
                response.details = Details(
                    resp.request_info.headers,
                    headers if len(headers) <= FEW_HEADERS else _bounded(headers, response))
                if status == 204 or status == 304:
                    _no_body_expected(resp, status)
                if method != "HEAD":
                    await _read_body(resp, response, settings.max_body)
                return status
    except TimeoutError as exc:
        # aiohttp's total timeout is the builtin TimeoutError; say which phase it cut.
        if ttfb is not None:
            raise FetchError(
                Kind.READ_TIMEOUT,
                f"{KIND_INFO[Kind.READ_TIMEOUT].title}: the response started but the body did not "
                f"finish within {settings.timeout:g} s ({response.bytes or 0:,} bytes read)",
            ) from exc
        kind, message = _timeout(fetcher, exc)
        if hops:
            raise _after_redirects(kind, message, hops, url) from exc
        if kind is Kind.DNS or not isinstance(exc, aiohttp.ClientError):
            raise FetchError(kind, message) from exc
        raise
    except Exception as exc:
        # A hop after a redirect failed before answering: say where the chain broke. (A
        # failure of the final response's body, or of the chain itself, says it already.)
        if hops and ttfb is None and not (
                isinstance(exc, FetchError) and exc.kind in _CHAIN_KINDS):
            kind, message = classify(exc)
            if kind is not Kind.INTERNAL:
                raise _after_redirects(kind, message, hops, url) from exc
        raise
    finally:
        response.elapsed_ms = (time.perf_counter() - started) * 1000
        new = fetcher.new_connections
        phases = new.pop(asyncio.current_task(), None) if new else None
        if phases is not None:  # this attempt opened a connection (the last one, if several)
            response.timings = Timings(phases.dns_ms, phases.connect_ms, phases.tls_ms, ttfb)
        elif ttfb is not None:
            response.timings = Timings(None, None, None, ttfb)
        else:
            response.timings = NO_TIMINGS


# Failures that are about the chain itself, whose message names the Location already.
_CHAIN_KINDS = frozenset({Kind.TOO_MANY_REDIRECTS, Kind.UNSAFE_REDIRECT, Kind.INVALID_URL})


def _timeout(fetcher: Fetcher, exc: TimeoutError) -> tuple[Kind, str]:
    """The kind and message of a timeout before any response: a name server that did not
    answer (the connection was still resolving its host when time ran out), the connect
    timeout, or the attempt's whole time."""
    new = fetcher.new_connections
    phases = new.get(asyncio.current_task()) if new else None
    if phases is not None and phases.resolving:
        limit = fetcher.timeout.connect if isinstance(exc, aiohttp.ClientError) \
            else fetcher.settings.timeout
        return Kind.DNS, (f"{KIND_INFO[Kind.DNS].title}: the name server did not answer "
                          f"within {limit:g} s")
    if not isinstance(exc, aiohttp.ClientError):
        return Kind.TIMEOUT, (f"{KIND_INFO[Kind.TIMEOUT].title}: no response within "
                              f"{fetcher.settings.timeout:g} s")
    return classify(exc)


def _after_redirects(kind: Kind, message: str, hops: list[Hop], url: URL) -> FetchError:
    count = len(hops)
    where = clean_text(str(url))
    return FetchError(kind, f"{message} (after {count} redirect{'s' * (count != 1)}, at {where})")


def _record_hops(response: Response, hops: list[Hop], url: URL) -> None:
    """What a failure after this hop still shows: every response answered so far."""
    response.chain = tuple(hops)
    response.redirects = len(hops)
    response.first_status = hops[0].status
    response.status = hops[-1].status
    response.final_url = str(url)


def _next_hop(fetcher: Fetcher, first: URL, url: URL, location: str, method: str, status: int,
              response: Response, started: float,
              keep_credentials: bool) -> tuple[URL, str, dict[str, Any], bool]:
    """The URL, method and request options of the redirect's target, or the FetchError that
    stops the chain here (too many redirects, an invalid or non-http(s) Location)."""
    settings = fetcher.settings
    hops = len(response.chain)
    if hops > settings.max_redirects:
        # Every response received, the last being the redirect that was not followed.
        response.redirects = hops - 1
        raise FetchError(
            Kind.TOO_MANY_REDIRECTS,
            f"{KIND_INFO[Kind.TOO_MANY_REDIRECTS].title}: followed {hops - 1} "
            f"(the limit) and the server still redirects; see the redirect chain",
        )
    target = _redirect_target(url, location)
    if status == 303 and method != "HEAD":
        method = "GET"
    response.final_url = str(target)
    # One origin change drops the credentials for the rest of the chain, as aiohttp does.
    keep_credentials = keep_credentials and target.origin() == url.origin()
    remaining = settings.timeout - (time.perf_counter() - started)
    if remaining <= 0:
        raise TimeoutError
    options = {**fetcher.request_options(target, first, keep_credentials),
               "timeout": aiohttp.ClientTimeout(total=remaining,
                                                connect=fetcher.timeout.connect)}
    return target, method, options, keep_credentials


def _redirect_target(url: URL, location: str) -> URL:
    """Where a Location sends ``url``: resolved as aiohttp (and browsers) would, or a
    FetchError saying why it cannot be followed."""
    shown = clean_text(location[:500])
    try:
        target = URL(location)
        scheme = target.scheme
        if scheme and scheme not in ("http", "https"):
            title = KIND_INFO[Kind.UNSAFE_REDIRECT].title
            raise FetchError(Kind.UNSAFE_REDIRECT, f"{title}: the server redirected to {shown}")
        if not scheme:
            target = url.join(target)
        elif target.raw_host is None and not location[len(scheme) + 1:].startswith("//"):
            # "http:/path" or "http:path" is a reference to the current URL, as browsers read it.
            target = url.join(URL(location[len(scheme) + 1:]))
        if not target.raw_host:
            raise ValueError("it has no host")
        target.origin()  # raises for what yarl parsed but cannot make an origin of
    except FetchError:
        raise
    except ValueError as exc:  # UnicodeError and yarl's own errors are ValueErrors
        title = KIND_INFO[Kind.INVALID_URL].title
        raise FetchError(Kind.INVALID_URL, f"{title}: the server redirected to {shown}, which "
                         f"is not a valid URL ({clean_text(str(exc))})") from exc
    return target


def _no_body_expected(resp: aiohttp.ClientResponse, status: int) -> None:
    """A 204 or 304 has no body (RFC 9110). One that announces one leaves bytes on the
    connection that the next request would read as its answer, or wait behind: fail it now,
    and close the connection rather than reuse it."""
    length = resp.headers.get(hdrs.CONTENT_LENGTH)
    chunked = hdrs.TRANSFER_ENCODING in resp.headers
    if chunked or (length is not None and length.strip() not in ("", "0")):
        discard_connection(resp)
        announced = "Transfer-Encoding: chunked" if chunked else \
            f"Content-Length: {clean_text(length or '')[:40]}"
        raise FetchError(Kind.PROTOCOL, (
            f"{KIND_INFO[Kind.PROTOCOL].title}: a {status} answer has no body, but this one "
            f"announced one ({announced})"))


# A response with at most this many headers is kept whole: aiohttp caps each header line at
# 8 KiB, so these are bounded by the byte cap below. Checking only len() keeps the common case
# free; longer header sets are measured and cut.
FEW_HEADERS = 8
MAX_KEPT_HEADERS = 100
MAX_KEPT_HEADER_BYTES = 64 * 1024


def _bounded(headers: Any, response: Response) -> Any:
    """``headers`` as kept in the row's details: all of them while they fit in
    ``MAX_KEPT_HEADERS`` and ``MAX_KEPT_HEADER_BYTES``, else the first that do, with a note
    saying what was dropped (aiohttp allows 128 headers of 8 KiB each per response)."""
    # Summed in C (map), about twice as fast as a loop: this runs for most real responses.
    total = sum(map(len, headers.keys())) + sum(map(len, headers.values())) + 4 * len(headers)
    if len(headers) <= MAX_KEPT_HEADERS and total <= MAX_KEPT_HEADER_BYTES:
        return headers
    kept: list[tuple[str, str]] = []
    size = 0
    for name, value in headers.items():
        cost = len(name) + len(value) + 4
        if len(kept) >= MAX_KEPT_HEADERS or size + cost > MAX_KEPT_HEADER_BYTES:
            break
        kept.append((clean_text(name), clean_text(value)))
        size += cost
    dropped = len(headers) - len(kept)
    response.note = _join(response.note, (
        f"response headers: kept {len(kept)} of {len(headers)} ({human_size(size)} of "
        f"{human_size(total)}); {dropped} dropped"))
    return tuple(kept)


# Server text seen before, cleaned: a run sees the same few reason phrases, content types and
# server names thousands of times, and the rows share one string each.
_CLEAN: dict[str, tuple[str, str]] = {}


def _server_text(value: str) -> tuple[str, str]:
    try:
        return _CLEAN[value]
    except KeyError:
        text, note = clean(value)
        cleaned = _CLEAN[value] = (sys.intern(text[:1000]), note)
        if len(_CLEAN) > 4096:
            _CLEAN.clear()
        return cleaned


def _record_response(response: Response, resp: aiohttp.ClientResponse, url: URL,
                     text: str, hops: list[Hop] | None) -> None:
    status = response.status = resp.status
    headers = resp.headers
    # Seen before (nearly always): one dict lookup each, no call.
    cleaned = _CLEAN.get
    reason = resp.reason or ""
    response.reason, note = cleaned(reason) or _server_text(reason)
    # aiohttp's istr names: looked up without lower-casing a str each time.
    content_type = headers.get(hdrs.CONTENT_TYPE, "")
    response.content_type, note2 = cleaned(content_type) or _server_text(content_type)
    server = headers.get(hdrs.SERVER, "")
    response.server, note3 = cleaned(server) or _server_text(server)
    if note or note2 or note3:
        response.note = _join(*(f"{what} {n}" for what, n in (
            ("reason phrase", note), ("Content-Type", note2), ("Server", note3)) if n))
    length = headers.get(hdrs.CONTENT_LENGTH)
    # As announced (compressed, for a compressed body); an absurd value is no length at all.
    response.content_length = None if length is None else int(length) if (
        len(length) < 19 and length.isdigit() and length.isascii()) else None
    if hops is None:  # not redirected: the URL as the user wrote it
        response.final_url = text
        response.first_status = status
        return
    final = str(resp.url)
    response.final_url = text if final == text else final
    response.redirects = len(hops)
    response.chain = (*hops, Hop(status, final))
    response.first_status = hops[0].status


async def _read_body(resp: aiohttp.ClientResponse, response: Response, cap: int) -> None:
    """Read the body in chunks, hashing as it goes, stopping at ``cap`` decompressed bytes.

    The first bytes are kept as the row's preview even when reading fails part way (cap,
    truncation, timeout), since those bytes are often what explains the failure.
    """
    digest = None  # made from the first chunk: a body that comes whole is hashed in one call
    head = b""
    # The head's later pieces, joined once: adding each to ``head`` would copy it again for
    # every chunk, quadratic in a server that trickles its body a few bytes at a time.
    pieces: list[bytes] | None = None
    kept = 0
    size = 0
    response.bytes = 0
    content = resp.content
    read = content.read
    try:
        while chunk := await read(CHUNK):
            if not head:
                head = chunk[:TITLE_SCAN_BYTES]
                kept = len(head)
            elif kept < TITLE_SCAN_BYTES:
                piece = chunk[: TITLE_SCAN_BYTES - kept]
                kept += len(piece)
                if pieces is None:
                    pieces = [head]
                pieces.append(piece)
            if size + len(chunk) > cap:
                response.bytes = cap
                raise FetchError(
                    Kind.BODY_TOO_LARGE,
                    f"{KIND_INFO[Kind.BODY_TOO_LARGE].title}: stopped after {cap:,} bytes "
                    f"(cap {human_size(cap)}); the body is larger",
                )
            if digest is None:
                digest = hashlib.sha256(chunk)
            else:
                digest.update(chunk)
            size += len(chunk)
            response.bytes = size
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
        if pieces is not None:
            head = b"".join(pieces)
        if response.details is not None:
            response.details.preview = head[:PREVIEW_BYTES]
    response.sha256 = (digest or hashlib.sha256()).hexdigest()
    content_type = _lower(response.content_type)
    is_html = "html" in content_type or head[:512].lstrip().lower().startswith(
        (b"<!doctype html", b"<html"))
    if is_html or content_type.startswith("text/") or _TEXTUAL.search(content_type):
        codec, note = codec_for(charset_of(response.content_type))
        # A wrong or unknown charset is no failure, but it is worth saying.
        sample = head[:CHARSET_CHECK_BYTES]
        # ASCII text is valid in any codec that reads ASCII as itself: no need to decode it.
        if not note and not (sample.isascii() and reads_ascii(codec)):
            try:
                whole_chars(sample, size).decode(codec)
            except UnicodeError:  # stateful codecs raise more than UnicodeDecodeError
                note = f"text is not valid {codec}; undecodable bytes replaced"
        if note:
            response.note = _join(response.note, note)
        if is_html:
            response.title = title_of(head, codec)


_LOWER: dict[str, str] = {}


def _lower(content_type: str) -> str:
    try:
        return _LOWER[content_type]
    except KeyError:
        lower = _LOWER[content_type] = content_type.lower()
        if len(_LOWER) > 256:
            _LOWER.clear()
        return lower
