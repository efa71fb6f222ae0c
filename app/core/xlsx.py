"""XLSX export: the CSV's columns and cells (masked and neutralised by the same
:func:`~app.core.export.row_values`), with numbers as numbers, a frozen header row and an
autofilter. Written a row at a time (XlsxWriter's constant-memory mode), so a million rows
need no more memory than one.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]

from app.core.export import COLUMNS, _new_file_mode, row_values
from app.core.result import Result
from app.core.settings import Settings

__all__ = ["MAX_ROWS_PER_SHEET", "write_xlsx"]

# Excel's limit is 1,048,576 rows a sheet, the header included; a longer run goes on in
# another sheet, "results (2)", with its own header.
MAX_ROWS_PER_SHEET = 1_048_575
_MS = frozenset({"elapsed_ms", "dns_ms", "connect_ms", "tls_ms", "ttfb_ms"})
_INTEGERS = frozenset({"status", "redirects", "bytes", "attempts", "line"})
_WIDTHS = {"url": 50, "final_url": 50, "error": 40, "redirect_chain": 40, "title": 30,
           "reason": 16, "content_type": 22, "sha256": 20, "server": 14, "note": 30}

Progress = Callable[[int], None]


_AT = {name: COLUMNS.index(name) for name in (
    "status", "redirects", "bytes", "elapsed_ms", "attempts", "line", "dns_ms", "connect_ms",
    "tls_ms", "ttfb_ms")}


def _numbers(result: Result) -> dict[int, int | float | None]:
    t = result.timings
    at = _AT
    return {at["status"]: result.status, at["redirects"]: result.redirects,
            at["bytes"]: result.bytes, at["elapsed_ms"]: result.elapsed_ms,
            at["attempts"]: result.attempts, at["line"]: result.line, at["dns_ms"]: t.dns_ms,
            at["connect_ms"]: t.connect_ms, at["tls_ms"]: t.tls_ms, at["ttfb_ms"]: t.ttfb_ms}


_NUMERIC = tuple(sorted(COLUMNS.index(name) for name in _MS | _INTEGERS))
_MS_AT = frozenset(COLUMNS.index(name) for name in _MS)


def write_xlsx(
    path: str | os.PathLike[str],
    results: Iterable[Result],
    settings: Settings,
    progress: Progress | None = None,
    every: int = 10_000,
) -> int:
    """Write ``results`` (in input order) to ``path`` as one sheet per ~million rows; returns
    the rows written. Written beside the destination and moved into place at the end."""
    target = Path(path)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                         dir=target.parent)
    os.close(handle)
    count = 0
    book: Any = None
    try:
        book = xlsxwriter.Workbook(temp_name, {
            "constant_memory": True,
            # Cells are typed here, never guessed from their text.
            "strings_to_numbers": False, "strings_to_formulas": False, "strings_to_urls": False,
        })
        ms_format = book.add_format({"num_format": "0.0"})
        header_format = book.add_format({"bold": True})
        sheet: Any = None
        row = 0
        numeric = _NUMERIC
        for result in results:
            if sheet is None or row > MAX_ROWS_PER_SHEET:
                if sheet is not None:
                    _end_sheet(sheet, row)
                sheet = _new_sheet(book, count, header_format)
                row = 1
            cells = row_values(result, settings)
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
                    sheet.write_number(row, column, value,
                                       ms_format if column in _MS_AT else None)
            row += 1
            count += 1
            if progress is not None and count % every == 0:
                progress(count)
        if sheet is None:
            sheet, row = _new_sheet(book, 0, header_format), 1
        _end_sheet(sheet, row)
        book.close()
        os.chmod(temp_name, _new_file_mode(target))
        os.replace(temp_name, target)
    except BaseException:
        if book is not None and not book.fileclosed:
            # XlsxWriter has no abort: closing is what releases its per-sheet temporary files.
            with contextlib.suppress(Exception):
                book.close()
        Path(temp_name).unlink(missing_ok=True)
        raise
    if progress is not None:
        progress(count)
    return count


def _new_sheet(book: Any, written: int, header_format: Any) -> Any:
    number = written // MAX_ROWS_PER_SHEET + 1
    sheet = book.add_worksheet("results" if number == 1 else f"results ({number})")
    for column, name in enumerate(COLUMNS):
        sheet.set_column(column, column, _WIDTHS.get(name, 11))
        sheet.write_string(0, column, name, header_format)
    sheet.freeze_panes(1, 0)
    return sheet


def _end_sheet(sheet: Any, rows: int) -> None:
    """The autofilter over the header and the ``rows - 1`` rows under it (stored until the
    workbook is closed, so it can be set last)."""
    sheet.autofilter(0, 0, max(rows - 1, 1), len(COLUMNS) - 1)
