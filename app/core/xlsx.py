"""XLSX export: the CSV's columns and cells (masked and neutralised by the same
:class:`~app.core.export.Rows`), with numbers as numbers, a frozen header row and an
autofilter. Written where :mod:`app.core.output` says (a regular file replaced only when
complete). Written a row at a time (XlsxWriter's constant-memory mode), so a million rows
need no more memory than one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]

from app.core.export import COLUMNS, Rows, columns_for
from app.core.output import open_output
from app.core.result import Result
from app.core.settings import Settings
from app.core.targets import TargetList

__all__ = ["MAX_ROWS_PER_SHEET", "write_xlsx"]

# Excel's limit is 1,048,576 rows a sheet, the header included; a longer run goes on in
# another sheet, "results (2)", with its own header.
MAX_ROWS_PER_SHEET = 1_048_575
_MS = frozenset({"elapsed_ms", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms"})
_INTEGERS = frozenset({"status", "redirects", "bytes", "attempts", "line", "first_status",
                       "content_length"})
_WIDTHS = {"url": 50, "final_url": 50, "error": 40, "redirect_chain": 40, "title": 30,
           "reason": 16, "content_type": 22, "sha256": 20, "server": 14, "note": 30}

Progress = Callable[[int], None]


_AT = {name: COLUMNS.index(name) for name in (
    "status", "redirects", "bytes", "elapsed_ms", "attempts", "line", "dns_ms", "connect_ms",
    "tls_ms", "ttfb_ms", "first_status", "content_length")}


def _numbers(result: Result) -> dict[int, int | float | None]:
    r = result.response
    t = r.timings
    at = _AT
    return {at["status"]: r.status, at["redirects"]: r.redirects,
            at["bytes"]: r.bytes, at["elapsed_ms"]: r.elapsed_ms,
            at["attempts"]: r.attempts, at["line"]: result.line, at["dns_ms"]: t.dns_ms,
            at["connect_ms"]: t.connect_ms, at["tls_ms"]: t.tls_ms, at["ttfb_ms"]: t.ttfb_ms,
            at["first_status"]: r.first_status, at["content_length"]: r.content_length}


_NUMERIC = tuple(sorted(COLUMNS.index(name) for name in _MS | _INTEGERS))
_MS_AT = frozenset(COLUMNS.index(name) for name in _MS)


def write_xlsx(
    path: str | os.PathLike[str],
    results: Iterable[Result],
    settings: Settings,
    progress: Progress | None = None,
    every: int = 10_000,
    *,
    targets: TargetList | None = None,
    protect: Iterable[str | os.PathLike[str]] = (),
) -> int:
    """Write ``results`` (in input order) to ``path`` as one sheet per ~million rows; returns
    the rows written. Written beside the destination and moved into place at the end."""
    count = 0
    book: Any = None
    with open_output(path, protect, binary=True) as out:
        try:
            book = xlsxwriter.Workbook(out.stream, {
                "constant_memory": True,
                # Cells are typed here, never guessed from their text.
                "strings_to_numbers": False, "strings_to_formulas": False,
                "strings_to_urls": False,
            })
            count = _write_sheets(book, results, Rows(settings, targets=targets),
                                  columns_for(targets), progress, every)
            book.close()
        except BaseException:
            if book is not None and not book.fileclosed:
                # XlsxWriter has no abort: closing is what releases its per-sheet temporary
                # files.
                with contextlib.suppress(Exception):
                    book.close()
            raise
        out.commit()
    if progress is not None:
        progress(count)
    return count


def _write_sheets(book: Any, results: Iterable[Result], rows: Rows, columns: Sequence[str],
                  progress: Progress | None, every: int) -> int:
    count = 0
    ms_format = book.add_format({"num_format": "0.0"})
    header_format = book.add_format({"bold": True})
    sheet: Any = None
    row = 0
    numeric = _NUMERIC
    texts = rows.texts
    for result in results:
        if sheet is None or row > MAX_ROWS_PER_SHEET:
            if sheet is not None:
                _end_sheet(sheet, row, columns)
            sheet = _new_sheet(book, count, header_format, columns)
            row = 1
        cells = texts(result)
        numbers = _numbers(result)
        write_string = sheet.write_string
        for column, cell in enumerate(cells):
            if column in numbers:
                continue
            if cell:
                write_string(row, column, cell)
        for column in numeric:
            value = numbers[column]
            if value is not None:
                sheet.write_number(row, column, value, ms_format if column in _MS_AT else None)
        row += 1
        count += 1
        if progress is not None and count % every == 0:
            progress(count)
    if sheet is None:
        sheet, row = _new_sheet(book, 0, header_format, columns), 1
    _end_sheet(sheet, row, columns)
    return count


def _new_sheet(book: Any, written: int, header_format: Any, columns: Sequence[str]) -> Any:
    number = written // MAX_ROWS_PER_SHEET + 1
    sheet = book.add_worksheet("results" if number == 1 else f"results ({number})")
    for column, name in enumerate(columns):
        sheet.set_column(column, column, _WIDTHS.get(name, 11))
        sheet.write_string(0, column, name, header_format)
    sheet.freeze_panes(1, 0)
    return sheet


def _end_sheet(sheet: Any, rows: int, columns: Sequence[str]) -> None:
    """The autofilter over the header and the ``rows - 1`` rows under it (stored until the
    workbook is closed, so it can be set last)."""
    sheet.autofilter(0, 0, max(rows - 1, 1), len(columns) - 1)
