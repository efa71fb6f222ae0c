"""Turn the text a user pasted or imported into targets: one per non-blank, non-comment line,
each either a fetchable URL or a rejected line with the reason in plain words."""

from __future__ import annotations

import codecs
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from yarl import URL

from app.core.errors import Failure, Kind

MAX_URL_LENGTH = 8192


@dataclass(frozen=True, slots=True)
class Target:
    """One input line. ``url`` is None when the line cannot be fetched; ``failure`` says why."""

    index: int
    line: int
    text: str
    url: URL | None
    failure: Failure | None = None

    @property
    def host(self) -> str:
        return (self.url.host or "") if self.url is not None else ""


def check_url(text: str) -> tuple[URL | None, Failure | None]:
    """Parse one stripped line as an http(s) URL, or say in plain words why it is not one."""
    if len(text) > MAX_URL_LENGTH:
        return None, Failure.plain(
            Kind.INVALID_URL, f"the line is {len(text):,} characters long; the limit is "
            f"{MAX_URL_LENGTH:,}")
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
        return None, Failure.plain(
            Kind.INVALID_URL, f"no scheme: did you mean https://{text}?")
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


def iter_targets(lines: Iterable[str]) -> Iterator[Target]:
    """Yield a target for every line that is not blank and does not start with ``#``."""
    index = 0
    for number, raw in enumerate(lines, start=1):
        text = raw.strip().lstrip("\ufeff").strip()
        if not text or text.startswith("#"):
            continue
        url, failure = check_url(text)
        yield Target(index, number, text, url, failure)
        index += 1


def parse_text(text: str) -> list[Target]:
    return list(iter_targets(text.splitlines()))


@dataclass(frozen=True, slots=True)
class Summary:
    """What the form says about its text before a run."""

    fetchable: int
    rejected: tuple[Target, ...]

    @property
    def total(self) -> int:
        return self.fetchable + len(self.rejected)


def summarize(targets: Iterable[Target], keep_rejected: int = 1000) -> Summary:
    fetchable = 0
    rejected: list[Target] = []
    for target in targets:
        if target.url is not None:
            fetchable += 1
        elif len(rejected) < keep_rejected:
            rejected.append(target)
    return Summary(fetchable, tuple(rejected))


def read_url_file(path: str | Path) -> str:
    """Read a URL list: UTF-8 with or without BOM, LF or CRLF. Undecodable bytes become U+FFFD
    so that the line still shows (and is rejected with a reason) rather than failing the import."""
    data = Path(path).read_bytes()
    if data.startswith(codecs.BOM_UTF8):
        data = data[len(codecs.BOM_UTF8):]
    return data.decode("utf-8", errors="replace")


def mask_password(url: str) -> str:
    """``https://user:secret@host/`` -> ``https://user:***@host/``; other URLs unchanged."""
    if "@" not in url:
        return url
    try:
        parsed = URL(url)
    except (ValueError, TypeError):
        return url
    if parsed.password is None:
        return url
    return str(parsed.with_password("***"))
