"""The results table's model: one row per input line, in input order, filled as results arrive.

Rows exist from the moment a run starts (as "queued"), so arriving results only change cells:
they are buffered and announced with one ``dataChanged`` per flush, never one signal per result.
"""

from __future__ import annotations

import asyncio
import heapq
from array import array
from collections.abc import Callable, Container, Iterable, Iterator, Sequence
from functools import partial
from typing import Any, NamedTuple

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QPalette

from app.core.checks import redirect_type
from app.core.errors import Kind
from app.core.redact import MASKING, Redactor
from app.core.result import Outcome, Result
from app.core.targets import TargetList, check_line
from app.gui.colours import outcome_colours
from app.gui.plain import plain_tooltip
from app.gui.threads import run_in_thread

# What a user scans first comes first: what happened, then how, then the details.
COL_LINE = 0
COL_URL = 1
COL_OUTCOME = 2
COL_STATUS = 3
COL_ERROR = 4
COL_TIME = 5
COL_SIZE = 6
COL_REDIRECTS = 7
COL_FINAL_URL = 8
COL_CONTENT_TYPE = 9
COL_TITLE = 10
COL_ERROR_KIND = 11
COL_ATTEMPTS = 12
# Added later, so placed by the pane (next to Outcome and Status), not by number.
COL_CHECK = 13
COL_FIRST = 14

HEADERS = {
    COL_LINE: "Line",
    COL_URL: "URL",
    COL_OUTCOME: "Outcome",
    COL_STATUS: "Status",
    COL_ERROR: "Error",
    COL_TIME: "Time (ms)",
    COL_SIZE: "Size",
    COL_REDIRECTS: "Redirects",
    COL_FINAL_URL: "Final URL",
    COL_CONTENT_TYPE: "Content type",
    COL_TITLE: "Title",
    COL_ERROR_KIND: "Error kind",
    COL_ATTEMPTS: "Attempts",
    COL_CHECK: "Check",
    COL_FIRST: "First answer",
}
NUMERIC_COLUMNS = frozenset({COL_LINE, COL_STATUS, COL_TIME, COL_SIZE, COL_REDIRECTS, COL_ATTEMPTS})

OUTCOME_LABELS = {
    Outcome.OK: "ok",
    Outcome.HTTP_ERROR: "http error",
    Outcome.FAILED: "failed",
    Outcome.INVALID: "invalid",
    Outcome.CANCELLED: "cancelled",
    Outcome.PENDING: "queued",
}
FETCHING = "fetching"  # a queued row whose request is under way

# Where a sort key is missing (a queued row has no status), it sorts after every real value.
_MISSING = float("inf")

CHECKS_FAILED = "checks_failed"  # RowFilter.only: rows whose redirect-map check failed
REDIRECTED = "redirected"  # RowFilter.only: rows whose first answer was a redirect


def first_status(result: Result) -> int | None:
    """The status of the row's first answer (the first hop's when redirects were followed)."""
    if result.first_status is not None:
        return result.first_status
    return result.chain[0].status if result.chain else result.status


def was_redirected(result: Result) -> bool:
    """The first answer was a redirect (301, 302, 303, 307, 308), followed or not."""
    return result.redirects > 0 or bool(redirect_type(first_status(result)))


def first_answer(result: Result) -> str:
    """The first answer and, after redirects, where they ended: ``301 permanent → 200``,
    ``302 temporary (not followed)``, ``200``; empty when nothing answered."""
    first = first_status(result)
    if first is None:
        return ""
    kind = redirect_type(first)
    text = f"{first} {kind}" if kind else str(first)
    if result.chain and len(result.chain) > 1:
        # A chain past the redirect limit keeps its last 3xx as its status: it never ended.
        if result.failure is not None and result.failure.kind is Kind.TOO_MANY_REDIRECTS:
            return f"{text} → never ends"
        final = result.status
        return f"{text} → {final}" if final is not None else f"{text} → no answer"
    if kind and result.status == first:
        return f"{text} (not followed)"
    return text


def human_size(size: int | None) -> str:
    if size is None:
        return ""
    value = float(size)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


SORT_CHUNK = 32_768


def _sorted_positions(keys: list[Any], reverse: bool) -> Iterator[int]:
    """Positions of ``keys`` in sorted order, computed so that other threads keep running.

    One ``sorted()`` of a million keys is a single C call that holds the GIL for ~0.4 s, which
    froze the GUI thread as long. Sorting chunks (a few ms each) and merging them in Python
    lets the interpreter switch threads throughout; the sort stays stable.
    """
    key = keys.__getitem__
    chunks = [sorted(range(start, min(start + SORT_CHUNK, len(keys))), key=key, reverse=reverse)
              for start in range(0, len(keys), SORT_CHUNK)]
    if len(chunks) == 1:
        return iter(chunks[0])
    return heapq.merge(*chunks, key=key, reverse=reverse)


class RowFilter(NamedTuple):
    """Which rows the table shows: those whose outcome is in ``outcomes`` (all when empty),
    that are ``only`` what it names (:data:`CHECKS_FAILED`, :data:`REDIRECTED`; all when
    empty), whose URL, error, title, status or check reason contains ``text``
    (case-insensitive), whose final status is ``status`` and whose host is ``host``, when
    given."""

    text: str = ""
    outcomes: frozenset[Outcome] = frozenset()
    status: int | None = None
    host: str = ""
    only: str = ""

    def __bool__(self) -> bool:
        return bool(self.text or self.outcomes or self.status is not None or self.host
                    or self.only)

    @classmethod
    def parse(cls, typed: str, outcomes: frozenset[Outcome] = frozenset()) -> RowFilter:
        """The filter bar's text: words, and ``status:404`` / ``host:example.org`` terms
        (what clicking a bar or a host in the run summary types)."""
        status: int | None = None
        host = ""
        words: list[str] = []
        for word in typed.split():
            key, colon, value = word.partition(":")
            if colon and key.lower() == "status" and value.isdigit():
                status = int(value)
            elif colon and key.lower() == "host" and value:
                host = value.lower()
            else:
                words.append(word)
        return cls(" ".join(words), outcomes, status, host)


class ResultsModel(QAbstractTableModel):
    """Rows of :class:`Result`, one per input line.

    A result's ``index`` is its place in the input; the table may show the rows in another
    order (sorted) or only some of them (filtered). Sorting and filtering are done here, not by a
    ``QSortFilterProxyModel`` (which took 9 s to sort 100,000 rows calling Python per
    comparison): the new order is computed off the GUI thread and applied in one layout change.
    Methods named ``*index*`` speak of input positions; ``row`` means a row of the view.

    ``SortRole`` gives a sortable value for every cell (numbers as numbers).

    Signals:
        arranged(): a sort or filter has been applied.
    """

    SortRole = Qt.ItemDataRole.UserRole + 1
    ResultRole = Qt.ItemDataRole.UserRole + 2
    arranged = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._urls: list[str] = []
        self._lines: Sequence[int] = ()
        self._results: list[Result | None] = []
        self._dirty_low: int | None = None
        self._dirty_high = -1
        self.redactor: Redactor = MASKING
        # The view's rows as input indexes (None: all rows in input order), and its inverse.
        self._order: array[int] | None = None
        self._position: array[int] | None = None
        self._sort: tuple[int, Qt.SortOrder] = (COL_LINE, Qt.SortOrder.AscendingOrder)
        self._filter = RowFilter()
        self._generation = 0
        self._colours: dict[Outcome, QColor] = outcome_colours(QPalette())
        # Input indexes whose request is under way (the run's own live set, not a copy): a
        # queued row in it reads "fetching". Only rows painted are looked up.
        self._in_flight: Container[int] = ()
        self.has_checks = False  # the list says what some rows must answer (a redirect map)

    # -- filling -------------------------------------------------------------------------------

    def reset_rows(self, targets: TargetList) -> None:
        """Start over with one queued row per target (sharing the list's text, not copying it)."""
        self.beginResetModel()
        self._urls = targets.texts
        self._lines = targets.lines
        self._results = [None] * len(targets)
        self.has_checks = targets.expected is not None or targets.expected_status is not None
        self._dirty_low, self._dirty_high = None, -1
        self._order = self._position = None
        self._sort = (COL_LINE, Qt.SortOrder.AscendingOrder)
        self._filter = RowFilter()
        self._generation += 1
        self.endResetModel()

    def store(self, result: Result) -> None:
        """Keep a result for its row; the view hears of it at the next :meth:`flush`."""
        self.store_all([result])

    def store_all(self, results: list[Result],
                  on_error: Callable[[Result, Exception], None] | None = None) -> list[Result]:
        """Keep each result for its row; the view hears of them at the next :meth:`flush`.

        Returns the results stored. One that cannot be (a row out of range: a bug) goes to
        ``on_error`` and the rest are still stored; without ``on_error`` the error is raised.
        """
        rows = self._results
        refused: list[Result] = []
        low, high = self._dirty_low, self._dirty_high
        for result in results:
            row = result.index
            try:
                if row < 0:
                    raise IndexError(f"row {row} of {len(rows)}")
                rows[row] = result
            except (IndexError, TypeError) as exc:
                if on_error is None:
                    raise
                on_error(result, exc)
                refused.append(result)
                continue
            if low is None or row < low:
                low = row
            if row > high:
                high = row
        self._dirty_low, self._dirty_high = low, high
        if refused:
            skip = {id(result) for result in refused}
            return [result for result in results if id(result) not in skip]
        return results

    def requeue(self, indexes: Iterable[int]) -> None:
        """Show rows as queued again (a retry is about to fetch them)."""
        for row in indexes:
            self._results[row] = None
            self._mark(row)

    def _mark(self, row: int) -> None:
        if self._dirty_low is None or row < self._dirty_low:
            self._dirty_low = row
        self._dirty_high = max(self._dirty_high, row)

    def flush(self) -> None:
        """Tell views about every row changed since the last flush, in one signal."""
        if self._dirty_low is None:
            return
        if self._order is None:
            top, bottom = self._dirty_low, self._dirty_high
        else:  # the changed rows are scattered through a sorted view: repaint what is shown
            top, bottom = 0, len(self._order) - 1
        self._dirty_low, self._dirty_high = None, -1
        if bottom >= top:
            self.dataChanged.emit(self.index(top, 0), self.index(bottom, len(HEADERS) - 1))

    def set_redactor(self, redactor: Redactor) -> None:
        """What hides secrets in what the table shows (the settings' one Redactor)."""
        self.redactor = redactor
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0), self.index(self.rowCount() - 1,
                                                                len(HEADERS) - 1))

    def set_palette(self, palette: QPalette) -> None:
        """Outcome colours for this palette (light or dark); views repaint."""
        colours = outcome_colours(palette)
        if colours != self._colours:
            self._colours = colours
            if self.rowCount():
                self.dataChanged.emit(self.index(0, COL_OUTCOME),
                                      self.index(self.rowCount() - 1, COL_OUTCOME),
                                      [Qt.ItemDataRole.ForegroundRole])

    def set_in_flight(self, indexes: Container[int]) -> None:
        """Rows whose request is under way: ``indexes`` is kept and asked as rows are painted,
        so the run may keep changing it (a set it adds to and removes from)."""
        self._in_flight = indexes

    # -- order and filter ----------------------------------------------------------------------

    def index_at(self, row: int) -> int:
        """The input index shown at view ``row``."""
        return row if self._order is None else self._order[row]

    def row_of(self, index: int) -> int | None:
        """The view row showing input ``index``, or None when the filter hides it."""
        if self._order is None:
            return index if 0 <= index < len(self._results) else None
        assert self._position is not None
        row = self._position[index]
        return None if row < 0 else row

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the view by ``column`` (Qt calls this when a header is clicked)."""
        self._sort = (column, order)
        self._arrange()

    def rearrange(self) -> None:
        """Sort and filter again (results arrived since: a 'Failures' view gains new ones)."""
        self._arrange()

    def set_filter(self, row_filter: RowFilter) -> None:
        self._filter = row_filter
        self._arrange()

    @property
    def row_filter(self) -> RowFilter:
        return self._filter

    def _arrange(self) -> None:
        self._generation += 1
        generation = self._generation
        column, order = self._sort
        if column == COL_LINE and order == Qt.SortOrder.AscendingOrder and not self._filter:
            self._apply(None, None, generation)  # input order: nothing to compute
            return
        compute = partial(self._compute_order, column, order, self._filter)
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._apply(*compute(), generation)
            return
        # run_in_thread, not run_in_executor: compute holds this model, which the worker must
        # never be the last to let go of.
        future = run_in_thread(compute)

        def done(future: asyncio.Future[tuple[array[int], array[int]]]) -> None:
            if generation != self._generation or future.cancelled():
                # Replaced by a newer sort, filter or new rows while it ran; it may even have
                # failed reading lists that changed under it. Either way it no longer matters.
                return
            if future.exception() is None:
                self._apply(*future.result(), generation)
            else:
                exc = future.exception()
                loop.call_exception_handler({"message": "Sorting the table failed",
                                             "exception": exc, "future": future})

        future.add_done_callback(done)

    def _compute_order(self, column: int, order: Qt.SortOrder,
                       row_filter: RowFilter) -> tuple[array[int], array[int]]:
        """Runs in a worker thread: reads the row lists, writes nothing shared."""
        count = len(self._results)
        indexes: list[int] | range = range(count)
        if row_filter:
            keep = self._matcher(row_filter)
            indexes = [i for i in indexes if keep(i)]
        if not (column == COL_LINE and order == Qt.SortOrder.AscendingOrder):
            keys = [self._sort_key(i, column, self._results[i]) for i in indexes]
            positions = _sorted_positions(keys, reverse=order == Qt.SortOrder.DescendingOrder)
            indexes = [indexes[p] for p in positions]
        shown = array("l", indexes)
        where = array("l", [-1]) * count
        for row, index in enumerate(shown):
            where[index] = row
        return shown, where

    def _matcher(self, row_filter: RowFilter) -> Callable[[int], bool]:
        text = row_filter.text.lower()
        outcomes = row_filter.outcomes
        status = row_filter.status
        host = row_filter.host
        only = row_filter.only

        def keep(index: int) -> bool:
            result = self._results[index]
            if outcomes and (result.outcome if result else Outcome.PENDING) not in outcomes:
                return False
            if status is not None and (result is None or result.status != status):
                return False
            if host and check_line(self._urls[index])[0] != host:
                return False
            if only == CHECKS_FAILED and (result is None or result.check != "fail"):
                return False
            if only == REDIRECTED and (result is None or not was_redirected(result)):
                return False
            if not text:
                return True
            if text in self._urls[index].lower():
                return True
            if result is None:
                return False
            return any(text in value.lower() for value in (
                result.error, result.title, str(result.status or ""), result.final_url,
                result.check_reason))

        return keep

    def _apply(self, shown: array[int] | None, where: array[int] | None,
               generation: int) -> None:
        if generation != self._generation:
            return  # a newer sort, filter or reset has replaced this one
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        sources = [self.index_at(p.row()) for p in old]
        self._order, self._position = shown, where
        new = []
        for persistent, index in zip(old, sources, strict=True):
            row = self.row_of(index)
            new.append(QModelIndex() if row is None else self.index(row, persistent.column()))
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()
        self.arranged.emit()

    # -- reading -------------------------------------------------------------------------------

    def result(self, row: int) -> Result | None:
        return self._results[row] if 0 <= row < len(self._results) else None

    def url(self, row: int) -> str:
        return self._urls[row]

    def cell_text(self, index: int, column: int) -> str:
        """The text the table shows in ``column`` of input row ``index`` (passwords masked
        when masking is on)."""
        return self._display(index, column, self._results[index])

    def results(self) -> Iterator[Result]:
        """Every row's result in input order; rows without one yet are skipped."""
        return (r for r in self._results if r is not None)

    def snapshot(self) -> list[Result | None]:
        """Every row's result (None while queued), in input order: a copy safe to read from
        another thread while the run goes on."""
        return list(self._results)

    def __len__(self) -> int:
        return len(self._results)

    # -- Qt model interface --------------------------------------------------------------------

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008,N802
        if parent.isValid():
            return 0
        return len(self._results) if self._order is None else len(self._order)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:  # noqa: B008,N802
        return 0 if parent.isValid() else len(HEADERS)

    def headerData(self, section: int, orientation: Qt.Orientation,  # noqa: N802
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return HEADERS.get(section)
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex,
             role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row, col = self.index_at(index.row()), index.column()
        result = self._results[row]
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, col, result)
        if role == self.SortRole:
            return self._sort_key(row, col, result)
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_OUTCOME:
            return self._colours[result.outcome if result else Outcome.PENDING]
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_CHECK and result is not None:
            if result.check:
                return self._colours[Outcome.OK if result.check == "pass" else Outcome.FAILED]
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole and col in NUMERIC_COLUMNS:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole and result is not None:
            return plain_tooltip(self._tooltip(row, col, result))
        if role == self.ResultRole:
            return result
        return None

    def _tooltip(self, row: int, col: int, result: Result) -> str:
        if col == COL_ERROR and result.failure is not None:
            return self._masked_text(result.error)
        if col == COL_SIZE and result.bytes is not None:
            return f"{result.bytes:,} bytes"
        if col in (COL_URL, COL_FINAL_URL, COL_TITLE):
            return self._display(row, col, result)
        if col == COL_CONTENT_TYPE:
            return result.content_type
        if col in (COL_REDIRECTS, COL_FIRST) and result.chain:
            return self._masked_text(result.redirect_chain_text())
        if col == COL_CHECK and result.check:
            return self._masked_text(f"{result.check}: {result.check_reason}")
        return ""

    def _masked(self, url: str) -> str:
        return self.redactor.url(url)

    def _masked_text(self, text: str) -> str:
        return self.redactor.text(text)

    def _display(self, row: int, col: int, result: Result | None) -> str:  # noqa: C901
        if col == COL_LINE:
            return str(self._lines[row])
        if col == COL_URL:
            return self._masked(self._urls[row])
        if result is None:
            if col != COL_OUTCOME:
                return ""
            if row not in self._in_flight:
                return "queued"
            label = getattr(self._in_flight, "label", None)  # "waiting 20 s" on a Retry-After
            return label(row) if label is not None else FETCHING
        if col == COL_OUTCOME:
            return OUTCOME_LABELS[result.outcome]
        if col == COL_STATUS:
            return "" if result.status is None else str(result.status)
        if col == COL_TIME:
            return "" if result.elapsed_ms is None else f"{result.elapsed_ms:,.0f}"
        if col == COL_SIZE:
            return human_size(result.bytes)
        if col == COL_REDIRECTS:
            return str(result.redirects) if result.redirects else ""
        if col == COL_FINAL_URL:
            return self._masked(result.final_url) if result.redirects else ""
        if col == COL_CONTENT_TYPE:
            return result.content_type.split(";", 1)[0].strip()
        if col == COL_TITLE:
            return result.title
        if col == COL_ERROR_KIND:
            return result.error_kind
        if col == COL_ERROR:
            return self._masked_text(result.error)
        if col == COL_ATTEMPTS:
            return str(result.attempts) if result.attempts else ""
        if col == COL_CHECK:
            return result.check
        if col == COL_FIRST:
            return first_answer(result)
        return ""

    def _sort_key(self, row: int, col: int, result: Result | None) -> Any:
        if col == COL_LINE:
            return self._lines[row]
        if col == COL_FIRST:  # by the first status, then the final one
            first = None if result is None else first_status(result)
            if result is None or first is None:
                return (_MISSING, _MISSING)
            return (first, _MISSING if result.status is None else result.status)
        if col in NUMERIC_COLUMNS:
            if result is None:
                return _MISSING
            value = {
                COL_STATUS: result.status,
                COL_TIME: result.elapsed_ms,
                COL_SIZE: result.bytes,
                COL_REDIRECTS: result.redirects,
                COL_ATTEMPTS: result.attempts,
            }[col]
            return _MISSING if value is None else value
        return self._display(row, col, result).lower()
