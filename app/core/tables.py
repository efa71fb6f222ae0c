"""CSV/TSV and spreadsheet tables read into an :class:`ImportedList`: the delimiter sniffed,
the sheet chosen, the header row and the URL, expected-target and expected-status columns
found by name or content, and a :class:`TablePreview` for the column dialog.
"""

from __future__ import annotations

import csv
import io
from array import array
from collections.abc import Iterable, Iterator, Sequence
from operator import itemgetter
from typing import NamedTuple

from app.core.checks import parse_status
from app.core.decoding import _SNIFF
from app.core.imported import (
    ColumnChoice,
    ColumnNotFound,
    Decoded,
    ImportedList,
    SourceError,
    SourceKind,
    TableColumns,
    TablePreview,
    _lines_phrase,
)
from app.core.lines import _LOOK_CLOSER, _TOO_LONG, MAX_LINE_CHARS, row_text
from app.core.textcolumn import TextColumn

__all__ = ["PREVIEW_ROWS"]

PREVIEW_ROWS = 20
_SAMPLE_ROWS = 200  # table rows looked at to find the URL column by content

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
                raise SourceError(f"there is no sheet {sheet + 1}: the file has {len(names)} "
                                  f"({', '.join(map(repr, names))})")
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
    texts = TextColumn()
    lines: array[int] = array("I")
    kept_texts: list[str] = []  # added to texts a batch at a time
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
        kept_texts.append(text)
        if len(kept_texts) == 4096:
            texts.extend(kept_texts)
            kept_texts.clear()
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
        if values:  # a list of only the URL column keeps no list of empty rows
            if len(extra) < len(lines) - 1:
                extra += [()] * (len(lines) - 1 - len(extra))
            extra.append(values)
    texts.extend(kept_texts)
    names = [layout.names[i] for i in keep]
    if (keep or widest > width) and len(extra) < len(lines):
        extra += [()] * (len(lines) - len(extra))
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
