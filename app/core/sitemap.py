"""Sitemaps: reading ``sitemap.xml``, a sitemap index and ``.xml.gz`` safely, and expanding an
index by fetching its sitemaps with the run's own limits.

XML is parsed with expat directly, refusing any document type declaration: a sitemap never
needs one, and a DTD is where entity-expansion bombs ("billion laughs") and external entities
(``<!ENTITY x SYSTEM "file:///etc/passwd">``) live, so nothing is ever expanded or loaded.
Compressed data inflates up to a cap and is refused past it.

:func:`expand_sitemap` is the only code here that talks to the network, and every aiohttp call
is in :func:`_download`.
"""

from __future__ import annotations

import asyncio
from array import array
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple
from urllib.parse import urljoin
from xml.parsers import expat

import aiohttp

from app.core.decoding import MAX_INFLATED_BYTES, inflate
from app.core.errors import (
    KIND_INFO,
    RETRYABLE,
    RETRYABLE_STATUS,
    Failure,
    FetchError,
    Kind,
    classify,
    kind_for_status,
)
from app.core.imported import MIB, ImportedList, SourceError, TooLarge, _count, _lines_phrase
from app.core.lines import _TOO_LONG, MAX_LINE_CHARS
from app.core.settings import Settings
from app.core.textcolumn import TextColumn

__all__ = [
    "MAX_SITEMAP_URLS",
    "SITEMAP_MAX_BYTES",
    "SitemapDoc",
    "SitemapFetchError",
    "SitemapProgress",
    "expand_sitemap",
    "parse_sitemap",
    "sitemap_list",
]

# The protocol allows 50 MB (uncompressed) per sitemap; a little more is tolerated.
SITEMAP_MAX_BYTES = 64 * MIB
MAX_SITEMAP_URLS = 5_000_000  # an index expands to at most this many URLs
MAX_DEPTH = 3  # an index of indexes of indexes: the protocol allows no nesting at all
_FEED = 1 << 20


class SitemapFetchError(SourceError):
    """The sitemap asked for could not be fetched; ``failure`` says why."""

    def __init__(self, message: str, failure: Failure) -> None:
        super().__init__(message)
        self.failure = failure


@dataclass(frozen=True, slots=True)
class SitemapDoc:
    """One sitemap file: the page URLs of a ``<urlset>`` or the sitemaps of a
    ``<sitemapindex>``, each with the line of its ``<loc>``."""

    urls: list[str] = field(default_factory=list)
    lines: array[int] = field(default_factory=lambda: array("I"))
    lastmod: list[str] = field(default_factory=list)  # "" where a URL has none
    child_sitemaps: list[str] = field(default_factory=list)
    child_lines: array[int] = field(default_factory=lambda: array("I"))
    notices: tuple[str, ...] = ()

    @property
    def is_index(self) -> bool:
        return bool(self.child_sitemaps) and not self.urls


class _Refused(Exception):
    """Raised inside an expat handler to stop the parse."""


_ATOM = "http://www.w3.org/2005/Atom"

# What each kind of file calls its entries, and how deep they sit: a sitemap's <url> (or an
# index's <sitemap>) under the root, an RSS 2.0 feed's <item> under <channel>, an Atom feed's
# <entry> under <feed>. Search engines take all three as sitemaps.
_ENTRIES = {"urlset": (2, ("url", "sitemap")), "sitemapindex": (2, ("url", "sitemap")),
            "rss": (3, ("item",)), "feed": (2, ("entry",))}
_XML_BASE = "http://www.w3.org/XML/1998/namespace base"  # xml:base, as expat names it
_ALTERNATE = ("alternate", "http://www.iana.org/assignments/relation/alternate")


class _Reader:
    """expat handlers keeping the ``<loc>`` and ``<lastmod>`` of each ``<url>`` or ``<sitemap>``
    under the root, in the root's namespace: ``<image:loc>`` and the like are not pages. An
    RSS feed's item gives its ``<link>``; an Atom entry its first ``<link href>`` that is the
    page itself (no ``rel``, or ``rel="alternate"``)."""

    def __init__(self, parser: Any) -> None:
        self.parser = parser
        self.doc = SitemapDoc()
        self.depth = 0
        self.namespace = ""
        self.root = ""
        self.entry_depth = 2
        self.entry_names: tuple[str, ...] = ()
        self.entry: list[Any] | None = None  # [loc, its line, lastmod] of the open entry
        self.text: list[str] | None = None
        self.field = 0  # where the open text goes in the entry: 0 its URL, 2 its lastmod
        self.feed_base = self.entry_base = ""  # an Atom feed's and its entry's xml:base
        self.size = 0
        self.empty: list[int] = []

    def start(self, name: str, attrs: dict[str, str]) -> None:
        namespace, _, local = name.rpartition(" ")
        self.depth += 1
        depth = self.depth
        if depth == 1:
            if local not in _ENTRIES or (local == "feed" and namespace != _ATOM):
                raise _Refused("this XML file is not a sitemap or a feed: its root element "
                               f"is <{local}>")
            self.namespace, self.root = namespace, local
            self.entry_depth, self.entry_names = _ENTRIES[local]
            # xml:base against where the file came from (urljoin keeps either when one is "").
            self.feed_base = urljoin(self.feed_base, attrs.get(_XML_BASE, ""))
        elif namespace != self.namespace:
            return
        elif depth == self.entry_depth and local in self.entry_names:
            self.entry = [None, self.parser.CurrentLineNumber, ""]
            self.entry_base = urljoin(self.feed_base, attrs.get(_XML_BASE, ""))
        elif depth == self.entry_depth + 1 and self.entry is not None:
            if self.root == "feed":
                href = attrs.get("href", "").strip()
                if local == "link" and self.entry[0] is None and href \
                        and attrs.get("rel", "alternate").strip() in _ALTERNATE:
                    if len(href) > MAX_LINE_CHARS:
                        href = f"{_TOO_LONG}{len(href)}"
                    else:  # relative to xml:base: the link's own, its entry's, its feed's
                        href = urljoin(urljoin(self.entry_base, attrs.get(_XML_BASE, "")),
                                       href)
                    self.entry[0] = href
                    self.entry[1] = self.parser.CurrentLineNumber
            elif local in (("link",) if self.root == "rss" else ("loc", "lastmod")):
                self.text, self.size = [], 0
                self.field = 2 if local == "lastmod" else 0
                if self.field == 0:
                    self.entry[1] = self.parser.CurrentLineNumber

    def end(self, name: str) -> None:
        self.depth -= 1
        local = name.rpartition(" ")[2]
        entry = self.entry
        if self.text is not None and self.depth == self.entry_depth and entry is not None:
            value = ("".join(self.text).strip() if self.size <= MAX_LINE_CHARS
                     else f"{_TOO_LONG}{self.size}")
            self.text = None
            if self.field or not entry[0]:  # an entry's first URL counts, its last lastmod
                entry[self.field] = value
        elif self.depth == self.entry_depth - 1 and entry is not None \
                and local in self.entry_names:
            self.entry = None
            loc, line, lastmod = entry
            doc = self.doc
            if not loc:
                self.empty.append(line)
            elif local != "sitemap":
                doc.urls.append(loc)
                doc.lines.append(line)
                doc.lastmod.append(lastmod)
            else:
                doc.child_sitemaps.append(loc)
                doc.child_lines.append(line)

    def chars(self, data: str) -> None:
        if self.text is not None:
            self.size += len(data)
            if self.size <= MAX_LINE_CHARS:
                self.text.append(data)


def parse_sitemap(data: bytes, *, encoding: str | None = None,
                  max_bytes: int = MAX_INFLATED_BYTES, base: str = "") -> SitemapDoc:
    """Read one sitemap or sitemap index (gzip-compressed or not). Raises SourceError for
    anything else, for malformed XML, for any DTD, and for gzip inflating past ``max_bytes``.
    ``encoding`` overrides the one the XML declares (for text that was decoded already);
    ``base``, the address the file came from, is what an Atom feed's relative links are
    relative to when it names no ``xml:base``."""
    if data.startswith(b"\x1f\x8b"):
        data = inflate(data, max_bytes)
    parser = expat.ParserCreate(encoding, namespace_separator=" ")
    reader = _Reader(parser)
    reader.feed_base = base
    parser.buffer_text = True
    parser.StartElementHandler = reader.start
    parser.EndElementHandler = reader.end
    parser.CharacterDataHandler = reader.chars
    parser.StartDoctypeDeclHandler = _refuse_dtd
    parser.EntityDeclHandler = _refuse_entity
    parser.ExternalEntityRefHandler = _refuse_entity
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    try:
        for start in range(0, len(data), _FEED):
            parser.Parse(data[start:start + _FEED], False)
        parser.Parse(b"", True)
    except _Refused as exc:
        raise SourceError(str(exc)) from None
    except expat.ExpatError as exc:
        raise SourceError(f"this is not well-formed XML (line {exc.lineno}): "
                          f"{expat.ErrorString(exc.code)}") from None
    finally:
        parser.StartElementHandler = parser.EndElementHandler = None
        parser.CharacterDataHandler = None
    doc = reader.doc
    notices: list[str] = []
    if reader.empty:
        many = len(reader.empty) > 1
        what = {"rss": f"<item>{'s' if many else ''} without a <link>",
                "feed": f"<entry>{'s' if many else ''} without a link to a page"}.get(
            reader.root, f"empty <loc> element{'s' if many else ''}")
        notices.append(f"{len(reader.empty):,} {what} skipped ({_lines_phrase(reader.empty)})")
    if doc.urls and doc.child_sitemaps:
        notices.append(f"this sitemap lists {len(doc.child_sitemaps):,} sitemaps besides its "
                       "pages; only the pages are read")
    return SitemapDoc(doc.urls, doc.lines, doc.lastmod,
                      [] if doc.urls else doc.child_sitemaps,
                      array("I") if doc.urls else doc.child_lines, tuple(notices))


def _refuse_dtd(*_args: object) -> None:
    raise _Refused("this XML file declares a document type (<!DOCTYPE ...>): sitemaps never "
                   "do, and Fetchdeck does not read one, since it can hide an entity-expansion "
                   "bomb or a reference to a local file")


def _refuse_entity(*_args: object) -> int:
    raise _Refused("this XML file declares or refers to an entity; Fetchdeck does not "
                   "expand entities")


def sitemap_list(doc: SitemapDoc, source: str = "") -> ImportedList:
    """The rows of one sitemap file. An index becomes the list of its sitemaps
    (``kind="sitemap_index"``): :func:`expand_sitemap` reads the pages they list."""
    if doc.is_index:
        return ImportedList(TextColumn(doc.child_sitemaps), doc.child_lines, "sitemap_index",
                            notices=(*doc.notices, f"a sitemap index of "
                                     f"{_count(len(doc.child_sitemaps), 'sitemap')}: expand "
                                     "it to fetch the pages they list"))
    columns: tuple[str, ...] = ()
    extra: list[tuple[str, ...]] | None = None
    if source:
        columns = ("sitemap",)
    if any(doc.lastmod):
        columns += ("lastmod",)
    if columns:
        extra = [(source, lastmod) if source else (lastmod,) for lastmod in doc.lastmod] \
            if "lastmod" in columns else [(source,)] * len(doc.urls)
    notices = doc.notices if doc.urls else (*doc.notices, "no URLs: the sitemap is empty")
    return ImportedList(TextColumn(doc.urls), doc.lines, "sitemap", columns=columns,
                        extra=extra, notices=notices)


# --- expanding an index -----------------------------------------------------------------------


class SitemapProgress(NamedTuple):
    sitemaps_done: int
    sitemaps_total: int  # grows when a sitemap turns out to be an index itself
    urls: int


@dataclass(slots=True)
class _Piece:
    """One sitemap named by an index: the pages it listed, or why it gave none."""

    url: str
    line: int
    parent: str
    doc: SitemapDoc | None = None
    failure: Failure | None = None
    children: list[_Piece] = field(default_factory=list)


@dataclass(slots=True)
class _Expansion:
    session: aiohttp.ClientSession
    settings: Settings
    cap: int
    max_urls: int
    progress: Callable[[SitemapProgress], None] | None
    slots: asyncio.Semaphore
    seen: set[str] = field(default_factory=set)
    repeated: list[str] = field(default_factory=list)
    done: int = 0
    total: int = 0
    urls: int = 0

    def report(self) -> None:
        if self.progress is not None:
            self.progress(SitemapProgress(self.done, self.total, self.urls))


async def expand_sitemap(
    source: str | bytes,
    settings: Settings,
    *,
    session: aiohttp.ClientSession | None = None,
    progress: Callable[[SitemapProgress], None] | None = None,
    max_urls: int = MAX_SITEMAP_URLS,
    max_bytes: int | None = None,
    concurrency: int = 4,
) -> ImportedList:
    """The page URLs of a sitemap or sitemap index, given as a URL or as a file's bytes.

    Each sitemap an index names is fetched (``concurrency`` at a time) with the settings'
    timeouts, retries, TLS and proxy options, and read up to ``max_bytes`` after decompression
    (default: the settings' body cap, or SITEMAP_MAX_BYTES if that is larger). Every sitemap that
    gives no URLs becomes a row of its own, its URL with a :class:`Failure` in ``failures``
    saying why (404, not a sitemap, too big, timeout, the URL limit reached...): none is dropped.
    Rows carry a ``sitemap`` column naming the sitemap they came from.

    Raises SitemapFetchError when ``source`` is a URL that cannot be fetched, SourceError when
    it is not a sitemap. The session is ``open_session(settings)`` unless one is given.
    """
    cap = max_bytes if max_bytes is not None else max(settings.max_body, SITEMAP_MAX_BYTES)
    own = session is None
    if session is None:
        from app.core.transport import open_session  # noqa: PLC0415 - heavy to import

        session = open_session(settings)
    try:
        job = _Expansion(session, settings, cap, max_urls, progress,
                         asyncio.Semaphore(max(1, concurrency)))
        if isinstance(source, bytes):
            root, name = parse_sitemap(source, max_bytes=cap), ""
        else:
            name = source
            job.seen.add(source)
            try:
                data = await _download(session, source, settings, cap)
            except Exception as exc:
                failure = _failure(exc)
                raise SitemapFetchError(f"could not fetch the sitemap {source}: "
                                        f"{failure.message}", failure) from exc
            root = parse_sitemap(data, max_bytes=cap, base=source)
        if not root.is_index:
            return sitemap_list(root, name)
        pieces = _pieces(root, name, job)
        job.total = len(pieces)
        job.report()
        await _read_all(pieces, job, depth=1)
        return _assemble(root, name, pieces, job)
    finally:
        if own:
            await session.close()


def _pieces(index: SitemapDoc, parent: str, job: _Expansion) -> list[_Piece]:
    pieces = []
    for url, line in zip(index.child_sitemaps, index.child_lines, strict=True):
        if url in job.seen:
            job.repeated.append(url)
            continue
        job.seen.add(url)
        pieces.append(_Piece(url, line, parent))
    return pieces


async def _read_all(pieces: list[_Piece], job: _Expansion, depth: int) -> None:
    async with asyncio.TaskGroup() as group:
        for piece in pieces:
            group.create_task(_read_one(piece, job, depth))


async def _read_one(piece: _Piece, job: _Expansion, depth: int) -> None:
    async with job.slots:
        if job.urls >= job.max_urls:
            piece.failure = Failure.plain(
                Kind.CONFIG, f"not read: the list already holds {job.urls:,} URLs, the most "
                             f"a sitemap import takes ({job.max_urls:,})")
        else:
            try:
                data = await _download(job.session, piece.url, job.settings, job.cap)
                doc = parse_sitemap(data, max_bytes=job.cap, base=piece.url)
            except asyncio.CancelledError:
                raise
            except TooLarge as exc:
                piece.failure = Failure.plain(Kind.BODY_TOO_LARGE, str(exc))
            except SourceError as exc:
                piece.failure = Failure.plain(Kind.PROTOCOL, f"not a sitemap: {exc}")
            except Exception as exc:
                piece.failure = _failure(exc)
            else:
                piece.doc = doc
                job.urls += len(doc.urls)
    if piece.doc is not None and piece.doc.is_index:
        if depth >= MAX_DEPTH:
            piece.failure = Failure.plain(
                Kind.PROTOCOL, f"not read: sitemap indexes nested more than {MAX_DEPTH} deep")
        else:
            piece.children = _pieces(piece.doc, piece.url, job)
            job.total += len(piece.children)
            await _read_all(piece.children, job, depth + 1)
    job.done += 1
    job.report()


def _assemble(root: SitemapDoc, name: str, pieces: list[_Piece],
              job: _Expansion) -> ImportedList:
    texts = TextColumn()
    lines: array[int] = array("I")
    extra: list[tuple[str, ...]] = []
    failures: dict[int, Failure] = {}
    counts = {"read": 0, "failed": 0}

    def add(piece: _Piece) -> None:
        doc = piece.doc
        if piece.failure is not None or doc is None:
            failures[len(texts)] = piece.failure or Failure.plain(Kind.INTERNAL, "not read")
            texts.append(piece.url)
            lines.append(piece.line)
            extra.append((piece.parent, ""))
            counts["failed"] += 1
            return
        if doc.is_index:
            for child in piece.children:
                add(child)
            return
        counts["read"] += 1
        texts.extend(doc.urls)
        lines.extend(doc.lines)
        extra.extend((piece.url, lastmod) for lastmod in doc.lastmod)

    for piece in pieces:
        add(piece)
    where = f"sitemap index {name}" if name else "the sitemap index"
    notices = [*root.notices, f"{where}: {_count(counts['read'], 'sitemap')} read"
               + (f", {counts['failed']:,} could not be read (each is a failed row)"
                  if counts["failed"] else "")
               + f"; {_count(len(texts) - counts['failed'], 'URL')}"]
    if job.repeated:
        notices.append(f"{_count(len(job.repeated), 'sitemap')} named twice, read once: "
                       + ", ".join(job.repeated[:3]) + (", ..." if len(job.repeated) > 3
                                                        else ""))
    return ImportedList(texts, lines, "sitemap", columns=("sitemap", "lastmod"), extra=extra,
                        failures=failures, notices=tuple(notices))


def _failure(exc: BaseException) -> Failure:
    # Even an unforeseen error (kind "internal") becomes the sitemap's row, traceback kept,
    # rather than ending the whole expansion.
    return Failure.from_exception(exc)


async def _download(session: aiohttp.ClientSession, url: str, settings: Settings,
                    cap: int) -> bytes:
    """A sitemap's bytes, decompressed by Content-Encoding, at most ``cap`` of them, with the
    settings' timeouts, redirects and retries. Raises FetchError or aiohttp's exceptions."""
    timeout = aiohttp.ClientTimeout(total=settings.timeout, connect=settings.connect_timeout)
    headers = None
    if settings.auth:
        from app.core.transport import basic_auth  # noqa: PLC0415

        headers = {"Authorization": basic_auth(*settings.auth.partition(":")[::2])}
    attempt = 0
    while True:
        attempt += 1
        status = 0
        try:
            async with session.get(url, timeout=timeout, headers=headers,
                                   allow_redirects=True,
                                   max_redirects=settings.max_redirects + 1) as resp:
                status = resp.status
                kind = kind_for_status(status)
                if kind is not None or resp.status >= 300:
                    raise FetchError(kind or Kind.PROTOCOL,
                                     f"{KIND_INFO[kind].title if kind else 'Redirect'}: the "
                                     f"sitemap answered {resp.status} {resp.reason or ''}"
                                     .rstrip())
                body = bytearray()
                async for chunk in resp.content.iter_chunked(64 * 1024):
                    if len(body) + len(chunk) > cap:
                        raise FetchError(Kind.BODY_TOO_LARGE,
                                         f"{KIND_INFO[Kind.BODY_TOO_LARGE].title}: the sitemap "
                                         f"is larger than {cap:,} bytes")
                    body += chunk
                return bytes(body)
        except FetchError:
            if status not in RETRYABLE_STATUS or attempt > settings.retries:
                raise
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            if classify(exc)[0] not in RETRYABLE or attempt > settings.retries:
                raise
        await asyncio.sleep(min(0.5 * 2 ** (attempt - 1), 8.0))
