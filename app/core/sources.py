"""Every way a URL list arrives (a text file, pasted text, a CSV or TSV, a spreadsheet, an HTML
page, a sitemap) read into one :class:`ImportedList`: this module chooses the reader by
content, then by name, and reads plain-text lists and HTML links itself.

Bad input is named, never guessed at: the encoding is said when it is not plain UTF-8, bytes
that cannot be decoded are replaced and their lines named, a binary or empty file is refused
with a :class:`SourceError`, and a table whose URL column cannot be found raises
:class:`ColumnNotFound` carrying a :class:`TablePreview` so the user can pick one.
"""

from __future__ import annotations

import codecs
import io
import os
import shutil
import stat
import tempfile
import zipfile
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from app.core.checks import request_keys
from app.core.decoding import (
    _SNIFF,
    MAX_INFLATED_BYTES,
    _head,
    decode_bytes,
    inflate,
    refuse_nul,
    utf8_start,
)
from app.core.imported import (
    MIB,
    ColumnChoice,
    ColumnNotFound,
    Decoded,
    ImportedList,
    SourceError,
    SourceKind,
    TableColumns,
    TablePreview,
    TooLarge,
    _count,
)
from app.core.lines import (
    _LOOK_CLOSER,
    _TOO_LONG,
    MAX_LINE_CHARS,
    _blocks,
    _from_markup,
    pasted,
    row_text,
    split_lines,
    stream_blocks,
    too_long_message,
)
from app.core.repeats import later_copies
from app.core.tables import _csv_table, _sheet_table, _sniff_delimiter, _table_list
from app.core.textcolumn import TextColumn

__all__ = [
    "MAX_LINE_CHARS",
    "ColumnNotFound",
    "Decoded",
    "ImportedList",
    "SourceError",
    "SourceKind",
    "TableColumns",
    "TablePreview",
    "TooLarge",
    "decode_bytes",
    "find_duplicates",
    "inflate",
    "line_by_line",
    "parse_bytes",
    "parse_text",
    "preview_table",
    "read_path",
    "read_stream",
    "read_source",
    "row_text",
    "split_lines",
    "too_long_message",
]


# --- plain text -------------------------------------------------------------------------------


def _text_list(decoded: Decoded) -> ImportedList:
    return _plain_list(_blocks(decoded.text), decoded.encoding, decoded.notices)


def _plain_list(blocks: Iterable[list[str]], encoding: str,
                notices: tuple[str, ...]) -> ImportedList:
    texts = TextColumn()
    lines: array[int] = array("I")
    add_line = lines.append
    number = 0
    for block in blocks:
        kept: list[str] = []
        add_text = kept.append
        for raw in block:
            number += 1
            text = raw.strip()
            if not text or text[0] in _LOOK_CLOSER:  # rare: let row_text decide
                row = row_text(raw)
                if row is None:
                    continue
                text = row
            add_text(text)
            add_line(number)
        texts.extend(kept)
    if not texts:
        notices += ("no URLs: the text holds only blank lines and comments",)
    return ImportedList(texts, lines, "text", encoding, notices=notices)


# --- choosing the reader ----------------------------------------------------------------------


STREAM_FROM = 16 * MIB  # a plain-text file this big is read a chunk at a time
CHUNK = MIB
# Enough bytes for the first _SNIFF characters, which table detection reads, and a BOM.
_HEAD = 4 * _SNIFF + 4


def read_source(path: str | Path, *, url_column: ColumnChoice = None,
                columns: TableColumns | None = None, sheet: str | int | None = None,
                chunk_size: int = CHUNK, stream_from: int = STREAM_FROM) -> ImportedList:
    """Read a list from a file; the format is chosen by content, then by extension. A file
    that cannot be read raises SourceError too, saying why."""
    path = Path(path)
    try:
        return read_path(path, url_column=url_column, columns=columns, sheet=sheet,
                         chunk_size=chunk_size, stream_from=stream_from)
    except IsADirectoryError:
        raise SourceError(f"{path.name} is a folder, not a file") from None
    except OSError as exc:
        raise SourceError(f"cannot read {path.name}: {exc.strerror or exc}") from None


def read_path(path: Path, *, url_column: ColumnChoice = None,
              columns: TableColumns | None = None, sheet: str | int | None = None,
              chunk_size: int = CHUNK, stream_from: int = STREAM_FROM) -> ImportedList:
    """:func:`read_source`, raising OSError as it comes. A plain UTF-8 list of
    ``stream_from`` bytes or more is decoded and split ``chunk_size`` bytes at a time, never
    held whole: the same rows, notices and refusals as :func:`parse_bytes` gives."""
    with path.open("rb") as file:
        return read_stream(file, path.name, url_column=url_column, columns=columns,
                           sheet=sheet, chunk_size=chunk_size, stream_from=stream_from)


def read_stream(file: BinaryIO, name: str, *, url_column: ColumnChoice = None,
                columns: TableColumns | None = None, sheet: str | int | None = None,
                chunk_size: int = CHUNK, stream_from: int = STREAM_FROM) -> ImportedList:
    """:func:`read_path` of an open binary file (``name`` breaks ties, as a file's name
    does). A regular file is read from where it stands; a pipe or a terminal of
    ``stream_from`` bytes or more is copied to a temporary file first, so that a big plain
    list is never held whole either. Raises OSError as it comes."""
    if url_column is not None or columns is not None:
        return parse_bytes(file.read(), name, url_column=url_column, columns=columns,
                           sheet=sheet)
    start = _regular_start(file)
    if start is None:  # a pipe: its head says whether it is big
        head = _read_up_to(file, stream_from)
        if len(head) < stream_from:
            return parse_bytes(head, name, sheet=sheet)
        with tempfile.TemporaryFile(prefix="fetchdeck-list-") as spool:
            spool.write(head)
            del head
            shutil.copyfileobj(file, spool, chunk_size)
            spool.seek(0)
            return read_stream(spool, name, sheet=sheet, chunk_size=chunk_size,
                               stream_from=stream_from)
    if os.fstat(file.fileno()).st_size - start >= stream_from:
        imported = _read_plain(file, name.lower(), chunk_size)
        if imported is not None:
            return imported
        file.seek(start)
    return parse_bytes(file.read(), name, sheet=sheet)


def _regular_start(file: BinaryIO) -> int | None:
    """Where a regular file stands (it can be read again from there); None for anything
    else (a pipe, a terminal)."""
    try:
        return file.tell() if stat.S_ISREG(os.fstat(file.fileno()).st_mode) else None
    except (OSError, ValueError, io.UnsupportedOperation):
        return None


def _read_up_to(file: BinaryIO, size: int) -> bytes:
    """Up to ``size`` bytes, fewer only at the end of the stream (a pipe gives what it has)."""
    parts: list[bytes] = []
    left = size
    while left > 0 and (part := file.read(min(left, CHUNK))):
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def _read_plain(file: BinaryIO, name: str, chunk_size: int) -> ImportedList | None:
    """A plain-text list read a chunk at a time, or None when :func:`parse_bytes` would read
    the file as anything else (another codec, a table, markup) or the bytes are not all UTF-8
    (its notices name the lines): the caller then reads it whole. Its kind is told from the
    head, as parse_bytes tells it from the same bytes."""
    head = file.read(_HEAD)
    if (not head or head.startswith((b"\x1f\x8b", b"PK\x03\x04", _XLS))
            or _starts_like_xml(_head(head))):
        return None
    start = utf8_start(head)
    if start is None:
        return None
    whole = len(head) < _HEAD
    try:
        text = codecs.getincrementaldecoder("utf-8")().decode(head[start:], final=whole)
    except UnicodeDecodeError:
        return None
    if (_starts_like_xml(text[:512]) or _starts_like_html(text[:512])
            or _sniff_delimiter(text, name) is not None):
        return None
    try:
        return _plain_list(stream_blocks(_decoded(file, head, start, chunk_size)), "utf-8", ())
    except UnicodeDecodeError:
        return None


def _decoded(file: BinaryIO, head: bytes, start: int, chunk_size: int) -> Iterator[str]:
    decoder = codecs.getincrementaldecoder("utf-8")()
    for at in range(start, len(head), chunk_size):
        chunk = head[at:at + chunk_size]
        refuse_nul(chunk)
        yield decoder.decode(chunk)
    while chunk := file.read(chunk_size):
        refuse_nul(chunk)
        yield decoder.decode(chunk)
    yield decoder.decode(b"", final=True)


def parse_bytes(data: bytes, name_hint: str = "", *, url_column: ColumnChoice = None,
                columns: TableColumns | None = None, sheet: str | int | None = None,
                max_inflated: int = MAX_INFLATED_BYTES) -> ImportedList:
    """Read a list from bytes. ``name_hint`` (a file name) breaks ties the content leaves;
    ``url_column`` (a header name or 0-based index) or ``columns`` override what a table's
    detection chose; ``sheet`` picks a spreadsheet's sheet by name or 0-based index."""
    if not data:
        raise SourceError("the file is empty")
    name = name_hint.lower()
    if data.startswith(b"\x1f\x8b"):
        data = inflate(data, max_inflated)
        name = name.removesuffix(".gz")
        if not data:
            raise SourceError("the file is empty (its gzip holds nothing)")
        if data.startswith(b"\x1f\x8b"):
            raise SourceError("a gzip file inside a gzip file; unpack it first")
    kind = _spreadsheet_kind(data, name)
    if kind is not None:
        if sheet is None and columns is not None:
            sheet = columns.sheet
        return _table_list(_sheet_table(data, kind, sheet), url_column, columns)
    if _starts_like_xml(_head(data)):
        return _sitemap_list(data, None)
    return _from_decoded(decode_bytes(data), name, url_column, columns)


def line_by_line(text: str, notices: tuple[str, ...] = ()) -> ImportedList:
    """Typed or pasted text read one URL a line, whatever it looks like: what pasted text
    falls back to when it looks like a table or a sitemap but is not one (half-typed XML)."""
    texts = TextColumn()
    lines: array[int] = array("I")
    for number, raw in split_lines(pasted(text)):
        row = row_text(raw)
        if row is not None:
            texts.append(row)
            lines.append(number)
    return ImportedList(texts, lines, notices=notices)


def parse_text(text: str, name_hint: str = "", *, url_column: ColumnChoice = None,
               columns: TableColumns | None = None) -> ImportedList:
    """Pasted or dropped text: a sitemap, a table copied from a spreadsheet (tab-separated, or
    with a recognised header row), or a list with one URL per line (see :func:`pasted`)."""
    return _from_decoded(Decoded(pasted(text), "", ()), name_hint.lower(), url_column, columns)


def preview_table(data: bytes, name_hint: str = "", *, sheet: str | int | None = None,
                  max_inflated: int = MAX_INFLATED_BYTES) -> TablePreview | None:
    """What the column dialog shows for a file, or None when it is not a table."""
    try:
        imported = parse_bytes(data, name_hint, sheet=sheet, max_inflated=max_inflated)
    except ColumnNotFound as exc:
        return exc.preview
    return imported.table


def _from_decoded(decoded: Decoded, name: str, url_column: ColumnChoice,
                  columns: TableColumns | None) -> ImportedList:
    text = decoded.text
    if _starts_like_xml(text[:512]):
        return _sitemap_list(text.encode("utf-8"), "utf-8")
    if _starts_like_html(text[:512]):
        return _html_links(decoded)
    delimiter = _sniff_delimiter(text, name)
    if delimiter is None:
        if url_column is None and columns is None:
            return _text_list(decoded)
        delimiter = "\t"
    return _table_list(_csv_table(text, delimiter, decoded), url_column, columns)


_XLS = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def _spreadsheet_kind(data: bytes, name: str) -> SourceKind | None:
    if data.startswith(_XLS):
        return "xls"
    if not data.startswith(b"PK\x03\x04"):
        return None
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise SourceError(f"this ZIP file is damaged: {exc}") from None
    if "xl/workbook.xml" in names or name.endswith((".xlsx", ".xlsm")):
        return "xlsx"
    if "content.xml" in names and ("mimetype" in names or name.endswith(".ods")):
        return "ods"
    raise SourceError("this is a ZIP archive, not a list of URLs or a spreadsheet; unpack it "
                      "first")


_XML_STARTS = ("<?xml", "<urlset", "<sitemapindex", "<rss", "<feed", "<!doctype")
_HTML_STARTS = ("<!doctype html", "<html", "<!doctype netscape-bookmark-file")


def _starts_like_xml(head: str) -> bool:
    start = head.lstrip("\ufeff \t\r\n").lower()
    if start.startswith("<!--"):
        return any(root in start for root in ("<urlset", "<sitemapindex", "<rss", "<feed"))
    return start.startswith(_XML_STARTS) and not start.startswith(_HTML_STARTS)


def _starts_like_html(head: str) -> bool:
    return head.lstrip("\ufeff \t\r\n").lower().startswith(_HTML_STARTS)


def _html_links(decoded: Decoded) -> ImportedList:
    """An HTML page or a browser's bookmarks file: the link on each line that holds one. Its
    other lines are markup, not URLs, so they make no rows, and a notice says so."""
    texts = TextColumn()
    lines: array[int] = array("I")
    for number, line in split_lines(decoded.text):
        if "href" in line.lower():
            link = _from_markup(line.strip()) if not line.startswith(_TOO_LONG) else line
            if link:
                texts.append(link)
                lines.append(number)
    return ImportedList(texts, lines, "html", decoded.encoding, notices=(
        *decoded.notices, f"an HTML file: read {_count(len(texts), 'link')}, one from each "
                          "line that holds one; its other lines are skipped"))


def _sitemap_list(data: bytes, encoding: str | None) -> ImportedList:
    # sitemap.py builds ImportedLists, so it imports this module: import it when needed.
    from app.core.sitemap import parse_sitemap, sitemap_list  # noqa: PLC0415

    return sitemap_list(parse_sitemap(data, encoding=encoding))


# --- duplicates -------------------------------------------------------------------------------


def find_duplicates(texts: Iterable[str]) -> array[int]:
    """For each row, the index of the first earlier row with the same URL, or -1.

    "The same" is :func:`app.core.checks.normalise_url` with both options on, so the same
    request: host case, a default port, an empty path and the fragment do not count. Rows that
    are not absolute URLs are never duplicates.
    """
    rows: Sequence[str] = texts if isinstance(texts, Sequence) else list(texts)
    result: array[int] = array("l", [-1]) * len(rows)
    for index, first in later_copies(lambda: request_keys(rows), len(rows)).items():
        result[index] = first
    return result
