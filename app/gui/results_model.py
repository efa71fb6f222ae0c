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

import shiboken6
from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QColor, QPalette

from app.core.checks import redirect_type
from app.core.errors import Kind
from app.core.redact import MASKING, Redactor
from app.core.result import Outcome, Result
from app.core.stored_rows import PAGE_ROWS, StoredRows
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
# A stored run's columns sorted by a number, by the stored column (see StoredRows.order).
_STORED_NUMBERS = {COL_STATUS: "status", COL_TIME: "elapsed_ms", COL_SIZE: "bytes",
                   COL_REDIRECTS: "redirects", COL_ATTEMPTS: "attempts"}
_OUTCOME_OF = {o.value: o for o in Outcome}
_KIND_VALUES = frozenset(k.value for k in Kind) | {""}


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
        # A list, or a stored run's rows read from its file on demand (show_stored).
        self._results: list[Result | None] | StoredRows = []
        self._stored_orders: dict[tuple[int, bool], array[int]] = {}
        self._orders_at = 0  # the stored rows' evictions when those orders were asked
        # Pages of a stored run the view asked for, being read, and whose reading failed.
        self._wanted: set[int] = set()
        self._reading = False
        self._unreadable: set[int] = set()
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

    def reset_rows(self, targets: TargetList, stored: StoredRows | None = None) -> None:
        """Start over with one queued row per target (sharing the list's text, not copying it),
        or, given ``stored``, with a stored run's rows, read from its file as they are shown
        (a reopened run: no result is held for a row nobody looks at), or a recorded run's
        :class:`LiveRows`, which hold each result only until it is in the file."""
        self.beginResetModel()
        if isinstance(self._results, StoredRows):
            self._results.close()
        self._urls = targets.texts
        self._lines = targets.lines
        self._results = [None] * len(targets) if stored is None else stored
        self._stored_orders, self._orders_at = {}, 0
        self._wanted = set()
        self._reading = False
        self._unreadable = set()
        self.has_checks = targets.expected is not None or targets.expected_status is not None
        self._dirty_low, self._dirty_high = None, -1
        self._order = self._position = None
        self._sort = (COL_LINE, Qt.SortOrder.AscendingOrder)
        self._filter = RowFilter()
        self._generation += 1
        self.endResetModel()

    @property
    def stored_rows(self) -> StoredRows | None:
        """The stored run whose rows the table reads from its file, if it does."""
        return self._results if isinstance(self._results, StoredRows) else None

    def hold_rows(self, results: list[Result | None]) -> None:
        """Hold these results (one per row, in input order) instead of reading a stored
        run's from its file; rows that changed since it was opened keep their newer result.
        The order, filter and selection stay."""
        rows = self._results
        if not isinstance(rows, StoredRows) or len(results) != len(rows):
            raise ValueError("hold_rows replaces a stored run's rows, one result a row")
        for index, result in rows.changed.items():
            results[index] = result
        self._results = results
        rows.close()
        self._wanted = set()
        if self.rowCount():
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(self.rowCount() - 1, len(HEADERS) - 1))

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
        self._stored_orders = {}  # text sorts compare what is shown
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
            if future.cancelled():
                return
            if generation != self._generation or not shiboken6.isValid(self):
                # Replaced by a newer sort, filter or new rows while it ran; it may even have
                # failed reading lists (or a stored run's file) that changed or closed under
                # it. Either way it no longer matters: its outcome is taken and let go.
                future.exception()
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
        """Runs in a worker thread: reads the rows, writes nothing shared."""
        rows = self._results
        if isinstance(rows, StoredRows) and rows.as_stored and column != COL_FIRST:
            shown = self._stored_order(rows, column, order, row_filter)
        else:
            keep = self._matcher(row_filter) if row_filter else None
            sorting = not (column == COL_LINE and order == Qt.SortOrder.AscendingOrder)
            # A stored run is read once, on a connection of this thread's own.
            pairs = rows.items() if isinstance(rows, StoredRows) else enumerate(rows)
            indexes: list[int] = []
            keys: list[Any] = []
            for index, result in pairs:
                if keep is None or keep(index, result):
                    indexes.append(index)
                    if sorting:
                        keys.append(self._sort_key(index, column, result))
            if sorting:
                positions = _sorted_positions(keys,
                                              reverse=order == Qt.SortOrder.DescendingOrder)
                indexes = [indexes[p] for p in positions]
            shown = array("l", indexes)
        where = array("l", [-1]) * len(rows)
        for row, index in enumerate(shown):
            where[index] = row
        return shown, where

    def _stored_order(self, rows: StoredRows, column: int, order: Qt.SortOrder,
                      row_filter: RowFilter) -> array[int]:
        """A stored run's order and filter, asked of its file (every row has its stored
        result): the rows :meth:`_compute_order` would give, in a fraction of the time."""
        descending = order == Qt.SortOrder.DescendingOrder
        if rows.evictions != self._orders_at:  # results reached the file since (a retry)
            self._stored_orders, self._orders_at = {}, rows.evictions
        # This run's orders: another run shown meanwhile has a dict of its own, which an
        # order of these rows, asked of the file while it opened, must not land in.
        orders = self._stored_orders
        cached = orders.get((column, descending))
        if cached is None:
            cached = orders[(column, descending)] = self._stored_sort(rows, column, descending)
        if not row_filter:
            return cached
        keep = rows.matching(
            outcomes=row_filter.outcomes, status=row_filter.status,
            check_failed=row_filter.only == CHECKS_FAILED,
            redirected=row_filter.only == REDIRECTED, text=row_filter.text, urls=self._urls)
        if row_filter.host:
            urls, host = self._urls, row_filter.host
            for index, kept in enumerate(keep):
                if kept and check_line(urls[index])[0] != host:
                    keep[index] = 0
        return array("l", [index for index in cached if keep[index]])

    def _stored_sort(self, rows: StoredRows, column: int, descending: bool) -> array[int]:
        if column in (COL_LINE, COL_URL):  # the list's own text, in memory
            keys: Sequence[Any] = (self._lines if column == COL_LINE else
                                   [self._masked(url).lower() for url in self._urls])
            if column == COL_LINE and not descending:
                return array("l", range(len(rows)))
            return array("l", _sorted_positions(list(keys), reverse=descending))
        numeric = _STORED_NUMBERS.get(column)
        if numeric is not None:
            return rows.order(numeric, descending)
        redactor = self.redactor
        text: dict[int, tuple[str, Callable[[str], str]]] = {
            COL_OUTCOME: ("outcome", lambda v: OUTCOME_LABELS[
                _OUTCOME_OF.get(v, Outcome.FAILED)]),
            COL_ERROR: ("error", lambda v: redactor.text(v).lower()),
            COL_FINAL_URL: ("final_url_if_redirected", lambda v: redactor.url(v).lower()),
            COL_CONTENT_TYPE: ("content_type", lambda v: v.split(";", 1)[0].strip().lower()),
            COL_TITLE: ("title", str.lower),
            COL_ERROR_KIND: ("error_kind", lambda v: v if v in _KIND_VALUES
                             else Kind.INTERNAL.value),
            COL_CHECK: ("check", str.lower),
        }
        key, shown = text[column]
        return rows.order(key, descending, shown)

    def _matcher(self, row_filter: RowFilter) -> Callable[[int, Result | None], bool]:
        text = row_filter.text.lower()
        outcomes = row_filter.outcomes
        status = row_filter.status
        host = row_filter.host
        only = row_filter.only

        def keep(index: int, result: Result | None) -> bool:
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
        """Every row's result in input order; rows without one yet are skipped. (A stored
        run's are read from its file: a million rows take seconds.)"""
        return (r for r in self._results if r is not None)

    def snapshot(self) -> Sequence[Result | None]:
        """Every row's result (None while queued), in input order: a copy safe to read from
        another thread while the run goes on (a stored run's: read from its file as it is
        iterated, with the rows retried since as they are now)."""
        rows = self._results
        return rows.snapshot() if isinstance(rows, StoredRows) else list(rows)

    def shown_snapshot(self) -> Sequence[Result | None]:
        """The rows the view shows (sorted or filtered), in input order, as :meth:`snapshot`
        gives them: what an export of the shown rows writes. A stored run's are read from its
        file as they are iterated, not here."""
        rows = self._results
        indexes: Sequence[int] = range(len(rows)) if self._order is None else sorted(self._order)
        if isinstance(rows, StoredRows):
            return rows.only(indexes)
        return [rows[i] for i in indexes]

    def indexes_where(self, outcomes: frozenset[Outcome]) -> list[int]:
        """Input indexes of the rows whose outcome is one of ``outcomes`` (a queued row's
        is :attr:`Outcome.PENDING`), in input order; a stored run's asked of its file."""
        rows = self._results
        if isinstance(rows, StoredRows):
            return rows.indexes_where(outcomes)
        return [i for i, r in enumerate(rows)
                if (Outcome.PENDING if r is None else r.outcome) in outcomes]

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
        if role == self.ResultRole:
            return self._results[row]
        rows = self._results
        if isinstance(rows, StoredRows):
            # The view never waits for the file: a row not read yet is shown by its line and
            # URL alone until its page, read on a worker thread, arrives (a few ms).
            found, result = rows.cached(row)
            if not found:
                self._read_later(rows, row)
                if role == Qt.ItemDataRole.DisplayRole:
                    return self._display(row, col, None) if col in (COL_LINE, COL_URL) else ""
                if role == Qt.ItemDataRole.TextAlignmentRole and col in NUMERIC_COLUMNS:
                    return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                return None
        else:
            result = rows[row]
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
        return None

    def _read_later(self, rows: StoredRows, index: int) -> None:
        """Read the page holding row ``index`` on a worker thread, with every other page the
        view asks for meanwhile; repaint once they are in. Read on the GUI thread, a page
        waits for the GIL at every row it steps through while a sort or the run's loading
        holds it: gaps of 150+ ms, measured."""
        number = index // PAGE_ROWS
        if number in self._unreadable:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a test without one): read it now
            rows.read_pages([number])
            return
        self._wanted.add(number)
        if not self._reading:
            self._reading = True
            loop.call_soon(self._read_wanted, rows, loop)

    def _read_wanted(self, rows: StoredRows, loop: asyncio.AbstractEventLoop
                     ) -> asyncio.Future[list[list[Result | None]]] | None:
        """Read the pages asked for on a worker thread; the read (None: nothing to read)."""
        if rows is not self._results:
            return None  # another run is shown now (reset_rows cleared the rest)
        numbers, self._wanted = sorted(self._wanted), set()
        if not numbers:
            self._reading = False
            return None
        future = run_in_thread(rows.read_pages, numbers)

        def done(future: asyncio.Future[list[list[Result | None]]]) -> None:
            failed = not future.cancelled() and future.exception() is not None
            if rows is not self._results or not shiboken6.isValid(self):
                # Another run is shown now (or the window is gone), and this one's file may be
                # closed already: a failed read of rows nobody shows is expected, its outcome
                # taken and let go.
                return
            if failed:
                self._unreadable.update(numbers)
                loop.call_exception_handler({"message": "Reading the run's rows failed",
                                             "exception": future.exception(),
                                             "future": future})
            if self.rowCount():  # the view repaints the rows it shows (ResultsView)
                self.dataChanged.emit(self.index(0, 0),
                                      self.index(self.rowCount() - 1, len(HEADERS) - 1))
            self._read_wanted(rows, loop)  # what was asked for meanwhile

        future.add_done_callback(done)
        return future

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
