"""The records of a run: what fetch found for one URL (:class:`Response`), and the row every view
and export reads (:class:`Result`), one per input line.

A :class:`Response` is filled by :func:`app.core.fetch.fetch` alone, while it works, and is
handed on when fetch returns (or raises, carried by :class:`app.core.errors.FetchFailed`). The
run's done-callback builds the :class:`Result` from it once; nothing changes a Result after
that, except the run's :class:`app.core.details.DetailPolicy`, which alone decides how long a
row keeps its heavy :class:`Details`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, overload

from app.core.errors import Failure
from app.core.text import clean_text


class Outcome(StrEnum):
    """The CSV's ``outcome`` column."""

    PENDING = "pending"  # not finished yet; never exported as such by a finished run
    OK = "ok"
    HTTP_ERROR = "http_error"  # a response with status >= 400
    FAILED = "failed"  # no usable response
    INVALID = "invalid"  # the line is not a fetchable URL
    CANCELLED = "cancelled"

    @property
    def is_failure(self) -> bool:
        """The one definition of a failure: the row has an error the user should look at.
        A cancelled row is not one (nothing went wrong; it was not fetched)."""
        return self in FAILURES


FAILURES = frozenset({Outcome.HTTP_ERROR, Outcome.FAILED, Outcome.INVALID})


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
    multidict when asked rather than copied for every response.

    Server text is made safe here, as it is read (:func:`app.core.text.clean_text`): aiohttp
    keeps a non-UTF-8 byte as a lone surrogate and a control character as it came, and the
    details pane, exports and logs that read these pairs must never fail on them nor pass a
    terminal escape on."""

    __slots__ = ("_items",)

    def __init__(self, headers: Mapping[str, str]) -> None:
        self._items = headers

    def _pairs(self) -> list[tuple[str, str]]:
        return list(self)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        for name, value in self._items.items():
            yield clean_text(name), clean_text(value)

    def __len__(self) -> int:
        return len(self._items)

    @overload
    def __getitem__(self, index: int) -> tuple[str, str]: ...
    @overload
    def __getitem__(self, index: slice) -> Sequence[tuple[str, str]]: ...
    def __getitem__(self, index: int | slice) -> tuple[str, str] | Sequence[tuple[str, str]]:
        return self._pairs()[index]


_Headers = Mapping[str, str] | Sequence[tuple[str, str]]


class Details:
    """Heavy per-row data for the detail pane, kept only while the run's detail policy allows.

    Headers are kept as given (aiohttp's immutable multidicts for a fetched row, bounded by
    fetch) and read as (name, value) pairs when asked: a run makes one of these per response,
    a pane reads few.
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


def _pairs(headers: _Headers) -> Sequence[tuple[str, str]]:
    return HeaderPairs(headers) if isinstance(headers, Mapping) else headers


class Response:
    """What fetch found for one URL: the last attempt's answer, its redirect chain, and the
    attempts it took. Filled by fetch alone while it works; read-only once handed on.

    ``first_status`` is the status of the first response of the last attempt (the redirect a
    migration reviewer checks, where ``status`` is where the chain ended).
    """

    __slots__ = (
        "status", "reason", "final_url", "redirects", "chain", "content_type", "bytes",
        "content_length", "elapsed_ms", "title", "sha256", "server", "timings", "note",
        "details", "attempts", "first_status",
    )

    def __init__(self) -> None:
        self.status: int | None = None
        self.reason = ""
        self.final_url = ""
        self.redirects = 0
        self.chain: tuple[Hop, ...] = ()  # every response when redirects were followed
        self.content_type = ""
        self.bytes: int | None = None  # body bytes read, after decompression
        self.content_length: int | None = None  # as the final response announced it
        self.elapsed_ms: float | None = None
        self.title = ""
        self.sha256 = ""
        self.server = ""
        self.timings: Timings = NO_TIMINGS
        # Things worth saying that are not failures: charset replaced, Retry-After waited...
        self.note = ""
        self.details: Details | None = None
        self.attempts = 0
        self.first_status: int | None = None

    def forget(self) -> None:
        """Clear what an earlier attempt recorded, so a row never mixes two attempts (a 503's
        title on the retry's 200, a status on a retry that got no answer)."""
        attempts = self.attempts
        Response.__init__(self)
        self.attempts = attempts

    def copy(self) -> Response:
        twin = Response.__new__(Response)
        for name in Response.__slots__:
            setattr(twin, name, getattr(self, name))
        return twin

    @classmethod
    def of(cls, **fields: Any) -> Response:
        response = cls()
        for name, value in fields.items():
            setattr(response, name, value)
        return response


# Rows with no response (invalid lines, rows cancelled before they started) share this one.
# Nothing may write to it.
NO_RESPONSE = Response()

_RESPONSE_FIELDS = frozenset(Response.__slots__)


class Result:
    """What happened to one input line: built once, by the run's done-callback.

    ``index`` is the row's position among the non-blank, non-comment lines, which is also its
    CSV row; ``line`` is its 1-based line number in the text the user gave. The response's
    fields read as the Result's own (``result.status``); ``check`` and ``check_reason`` are the
    row's redirect-map check, when the list carries expectations.
    """

    __slots__ = ("index", "line", "url", "outcome", "failure", "response", "check",
                 "check_reason", "check_code")

    def __init__(self, index: int, line: int, url: str, outcome: Outcome = Outcome.PENDING,
                 failure: Failure | None = None, response: Response = NO_RESPONSE,
                 check: str = "", check_reason: str = "", check_code: str = "") -> None:
        self.index = index
        self.line = line
        self.url = url
        self.outcome = outcome
        self.failure = failure
        self.response = response
        self.check = check  # "pass", "fail", or "" when the row expects nothing
        self.check_reason = check_reason
        self.check_code = check_code  # what kind of fail (app.core.checks), for grouping

    @classmethod
    def of(cls, index: int, line: int, url: str, outcome: Outcome = Outcome.PENDING,
           failure: Failure | None = None, *, check: str = "", check_reason: str = "",
           check_code: str = "", **response_fields: Any) -> Result:
        """A result with the given response fields (for stores, tests and synthetic rows)."""
        unknown = response_fields.keys() - _RESPONSE_FIELDS
        if unknown:
            raise TypeError(f"unknown result fields: {', '.join(sorted(unknown))}")
        response = Response.of(**response_fields) if response_fields else NO_RESPONSE
        return cls(index, line, url, outcome, failure, response, check, check_reason,
                   check_code)

    def replace(self, **changes: Any) -> Result:
        """A new result with some fields changed (a row's own or its response's)."""
        own = {name: changes.pop(name) for name in list(changes) if name in Result.__slots__}
        response = own.pop("response", self.response)
        if changes:
            unknown = changes.keys() - _RESPONSE_FIELDS
            if unknown:
                raise TypeError(f"unknown result fields: {', '.join(sorted(unknown))}")
            copy = response.copy()
            for name, value in changes.items():
                setattr(copy, name, value)
            response = copy
        values = {name: getattr(self, name) for name in Result.__slots__}
        values.update(own, response=response)
        return Result(**values)

    def __repr__(self) -> str:
        return (f"Result({self.index}, line {self.line}, {self.url!r}, {self.outcome.value}, "
                f"status={self.status}, kind={self.error_kind or '-'})")

    # The response's fields, read through (a Result holds one Response, shared when empty).
    @property
    def status(self) -> int | None:
        return self.response.status

    @property
    def reason(self) -> str:
        return self.response.reason

    @property
    def final_url(self) -> str:
        return self.response.final_url

    @property
    def redirects(self) -> int:
        return self.response.redirects

    @property
    def chain(self) -> tuple[Hop, ...]:
        return self.response.chain

    @property
    def content_type(self) -> str:
        return self.response.content_type

    @property
    def bytes(self) -> int | None:
        return self.response.bytes

    @property
    def content_length(self) -> int | None:
        return self.response.content_length

    @property
    def elapsed_ms(self) -> float | None:
        return self.response.elapsed_ms

    @property
    def title(self) -> str:
        return self.response.title

    @property
    def sha256(self) -> str:
        return self.response.sha256

    @property
    def server(self) -> str:
        return self.response.server

    @property
    def timings(self) -> Timings:
        return self.response.timings

    @property
    def note(self) -> str:
        return self.response.note

    @property
    def details(self) -> Details | None:
        return self.response.details

    @property
    def attempts(self) -> int:
        return self.response.attempts

    @property
    def first_status(self) -> int | None:
        return self.response.first_status

    @property
    def error_kind(self) -> str:
        return self.failure.kind.value if self.failure else ""

    @property
    def error(self) -> str:
        return self.failure.message if self.failure else ""

    @property
    def finished(self) -> bool:
        return self.outcome is not Outcome.PENDING

    @property
    def is_failure(self) -> bool:
        """A failed row, or a row whose redirect-map check failed."""
        return self.outcome in FAILURES or self.check == "fail"

    def redirect_chain_text(self) -> str:
        """``301 http://a/ -> 302 https://a/x -> 200 https://a/y``; empty without redirects."""
        return " -> ".join(f"{hop.status} {hop.url}" for hop in self.response.chain)


class Finished(Protocol):
    """What the counts (:class:`~app.core.tally.Tally`) and the run summary
    (:class:`~app.core.stats.RunStats`) read of a finished row: a :class:`Result`, or a
    reopened run's row that finished ok (:class:`app.core.store.StoredRow`)."""

    @property
    def index(self) -> int: ...

    @property
    def outcome(self) -> Outcome: ...

    @property
    def failure(self) -> Failure | None: ...

    @property
    def check(self) -> str: ...

    @property
    def url(self) -> str: ...

    @property
    def status(self) -> int | None: ...

    @property
    def elapsed_ms(self) -> float | None: ...

    @property
    def note(self) -> str: ...
