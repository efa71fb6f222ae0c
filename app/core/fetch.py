"""One URL, fetched: attempts with retries, redirects, a capped body read, timings.

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
from dataclasses import dataclass, field
from typing import Any

import aiohttp
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
    codec_for,
    human_size,
    reads_ascii,
    title_of,
    whole_chars,
)
from app.core.transport import basic_auth

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


async def _head_then_get(fetcher: Fetcher, url: URL, text: str, response: Response,
                         notes: list[str]) -> int:
    try:
        status = await _request(fetcher, "HEAD", url, text, response)
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
    return await _request(fetcher, "GET", url, text, response)


async def _request(fetcher: Fetcher, method: str, url: URL, text: str,
                   response: Response) -> int:
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
            _record_response(response, resp, url, text)
            response.details = Details(resp.request_info.headers, resp.headers)
            if method != "HEAD":
                await _read_body(resp, response, settings.max_body)
            else:
                length = resp.headers.get("Content-Length", "")
                response.bytes = int(length) if length.isdigit() and len(length) < 19 else None
            return resp.status
    except aiohttp.TooManyRedirects as exc:
        # Every response received, the last being the redirect that was not followed.
        response.chain = tuple(Hop(h.status, str(h.url)) for h in exc.history)
        response.redirects = max(0, len(exc.history) - 1)
        raise FetchError(
            Kind.TOO_MANY_REDIRECTS,
            f"{KIND_INFO[Kind.TOO_MANY_REDIRECTS].title}: followed {response.redirects} "
            f"(the limit) and the server still redirects; see the redirect chain",
        ) from exc
    except TimeoutError as exc:
        # aiohttp's total timeout is the builtin TimeoutError; say which phase it cut.
        if ttfb is not None:
            raise FetchError(
                Kind.READ_TIMEOUT,
                f"{KIND_INFO[Kind.READ_TIMEOUT].title}: the response started but the body did not "
                f"finish within {settings.timeout:g} s ({response.bytes or 0:,} bytes read)",
            ) from exc
        if not isinstance(exc, aiohttp.ClientError):
            raise FetchError(
                Kind.TIMEOUT,
                f"{KIND_INFO[Kind.TIMEOUT].title}: no response within {settings.timeout:g} s",
            ) from exc
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
                     text: str) -> None:
    status = response.status = resp.status
    headers = resp.headers
    response.reason, note = _server_text(resp.reason or "")
    response.content_type, note2 = _server_text(headers.get("Content-Type", ""))
    response.server, note3 = _server_text(headers.get("Server", ""))
    if note or note2 or note3:
        response.note = _join(*(f"{what} {n}" for what, n in (
            ("reason phrase", note), ("Content-Type", note2), ("Server", note3)) if n))
    history = resp.history
    if not history and resp.url is url:  # not redirected: the URL as the user wrote it
        response.final_url = text
        response.first_status = status
        return
    final = str(resp.url)
    response.final_url = text if final == text else final
    response.redirects = len(history)
    if history:
        response.chain = (*(Hop(h.status, str(h.url)) for h in history), Hop(status, final))
        response.first_status = history[0].status
    else:
        response.first_status = status


async def _read_body(resp: aiohttp.ClientResponse, response: Response, cap: int) -> None:
    """Read the body in chunks, hashing as it goes, stopping at ``cap`` decompressed bytes.

    The first bytes are kept as the row's preview even when reading fails part way (cap,
    truncation, timeout), since those bytes are often what explains the failure.
    """
    digest = None  # made from the first chunk: a body that comes whole is hashed in one call
    head = b""
    size = 0
    response.bytes = 0
    content = resp.content
    read = content.read
    try:
        while chunk := await read(CHUNK):
            if not head:
                head = chunk[:TITLE_SCAN_BYTES]
            elif len(head) < TITLE_SCAN_BYTES:
                head += chunk[: TITLE_SCAN_BYTES - len(head)]
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
