"""The failure taxonomy: every way a URL can fail, and which exception means which.

Each failure has a stable lowercase ``kind`` token (the CSV's ``error_kind``), a title, a
plain-words explanation and a hint. :func:`classify` maps an exception raised while fetching to
a kind and a message. The mapping, most specific first:

=============================================  ============================  ======================
exception (or a cause in its chain)            condition                     kind
=============================================  ============================  ======================
``FetchError``                                 raised by Fetchdeck itself    its own ``kind``
                                               (fetch follows redirects:     ``too_many_redirects``,
                                               3xx to file:, javascript:     ``unsafe_redirect``,
                                               a Location that is no URL,    ``invalid_url``,
                                               a status outside 100-599,     ``protocol``,
                                               a 204/304 with a body,        ``protocol``,
                                               a timeout while resolving)    ``dns``
``InvalidUrlClientError``, ``InvalidURL``      URL cannot be parsed          ``invalid_url``
``UnicodeError`` from the ``idna`` codec       a host label empty or >63     ``invalid_url``
``NonHttpUrlRedirectClientError``              3xx to file:, javascript:...  ``unsafe_redirect``
``NonHttpUrlClientError``                      ftp:, file:...                ``unsupported_scheme``
``TooManyRedirects``                           more than max redirects       ``too_many_redirects``
``ClientConnectorDNSError``, ``gaierror``      name does not resolve         ``dns``
``ClientConnectorCertificateError``            verify_code 62/64 (name/IP)   ``tls_hostname``
``ClientConnectorCertificateError``            any other verify failure      ``tls_untrusted``
``ClientSSLError``, ``ssl.SSLError``           handshake or protocol; also   ``tls``
                                               a reset during the handshake
``ClientProxyConnectionError``                 proxy unreachable             ``proxy``
``ClientHttpProxyError``                       proxy answered an error       ``proxy``
``ConnectionTimeoutError``                     connect took too long         ``connect_timeout``
``SocketTimeoutError``                         no data for too long          ``read_timeout``
builtin ``TimeoutError`` (not a ClientError)   total time per attempt spent  ``timeout``
``ClientConnectorError`` + ECONNREFUSED        nothing listening             ``refused``
``ClientConnectorError`` + ECONNRESET          reset while connecting        ``reset``
``ClientConnectorError`` (other errno)         network unreachable...        ``connect``
``ClientPayloadError`` + ``ContentLengthError``  body ended early            ``truncated``
``ClientPayloadError`` (other)                 bad chunking, bad encoding    ``protocol``
``ClientResponseError`` + HTTP parse error     not HTTP, bad status line     ``protocol``
``ServerDisconnectedError``,                   closed or reset before the    ``reset``
``ClientConnectionResetError``,                whole response arrived
``ConnectionResetError``, ``BrokenPipeError``
``ClientOSError`` (other)                      any other socket error        ``connect``
``asyncio.CancelledError``                     the user cancelled            ``cancelled``
``SettingsError``                              a setting cannot be used      ``config``
anything else                                  a bug in Fetchdeck            ``internal``
=============================================  ============================  ======================

Every message is one line of safe text: server bytes quoted in an exception (a Location, a
status line) are cleaned as they enter (:func:`app.core.text.clean`).

Responses that arrive but say 4xx/5xx are not exceptions: :func:`kind_for_status` names them.
The original exception is always kept, as ``__cause__`` of a :class:`FetchError` or as the
exception itself, so the error panel can show the full chain and traceback.
"""

from __future__ import annotations

import asyncio
import errno
import os
import socket
import ssl
import traceback
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

import aiohttp
from aiohttp import http_exceptions

from app.core.settings import SettingsError
from app.core.text import clean_text


class Kind(StrEnum):
    """Stable failure tokens, as written to CSV. Never rename one: scripts depend on them."""

    INVALID_URL = "invalid_url"
    UNSUPPORTED_SCHEME = "unsupported_scheme"
    DNS = "dns"
    REFUSED = "refused"
    CONNECT = "connect"
    CONNECT_TIMEOUT = "connect_timeout"
    READ_TIMEOUT = "read_timeout"
    TIMEOUT = "timeout"
    TLS_UNTRUSTED = "tls_untrusted"
    TLS_HOSTNAME = "tls_hostname"
    TLS = "tls"
    PROXY = "proxy"
    RESET = "reset"
    PROTOCOL = "protocol"
    TRUNCATED = "truncated"
    TOO_MANY_REDIRECTS = "too_many_redirects"
    UNSAFE_REDIRECT = "unsafe_redirect"
    BODY_TOO_LARGE = "body_too_large"
    HTTP_4XX = "http_4xx"
    HTTP_5XX = "http_5xx"
    CANCELLED = "cancelled"
    CONFIG = "config"
    INTERNAL = "internal"


@dataclass(frozen=True, slots=True)
class KindInfo:
    title: str
    explanation: str
    hint: str


KIND_INFO: dict[Kind, KindInfo] = {
    Kind.INVALID_URL: KindInfo(
        "Invalid URL",
        "The line, or the Location a server redirected to, is not a URL Fetchdeck can fetch.",
        "Check the line for typos, spaces, a missing host or a host label over 63 characters; "
        "for a redirect, the message shows its target.",
    ),
    Kind.UNSUPPORTED_SCHEME: KindInfo(
        "Not an http(s) URL",
        "Only http:// and https:// URLs are fetched.",
        "Rewrite the line as an http:// or https:// URL, or remove it.",
    ),
    Kind.DNS: KindInfo(
        "Host name not found",
        "The host name could not be resolved to an address.",
        "Check the spelling of the host, or whether it exists; your DNS may also be down.",
    ),
    Kind.REFUSED: KindInfo(
        "Connection refused",
        "The host answered, but nothing accepted the connection on that port.",
        "Nothing is listening on that port, or a firewall rejects the connection.",
    ),
    Kind.CONNECT: KindInfo(
        "Could not connect",
        "The connection could not be opened.",
        "The network or host may be unreachable; check your connection and any proxy.",
    ),
    Kind.CONNECT_TIMEOUT: KindInfo(
        "Connect timed out",
        "Opening the connection took longer than the connect timeout.",
        "The host may be down or dropping packets; raise the connect timeout to wait longer.",
    ),
    Kind.READ_TIMEOUT: KindInfo(
        "Read timed out",
        "The server stopped sending data for longer than allowed.",
        "The server is slow or stuck; raise the timeout or try again later.",
    ),
    Kind.TIMEOUT: KindInfo(
        "Timed out",
        "The whole request took longer than the timeout.",
        "The server is slow or the body is large; raise the timeout to wait longer.",
    ),
    Kind.TLS_UNTRUSTED: KindInfo(
        "Certificate not trusted",
        "The server's TLS certificate is not signed by a certificate authority Fetchdeck trusts.",
        "Add the issuing CA with --ca-file, or turn off verification (--insecure) if you trust "
        "the network.",
    ),
    Kind.TLS_HOSTNAME: KindInfo(
        "Certificate is for another host",
        "The server's TLS certificate does not name the host in the URL.",
        "The URL may use the wrong host name, or the server is misconfigured.",
    ),
    Kind.TLS: KindInfo(
        "TLS failed",
        "The secure connection could not be set up.",
        "The server may not speak TLS on this port, or only old protocol versions.",
    ),
    Kind.PROXY: KindInfo(
        "Proxy failed",
        "The proxy could not be reached or refused to forward the request.",
        "Check the proxy address and whether it needs credentials.",
    ),
    Kind.RESET: KindInfo(
        "Connection closed early",
        "The server closed or reset the connection before the whole response arrived.",
        "The server may have crashed or be overloaded; retry later.",
    ),
    Kind.PROTOCOL: KindInfo(
        "Malformed response",
        "The server's answer was not valid HTTP (bad status line, headers, chunking or encoding).",
        "The port may run another protocol, or the server is broken.",
    ),
    Kind.TRUNCATED: KindInfo(
        "Body shorter than announced",
        "The server announced a Content-Length but sent fewer bytes.",
        "The server or a proxy cut the transfer; retry, and report it to the site if it repeats.",
    ),
    Kind.TOO_MANY_REDIRECTS: KindInfo(
        "Too many redirects",
        "The redirects went on past the limit, often a loop.",
        "Open the redirect chain to see the loop; raise --max-redirects if the chain is real.",
    ),
    Kind.UNSAFE_REDIRECT: KindInfo(
        "Redirect to a non-http(s) URL",
        "The server redirected to a file:, javascript:, data: or other non-web URL. "
        "Fetchdeck never follows those.",
        "The redirect target is shown in the message; check it is what the site intends.",
    ),
    Kind.BODY_TOO_LARGE: KindInfo(
        "Body over the size cap",
        "The body grew past the size cap (counted after decompression), so reading stopped.",
        "Raise --max-body if you need the whole body.",
    ),
    Kind.HTTP_4XX: KindInfo(
        "Client error (4xx)",
        "The server answered with a 4xx status: the request was refused or the page is missing.",
        "Check the URL, or whether the page needs login or other headers.",
    ),
    Kind.HTTP_5XX: KindInfo(
        "Server error (5xx)",
        "The server answered with a 5xx status: it failed to handle the request.",
        "The problem is on the server; retry later.",
    ),
    Kind.CANCELLED: KindInfo(
        "Cancelled",
        "The run was cancelled before this URL finished.",
        "Retry it when you are ready.",
    ),
    Kind.CONFIG: KindInfo(
        "Settings cannot be used",
        "A setting stopped the run before this URL was fetched (for example a CA file that "
        "cannot be read).",
        "Fix the setting named in the message, then retry.",
    ),
    Kind.INTERNAL: KindInfo(
        "Internal error",
        "Something went wrong inside Fetchdeck itself. This is a bug.",
        "Copy the details and report them; the traceback shows where it happened.",
    ),
}

# Kinds worth another attempt: the server or network may answer differently next time.
RETRYABLE: frozenset[Kind] = frozenset(
    {Kind.CONNECT, Kind.CONNECT_TIMEOUT, Kind.READ_TIMEOUT, Kind.TIMEOUT, Kind.RESET, Kind.REFUSED}
)
RETRYABLE_STATUS: frozenset[int] = frozenset({429, 502, 503, 504})

# X509_V_ERR_HOSTNAME_MISMATCH, X509_V_ERR_IP_ADDRESS_MISMATCH
_NAME_MISMATCH = frozenset({62, 64})


class FetchError(Exception):
    """A failure Fetchdeck names itself; ``__cause__`` holds the original exception if any."""

    def __init__(self, kind: Kind, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


class FetchFailed(Exception):
    """How :func:`app.core.fetch.fetch` fails: ``__cause__`` is what went wrong, ``response``
    what was learned before it (status, redirect chain, bytes read, attempts)."""

    def __init__(self, response: Any) -> None:
        super().__init__("the fetch failed; the cause says why")
        self.response = response


def kind_for_status(status: int) -> Kind | None:
    if 400 <= status < 500:
        return Kind.HTTP_4XX
    if status >= 500:
        return Kind.HTTP_5XX
    return None


def causes(exc: BaseException) -> Iterator[BaseException]:
    """The exception and its causes/contexts, outermost first, without loops."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        if current.__cause__ is not None or current.__suppress_context__:
            current = current.__cause__
        else:
            current = current.__context__


def classify(exc: BaseException) -> tuple[Kind, str]:
    """Name the failure an exception stands for, with a plain-words message."""
    if isinstance(exc, FetchError):
        return exc.kind, exc.message
    if isinstance(exc, asyncio.CancelledError):
        return Kind.CANCELLED, "cancelled before it finished"
    if isinstance(exc, SettingsError):
        return Kind.CONFIG, f"{KIND_INFO[Kind.CONFIG].title}: {exc}"
    kind = _kind_of(exc)
    return kind, clean_text(_message(kind, exc))


def _kind_of(exc: BaseException) -> Kind:  # noqa: C901 - one flat table, read top to bottom
    if isinstance(exc, aiohttp.InvalidURL):
        if isinstance(exc, aiohttp.InvalidUrlRedirectClientError):
            return Kind.UNSAFE_REDIRECT
        return Kind.INVALID_URL
    if isinstance(exc, aiohttp.NonHttpUrlRedirectClientError):
        return Kind.UNSAFE_REDIRECT
    if _is_idna_error(exc):
        return Kind.INVALID_URL
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return Kind.UNSUPPORTED_SCHEME
    if isinstance(exc, aiohttp.TooManyRedirects):
        return Kind.TOO_MANY_REDIRECTS
    if isinstance(exc, aiohttp.ClientConnectorDNSError | socket.gaierror):
        return Kind.DNS
    if isinstance(exc, aiohttp.ClientConnectorCertificateError):
        code = getattr(exc.certificate_error, "verify_code", None)
        return Kind.TLS_HOSTNAME if code in _NAME_MISMATCH else Kind.TLS_UNTRUSTED
    if isinstance(exc, ssl.SSLCertVerificationError):
        return Kind.TLS_HOSTNAME if exc.verify_code in _NAME_MISMATCH else Kind.TLS_UNTRUSTED
    if isinstance(exc, aiohttp.ClientSSLError | ssl.SSLError):
        return Kind.TLS
    if isinstance(exc, aiohttp.ClientProxyConnectionError | aiohttp.ClientHttpProxyError):
        return Kind.PROXY
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return Kind.CONNECT_TIMEOUT
    if isinstance(exc, aiohttp.SocketTimeoutError):
        return Kind.READ_TIMEOUT
    if isinstance(exc, aiohttp.ServerTimeoutError):
        return Kind.READ_TIMEOUT
    if isinstance(exc, TimeoutError):
        return Kind.TIMEOUT
    if isinstance(exc, aiohttp.ClientConnectorError):
        if exc.os_error.errno == errno.ECONNREFUSED:
            return Kind.REFUSED
        if exc.os_error.errno in (errno.ECONNRESET, errno.EPIPE):
            return Kind.RESET  # accepted, then reset before a byte of HTTP
        return Kind.CONNECT
    if isinstance(exc, aiohttp.ClientPayloadError):
        if any(isinstance(c, http_exceptions.ContentLengthError) for c in causes(exc)):
            return Kind.TRUNCATED
        if "not completed" in str(exc) and "ContentLengthError" in repr(exc):
            return Kind.TRUNCATED
        return Kind.PROTOCOL
    if isinstance(exc, aiohttp.ClientResponseError):
        return Kind.PROTOCOL
    if any(isinstance(c, http_exceptions.HttpProcessingError) for c in causes(exc)):
        return Kind.PROTOCOL
    if isinstance(
        exc,
        aiohttp.ServerDisconnectedError
        | aiohttp.ClientConnectionResetError
        | ConnectionResetError
        | BrokenPipeError
        | ConnectionAbortedError,
    ):
        return Kind.RESET
    if isinstance(exc, aiohttp.ClientOSError | aiohttp.ServerConnectionError | OSError):
        if getattr(exc, "errno", None) in (errno.ECONNRESET, errno.EPIPE):
            return Kind.RESET
        return Kind.CONNECT
    if isinstance(exc, aiohttp.ClientConnectionError):
        return Kind.RESET
    return Kind.INTERNAL


def _is_idna_error(exc: BaseException) -> bool:
    """The resolver could not encode the host name: a label empty ("a..b") or over 63
    characters. yarl lets such names through; ``socket.getaddrinfo`` refuses them."""
    return isinstance(exc, UnicodeError) and "idna" in str(exc)


def _message(kind: Kind, exc: BaseException) -> str:
    detail = _one_line(_detail(exc))
    title = KIND_INFO[kind].title
    if kind is Kind.INTERNAL:
        return f"{title}: {type(exc).__name__}: {detail}" if detail else title
    if kind is Kind.TIMEOUT:
        return "the request took longer than the timeout"
    if not detail or detail == title:
        return title
    return f"{title}: {detail}"


def _one_line(text: str) -> str:
    """Messages are one line (a table cell, a CSV cell): aiohttp's parser errors span several,
    with a caret drawn under the bad byte. The full text stays in the chain and traceback."""
    words = text.split()
    if words and set(words[-1]) == {"^"}:
        words.pop()
    return " ".join(words)


# OpenSSL's reasons, in the words a user needs. Fetchdeck offers TLS 1.2 and 1.3 (Python's
# default context).
_NOT_TLS = "the server does not speak TLS on this port"
_NO_VERSION = ("the server and Fetchdeck share no TLS version (Fetchdeck offers TLS 1.2 and "
               "1.3; the server may accept only older, insecure ones)")
_TLS_REASONS = {
    "WRONG_VERSION_NUMBER": _NOT_TLS,
    "HTTP_REQUEST": _NOT_TLS,
    "PACKET_LENGTH_TOO_LONG": _NOT_TLS,
    "RECORD_LAYER_FAILURE": _NOT_TLS,
    "UNKNOWN_PROTOCOL": _NOT_TLS,
    "TLSV1_ALERT_PROTOCOL_VERSION": _NO_VERSION,
    "UNSUPPORTED_PROTOCOL": _NO_VERSION,
    "NO_PROTOCOLS_AVAILABLE": _NO_VERSION,
    "VERSION_TOO_LOW": _NO_VERSION,
    "SSLV3_ALERT_HANDSHAKE_FAILURE": "the server and Fetchdeck share no cipher suite",
    "NO_SHARED_CIPHER": "the server and Fetchdeck share no cipher suite",
    "UNEXPECTED_EOF_WHILE_READING": "the server closed the connection during the TLS handshake",
}
BAD_HOST_LABELS = ("the host name cannot be used: a part of it between dots is empty or longer "
                   "than 63 characters")
_TLS_RESET = ("the server reset the connection during the TLS handshake (it may accept only "
              "TLS versions older than 1.2, which Fetchdeck does not offer)")


def _tls_detail(error: BaseException) -> str:
    if isinstance(error, ConnectionResetError):
        return _TLS_RESET
    reason = str(getattr(error, "reason", None) or "")
    if reason in _TLS_REASONS:
        return f"{_TLS_REASONS[reason]} ({reason.lower().replace('_', ' ')})"
    if isinstance(error, ssl.SSLEOFError):
        return _TLS_REASONS["UNEXPECTED_EOF_WHILE_READING"]
    return reason.lower().replace("_", " ") or str(error) or type(error).__name__


def _detail(exc: BaseException) -> str:
    if isinstance(exc, aiohttp.ClientConnectorError):
        os_error = exc.os_error
        # asyncio puts "Connect call failed (...)" in strerror; the errno's own words are clearer.
        code = os_error.errno or 0
        plain = "" if isinstance(os_error, socket.gaierror) or code <= 0 else os.strerror(code)
        reason = plain or os_error.strerror or str(os_error) or type(os_error).__name__
        if isinstance(exc, aiohttp.ClientSSLError) or isinstance(os_error, ssl.SSLError):
            # An SSLError's errno is OpenSSL's code (1 is no EPERM: "Operation not permitted").
            reason = _tls_detail(os_error)
        elif code in (errno.EMFILE, errno.ENFILE):
            reason = (f"{reason}: Fetchdeck has as many files and connections open as the "
                      "system allows (see `ulimit -n`); fewer requests in flight would fit")
        elif isinstance(os_error, socket.gaierror) and os_error.errno == socket.EAI_AGAIN:
            reason = "the name server did not answer (temporary failure in name resolution)"
        if isinstance(exc, aiohttp.ClientConnectorCertificateError):
            reason = getattr(exc.certificate_error, "verify_message", None) or reason
        where = f"{exc.host}:{exc.port}"
        # "Connection refused: host:80", not "Connection refused: host:80: Connection refused".
        return where if reason.lower() == _kind_of(exc).value.replace("_", " ") or \
            reason.lower() == KIND_INFO[_kind_of(exc)].title.lower() else f"{where}: {reason}"
    if isinstance(exc, aiohttp.NonHttpUrlRedirectClientError):
        return f"the server redirected to {exc.args[0] if exc.args else 'an unknown URL'}"
    if isinstance(exc, aiohttp.NonHttpUrlClientError):
        return f"{exc.args[0] if exc.args else ''}"
    if isinstance(exc, aiohttp.ClientResponseError):
        return exc.message if isinstance(exc.message, str) else str(exc)
    if isinstance(exc, aiohttp.ServerDisconnectedError):
        return "the server closed the connection without a complete response"
    if isinstance(exc, ssl.SSLError):
        return _tls_detail(exc)
    if _is_idna_error(exc):
        return BAD_HOST_LABELS
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror  # "Connection reset by peer", not "[Errno 104] Connection reset…"
    text = str(exc).strip()
    return text.splitlines()[0] if text else ""


# One link of an exception chain, outermost first: how it relates to the link before it
# ("cause", "context" or "" for the first), its frames, and its "Type: message" line.
StackLink = tuple[str, tuple[tuple[str, int, str], ...], str]

# Frames of the same code path are the same tuple: a million failures share a few dozen stacks.
_FRAMES: dict[tuple[tuple[str, int, str], ...], tuple[tuple[str, int, str], ...]] = {}
_MAX_INTERNED = 10_000

_CAUSE = ("\nThe above exception was the direct cause of the following exception:\n\n")
_CONTEXT = ("\nDuring handling of the above exception, another exception occurred:\n\n")


def _stack(exc: BaseException) -> tuple[StackLink, ...]:
    links: list[StackLink] = []
    relation = ""
    for link in causes(exc):
        frames = tuple((f.filename, f.lineno or 0, f.name)
                       for f in traceback.extract_tb(link.__traceback__))
        shared = _FRAMES.get(frames)
        if shared is None:
            shared = frames
            if len(_FRAMES) < _MAX_INTERNED:
                _FRAMES[frames] = frames
        only = _safe_lines("".join(
            traceback.format_exception_only(type(link), link)).rstrip("\n"))
        links.append((relation, shared, only))
        relation = "cause" if link.__cause__ is not None else "context"
    return tuple(links)


def format_stack(stack: tuple[StackLink, ...]) -> str:
    """The text Python would print for the chain: root cause first, as in a real traceback."""
    parts: list[str] = []
    for index, (_relation, frames, only) in enumerate(reversed(stack)):
        if index:
            # The link printed before this one is its cause (or context).
            relation = stack[len(stack) - index][0]
            parts.append(_CAUSE if relation == "cause" else _CONTEXT)
        if frames:
            parts.append("Traceback (most recent call last):\n")
            parts.extend(traceback.StackSummary.from_list(
                [(f, n, name, None) for f, n, name in frames]).format())
        parts.append(only + "\n")
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Failure:
    """What went wrong for one URL, kept whole for the error panel.

    ``exception_type`` and ``message`` are the outermost exception; ``chain`` lists every cause as
    ``Type: message`` lines; :attr:`traceback` is the traceback captured from the task, formatted
    on demand from a compact ``stack`` (whose frames are shared between failures of the same code
    path) or given as text (``traceback_text``) by code that has only text.
    """

    kind: Kind
    message: str
    exception_type: str = ""
    chain: tuple[str, ...] = ()
    traceback_text: str = ""
    stack: tuple[StackLink, ...] = ()

    @property
    def traceback(self) -> str:
        if self.traceback_text:
            return self.traceback_text
        return format_stack(self.stack) if self.stack else ""

    @classmethod
    def from_exception(cls, exc: BaseException) -> Failure:
        kind, message = classify(exc)
        chain = tuple(
            f"{_qualname(c)}: {_safe_lines(str(c).strip()) or '(no message)'}"
            for c in causes(exc)
        )
        return cls(kind, message, _qualname(exc), chain, stack=_stack(exc))

    @classmethod
    def plain(cls, kind: Kind, message: str) -> Failure:
        return cls(kind, message)

    @classmethod
    def internal(cls, exc: BaseException) -> Failure:
        """A failure that is a bug in Fetchdeck, whatever the exception would classify as."""
        failure = cls.from_exception(exc)
        return cls(Kind.INTERNAL, f"{KIND_INFO[Kind.INTERNAL].title}: {exc!r}",
                   failure.exception_type, failure.chain, stack=failure.stack)


def _safe_lines(text: str) -> str:
    """Exception text (which may quote server bytes) made safe line by line, keeping its
    line breaks: the chain and traceback are multi-line by nature."""
    if text.isprintable():
        return text
    return "\n".join(clean_text(line) for line in text.split("\n"))


def _qualname(exc: BaseException) -> str:
    cls = type(exc)
    module = cls.__module__
    if module in ("builtins", "__main__"):
        return cls.__qualname__
    return f"{module}.{cls.__qualname__}"
