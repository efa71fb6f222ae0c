"""CSV export: one row per input line, in input order, in the column contract scripts rely on.

The first eleven columns are a contract (never reorder or rename them); more may be appended.
Cells a spreadsheet would run as a formula are neutralised unless ``Settings.csv_raw`` is set,
and URL passwords are masked unless ``Settings.mask_passwords`` is off.
"""

from __future__ import annotations

import csv
import itertools
import os
import re
import tempfile
from collections.abc import Callable, Iterable
from pathlib import Path

from app.core.result import Result
from app.core.settings import Settings
from app.core.targets import mask_password

CONTRACT_COLUMNS = (
    "url", "outcome", "status", "reason", "final_url", "redirects", "content_type", "bytes",
    "elapsed_ms", "error_kind", "error",
)
EXTRA_COLUMNS = (
    "attempts", "redirect_chain", "title", "sha256", "server",
    "dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "line", "note",
)
COLUMNS = CONTRACT_COLUMNS + EXTRA_COLUMNS

# OWASP's list: a cell starting with one of these may be evaluated by Excel, LibreOffice or Sheets.
_FORMULA_FIRST = frozenset("=+-@\t\r")
_PASSWORD_IN_TEXT = re.compile(r"(?P<pre>[a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]*:)[^/\s@]*@")

Progress = Callable[[int], None]


def mask_passwords_in_text(text: str) -> str:
    """Mask ``scheme://user:secret@`` wherever it appears in free text (messages, chains)."""
    if "@" not in text:
        return text
    return _PASSWORD_IN_TEXT.sub(r"\g<pre>***@", text)


def neutralise(cell: str) -> str:
    """Make a cell inert in spreadsheets by prefixing a quote, as OWASP recommends."""
    if cell and cell[0] in _FORMULA_FIRST:
        return "'" + cell
    return cell


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


_NUMBER_TEXT = {n: str(n) for n in range(1000)}  # statuses, redirects, attempts: reused text


def _int(value: int | None) -> str:
    if value is None:
        return ""
    text = _NUMBER_TEXT.get(value)
    return str(value) if text is None else text


def row_values(result: Result, settings: Settings) -> list[str]:
    """The CSV cells for one result, as text.

    Written for speed (a million rows should export in a few seconds): only cells that hold
    text from a user or server are neutralised; the rest are numbers and tokens.
    """
    failure = result.failure
    url, final_url, error = result.url, result.final_url, failure.message if failure else ""
    chain = result.redirect_chain_text() if result.chain else ""
    if settings.mask_passwords:
        if "@" in url:
            url = mask_password(url)
        if "@" in final_url:
            final_url = mask_password(final_url)
        chain = mask_passwords_in_text(chain)
        error = mask_passwords_in_text(error)
    reason, content_type, title, server, note = (
        result.reason, result.content_type, result.title, result.server, result.note)
    if not settings.csv_raw:
        first = _FORMULA_FIRST
        if url and url[0] in first:
            url = "'" + url
        if final_url and final_url[0] in first:
            final_url = "'" + final_url
        if reason and reason[0] in first:
            reason = "'" + reason
        if content_type and content_type[0] in first:
            content_type = "'" + content_type
        if error and error[0] in first:
            error = "'" + error
        if chain and chain[0] in first:
            chain = "'" + chain
        if title and title[0] in first:
            title = "'" + title
        if server and server[0] in first:
            server = "'" + server
        if note and note[0] in first:
            note = "'" + note
    t = result.timings
    status, size = result.status, result.bytes
    return [
        url,
        result.outcome,  # a StrEnum: csv writes its value
        _int(status),
        reason,
        final_url,
        _int(result.redirects),
        content_type,
        "" if size is None else str(size),
        _ms(result.elapsed_ms),
        failure.kind.value if failure else "",
        error,
        _int(result.attempts),
        chain,
        title,
        result.sha256,
        server,
        _ms(t.dns_ms),
        _ms(t.connect_ms),
        _ms(t.tls_ms),
        _ms(t.ttfb_ms),
        str(result.line),
        note,
    ]


class _LastWrite:
    """A file-like target that keeps only the last text written to it."""

    __slots__ = ("text",)

    def __init__(self) -> None:
        self.text = ""

    def write(self, text: str) -> None:
        self.text = text


def line_writer() -> Callable[[list[str]], str]:
    """A function giving one CSV line, exactly as ``csv.writer`` (minimal quoting, CRLF) would
    write it. One per export: it holds a csv writer of its own.

    Most rows hold no comma, quote or line break in any cell: joined as they are, they are
    already correct CSV, and joining is several times cheaper than the csv module. The others
    go through the csv module.
    """
    last = _LastWrite()
    writer = csv.writer(last, lineterminator="\r\n")
    separators = len(COLUMNS) - 1

    def line(cells: list[str]) -> str:
        text = ",".join(cells)
        if (len(cells) == separators + 1 and text.count(",") == separators
                and '"' not in text and "\n" not in text and "\r" not in text):
            return text + "\r\n"
        writer.writerow(cells)
        return last.text

    return line


def _new_file_mode(target: Path) -> int:
    """The mode an ordinary new file would get (mkstemp makes 0600), or the replaced file's."""
    try:
        return target.stat().st_mode & 0o777
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def write_csv(
    path: str | os.PathLike[str],
    results: Iterable[Result],
    settings: Settings,
    progress: Progress | None = None,
    every: int = 10_000,
) -> int:
    """Write ``results`` (already in input order) to ``path``; returns the rows written.

    The file is written beside its destination and moved into place at the end, so a failed or
    interrupted export never leaves a half-written file where the user expects a good one.
    """
    target = Path(path)
    handle, temp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part",
                                         dir=target.parent)
    count = 0
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="") as stream:
            line = line_writer()
            stream.write(line(list(COLUMNS)))
            row = row_values
            remaining = iter(results)
            while batch := list(itertools.islice(remaining, every)):
                stream.write("".join([line(row(result, settings)) for result in batch]))
                count += len(batch)
                if progress is not None and len(batch) == every:
                    progress(count)
        os.chmod(temp_name, _new_file_mode(target))
        os.replace(temp_name, target)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise
    if progress is not None:
        progress(count)
    return count
