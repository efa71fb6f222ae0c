"""Turn the text a user pasted or imported into targets: one per non-blank, non-comment line,
each either a fetchable URL or a rejected line with the reason in plain words.

A list may hold a million lines, so a :class:`TargetList` keeps only each line's text and line
number; :class:`Target` objects are made as the run reaches them, and the common plain
``http(s)://host/path`` line is recognised by one regular expression instead of a full parse.
"""

from __future__ import annotations

import re
from array import array
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import NamedTuple

from yarl import URL

from app.core.errors import BAD_HOST_LABELS, Failure, Kind
from app.core.lines import _TOO_LONG, pasted
from app.core.redact import mask_url
from app.core.repeats import later_copies
from app.core.sources import (
    MAX_LINE_CHARS,
    ImportedList,
    SourceError,
    line_by_line,
    parse_bytes,
    read_source,
    too_long_message,
)
from app.core.sources import parse_text as parse_source_text
from app.core.textcolumn import TextColumn

MAX_URL_LENGTH = 8192
# A line longer than this is rejected as it is read, without any parse (app.core.sources
# finds it with str.find): one 50 MB line once took minutes and gigabytes.
MAX_LINE_LENGTH = MAX_LINE_CHARS

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


def check_url(text: str) -> tuple[URL | None, Failure | None]:
    """Parse one stripped line as an http(s) URL, or say in plain words why it is not one."""
    if len(text) > MAX_URL_LENGTH:
        return None, _too_long(len(text))
    if any(ch.isspace() for ch in text):
        return None, Failure.plain(Kind.INVALID_URL, "a URL cannot contain spaces or tabs")
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in text):
        return None, Failure.plain(Kind.INVALID_URL, "the line contains control characters")
    if "\ufffd" in text:  # fetched, it would be another URL than the one in the file
        return None, Failure.plain(Kind.INVALID_URL, "the line has bytes that could not be "
                                   "decoded (the file's encoding is not what it seems)")
    try:
        url = URL(text)
    except (ValueError, TypeError) as exc:
        if "label empty or too long" in str(exc):  # the idna codec, on an international host
            return None, Failure.plain(Kind.INVALID_URL, BAD_HOST_LABELS)
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
    raw_host = url.raw_host or ""
    problem = None if ":" in raw_host else _host_problem(raw_host)  # IPv6 has no labels
    if problem is not None:
        return None, Failure.plain(Kind.INVALID_URL, problem)
    return url, None


MAX_HOST_NAME = 253  # characters of a DNS name, without its trailing dot


def _host_problem(host: str) -> str | None:
    """Why DNS could not take this host name (a part between dots empty or over 63
    characters, the name over 253; a trailing dot, the root, is allowed), or None: what would
    fail only when fetched is named at once."""
    name = host.removesuffix(".")
    if len(name) > MAX_HOST_NAME:
        return f"the host name is {len(name):,} characters long; DNS allows {MAX_HOST_NAME}"
    if not all(0 < len(label) <= 63 for label in name.split(".")):
        return BAD_HOST_LABELS
    return None


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
                and (port is None or len(port) < 5 or port <= "65535")
                and host[0] != "." and (len(host) <= 63 or _host_problem(host) is None)):
            return host, None, True
    if len(text) > MAX_URL_LENGTH:
        return "", _too_long(len(text)), False
    match = _PLAIN_URL.fullmatch(text)
    if match is not None:
        host, port = match.groups()
        if (".." not in host and "xn--" not in host.lower()
                and (port is None or 0 < int(port) < 65536)
                and (len(host) <= 63 or _host_problem(host) is None)):
            return host.lower().strip("[]"), None, False  # as yarl's raw_host: no brackets
    url, failure = check_url(text)
    if url is None:
        return "", failure, False
    return (url.raw_host or "").lower(), None, False


def make_target(index: int, line: int, text: str) -> Target:
    host, failure, exact = _check(text)
    return Target(index, line, text, failure, host, exact)


class TargetList:
    """The rows of a URL list: each row's text and line number, and what the list says of them.

    Iterating yields :class:`Target` objects made on the fly, so a million-line list costs its
    texts' UTF-8 bytes (a :class:`TextColumn`) and ~9 bytes a line. Treat it as immutable: the
    results model shares its texts. ``failures`` holds rows that must not be fetched, with why
    (a line over the length limit, a sitemap that could not be read). An imported table adds,
    per row, the expected answer (``expected``, ``expected_status``) and its other columns
    (``columns``/``extra``).
    """

    __slots__ = ("texts", "lines", "failures", "expected", "expected_status", "columns",
                 "extra", "notices", "_copies")

    def __init__(self, texts: Iterable[str], lines: array[int],
                 failures: dict[int, Failure] | None = None, *,
                 expected: list[str | None] | None = None,
                 expected_status: list[int | None] | None = None,
                 columns: tuple[str, ...] = (), extra: list[tuple[str, ...]] | None = None,
                 notices: tuple[str, ...] = ()) -> None:
        self.texts = texts if isinstance(texts, TextColumn) else TextColumn(texts)
        self.lines = lines
        self.failures = failures or {}
        self.expected = expected
        self.expected_status = expected_status
        self.columns = columns
        self.extra = extra
        self.notices = notices
        self._copies: tuple[dict[int, list[int]], dict[int, int]] | None = None

    @classmethod
    def empty(cls) -> TargetList:
        return cls(TextColumn(), array("I"))

    @classmethod
    def from_imported(cls, imported: ImportedList) -> TargetList:
        """The rows of an imported list; over-long lines become failures of their own."""
        texts = imported.texts
        if not isinstance(texts, TextColumn):
            texts = TextColumn(texts)
        failures = dict(imported.failures)
        shown: dict[int, str] = {}
        for index in texts.starting_with(_TOO_LONG):  # found in the bytes: no text decoded
            text = texts[index]
            message = too_long_message(text)
            if message is not None:
                failures[index] = Failure.plain(Kind.INVALID_URL, message)
                shown[index] = f"(a line of {text.rpartition(':')[2]} characters)"
        if shown:
            texts = texts.replaced(shown)  # a copy: the imported list keeps what it read
        return cls(texts, imported.lines, failures, expected=imported.expected,
                   expected_status=imported.expected_status, columns=imported.columns,
                   extra=imported.extra, notices=imported.notices)

    @classmethod
    def from_text(cls, text: str) -> TargetList:
        """Pasted or typed text: one row per line (LF or CRLF) that is not blank or a
        comment; a pasted table (tab-separated, as spreadsheets copy) is read as a table.
        Never raises: text that looks like a table or a sitemap but is not one (half-typed
        XML) is read line by line, and its notice says why (see :func:`pasted` for NULs)."""
        text = pasted(text)
        try:
            return cls.from_imported(parse_source_text(text))
        except SourceError as exc:
            return cls.from_imported(line_by_line(text, (f"read line by line: {exc}",)))

    @classmethod
    def from_lines(cls, raw_lines: Iterable[str], first_line: int = 1) -> TargetList:
        """Rows of lines already split (a file read line by line): blank and ``#`` lines are
        skipped, a line over the length limit is kept as a failed row without its text."""
        texts = TextColumn()
        lines: array[int] = array("I")
        failures: dict[int, Failure] = {}
        numbered = enumerate(raw_lines, start=first_line)
        while batch := list(islice(numbered, 4096)):
            kept: list[str] = []
            for number, raw in batch:
                if len(raw) > MAX_LINE_LENGTH:
                    failures[len(texts) + len(kept)] = Failure.plain(
                        Kind.INVALID_URL, f"the line is "
                        f"{len(raw.rstrip(chr(10)).rstrip(chr(13))):,} characters long; the "
                        f"limit is {MAX_LINE_LENGTH:,}")
                    kept.append(f"(a line of {len(raw):,} characters)")
                    lines.append(number)
                    continue
                text = raw.strip().lstrip("\ufeff").strip()
                if not text or text.startswith("#"):
                    continue
                kept.append(text)
                lines.append(number)
            texts.extend(kept)
        return cls(texts, lines, failures)

    def extend(self, other: TargetList) -> None:
        """Append another source's rows (a run may read several)."""
        offset = len(self.texts)
        size = len(other.texts)
        if other.columns or self.columns:
            names = self.columns + tuple(c for c in other.columns if c not in self.columns)
            mine = self._extra_as(names, offset)
            theirs = other._extra_as(names, size)
            self.columns, self.extra = names, mine + theirs
        for name in ("expected", "expected_status"):
            ours, theirs_ = getattr(self, name), getattr(other, name)
            if ours is not None or theirs_ is not None:
                setattr(self, name, (ours or [None] * offset) + (theirs_ or [None] * size))
        self.texts.extend(other.texts)
        if other.lines.typecode == self.lines.typecode:
            self.lines.extend(other.lines)
        else:  # an array takes only its own kind whole; numbers one by one are fine
            self.lines.extend(iter(other.lines))
        self.failures.update({offset + i: f for i, f in other.failures.items()})
        self.notices += other.notices
        self._copies = None

    def _extra_as(self, names: tuple[str, ...], count: int) -> list[tuple[str, ...]]:
        if not self.extra:
            return [("",) * len(names)] * count
        where = [self.columns.index(n) if n in self.columns else -1 for n in names]
        return [tuple(row[i] if i >= 0 else "" for i in where) for row in self.extra]

    def __len__(self) -> int:
        return len(self.texts)

    def __iter__(self) -> Iterator[Target]:
        failures = self.failures
        lines = self.lines
        for index, text in enumerate(self.texts):
            if failures and index in failures:
                yield Target(index, lines[index], text, failures[index])
            else:
                yield make_target(index, lines[index], text)

    def __getitem__(self, index: int) -> Target:
        if index in self.failures:
            return Target(index, self.lines[index], self.texts[index], self.failures[index])
        return make_target(index, self.lines[index], self.texts[index])

    def copies(self) -> tuple[dict[int, list[int]], dict[int, int]]:
        """Rows whose text repeats an earlier row's: (first -> its later copies, later copy ->
        its first). A failed row is never a later copy. Made once, when a run first asks: one
        dict pass up to two million rows (~0.2 s a million), beyond that two passes over the
        texts' bytes that keep only the repeats (see :mod:`app.core.repeats`)."""
        if self._copies is None:
            texts, failures = self.texts, self.failures
            later = later_copies(texts.encoded, len(texts))
            if failures:
                later = {i: f for i, f in later.items() if i not in failures}
            by_first: dict[int, list[int]] = {}
            for index, seen in later.items():
                by_first.setdefault(seen, []).append(index)
            self._copies = (by_first, later)
        return self._copies


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


def read_list(path: str | Path) -> TargetList:
    """Read a URL list from a file, whatever its form (text, CSV/TSV, a spreadsheet, a
    sitemap file: see :mod:`app.core.sources`). Raises OSError, or SourceError in plain words."""
    return TargetList.from_imported(read_source(path))


def list_from_bytes(data: bytes, name: str = "") -> TargetList:
    """A URL list from bytes (standard input, a drop), read as :func:`read_list` reads files."""
    return TargetList.from_imported(parse_bytes(data, name))
