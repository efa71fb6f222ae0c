"""Every way a URL list arrives (a text file, pasted text, a CSV or TSV, a spreadsheet, a
sitemap), read into one :class:`ImportedList`: the rows to fetch with their line numbers, a
table's other columns, any expected answers, and what the user must be told about the reading.

Bad input is named, never guessed at: the encoding is said when it is not plain UTF-8, bytes
that cannot be decoded are replaced and their lines named, a binary or empty file is refused
with a :class:`SourceError`, and a table whose URL column cannot be found raises
:class:`ColumnNotFound` carrying a :class:`TablePreview` so the user can pick one.

Lines end at ``\\n`` or ``\\r\\n`` and nowhere else (see :func:`split_lines`). A line longer than
:data:`MAX_LINE_CHARS` is kept as a row whose text is a short marker (:func:`too_long_message`
says why it cannot be fetched): the huge string is never sliced out, kept or parsed.
"""

from __future__ import annotations

import codecs
import contextvars
import csv
import html
import io
import zipfile
import zlib
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from pathlib import Path
from typing import Literal, NamedTuple

from app.core.checks import parse_status, request_keys
from app.core.errors import Failure

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
    "parse_bytes",
    "parse_text",
    "preview_table",
    "read_source",
    "row_text",
    "split_lines",
    "too_long_message",
]

MAX_LINE_CHARS = 65_536
MIB = 1024 * 1024
MAX_INFLATED_BYTES = 256 * MIB  # what a .gz file may inflate to before it is refused
PREVIEW_ROWS = 20
_SAMPLE_ROWS = 200  # table rows looked at to find the URL column by content
_BLOCK = 1 << 20  # split_lines splits this many characters at a time

SourceKind = Literal["text", "html", "csv", "xlsx", "xls", "ods", "sitemap", "sitemap_index"]
ColumnChoice = str | int | None


class SourceError(ValueError):
    """The input cannot be read as a URL list; the message says why in plain words."""


class TooLarge(SourceError):
    """Compressed input inflates past the cap it is read with."""


class ColumnNotFound(SourceError):
    """A table in which no column could be told to hold the URLs: ``preview`` lets the user
    choose one, to pass back as ``url_column``."""

    def __init__(self, message: str, preview: TablePreview) -> None:
        super().__init__(message)
        self.preview = preview


@dataclass(frozen=True, slots=True)
class TableColumns:
    """0-based column positions: where the URLs are, and the expected answers if any."""

    url: int
    expected: int | None = None
    expected_status: int | None = None


@dataclass(frozen=True, slots=True)
class TablePreview:
    """What a small preview dialog shows: the header, the first rows and what was detected."""

    kind: SourceKind
    header: tuple[str, ...]  # made-up "column 1", "column 2"... when there is no header row
    has_header: bool
    rows: tuple[tuple[str, ...], ...]  # the first PREVIEW_ROWS data rows
    columns: TableColumns | None  # None when the URL column could not be found
    notices: tuple[str, ...] = ()
    delimiter: str | None = None  # CSV/TSV only
    sheet: str | None = None  # spreadsheets only: the sheet read, and all of them
    sheets: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class ImportedList:
    """A URL list as read, ready for the run: one row per input line (text) or table row that
    is not blank (nor a comment, in text).

    ``extra`` holds, per row, the values of ``columns`` (a table's other columns, kept to be
    exported after Fetchdeck's own); ``expected`` and ``expected_status`` are the redirect-map
    answers, None where a table has no such column. ``failures`` names rows that must not be
    fetched and says why (a sitemap that could not be read). ``notices`` are plain-words things
    the user must be told about how the input was read.
    """

    texts: list[str]
    lines: array[int]  # 1-based line (text, sitemap) or row number (table: as a spreadsheet)
    kind: SourceKind = "text"
    encoding: str = ""  # the codec the text was decoded with; "" for spreadsheets
    columns: tuple[str, ...] = ()
    extra: list[tuple[str, ...]] | None = None
    expected: list[str | None] | None = None
    expected_status: list[int | None] | None = None
    failures: Mapping[int, Failure] = field(default_factory=dict)
    notices: tuple[str, ...] = ()
    table: TablePreview | None = None  # for tables: what was detected, for the preview dialog

    def __len__(self) -> int:
        return len(self.texts)


# --- lines ------------------------------------------------------------------------------------

# A NUL never survives decoding (a file holding one is refused as binary), so no line can
# start with this by accident.
_TOO_LONG = "\x00too long:"


def too_long_message(text: str) -> str | None:
    """Why a row cannot be fetched when it stands for an over-long line, else None."""
    if not text.startswith(_TOO_LONG):
        return None
    length = int(text[len(_TOO_LONG):])
    return f"the line is {length:,} characters long; the limit is {MAX_LINE_CHARS:,}"


def split_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) for each line, ending at ``\\n`` or ``\\r\\n`` only.

    Unlike :meth:`str.splitlines`, ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``, ``\\x85``, U+2028,
    U+2029 and a lone ``\\r`` do not end a line: they stay inside it, and a URL holding one is
    rejected for its control character instead of silently becoming two rows with every later
    line number wrong. A line over MAX_LINE_CHARS comes as a marker (:func:`too_long_message`)
    found with ``str.find``: a 50 MB line costs no copy and no parse.
    """
    number = 0
    for block in _blocks(text):
        for line in block:
            number += 1
            yield number, line


def _blocks(text: str) -> Iterator[list[str]]:
    """The lines of :func:`split_lines`, a block of consecutive lines at a time: splitting
    a megabyte at once with ``str.split`` is what keeps a million-line list quick."""
    size = len(text)
    pos = 0
    while pos < size:
        limit = pos + _BLOCK
        if limit >= size:
            end = size
        else:
            cut = text.rfind("\n", pos, limit)
            if cut < 0:  # no line end for a whole block: the line starting here is huge
                newline = text.find("\n", limit)
                stop = size if newline < 0 else newline
                yield [_marker(text, pos, stop)]
                pos = size if newline < 0 else newline + 1
                continue
            end = cut + 1
        chunk = text[pos:end]
        if "\r" in chunk:
            # Blocks end after a "\n", so no CRLF is cut in two; a lone CR stays.
            chunk = chunk.replace("\r\n", "\n")
        pieces = chunk.split("\n")
        if not pieces[-1]:
            pieces.pop()  # the "" after the block's last line break is no line
        if len(chunk) > MAX_LINE_CHARS and max(map(len, pieces)) > MAX_LINE_CHARS:
            pieces = [p if len(p) <= MAX_LINE_CHARS else f"{_TOO_LONG}{len(p)}"
                      for p in pieces]
        yield pieces
        pos = end


def _marker(text: str, start: int, stop: int) -> str:
    if stop < len(text) and stop > start and text[stop - 1] == "\r":
        stop -= 1  # the CR of a CRLF
    return f"{_TOO_LONG}{stop - start}"


_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "\u00ab": "\u00bb"}


def row_text(raw: str) -> str | None:
    """The URL a line holds, or None for a blank line or a ``#`` comment.

    Surrounding whitespace and a BOM are dropped; a URL in quotes (``"https://a/"``), in angle
    brackets (``<https://a/>``), inside ``<loc>...</loc>`` or in an ``href=`` on the line is
    taken as the URL it contains. Anything else is kept as written, to be rejected with a reason.
    """
    if raw.startswith(_TOO_LONG):
        return raw
    text = raw.strip()
    if text.startswith("\ufeff"):
        text = text.lstrip("\ufeff").strip()
    if not text or text[0] == "#":
        return None
    first = text[0]
    close = _QUOTES.get(first)
    if close is not None and len(text) > 1 and text[-1] == close:
        return text[1:-1].strip() or text
    if first == "<":
        return _from_markup(text) or text
    return text


def _from_markup(text: str) -> str | None:
    """The URL in ``<loc>``/``<image:loc>``, an ``href`` or ``<...>`` brackets; linear time."""
    lower = text.lower()
    at = lower.find("loc>")
    while at >= 0:
        tag = lower.rfind("<", 0, at)
        name = lower[tag + 1:at]
        if tag >= 0 and (not name or (len(name) < 32 and name.endswith(":")
                                      and name[:-1].replace("-", "").isalnum())):
            start = at + 4
            stop = text.find("<", start)
            value = text[start:stop if stop >= 0 else len(text)].strip()
            if not value and text.startswith("<![CDATA[", start):
                close = text.find("]]>", start)
                value = text[start + 9:close if close >= 0 else len(text)].strip()
            return html.unescape(value) if value else None
        at = lower.find("loc>", at + 4)
    at = lower.find("href")
    while at >= 0:
        pos = _skip_spaces(text, at + 4)
        if text.startswith("=", pos):
            pos = _skip_spaces(text, pos + 1)
            quote = text[pos:pos + 1]
            if quote in ('"', "'"):
                close = text.find(quote, pos + 1)
                value = text[pos + 1:close] if close >= 0 else ""
            else:
                stop = pos
                while stop < len(text) and not text[stop].isspace() and text[stop] != ">":
                    stop += 1
                value = text[pos:stop]
            return html.unescape(value.strip()) or None
        at = lower.find("href", at + 4)
    inner = text[1:-1]
    if text.endswith(">") and "://" in inner and "<" not in inner and ">" not in inner:
        return inner.strip()
    return None


def _skip_spaces(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    return pos


# First characters of a stripped line that need more than stripping (see row_text).
_LOOK_CLOSER = frozenset(["#", "<", "\ufeff", _TOO_LONG[0], *_QUOTES])


def _text_list(decoded: Decoded) -> ImportedList:
    texts: list[str] = []
    lines: array[int] = array("L")
    add_text, add_line = texts.append, lines.append
    number = 0
    for block in _blocks(decoded.text):
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
    notices = decoded.notices
    if not texts:
        notices += ("no URLs: the text holds only blank lines and comments",)
    return ImportedList(texts, lines, "text", decoded.encoding, notices=notices)


# --- bytes to text ----------------------------------------------------------------------------


class Decoded(NamedTuple):
    text: str
    encoding: str  # a Python codec name
    notices: tuple[str, ...]


_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", ""),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF-", b"\x7fELF", b"SQLite format 3",
          b"7z\xbc\xaf", b"Rar!", b"BZh9", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd", b"OggS", b"ID3")
# Bytes that never appear in text: C0 controls but tab, line breaks, \v, \f and the
# separators \x1c-\x1e (which real lists do carry), and DEL.
_CONTROL = bytes([*range(0x01, 0x09), *range(0x0e, 0x1c), 0x1f, 0x7f])
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL)
_BINARY = "this looks like a binary file, not a list of URLs"
_SNIFF = 64 * 1024

_DECODE_ERRORS: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "fetchdeck_decode_errors", default=None)


def _record_error(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    positions = _DECODE_ERRORS.get()
    if positions is not None:
        positions.append(exc.start)
    return "\ufffd", exc.end


codecs.register_error("fetchdeck-record", _record_error)


def decode_bytes(data: bytes) -> Decoded:
    """Decode a list's bytes: UTF-8 (with or without BOM), UTF-16/32 with a BOM, UTF-16 that
    is clearly so without one, else Windows-1252 when that reads as text, else UTF-8 with
    undecodable bytes replaced and their lines named. Raises SourceError for an empty or
    binary file."""
    if not data:
        raise SourceError("the file is empty")
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            body = data[len(bom):]
            if not body:
                raise SourceError("the file is empty")
            if codec == "utf-8":
                break
            return _decode_wide(body, codec, f"decoded as {label} (the file starts with its "
                                                  "byte order mark)")
    else:
        body = data
        wide = _utf16_without_bom(body)
        if wide is not None:
            return _decode_wide(body, wide, "decoded as UTF-16 (no byte order mark, but every "
                                            "other byte is 0)")
    _refuse_binary(body)
    try:
        return Decoded(body.decode("utf-8"), "utf-8", ())
    except UnicodeDecodeError:
        pass
    text, positions = _decode_recording(body, "utf-8")
    if _reads_as_cp1252(body, text, len(positions)):
        return Decoded(body.decode("cp1252"), "cp1252",
                       ("decoded as Windows-1252: the file is not UTF-8",))
    lines: list[int] = []
    line, last = 1, 0
    for position in positions:
        line += body.count(b"\n", last, position)
        last = position
        if not lines or lines[-1] != line:
            lines.append(line)
    return Decoded(text, "utf-8", (f"invalid UTF-8 on {_lines_phrase(lines)} (replaced with "
                                   "\ufffd)",))


def _decode_wide(body: bytes, codec: str, notice: str) -> Decoded:
    text, positions = _decode_recording(body, codec)
    if "\x00" in text:
        raise SourceError(_BINARY)
    notices = [notice]
    if positions:
        lines = sorted({body[:p].decode(codec, "replace").count("\n") + 1
                        for p in positions[:5]})
        more = f" and {len(positions) - 5} more places" if len(positions) > 5 else ""
        notices.append(f"bytes that are not valid {codec.upper()} on {_lines_phrase(lines)}"
                       f"{more} (replaced with \ufffd)")
    return Decoded(text, codec, tuple(notices))


def _decode_recording(data: bytes, codec: str) -> tuple[str, list[int]]:
    positions: list[int] = []
    token = _DECODE_ERRORS.set(positions)
    try:
        return data.decode(codec, "fetchdeck-record"), positions
    finally:
        _DECODE_ERRORS.reset(token)


def _utf16_without_bom(data: bytes) -> str | None:
    sample = data[:4096]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even_zeros = sample[0:pairs * 2:2].count(0)
    odd_zeros = sample[1:pairs * 2:2].count(0)
    if odd_zeros >= 0.6 * pairs and even_zeros <= 0.02 * pairs:
        return "utf-16-le"
    if even_zeros >= 0.6 * pairs and odd_zeros <= 0.02 * pairs:
        return "utf-16-be"
    return None


def _refuse_binary(data: bytes) -> None:
    sample = data[:_SNIFF]
    controls = len(sample.translate(None, _NOT_CONTROL))  # what is left are the controls
    if (b"\x00" in data or data.startswith(_MAGIC)
            or controls > max(8, len(sample) // 10)):
        raise SourceError(_BINARY)


# Non-ASCII characters a Windows-1252 text uses besides letters: typographic punctuation.
_CP1252_PUNCTUATION = frozenset("€‚„…†‡‰‹›‘’“”•–—™«»°§©®±×÷·¿¡£¥¢µ¶ ")


def _reads_as_cp1252(data: bytes, utf8_text: str, errors: int) -> bool:
    """Windows-1252 when no byte is undefined there, the file holds no valid multi-byte UTF-8
    sequence (a UTF-8 file with a few broken bytes stays UTF-8), and what it decodes to is
    letters and typographic punctuation, not noise."""
    valid_multibyte = len(utf8_text) - len(utf8_text.encode("ascii", "ignore")) - errors
    if valid_multibyte > 0:
        return False
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    wide = [ch for ch in text[:_SNIFF] if ord(ch) > 0x7f]
    sensible = sum(1 for ch in wide if ch.isalpha() or ch in _CP1252_PUNCTUATION)
    return sensible >= 0.9 * len(wide)


def _count(number: int, word: str) -> str:
    """``1 sitemap``, ``2 sitemaps``, ``1,204 URLs``."""
    return f"{number:,} {word}" if number == 1 else f"{number:,} {word}s"


def _lines_phrase(lines: Sequence[int]) -> str:
    if len(lines) == 1:
        return f"line {lines[0]}"
    if len(lines) <= 5:
        return f"lines {', '.join(map(str, lines[:-1]))} and {lines[-1]}"
    return f"{len(lines):,} lines ({', '.join(map(str, lines[:5]))}, ...)"


def inflate(data: bytes, cap: int = MAX_INFLATED_BYTES) -> bytes:
    """Inflate gzip data (every member of it), refusing to grow past ``cap`` bytes."""
    out: list[bytes] = []
    size = 0
    while data:
        engine = zlib.decompressobj(wbits=31)
        try:
            while data:
                chunk = engine.decompress(data, cap + 1 - size)
                size += len(chunk)
                out.append(chunk)
                if size > cap:
                    raise TooLarge(f"the gzip file inflates to more than {_human(cap)}; "
                                      "Fetchdeck stops there (a compression bomb?)")
                data = engine.unconsumed_tail
        except zlib.error as exc:
            raise SourceError(f"the gzip file is damaged: {exc}") from None
        if not engine.eof:
            raise SourceError("the gzip file is cut short")
        data = engine.unused_data.lstrip(b"\x00")  # padding after the last member is allowed
    return b"".join(out)


def _human(size: int) -> str:
    return f"{size / MIB:g} MiB" if size >= MIB else f"{size:,} bytes"


# --- tables -----------------------------------------------------------------------------------

# Header names, compared lowercased with "_" and "-" read as spaces, in order of preference.
_URL_HEADERS = (
    "url", "urls", "address", "loc", "link", "links", "uri", "source", "source url", "from",
    "from url", "old", "old url", "original url", "page", "pages", "page url", "top pages",
    "landing page", "landing pages", "request url",
)
# Screaming Frog's "Redirect URL" is where the crawl saw a redirect go, an observation rather
# than an expectation, so it is not here: it stays an ordinary column.
_EXPECTED_HEADERS = (
    "expected", "expected url", "expected target", "expected location", "target",
    "target url", "new", "new url", "to", "to url", "destination", "destination url",
    "redirect to", "redirects to", "redirect target",
)
# The status the first answer must have. "Status Code" and "Status" are deliberately absent:
# in a crawler's export (Screaming Frog) they are what the crawl observed. The ambiguous names
# count only when their cells hold status codes (Screaming Frog's "Redirect Type" holds words).
_STATUS_HEADERS = ("expected status", "expected status code", "expected code")
_STATUS_HEADERS_IF_CODES = ("type", "redirect type", "redirect code", "expected type", "code")


class _Table(NamedTuple):
    kind: SourceKind
    records: Iterator[tuple[int, list[str]]]  # (row number as a spreadsheet shows it, cells)
    notices: tuple[str, ...] = ()
    delimiter: str | None = None
    sheet: str | None = None
    sheets: tuple[str, ...] = ()
    encoding: str = ""


class _Layout(NamedTuple):
    header_at: int | None  # index in the sample of the header row
    names: tuple[str, ...]
    columns: TableColumns | None
    notices: tuple[str, ...]


def _norm(cell: str) -> str:
    return " ".join(cell.strip("\ufeff \t\"'").lower().replace("_", " ").replace("-", " ")
                    .split())


def _is_url(cell: str) -> bool:
    return cell.strip()[:8].lower().startswith(("http://", "https://", "www."))


def _sniff_delimiter(text: str, name: str) -> str | None:
    """The delimiter of a table, or None when the text is a plain list.

    A ``.csv`` is a table whatever it holds; other text is one only when a row near the top
    holds a URL-column header (``Address``, ``url``...), or when it is tab-separated with URLs
    in it (cells copied from a spreadsheet): a URL may hold ``,``, ``;`` or ``|``, never a tab.
    """
    if name.endswith((".tsv", ".tab")):
        return "\t"
    lines = [line for line in text[:_SNIFF].split("\n", 60)[:60] if line.strip()]
    if not lines:
        return "," if name.endswith(".csv") else None
    scores: list[tuple[bool, bool, float, int, str]] = []
    for delimiter in ("\t", ",", ";", "|"):
        if delimiter not in lines[0] and delimiter not in lines[-1]:
            continue
        try:
            rows = list(csv.reader(io.StringIO("\n".join(lines), newline=""),
                                   delimiter=delimiter))
        except csv.Error:
            continue
        if not rows:
            continue
        widths = [len(row) for row in rows]
        mode = max(set(widths), key=widths.count)
        share = widths.count(mode) / len(widths)
        named = any(_norm(cell) in _URL_HEADERS for row in rows[:5] for cell in row)
        scores.append((named and mode > 1, share >= 0.9 and mode > 1, share, mode, delimiter))
    if name.endswith(".csv"):
        best = max(scores, default=None)
        return best[4] if best is not None and best[3] > 1 else ","
    for named, _, _, _, delimiter in scores:
        if named:
            return delimiter
    if all("\t" in line for line in lines) and any(
            _is_url(cell) for line in lines for cell in line.split("\t")):
        return "\t"
    return None


def _csv_table(text: str, delimiter: str, decoded: Decoded) -> _Table:
    # A table's physical lines are bounded too: the csv module would hold a huge one whole.
    pos = 0
    size = len(text)
    while pos + MAX_LINE_CHARS < size:
        cut = text.rfind("\n", pos, pos + MAX_LINE_CHARS + 1)
        if cut < 0:
            line = text.count("\n", 0, pos) + 1
            raise SourceError(f"line {line} of this table is longer than {MAX_LINE_CHARS:,} "
                              "characters; Fetchdeck does not read it")
        pos = cut + 1
    return _Table("csv", _csv_records(text, delimiter), decoded.notices, delimiter,
                  encoding=decoded.encoding)


def _csv_records(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    number = 0
    try:
        for cells in reader:
            number += 1
            yield number, cells
    except csv.Error as exc:
        raise SourceError(f"cannot read row {number + 1} of this table: {exc}") from None


def _sheet_table(data: bytes, kind: SourceKind, sheet: str | int | None) -> _Table:
    import python_calamine  # noqa: PLC0415 - only spreadsheets need it

    label = {"xlsx": "Excel", "xls": "Excel 97-2003", "ods": "OpenDocument"}[kind]
    try:
        book = python_calamine.CalamineWorkbook.from_filelike(io.BytesIO(data))
        names = tuple(book.sheet_names)
        visible = [meta.name for meta in book.sheets_metadata
                   if meta.visible == python_calamine.SheetVisibleEnum.Visible
                   and meta.typ == python_calamine.SheetTypeEnum.WorkSheet] or list(names)
        if not names:
            raise SourceError(f"this {label} file has no sheets")
        if sheet is None:
            chosen = visible[0]
        elif isinstance(sheet, int):
            if not 0 <= sheet < len(names):
                raise SourceError(f"there is no sheet {sheet + 1}: the file has {len(names)}")
            chosen = names[sheet]
        else:
            matches = [n for n in names if n.strip().lower() == sheet.strip().lower()]
            if not matches:
                raise SourceError(f"there is no sheet named {sheet!r}; the sheets are "
                                  f"{', '.join(map(repr, names))}")
            chosen = matches[0]
        rows = book.get_sheet_by_name(chosen).iter_rows()
    except SourceError:
        raise
    except Exception as exc:  # a damaged or password-protected file: calamine says which
        raise SourceError(f"cannot read this {label} file: {exc}") from None
    notices = ((f"read sheet {chosen!r}, the first of {len(names)} "
                f"({', '.join(map(repr, names))})",) if len(names) > 1 and sheet is None else ())
    return _Table(kind, _sheet_records(rows, label), notices, sheet=chosen, sheets=names)


def _sheet_records(rows: Iterator[Sequence[object]], label: str
                   ) -> Iterator[tuple[int, list[str]]]:
    number = 0
    try:
        for cells in rows:
            number += 1
            yield number, [_cell_text(value) for value in cells]
    except Exception as exc:
        raise SourceError(f"cannot read row {number + 1} of this {label} file: {exc}") from None


def _cell_text(value: object) -> str:
    """A typed cell as the text a spreadsheet shows: 301 stored as 301.0 reads ``301``."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e15 else repr(value)
    if value is None:
        return ""
    isoformat = getattr(value, "isoformat", None)
    return str(isoformat()) if callable(isoformat) else str(value)


def _layout(sample: list[tuple[int, list[str]]], url_column: ColumnChoice,
            chosen: TableColumns | None) -> _Layout:
    filled = [i for i, (_, cells) in enumerate(sample) if any(c.strip() for c in cells)]
    width = max((len(cells) for _, cells in sample), default=1) or 1
    header_at = next((i for i in filled[:5]
                      if any(_norm(c) in _URL_HEADERS for c in sample[i][1])), None)
    if header_at is None and filled:
        first = sample[filled[0]][1]
        later_urls = any(_is_url(c) for i in filled[1:] for c in sample[i][1])
        if not any(_is_url(c) for c in first) and (later_urls or width > 1):
            header_at = filled[0]
    raw = sample[header_at][1] if header_at is not None else []
    names = _unique([raw[i].strip() if i < len(raw) and raw[i].strip() else f"column {i + 1}"
                     for i in range(width)])
    normal = [_norm(name) for name in names] if header_at is not None else [""] * width
    data = [sample[i][1] for i in filled if header_at is None or i > header_at]
    notices: list[str] = []
    if header_at is not None and header_at > 0:
        above = ", ".join(repr(" ".join(c for c in sample[i][1] if c.strip()))
                          for i in range(header_at) if any(sample[i][1]))
        if above:
            notices.append(f"skipped the rows above the header row: {above}")
    if chosen is not None:
        for index in (chosen.url, chosen.expected, chosen.expected_status):
            if index is not None and not 0 <= index < width:
                raise SourceError(f"there is no column {index + 1}: the table has {width}")
        return _Layout(header_at, names, chosen, tuple(notices))
    how = "by its header"
    url: int | None
    if url_column is not None:
        url = _column_index(url_column, names, normal, width)
        how = "as chosen"
    else:
        url = _by_name(normal, _URL_HEADERS)
        if url is None:
            shares = [_url_share(data, i) for i in range(width)]
            best = max(range(width), key=lambda i: shares[i])
            if shares[best] >= 0.5:
                url, how = best, "most of its cells are URLs"
            elif width == 1:
                url, how = 0, "the only column"
    if url is None:
        heard = ", ".join(repr(n) for n in names[:12])
        return _Layout(header_at, names, None, (
            *notices, f"no column holds URLs (columns: {heard}); choose the URL column"))
    expected = _by_name(normal, _EXPECTED_HEADERS, skip=url)
    expected_how = "by its header"
    if expected is None and header_at is None and width > 1:
        others = [i for i in range(width) if i != url and _url_share(data, i) >= 0.5]
        if others:
            expected, expected_how = others[0], "a second column of URLs, with no header row"
    status = _by_name(normal, _STATUS_HEADERS, skip=url)
    if status is None:
        status = _by_name(normal, _STATUS_HEADERS_IF_CODES, skip=url)
        if status is not None and _status_share(data, status) <= 0.5:
            status = None
    said = [f"URLs from {names[url]!r} ({how})"]
    if expected is not None:
        said.append(f"expected targets from {names[expected]!r} ({expected_how})")
    if status is not None:
        said.append(f"expected statuses from {names[status]!r}")
    notices.append("columns: " + "; ".join(said))
    return _Layout(header_at, names, TableColumns(url, expected, status), tuple(notices))


def _column_index(choice: str | int, names: Sequence[str], normal: Sequence[str],
                  width: int) -> int:
    if isinstance(choice, int):
        if not 0 <= choice < width:
            raise SourceError(f"there is no column {choice + 1}: the table has {width}")
        return choice
    wanted = _norm(choice)
    for index, name in enumerate(names):
        if _norm(name) == wanted or normal[index] == wanted:
            return index
    raise SourceError(f"there is no column named {choice!r}; the columns are "
                      f"{', '.join(map(repr, names))}")


def _by_name(normal: Sequence[str], wanted: Sequence[str], skip: int = -1) -> int | None:
    for name in wanted:
        for index, header in enumerate(normal):
            if header == name and index != skip:
                return index
    return None


def _url_share(rows: Sequence[list[str]], column: int) -> float:
    cells = [row[column] for row in rows if column < len(row) and row[column].strip()]
    return sum(map(_is_url, cells)) / len(cells) if cells else 0.0


def _status_share(rows: Sequence[list[str]], column: int) -> float:
    cells = [row[column] for row in rows if column < len(row) and row[column].strip()]
    return sum(parse_status(c) is not None for c in cells) / len(cells) if cells else 0.0


def _unique(names: list[str]) -> tuple[str, ...]:
    seen: dict[str, int] = {}
    out = []
    for name in names:
        count = seen.get(name.lower(), 0) + 1
        seen[name.lower()] = count
        out.append(name if count == 1 else f"{name} ({count})")
    return tuple(out)


def _table_list(table: _Table, url_column: ColumnChoice,
                chosen: TableColumns | None) -> ImportedList:
    records = table.records
    sample = [record for _, record in zip(range(_SAMPLE_ROWS), records, strict=False)]
    layout = _layout(sample, url_column, chosen)
    width = len(layout.names)
    start = 0 if layout.header_at is None else layout.header_at + 1
    preview_rows = tuple(
        tuple(cells) + ("",) * (width - len(cells))
        for _, cells in sample[start:] if any(c.strip() for c in cells))[:PREVIEW_ROWS]
    preview = TablePreview(table.kind, layout.names, layout.header_at is not None,
                           preview_rows, layout.columns, (*table.notices, *layout.notices),
                           table.delimiter, table.sheet, table.sheets)
    columns = layout.columns
    if columns is None:
        raise ColumnNotFound(layout.notices[-1], preview)
    url, want, status_at = columns.url, columns.expected, columns.expected_status
    keep = [i for i in range(width) if i not in (url, want, status_at)]
    texts: list[str] = []
    lines: array[int] = array("L")
    extra: list[tuple[str, ...]] = []
    expected: list[str | None] = []
    statuses: list[int | None] = []
    no_url: list[int] = []
    bad_status: list[int] = []
    widest = width
    # Short values repeat row after row ("200", "Indexable"): keep one string for each.
    shared: dict[str, str] = {}
    share = shared.setdefault
    pick = itemgetter(*keep) if keep else None
    for number, cells in _chain(sample[start:], records):
        if len(cells) < width:
            cells += [""] * (width - len(cells))
        elif not "".join(cells).strip():
            continue
        cell = cells[url].strip()
        if not cell:
            if "".join(cells).strip():
                no_url.append(number)
            continue
        if len(cell) > MAX_LINE_CHARS:
            text = f"{_TOO_LONG}{len(cell)}"
        elif cell[0] in _LOOK_CLOSER and cell[0] != "#":
            text = row_text(cell) or cell
        else:
            text = cell
        texts.append(text)
        lines.append(number)
        if want is not None:
            expected.append(cells[want].strip() or None)
        if status_at is not None:
            value = cells[status_at].strip()
            code = parse_status(value) if value else None
            if value and code is None:
                bad_status.append(number)
            statuses.append(code)
        values: tuple[str, ...] = ()
        if pick is not None:
            picked = pick(cells)
            values = tuple([v if len(v) > 40 else share(v, v)
                            for v in (picked if len(keep) > 1 else (picked,))])
        if len(cells) > width:
            widest = max(widest, len(cells))
            values += tuple(cells[width:])
        extra.append(values)
    names = [layout.names[i] for i in keep]
    if widest > width:
        names += [f"column {i + 1}" for i in range(width, widest)]
        extra = [row + ("",) * (len(names) - len(row)) for row in extra]
    notices = [*table.notices, *layout.notices]
    if no_url:
        notices.append(f"{_rows_phrase(no_url)} no URL in {layout.names[url]!r}; skipped")
    if bad_status:
        notices.append(f"{_rows_phrase(bad_status)} an expected status that is not a status "
                       "code; only their target is checked")
    if not texts:
        notices.append("no URLs: the table has no rows below its header")
    return ImportedList(
        texts, lines, table.kind, table.encoding, tuple(names), extra if names else None,
        expected if want is not None else None, statuses if status_at is not None else None,
        notices=tuple(notices), table=preview)


def _chain(first: Iterable[tuple[int, list[str]]], rest: Iterator[tuple[int, list[str]]]
           ) -> Iterator[tuple[int, list[str]]]:
    yield from first
    yield from rest


def _rows_phrase(rows: Sequence[int]) -> str:
    have = "has" if len(rows) == 1 else "have"
    return _lines_phrase(rows).replace("line", "row") + f" {have}"


# --- choosing the reader ----------------------------------------------------------------------


def read_source(path: str | Path, *, url_column: ColumnChoice = None,
                columns: TableColumns | None = None,
                sheet: str | int | None = None) -> ImportedList:
    """Read a list from a file; the format is chosen by content, then by extension."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise SourceError(f"{path.name} is a folder, not a file") from None
    except OSError as exc:
        raise SourceError(f"cannot read {path.name}: {exc.strerror or exc}") from None
    return parse_bytes(data, path.name, url_column=url_column, columns=columns, sheet=sheet)


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
        return _table_list(_sheet_table(data, kind, sheet), url_column, columns)
    if _starts_like_xml(_head(data)):
        return _sitemap_list(data, None)
    return _from_decoded(decode_bytes(data), name, url_column, columns)


def parse_text(text: str, name_hint: str = "", *, url_column: ColumnChoice = None,
               columns: TableColumns | None = None) -> ImportedList:
    """Pasted or dropped text: a sitemap, a table copied from a spreadsheet (tab-separated, or
    with a recognised header row), or a list with one URL per line."""
    return _from_decoded(Decoded(text, "", ()), name_hint.lower(), url_column, columns)


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


def _spreadsheet_kind(data: bytes, name: str) -> SourceKind | None:
    if data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
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


def _head(data: bytes) -> str:
    """The first characters of the data, enough to tell what kind of text it is."""
    head = data[:1024]
    for bom, codec, _label in _BOMS:
        if head.startswith(bom):
            return head[len(bom):].decode(codec, "ignore")
    return head.decode(_utf16_without_bom(head) or "latin-1", "ignore")


_XML_STARTS = ("<?xml", "<urlset", "<sitemapindex", "<rss", "<feed", "<!doctype")
_HTML_STARTS = ("<!doctype html", "<html", "<!doctype netscape-bookmark-file")


def _starts_like_xml(head: str) -> bool:
    start = head.lstrip("\ufeff \t\r\n").lower()
    if start.startswith("<!--"):
        return "<urlset" in start or "<sitemapindex" in start
    return start.startswith(_XML_STARTS) and not start.startswith(_HTML_STARTS)


def _starts_like_html(head: str) -> bool:
    return head.lstrip("\ufeff \t\r\n").lower().startswith(_HTML_STARTS)


def _html_links(decoded: Decoded) -> ImportedList:
    """An HTML page or a browser's bookmarks file: the link on each line that holds one. Its
    other lines are markup, not URLs, so they make no rows, and a notice says so."""
    texts: list[str] = []
    lines: array[int] = array("L")
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
    first: dict[str, int] = {}
    seen = first.setdefault
    result: array[int] = array("l")
    append = result.append
    for index, key in enumerate(request_keys(texts)):
        if key is None:
            append(-1)
        else:
            earlier = seen(key, index)
            append(-1 if earlier == index else earlier)
    return result
