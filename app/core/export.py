"""Rows out: the CSV and JSON Lines formats of a result, in the column contract scripts rely on.

The first eleven columns are a contract (never reorder or rename them); more are appended.
Passwords are masked by the run's :class:`~app.core.redact.Redactor` unless
``Settings.mask_passwords`` is off; CSV cells a spreadsheet would run as a formula are
neutralised unless ``Settings.csv_raw`` is set; control characters never reach a cell raw.
Where the bytes go (a file replaced atomically, a pipe, a device) is :mod:`app.core.output`'s.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import json
import logging
import os
import pickle
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from app.core.errors import Kind
from app.core.redact import Redactor
from app.core.result import Outcome, Result
from app.core.settings import Settings
from app.core.store import StoredResults
from app.core.targets import TargetList
from app.core.text import clean_text

__all__ = [
    "COLUMNS", "CONTRACT_COLUMNS", "EXTRA_COLUMNS", "FORMATS", "Format", "neutralise",
    "row_values", "write_csv", "write_rows",
]

CONTRACT_COLUMNS = (
    "url", "outcome", "status", "reason", "final_url", "redirects", "content_type", "bytes",
    "elapsed_ms", "error_kind", "error",
)
EXTRA_COLUMNS = (
    "attempts", "redirect_chain", "title", "sha256", "server",
    "dns_ms", "connect_ms", "tls_ms", "ttfb_ms", "line", "note", "first_status",
    "content_length",
)
# A redirect map's expectations and how each row did against them (empty without a map).
CHECK_COLUMNS = ("expected", "expected_status", "check", "check_reason")
COLUMNS = CONTRACT_COLUMNS + EXTRA_COLUMNS + CHECK_COLUMNS
# Columns whose JSON value is a number (or null).
_NUMERIC = frozenset({"status", "redirects", "bytes", "elapsed_ms", "attempts", "dns_ms",
                      "connect_ms", "tls_ms", "ttfb_ms", "line", "first_status",
                      "content_length", "expected_status"})

# OWASP's list: a cell starting with one of these may be evaluated by Excel, LibreOffice or Sheets.
_FORMULA_FIRST = frozenset("=+-@\t\r")

Progress = Callable[[int], None]


def neutralise(cell: str) -> str:
    """Make a cell inert in spreadsheets by prefixing a quote, as OWASP recommends."""
    if cell and cell[0] in _FORMULA_FIRST:
        return "'" + cell
    return cell


def _ms(value: float | None) -> str:
    return "" if value is None else f"{value:.1f}"


class _Numbers(dict[int | None, str]):
    """Statuses, redirects, attempts as text: the common ones made once, None as ""."""

    def __missing__(self, value: int | None) -> str:
        return "" if value is None else str(value)


_NUMBER_TEXT = _Numbers({n: str(n) for n in range(1000)})
# Places in a row of cells (app.core.store.CELL_COLUMNS), and the values a reader knows.
_log = logging.getLogger("fetchdeck.export")
_OUTCOME_AT, _KIND_AT, _CHAIN_AT = 3, 11, 14
_OUTCOMES = frozenset(o.value for o in Outcome)
_KINDS = frozenset(k.value for k in Kind) | {""}


class _Cells(dict[str, str]):
    """Server text that repeats from row to row (a reason phrase, a content type, a server
    name), made safe and neutralised once per distinct value, at most ``LIMIT`` kept."""

    LIMIT = 4096

    def __init__(self, raw: bool) -> None:
        super().__init__()
        self.raw = raw

    def __missing__(self, text: str) -> str:
        cell = text if text.isprintable() else clean_text(text)
        if not self.raw and cell and cell[0] in _FORMULA_FIRST:
            cell = "'" + cell
        if len(self) >= self.LIMIT:
            self.clear()
        self[text] = cell
        return cell


def _int(value: int | None) -> str:
    return _NUMBER_TEXT[value]


def _safe(text: str) -> str:
    """The user's own text (a URL as typed) and messages may hold control characters."""
    return text if text.isprintable() else clean_text(text)


def columns_for(targets: TargetList | None) -> tuple[str, ...]:
    """Fetchdeck's columns, then an imported table's own (renamed ``name (imported)`` where a
    name is one of ours)."""
    if targets is None or not targets.columns:
        return COLUMNS
    ours = set(COLUMNS)
    return COLUMNS + tuple(f"{name} (imported)" if name in ours else name
                           for name in targets.columns)


class Rows:
    """Turns results into cells for one export: masking and neutralising decided once, and
    the list's own data (expected answers, imported columns) joined by row."""

    __slots__ = ("redactor", "raw", "expected", "statuses", "extra", "width", "_names",
                 "_secrets", "_repeated")

    def __init__(self, settings: Settings, redactor: Redactor | None = None,
                 targets: TargetList | None = None) -> None:
        self.redactor = redactor if redactor is not None else Redactor.for_settings(settings)
        self.raw = settings.csv_raw
        self.expected = targets.expected if targets is not None else None
        self.statuses = targets.expected_status if targets is not None else None
        self.extra = targets.extra if targets is not None and targets.columns else None
        self.width = len(targets.columns) if targets is not None else 0
        self._names = columns_for(targets)[len(COLUMNS):]
        self._secrets = self.redactor.has_secrets
        self._repeated = _Cells(self.raw)

    def _list_cells(self, index: int, check: str, check_reason: str) -> list[str]:
        """The expected answer, the check, and the imported columns of row ``index``."""
        expected = self.expected[index] if self.expected else None
        status = self.statuses[index] if self.statuses else None
        cells = [self._text(expected or ""), _int(status), check, self._text(check_reason)]
        if self.extra is not None:
            row = self.extra[index] if index < len(self.extra) else ()
            cells += [self._text(cell) for cell in row] + [""] * (self.width - len(row))
        return cells

    def _text(self, text: str) -> str:
        text = self.redactor.text(_safe(text)) if text else text
        if not self.raw and text and text[0] in _FORMULA_FIRST:
            return "'" + text
        return text

    def texts(self, result: Result) -> list[str]:
        """The CSV cells for one result, as text."""
        r = result.response
        failure = result.failure
        if failure is None:
            error = kind = ""
        else:
            error, kind = failure.message, failure.kind.value
        dns, connect, tls, ttfb = r.timings
        return self.cells((
            result.index, result.line, result.url, result.outcome, r.status, r.reason,
            r.final_url, r.redirects, r.content_type, r.bytes, r.elapsed_ms, kind, error,
            r.attempts, result.redirect_chain_text() if r.chain else "", r.title, r.sha256,
            r.server, dns, connect, tls, ttfb, r.note, r.first_status, r.content_length,
            result.check, result.check_reason))

    def stored_texts(self, row: Sequence[Any]) -> list[str]:
        """The CSV cells of a row as the run store reads it for export
        (:data:`app.core.store.CELL_COLUMNS`): those :meth:`texts` gives for the result
        rebuilt from it."""
        chain = row[_CHAIN_AT]
        if chain or row[_OUTCOME_AT] not in _OUTCOMES or row[_KIND_AT] not in _KINDS:
            # As the rebuilt result has them: hops as text, an outcome or kind this version
            # does not know as "failed" or "internal".
            fixed = list(row)
            fixed[_CHAIN_AT] = " -> ".join(f"{s} {u}" for s, u in json.loads(chain)) \
                if chain else ""
            if fixed[_OUTCOME_AT] not in _OUTCOMES:
                fixed[_OUTCOME_AT] = Outcome.FAILED.value
            if fixed[_KIND_AT] not in _KINDS:
                fixed[_KIND_AT] = Kind.INTERNAL.value
            row = fixed
        return self.cells(row)

    def cells(self, row: Sequence[Any]) -> list[str]:
        """The CSV cells of one row from its fields: index, line, url, outcome, status,
        reason, final URL, redirects, content type, bytes, elapsed ms, error kind, error
        (both "" without a failure), attempts, redirect chain as text, title, sha256, server,
        DNS, connect, TLS and first-byte ms, note, first status, content length, check and
        check reason.

        Written for speed (a million rows should export in a few seconds, and ``fetchdeck
        run`` formats every row as it goes): few calls per row. The server texts that repeat
        from row to row (reason, content type, server) are made safe and neutralised once per
        distinct value; the rest are numbers and tokens, or checked in place.
        """
        (index, line, url, outcome, status, reason, final_url, redirects, content_type, size,
         elapsed, kind, error, attempts, chain, title, sha256, server, dns, connect, tls, ttfb,
         note, first_status, length, check, check_reason) = row
        # The user's own text, messages and titles: made safe (control characters) here.
        if not url.isprintable():
            url = clean_text(url)
        if error and not error.isprintable():
            error = clean_text(error)
        if note and not note.isprintable():
            note = clean_text(note)
        if title and not title.isprintable():
            title = clean_text(title)
        redactor = self.redactor
        if redactor.enabled:
            if self._secrets or "@" in url:
                url = redactor.url(url)
            if final_url and (self._secrets or "@" in final_url):
                final_url = redactor.url(final_url)
            if chain and (self._secrets or "@" in chain):
                chain = redactor.text(chain)
            if error and (self._secrets or "@" in error):
                error = redactor.text(error)
            if note and (self._secrets or "@" in note):
                note = redactor.text(note)
        if not self.raw:
            first = _FORMULA_FIRST
            if url and url[0] in first:
                url = "'" + url
            if final_url and final_url[0] in first:
                final_url = "'" + final_url
            if error and error[0] in first:
                error = "'" + error
            if chain and chain[0] in first:
                chain = "'" + chain
            if title and title[0] in first:
                title = "'" + title
            if note and note[0] in first:
                note = "'" + note
        repeated = self._repeated
        number = _NUMBER_TEXT
        cells = [
            url,
            outcome,  # a StrEnum or its value: csv writes the value
            number[status],
            repeated[reason],
            final_url,
            number[redirects],
            repeated[content_type],
            "" if size is None else str(size),
            "" if elapsed is None else f"{elapsed:.1f}",
            kind,
            error,
            number[attempts],
            chain,
            title,
            sha256,
            repeated[server],
            "" if dns is None else f"{dns:.1f}",
            "" if connect is None else f"{connect:.1f}",
            "" if tls is None else f"{tls:.1f}",
            "" if ttfb is None else f"{ttfb:.1f}",
            str(line),
            note,
            number[first_status],
            "" if length is None else str(length),
        ]
        if self.expected is None and self.statuses is None and self.extra is None:
            cells += ("", "", check, self._text(check_reason) if check_reason else "")
            return cells
        cells += self._list_cells(index, check, check_reason)
        return cells

    def record(self, result: Result) -> dict[str, Any]:
        """The JSON object for one result: the CSV's field names, numbers as numbers, empty as
        null, and the redirect chain as a list of ``{"status", "url"}`` hops. Not neutralised
        (JSON is no spreadsheet); masked and safe like the CSV."""
        r = result.response
        failure = result.failure
        redactor = self.redactor
        t = r.timings
        values: dict[str, Any] = {
            "url": redactor.url(_safe(result.url)),
            "outcome": result.outcome.value,
            "status": r.status,
            "reason": _safe(r.reason),
            "final_url": redactor.url(r.final_url),
            "redirects": r.redirects,
            "content_type": _safe(r.content_type),
            "bytes": r.bytes,
            "elapsed_ms": None if r.elapsed_ms is None else round(r.elapsed_ms, 1),
            "error_kind": failure.kind.value if failure else None,
            "error": redactor.text(_safe(failure.message)) if failure else None,
            "attempts": r.attempts,
            "redirect_chain": [{"status": hop.status, "url": redactor.url(hop.url)}
                               for hop in r.chain] or None,
            "title": _safe(r.title),
            "sha256": r.sha256,
            "server": _safe(r.server),
            "dns_ms": _round(t.dns_ms),
            "connect_ms": _round(t.connect_ms),
            "tls_ms": _round(t.tls_ms),
            "ttfb_ms": _round(t.ttfb_ms),
            "line": result.line,
            "note": redactor.text(_safe(r.note)),
            "first_status": r.first_status,
            "content_length": r.content_length,
        }
        index = result.index
        values["expected"] = redactor.url(_safe(self.expected[index] or "")) \
            if self.expected else None
        values["expected_status"] = self.statuses[index] if self.statuses else None
        values["check"] = result.check
        values["check_reason"] = _safe(result.check_reason)
        if self.extra is not None:
            row = self.extra[index] if index < len(self.extra) else ()
            for name, cell in zip(self._names, row, strict=False):
                values[name] = _safe(cell)
        for key, value in values.items():
            if value == "":
                values[key] = None
        return values


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 1)


def row_values(result: Result, settings: Settings) -> list[str]:
    """The CSV cells of one result (one-off use; an export makes one :class:`Rows`)."""
    return Rows(settings).texts(result)


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

    def line(cells: list[str]) -> str:
        text = ",".join(cells)
        if (text.count(",") == len(cells) - 1
                and '"' not in text and "\n" not in text and "\r" not in text):
            return text + "\r\n"
        writer.writerow(cells)
        return last.text

    return line


class Format:
    """An output format: a header and one line per result, as text. ``targets`` (the list
    the results are of) adds its expected answers and imported columns."""

    name = ""
    extension = ""

    def __init__(self, settings: Settings, redactor: Redactor | None = None,
                 targets: TargetList | None = None) -> None:
        self.settings = settings
        self.rows = Rows(settings, redactor, targets)
        self.columns = columns_for(targets)
        # Cells depend on the settings alone (no redactor of the caller's, no list data):
        # another process given the settings writes the same lines.
        self.plain = redactor is None and self.rows.expected is None \
            and self.rows.statuses is None and self.rows.extra is None

    def header(self) -> str:
        return ""

    def lines(self, results: Iterable[Result]) -> str:
        raise NotImplementedError


class CsvFormat(Format):
    name = "csv"
    extension = ".csv"

    def __init__(self, settings: Settings, redactor: Redactor | None = None,
                 targets: TargetList | None = None) -> None:
        super().__init__(settings, redactor, targets)
        self._line = line_writer()

    def header(self) -> str:
        return self._line(list(self.columns))

    def lines(self, results: Iterable[Result]) -> str:
        line, texts = self._line, self.rows.texts
        return "".join([line(texts(result)) for result in results])

    def stored_lines(self, rows: Iterable[Sequence[Any]]) -> str:
        """The lines of rows read from the run store (:meth:`Rows.stored_texts`)."""
        line, texts = self._line, self.rows.stored_texts
        return "".join([line(texts(row)) for row in rows])


class JsonlFormat(Format):
    name = "jsonl"
    extension = ".jsonl"

    def __init__(self, settings: Settings, redactor: Redactor | None = None,
                 targets: TargetList | None = None) -> None:
        super().__init__(settings, redactor, targets)
        self._encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode

    def lines(self, results: Iterable[Result]) -> str:
        encode, record = self._encode, self.rows.record
        return "".join([encode(record(result)) + "\n" for result in results])


FORMATS: dict[str, type[Format]] = {"csv": CsvFormat, "jsonl": JsonlFormat}


def format_for(path: str | os.PathLike[str] | None, name: str | None) -> str:
    """The format name for an output: ``name`` when given, else by the path's extension
    (``.jsonl``/``.ndjson``/``.json`` -> jsonl), else CSV."""
    if name:
        return name
    suffix = os.path.splitext(os.fspath(path or ""))[1].lower()
    return "jsonl" if suffix in (".jsonl", ".ndjson", ".json") else "csv"


def write_rows(stream: Any, results: Iterable[Result], fmt: Format,
               progress: Progress | None = None, every: int = 10_000) -> int:
    """Write the header and every result (already in input order) to a text stream.

    Results read from the run store (:meth:`RunStore.results`) are written as CSV from the
    stored rows themselves: the same lines, without rebuilding a result object per row
    (about half the time of a million-row export)."""
    stream.write(fmt.header())
    count = 0
    if isinstance(fmt, CsvFormat) and isinstance(results, StoredResults) \
            and not results.started:
        return write_stored_csv(stream, results, fmt, progress, every)
    remaining = iter(results)
    while batch := list(itertools.islice(remaining, every)):
        stream.write(fmt.lines(batch))
        count += len(batch)
        if progress is not None and len(batch) == every:
            progress(count)
    if progress is not None:
        progress(count)
    return count


# A stored run this big is written by several processes, each formatting its part of the rows
# into a file of its own that is then copied into the output in order: reading a row from
# SQLite and formatting it hold the GIL (~6 us a row), so threads would not help. The parts
# are written by ``python -m app.core.export_worker`` (not multiprocessing, which would run the
# caller's main module again in each process).
PARALLEL_ROWS = 300_000
MAX_PROCESSES = 4
PART_SECONDS = 600.0  # a part not written by then is written here instead
_COPY_CHARS = 1 << 20


def write_stored_csv(stream: Any, results: StoredResults, fmt: CsvFormat,
                     progress: Progress | None = None, every: int = 10_000, *,
                     processes: int | None = None, parallel_rows: int | None = None) -> int:
    """The CSV lines of results read from the run store, written to ``stream`` (after the
    header) from the stored rows themselves: the lines :meth:`CsvFormat.lines` would write for
    the rebuilt results. A big run is split between up to ``processes`` processes (by default
    one per CPU, at most ``MAX_PROCESSES``), each taking ``parallel_rows`` rows at least
    (default ``PARALLEL_ROWS``); a part another process could not write is written here
    instead."""
    store, run_id = results.store, results.run_id
    parts = 1
    if results.where is None and fmt.plain and not getattr(sys, "frozen", False):
        first, last, total = store.idx_range(run_id)
        wanted = processes if processes is not None else min(os.cpu_count() or 1,
                                                             MAX_PROCESSES)
        least = PARALLEL_ROWS if parallel_rows is None else parallel_rows
        parts = max(1, min(wanted, total // max(1, least)))
    if parts == 1:
        return write_cells(stream, results.cell_rows(), fmt, progress, every, 0)
    results.started = True
    bounds = [first + (last + 1 - first) * part // parts for part in range(parts + 1)]
    with tempfile.TemporaryDirectory(prefix="fetchdeck-export-") as folder:
        files = [os.path.join(folder, f"part{part}.csv") for part in range(parts)]
        settings = os.path.join(folder, "settings.pickle")
        with open(settings, "wb") as given:
            pickle.dump(fmt.settings, given)
        workers = [_start_part(str(store.path), run_id, bounds[part], bounds[part + 1],
                               settings, files[part]) for part in range(1, parts)]
        try:
            count = write_cells(stream, store.cell_rows(run_id, first=bounds[0],
                                                        end=bounds[1]),
                                fmt, progress, every, 0)
            for part, worker in enumerate(workers, start=1):
                written = _finish_part(worker)
                if written is None:  # it failed: this process writes the part
                    count = write_cells(stream, store.cell_rows(
                        run_id, first=bounds[part], end=bounds[part + 1]), fmt, progress,
                        every, count)
                    continue
                _copy_part(files[part], stream)
                count += written
                if progress is not None:
                    progress(count)
        finally:
            for worker in workers:
                if worker is not None and worker.poll() is None:
                    worker.kill()
                    worker.wait()
    return count


def _copy_part(path: str, stream: Any) -> None:
    """A part's file (UTF-8) onto ``stream``: as bytes when the stream is a UTF-8 text file
    over a binary one, which spares decoding and encoding it again (where a text stream
    could only change "\\n", to os.linesep, if it is "\\n")."""
    buffer = getattr(stream, "buffer", None)
    encoding = getattr(stream, "encoding", None) or "ascii"
    if buffer is not None and os.linesep == "\n" and codecs.lookup(encoding).name == "utf-8":
        stream.flush()
        with open(path, "rb") as lines:
            shutil.copyfileobj(lines, buffer, _COPY_CHARS)
        return
    with open(path, encoding="utf-8", newline="") as lines:
        while text := lines.read(_COPY_CHARS):
            stream.write(text)


def _start_part(path: str, run_id: int, first: int, end: int, settings: str,
                out: str) -> subprocess.Popen[bytes] | None:
    package_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
        __file__))))
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH"))
                                        if p)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "app.core.export_worker", path, str(run_id), str(first),
             str(end), settings, out], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, env=env)
    except OSError:
        return None


def _finish_part(worker: subprocess.Popen[bytes] | None) -> int | None:
    """How many rows the part's process wrote; None when it failed."""
    if worker is None:
        return None
    try:
        out, err = worker.communicate(timeout=PART_SECONDS)
    except subprocess.TimeoutExpired:
        worker.kill()
        worker.wait()
        _log.warning("a part of the export took over %s s; this process wrote it instead",
                     PART_SECONDS)
        return None
    text = out.decode("ascii", "replace").strip()
    if worker.returncode == 0 and text.isdigit():
        return int(text)
    # Nothing is lost (this process writes the part), but why it failed is said.
    said = err.decode("utf-8", "replace").strip().splitlines()
    _log.warning("a part of the export failed (exit %s): %s; this process wrote it instead",
                 worker.returncode, said[-1] if said else "no message")
    return None


def write_cells(stream: Any, chunks: Iterable[list[Any]], fmt: CsvFormat,
                progress: Progress | None, every: int, count: int) -> int:
    """The CSV lines of stored rows (chunks of :data:`app.core.store.CELL_COLUMNS` tuples)
    to ``stream``; ``count`` rows were written before; the count after."""
    for rows in chunks:
        stream.write(fmt.stored_lines(rows))
        before, count = count, count + len(rows)
        if progress is not None and count // every != before // every:
            progress(count)
    if progress is not None:
        progress(count)
    return count


def write_csv(
    path: str | os.PathLike[str],
    results: Iterable[Result],
    settings: Settings,
    progress: Progress | None = None,
    every: int = 10_000,
    *,
    protect: Iterable[str | os.PathLike[str]] = (),
    targets: TargetList | None = None,
) -> int:
    """Write ``results`` (already in input order) to ``path`` as CSV; returns the rows written.

    Where the path is a regular file (or nothing yet), the file is written beside it and moved
    into place at the end, so a failed export never leaves a half-written file; a symlink is
    written through, and a pipe or device is streamed to (see :mod:`app.core.output`).
    """
    from app.core.output import open_output  # noqa: PLC0415 - output imports this module

    with open_output(path, protect=protect) as out:
        count = write_rows(out.stream, results, CsvFormat(settings, targets=targets), progress,
                           every)
        out.commit()
    return count
