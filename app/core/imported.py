"""The records every reader of a URL list hands on and the errors it raises: the
:class:`ImportedList` the run is built from, a table's :class:`TablePreview` and
:class:`TableColumns`, :class:`Decoded` text, and :class:`SourceError` with its kinds.
"""

from __future__ import annotations

from array import array
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, NamedTuple

from app.core.errors import Failure

__all__ = [
    "MIB",
    "ColumnChoice",
    "ColumnNotFound",
    "Decoded",
    "ImportedList",
    "SourceError",
    "SourceKind",
    "TableColumns",
    "TablePreview",
    "TooLarge",
]

MIB = 1024 * 1024

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
    """0-based column positions: where the URLs are, and the expected answers if any; in a
    spreadsheet, of the sheet named ``sheet`` (the first visible one when None)."""

    url: int
    expected: int | None = None
    expected_status: int | None = None
    sheet: str | None = None


@dataclass(frozen=True, slots=True)
class TablePreview:
    """What a small preview dialog shows: the header, the first rows and what was detected."""

    kind: SourceKind
    header: tuple[str, ...]  # made-up "column 1", "column 2"... when there is no header row
    has_header: bool
    rows: tuple[tuple[str, ...], ...]  # the first PREVIEW_ROWS (tables.py) data rows
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

    texts: Sequence[str]  # a TextColumn as the readers build it; a list will do
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


class Decoded(NamedTuple):
    text: str
    encoding: str  # a Python codec name
    notices: tuple[str, ...]


# --- words shared by every reader's notices ---------------------------------------------------


def _count(number: int, word: str) -> str:
    """``1 sitemap``, ``2 sitemaps``, ``1,204 URLs``."""
    return f"{number:,} {word}" if number == 1 else f"{number:,} {word}s"


def _lines_phrase(lines: Sequence[int]) -> str:
    if len(lines) == 1:
        return f"line {lines[0]}"
    if len(lines) <= 5:
        return f"lines {', '.join(map(str, lines[:-1]))} and {lines[-1]}"
    return f"{len(lines):,} lines ({', '.join(map(str, lines[:5]))}, ...)"
