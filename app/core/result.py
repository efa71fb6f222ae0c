"""The record of what happened to one URL: one per input line, read by every view and export."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, overload

from app.core.errors import Failure


class Outcome(StrEnum):
    """The CSV's ``outcome`` column."""

    PENDING = "pending"  # not finished yet; never exported as such by a finished run
    OK = "ok"
    HTTP_ERROR = "http_error"  # a response with status >= 400
    FAILED = "failed"  # no usable response
    INVALID = "invalid"  # the line is not a fetchable URL
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class Hop:
    """One response in a redirect chain."""

    status: int
    url: str


class Timings(NamedTuple):
    """Milliseconds spent in each phase of the last attempt; None where it did not happen
    (a reused connection does no DNS, connect or TLS). A named tuple: one is made per request,
    three times cheaper than a frozen dataclass."""

    dns_ms: float | None = None
    connect_ms: float | None = None
    tls_ms: float | None = None
    ttfb_ms: float | None = None


NO_TIMINGS = Timings()


class HeaderPairs(Sequence[tuple[str, str]]):
    """A response's or request's headers as (name, value) pairs, read from aiohttp's immutable
    multidict when asked rather than copied for every response."""

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._items = headers

    def _pairs(self) -> list[tuple[str, str]]:
        return list(self._items.items())

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._items.items())

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> tuple[str, str]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[str, str]]: ...
    def __getitem__(self, index: int | slice) -> tuple[str, str] | Sequence[tuple[str, str]]:
        return self._pairs()[index]


class Details:
    """Heavy per-row data for the detail pane, kept only while memory allows.

    Headers are kept as given (aiohttp's immutable multidicts for a fetched row) and read as
    (name, value) pairs when asked: a run makes one of these per response, a pane reads few.
    """

    __slots__ = ("_request", "_response", "preview")

    def __init__(self, request_headers: _Headers = (), response_headers: _Headers = (),
                 preview: bytes = b"") -> None:
        self._request = request_headers
        self._response = response_headers
        self.preview = preview

    @property
    def request_headers(self) -> Sequence[tuple[str, str]]:
        return _pairs(self._request)

    @property
    def response_headers(self) -> Sequence[tuple[str, str]]:
        return _pairs(self._response)


_Headers = Mapping[str, str] | Sequence[tuple[str, str]]


def _pairs(headers: _Headers) -> Sequence[tuple[str, str]]:
    return HeaderPairs(headers) if isinstance(headers, Mapping) else headers


@dataclass(slots=True)
class Result:
    """What happened to one input line.

    ``index`` is the row's position among the non-blank, non-comment lines, which is also its
    CSV row; ``line`` is its 1-based line number in the text the user gave.
    """

    index: int
    line: int
    url: str
    outcome: Outcome = Outcome.PENDING
    status: int | None = None
    reason: str = ""
    final_url: str = ""
    redirects: int = 0
    content_type: str = ""
    bytes: int | None = None
    elapsed_ms: float | None = None
    failure: Failure | None = None
    attempts: int = 0
    chain: tuple[Hop, ...] = ()  # every response when redirects were followed, else empty
    title: str = ""
    sha256: str = ""
    server: str = ""
    timings: Timings = NO_TIMINGS  # immutable, so one shared "nothing timed" for every row
    # Things worth saying that are not failures: charset replaced, Retry-After waited...
    note: str = ""
    details: Details | None = None

    @property
    def error_kind(self) -> str:
        return self.failure.kind.value if self.failure else ""

    @property
    def error(self) -> str:
        return self.failure.message if self.failure else ""

    @property
    def finished(self) -> bool:
        return self.outcome is not Outcome.PENDING

    def redirect_chain_text(self) -> str:
        """``301 http://a/ -> 302 https://a/x -> 200 https://a/y``; empty without redirects."""
        return " -> ".join(f"{hop.status} {hop.url}" for hop in self.chain)
