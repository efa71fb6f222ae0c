"""Turn the text a user pasted or imported into targets: one per non-blank, non-comment line,
each either a fetchable URL or a rejected line with the reason in plain words.

A list may hold a million lines, so a :class:`TargetList` keeps only each line's text and line
number; :class:`Target` objects are made as the run reaches them, and the common plain
``http(s)://host/path`` line is recognised by one regular expression instead of a full parse.
"""

from __future__ import annotations

import codecs
import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

from yarl import URL

from app.core.errors import Failure, Kind
from app.core.redact import mask_url

MAX_URL_LENGTH = 8192
# A line longer than this is rejected as it is read, without any parse, and only its start is
# kept: one 50 MB line once took minutes and gigabytes.
MAX_LINE_LENGTH = 64 * 1024
KEPT_OF_LONG_LINE = 200

# Plain ASCII http(s) URLs with a DNS name or IP literal and an optional port: the vast majority
# of real lists. Anything else takes the full parse in check_url.
_PLAIN_URL = re.compile(
    r"(?i:https?)://([a-z0-9](?:[a-z0-9.-]*[a-z0-9])?|\[[0-9a-f:.]+\])(?::(\d{1,5}))?"
    r"(?:[/?#][!-~]*)?",
    re.ASCII,
)

# The part of those that yarl would leave exactly as written: lowercase scheme and host, no port
# with a leading zero, no percent-escapes, no fragment, and only characters yarl never re-quotes;
# _check also requires no ".." in the host, no punycode label (yarl checks those: an invalid one
# is an invalid URL), and no "/." in the path (no dot segments). A run builds
# these URLs with ``encoded=True`` and skips yarl's re-encoding, ~1.6 us of a request's CPU;
# tests/core/test_targets.py checks that the two constructions agree.
_EXACT_URL = re.compile(
    r"https?://([a-z0-9.-]+)(?::([1-9][0-9]{0,4}))?"
    r"((?:/[/A-Za-z0-9\-._~!$&'()*+,;=:@]*)?)"
    r"(?:\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*)?",
    re.ASCII,
)


class Target(NamedTuple):
    """One input line. ``failure`` is set when the line cannot be fetched, and says why.

    A named tuple rather than a frozen dataclass: a run makes one per URL as it goes, and a
    frozen dataclass's ``__init__`` (``object.__setattr__`` per field) cost three times as much.
    """

    index: int  # type: ignore[assignment]  # shadows tuple.index, which nothing here uses
    line: int
    text: str
    failure: Failure | None = None
    host: str = ""  # the per-host key: lowercase, IDNA-encoded
    exact: bool = False  # the text is already in yarl's normal form (see _EXACT_URL)

    @property
    def url(self) -> URL | None:
        """The parsed URL, made when asked (a run asks once, as it starts the request)."""
        if self.failure is not None:
            return None
        return URL(self.text, encoded=True) if self.exact else URL(self.text)


def _too_long(length: int) -> Failure:
    return Failure.plain(Kind.INVALID_URL, f"the line is {length:,} characters long; the "
                         f"limit for a URL is {MAX_URL_LENGTH:,}")


def split_lines(text: str) -> list[str]:
    """The lines of a list: split at LF and CRLF only.

    Not ``str.splitlines``, which also splits at vertical tab, form feed, the separators
    U+001C-U+001E, U+0085, U+2028/U+2029 and a lone CR: a line holding one of those is one
    line (and, if it is meant as a URL, an invalid one), so line numbers match the file's.
    """
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [line[:-1] if line.endswith("\r") else line for line in lines]


def check_url(text: str) -> tuple[URL | None, Failure | None]:
    """Parse one stripped line as an http(s) URL, or say in plain words why it is not one."""
    if len(text) > MAX_URL_LENGTH:
        return None, _too_long(len(text))
    if any(ch.isspace() for ch in text):
        return None, Failure.plain(Kind.INVALID_URL, "a URL cannot contain spaces or tabs")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        return None, Failure.plain(Kind.INVALID_URL, "the line contains control characters")
    try:
        url = URL(text)
    except (ValueError, TypeError) as exc:
        return None, Failure.plain(Kind.INVALID_URL, f"not a valid URL: {exc}")
    scheme = url.scheme.lower()
    # "example.com:8080/x" parses with scheme "example.com": that is a missing scheme too.
    if not scheme or "." in scheme or scheme == "localhost":
        suggestion = mask_url("https://" + text.lstrip("/"))
        return None, Failure.plain(Kind.INVALID_URL, f"no scheme: did you mean {suggestion}?")
    if scheme not in ("http", "https"):
        return None, Failure.plain(
            Kind.UNSUPPORTED_SCHEME, f"`{scheme}:` is not an http(s) URL")
    try:
        host = url.host
        port = url.port
    except ValueError as exc:
        return None, Failure.plain(Kind.INVALID_URL, f"not a valid URL: {exc}")
    if not host:
        return None, Failure.plain(Kind.INVALID_URL, "the URL has no host name")
    if port is not None and not 0 < port < 65536:
        return None, Failure.plain(Kind.INVALID_URL, f"port {port} is out of range")
    return url, None


def check_line(text: str) -> tuple[str, Failure | None]:
    """The per-host key of a stripped line, or why it cannot be fetched. Fast for plain URLs."""
    host, failure, _ = _check(text)
    return host, failure


def _check(text: str) -> tuple[str, Failure | None, bool]:
    """(host key, failure, whether the text is already in yarl's normal form)."""
    if len(text) <= MAX_URL_LENGTH and (match := _EXACT_URL.fullmatch(text)) is not None:
        host, port, path = match.groups()
        # The pattern's port has no leading zero, so text order is number order at 5 digits.
        if (".." not in host and "xn--" not in host and "/." not in path
                and (port is None or len(port) < 5 or port <= "65535")):
            return host, None, True
    if len(text) > MAX_URL_LENGTH:
        return "", _too_long(len(text)), False
    match = _PLAIN_URL.fullmatch(text)
    if match is not None:
        host, port = match.groups()
        if ".." not in host and (port is None or 0 < int(port) < 65536):
            return host.lower().strip("[]"), None, False  # as yarl's raw_host: no brackets
    url, failure = check_url(text)
    if url is None:
        return "", failure, False
    return (url.raw_host or "").lower(), None, False


def make_target(index: int, line: int, text: str) -> Target:
    host, failure, exact = _check(text)
    return Target(index, line, text, failure, host, exact)


class TargetList:
    """The lines of a URL list that will become rows: text and line number, nothing more.

    Iterating yields :class:`Target` objects made on the fly, so a million-line list costs its
    strings and four bytes a line. Treat it as immutable: the results model shares its lists.
    ``too_long`` maps the rows whose line was over ``MAX_LINE_LENGTH`` to that length; only
    the line's start is kept as its text.
    """

    __slots__ = ("texts", "lines", "too_long")

    def __init__(self, texts: list[str], lines: array[int],
                 too_long: dict[int, int] | None = None) -> None:
        self.texts = texts
        self.lines = lines
        self.too_long = too_long or {}

    @classmethod
    def from_lines(cls, raw_lines: Iterable[str], first_line: int = 1) -> TargetList:
        """Keep every line that is not blank and does not start with ``#``."""
        texts: list[str] = []
        lines: array[int] = array("L")
        too_long: dict[int, int] = {}
        for number, raw in enumerate(raw_lines, start=first_line):
            if len(raw) > MAX_LINE_LENGTH:
                text = raw[:MAX_LINE_LENGTH].strip().lstrip("\ufeff").strip()
                if not text or text.startswith("#"):
                    continue
                too_long[len(texts)] = len(raw)
                texts.append(text[:KEPT_OF_LONG_LINE] + "\u2026")
                lines.append(number)
                continue
            text = raw.strip().lstrip("\ufeff").strip()
            if not text or text.startswith("#"):
                continue
            texts.append(text)
            lines.append(number)
        return cls(texts, lines, too_long)

    @classmethod
    def empty(cls) -> TargetList:
        return cls([], array("L"))

    @classmethod
    def from_text(cls, text: str) -> TargetList:
        return cls.from_lines(split_lines(text))

    def extend(self, other: TargetList) -> None:
        """Append another list's rows (a second source of one run)."""
        offset = len(self.texts)
        self.texts.extend(other.texts)
        self.lines.extend(other.lines)
        self.too_long.update({offset + i: n for i, n in other.too_long.items()})

    def __len__(self) -> int:
        return len(self.texts)

    def __iter__(self) -> Iterator[Target]:
        too_long = self.too_long
        lines = self.lines
        for index, text in enumerate(self.texts):
            if too_long and index in too_long:
                yield self[index]
            else:
                yield make_target(index, lines[index], text)

    def __getitem__(self, index: int) -> Target:
        if index in self.too_long:
            return Target(index, self.lines[index], self.texts[index],
                          _too_long(self.too_long[index]))
        return make_target(index, self.lines[index], self.texts[index])


def parse_text(text: str) -> list[Target]:
    return list(TargetList.from_text(text))


@dataclass(frozen=True, slots=True)
class Summary:
    """What the form says about its text before a run."""

    fetchable: int
    rejected: tuple[Target, ...]  # the first ones only, when there are very many
    total: int = -1

    def __post_init__(self) -> None:
        if self.total < 0:
            object.__setattr__(self, "total", self.fetchable + len(self.rejected))

    @property
    def rejected_count(self) -> int:
        return self.total - self.fetchable


def summarize(targets: Iterable[Target], keep_rejected: int = 1000) -> Summary:
    """Count fetchable lines; keep the first ``keep_rejected`` rejected ones (with reasons)."""
    fetchable = rejected_count = 0
    rejected: list[Target] = []
    for target in targets:
        if target.failure is None:
            fetchable += 1
            continue
        rejected_count += 1
        if len(rejected) < keep_rejected:
            rejected.append(target)
    return Summary(fetchable, tuple(rejected), fetchable + rejected_count)


def read_url_file(path: str | Path) -> str:
    """Read a URL list: UTF-8 with or without BOM, LF or CRLF. Undecodable bytes become U+FFFD
    so that the line still shows (and is rejected with a reason) rather than failing the import."""
    return read_url_bytes(Path(path).read_bytes())


def read_url_bytes(data: bytes) -> str:
    """A URL list's bytes as text (see :func:`read_url_file`)."""
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    return data.decode("utf-8", errors="replace")


def mask_password(url: str) -> str:
    """``https://user:secret@host/`` -> ``https://user:***@host/`` (see app.core.redact)."""
    return mask_url(url)
