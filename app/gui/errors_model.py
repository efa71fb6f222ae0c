"""The error panel's model: every failure of a run, grouped by kind, updated in batches.

Two levels: one row per kind that has failures (``Connection refused (12)``), then one row per
failure. Failures are keyed by the result's ``index`` (its row in the results table), so a
batch can add, replace, move (a retry that failed differently) or remove (a retry that worked)
them without touching the rest.

Cancelled results have a group of their own, last, titled "not counted": a cancelled URL did not
fail, the user stopped it; counting it would make a cancelled run of 10,000 URLs read as 9,990
failures. It is listed at all because its rows still need a Retry.

Failed redirect-map checks are grouped by their check code (:mod:`app.gui.check_groups`), after
the failure kinds and before Cancelled. They are keyed apart (``CHECK_KEY_BASE + index``): a
row whose target answered 404 is both an HTTP error and a failed check, and is listed in both,
so the panel counts what the status line counts.

Why a ``QStandardItemModel`` underneath: a ``QTreeView`` lays out every expanded row again
after each insert or removal, calling ``index``/``hasChildren``/``rowCount`` per row. With those
in Python that cost 8 us per row without a filter proxy and 15 us with one (measured: 85-150 ms
per 500-row tick once 10,000 failures are listed, growing with the list). With the rows held in
C++ the same tick costs about 12 ms, filtering 10,000 rows 7 ms instead of 90. Python keeps
only the bookkeeping: key -> entry, counts, masking. Items are inserted with one
``rowsInserted`` per row into an existing group, one per new group (its rows are built before
it is attached), and removed one ``rowsRemoved`` per contiguous run; there is no model reset
except :meth:`ErrorsModel.clear`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt, Signal
from PySide6.QtGui import QFont, QIcon, QStandardItem, QStandardItemModel
from PySide6.QtWidgets import QApplication, QStyle

from app.core.errors import Failure, Kind
from app.core.redact import Redactor
from app.core.result import Outcome, Result
from app.core.settings import Settings
from app.gui.check_groups import CHECK_ORDER, CheckGroup, GroupKey, group_from_token, group_info

__all__ = [
    "CHECK_KEY_BASE",
    "COL_ATTEMPTS",
    "COL_KIND",
    "COL_MESSAGE",
    "COL_STATUS",
    "COL_URL",
    "GROUP_ORDER",
    "HEADERS",
    "FILTER_ROLE",
    "KEY_ROLE",
    "KIND_ROLE",
    "Entry",
    "ErrorsModel",
    "group_title",
]

COL_URL, COL_KIND, COL_MESSAGE, COL_STATUS, COL_ATTEMPTS = range(5)
HEADERS = ("URL", "Kind", "Message", "HTTP", "Attempts")

KEY_ROLE = Qt.ItemDataRole.UserRole + 1  # on a failure's URL cell: its Entry key
KIND_ROLE = Qt.ItemDataRole.UserRole + 2  # on a group's cell: its kind token
# On the URL cell: lowercase URL, message, kind title and token, status. The filter box searches
# this one role: a filter over all columns cost 100 ms per keystroke at 10,000 rows, this 8 ms.
FILTER_ROLE = Qt.ItemDataRole.UserRole + 3

FAILED_OUTCOMES = frozenset({Outcome.HTTP_ERROR, Outcome.FAILED, Outcome.INVALID})

# Internal errors first: one bug can be the reason for every other failure listed (a run that
# broke fails all its rows). Then the order a request goes through: the line, the name, the
# connection, TLS, the answer, its status. Cancelled last: it is not a failure.
GROUP_ORDER: tuple[Kind, ...] = (
    Kind.INTERNAL,
    *(k for k in Kind if k not in (Kind.INTERNAL, Kind.CANCELLED)),
    Kind.CANCELLED,
)
_RANK = {kind: rank for rank, kind in enumerate(GROUP_ORDER)}
_CHECK_RANK = {code: rank for rank, code in enumerate(CHECK_ORDER)}


def _rank(key: GroupKey) -> tuple[int, int]:
    """Failure kinds in GROUP_ORDER, then failed checks, then Cancelled."""
    if isinstance(key, CheckGroup):
        return (1, _CHECK_RANK.get(key.code, len(CHECK_ORDER)))
    return (2, 0) if key is Kind.CANCELLED else (0, _RANK[key])

# Keys of internal errors that belong to no row start here, above any real row index, so that
# "table order" puts them after the rows, in arrival order.
INTERNAL_KEY_BASE = 1 << 40
# Keys of failed checks: the row's index above this, apart from the row's own failure's key.
CHECK_KEY_BASE = 1 << 41

# Literal secrets shorter than this are not searched for in free text: replacing every "pw" in a
# traceback would garble it. URLs with passwords are masked whatever the length.
MIN_SECRET_LENGTH = 4


class Entry:
    """One failure as the panel shows it. ``key`` is the result's index, or
    ``INTERNAL_KEY_BASE + n`` for an internal error that belongs to no row, or
    ``CHECK_KEY_BASE + index`` for a failed check (``failure`` None, ``kind`` its group)."""

    __slots__ = ("failure", "item", "key", "kind", "message", "result", "text", "url")

    def __init__(self, key: int, failure: Failure | None, result: Result | None, *,
                 check: CheckGroup | None = None, text: str = "") -> None:
        self.key = key
        assert failure is not None or check is not None
        self.kind: GroupKey = check if check is not None else failure.kind  # type: ignore[union-attr]
        self.failure = failure
        self.result = result
        self.text = failure.message if failure is not None else text  # as said, unmasked
        self.url = ""  # as shown: masked when masking is on
        self.message = ""  # as shown
        self.item: QStandardItem | None = None  # its URL cell while it is in the model

    @property
    def is_check(self) -> bool:
        return self.key >= CHECK_KEY_BASE

    @property
    def row(self) -> int | None:
        """The row in the results table, or None for an internal error."""
        if self.key < INTERNAL_KEY_BASE:
            return self.key
        return self.key - CHECK_KEY_BASE if self.key >= CHECK_KEY_BASE else None

    @property
    def status(self) -> int | None:
        return self.result.status if self.result is not None else None

    @property
    def attempts(self) -> int:
        return self.result.attempts if self.result is not None else 0

    @property
    def retryable(self) -> bool:
        """Fetching again can change the answer: not for lines that are not URLs."""
        return self.result is not None and self.result.outcome is not Outcome.INVALID

    @property
    def fetchable_url(self) -> str:
        """The real (unmasked) URL, if it is an http(s) URL; "" for invalid lines."""
        if self.result is None or self.result.outcome is Outcome.INVALID:
            return ""
        return self.result.url


def _password_in(url: str) -> str:
    if "@" not in url:
        return ""
    authority = url.partition("://")[2]
    for stop in "/?#":
        authority = authority.partition(stop)[0]
    return authority.rpartition("@")[0].partition(":")[2]


class ErrorsModel(QStandardItemModel):
    """Failures grouped by kind, then failed checks grouped by code. Feed it with
    :meth:`update`; it never resets except on clear.

    Signals:
        counts_changed(): the number of failures in some group changed.
    """

    counts_changed = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(0, len(HEADERS), parent)
        self.setHorizontalHeaderLabels(list(HEADERS))
        for column in (COL_STATUS, COL_ATTEMPTS):
            self.setHeaderData(column, Qt.Orientation.Horizontal,
                               Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                               Qt.ItemDataRole.TextAlignmentRole)
        self._groups: dict[GroupKey, QStandardItem] = {}
        self._entries: dict[int, Entry] = {}
        self._internal_seq = 0
        self._masker = Redactor.for_settings(Settings())
        self._sort_column = -1  # -1: the results table's order
        self._sort_order = Qt.SortOrder.AscendingOrder
        self._max_key: dict[GroupKey, int] = {}  # upper bound of the keys in a group
        self._unsorted: set[GroupKey] = set()  # groups whose rows left table order

    # -- feeding -------------------------------------------------------------------------------

    def update(self, results: Iterable[Result]) -> None:
        """Apply a batch: failures and failed checks are added or replaced, results that are no
        longer failures (ok, or queued again) leave the panel. The last result for an index
        wins."""
        latest = {result.index: result for result in results}
        removals: dict[GroupKey, list[Entry]] = defaultdict(list)
        additions: dict[GroupKey, list[Entry]] = defaultdict(list)
        changed: list[tuple[Entry, Entry]] = []
        entries = self._entries
        for index, result in latest.items():
            for key, entry in ((index, _failure_entry(index, result)),
                               (CHECK_KEY_BASE + index, _check_entry(index, result))):
                old = entries.get(key)
                if entry is None:
                    if old is not None:
                        removals[old.kind].append(old)
                    continue
                self._describe(entry)
                if old is not None and old.kind == entry.kind:
                    changed.append((old, entry))
                else:
                    if old is not None:
                        removals[old.kind].append(old)
                    additions[entry.kind].append(entry)
        if not (removals or additions or changed):
            return
        for kind, entries in removals.items():
            self._remove(kind, entries, keep_group=kind in additions)
        for kind, entries in additions.items():
            self._add(kind, entries)
        for old, entry in changed:
            self._replace(old, entry)
        self._after_change({*removals, *additions, *(e.kind for _, e in changed)},
                           resort={*additions, *(e.kind for _, e in changed)})

    def add_internal(self, failure: Failure) -> None:
        """An error that belongs to no row (a bug, a crashed callback): the Internal group."""
        self._internal_seq += 1
        entry = Entry(INTERNAL_KEY_BASE + self._internal_seq, failure, None)
        entry.kind = Kind.INTERNAL  # whatever it says, an error outside a run is a bug
        self._describe(entry)
        self._add(Kind.INTERNAL, [entry])
        self._after_change({Kind.INTERNAL}, resort=set())

    def clear(self) -> None:
        """Forget everything: a new run starts."""
        for entry in self._entries.values():
            entry.item = None  # Qt deletes the items; never touch them again
        self._entries.clear()
        self._groups.clear()
        self._max_key.clear()
        self._unsorted.clear()
        self.removeRows(0, self.rowCount())
        self.counts_changed.emit()

    def set_settings(self, settings: Settings) -> None:
        """Re-mask every URL and message with the new password settings."""
        self._masker = Redactor.for_settings(settings)
        for group in self._groups.values():
            self.blockSignals(True)
            try:
                for row in range(group.rowCount()):
                    entry = self._entry_at(group, row)
                    if entry is None:
                        continue
                    self._describe(entry)
                    group.child(row, COL_URL).setText(_url_text(entry))
                    group.child(row, COL_URL).setData(_haystack(entry), FILTER_ROLE)
                    group.child(row, COL_MESSAGE).setText(_one_line(entry.message))
            finally:
                self.blockSignals(False)
            if group.rowCount():
                # One signal per group instead of two per failure; it also re-runs the filter.
                self.dataChanged.emit(group.child(0, 0).index(),
                                      group.child(group.rowCount() - 1, COL_ATTEMPTS).index())

    @property
    def masker(self) -> Redactor:
        return self._masker

    # -- reading -------------------------------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Failures per kind token. For every kind but ``internal`` these are the CSV's
        ``error_kind`` tallies over failed, http_error, invalid and cancelled rows; ``internal``
        also counts errors that belong to no row. Failed checks are :meth:`check_counts`."""
        return {kind.value: group.rowCount() for kind, group in self._sorted_groups()
                if isinstance(kind, Kind)}

    def check_counts(self) -> dict[str, int]:
        """Failed checks per check code: the CSV's rows with ``check`` = fail, by code."""
        return {kind.code: group.rowCount() for kind, group in self._sorted_groups()
                if isinstance(kind, CheckGroup)}

    def failure_count(self) -> int:
        """Failures, cancelled rows and failed checks not counted."""
        return sum(g.rowCount() for k, g in self._groups.items()
                   if isinstance(k, Kind) and k is not Kind.CANCELLED)

    def check_count(self) -> int:
        """Rows whose check failed (the status line's "checks failed")."""
        return sum(g.rowCount() for k, g in self._groups.items() if isinstance(k, CheckGroup))

    def kind_count(self) -> int:
        return sum(1 for k in self._groups if isinstance(k, Kind) and k is not Kind.CANCELLED)

    def cancelled_count(self) -> int:
        group = self._groups.get(Kind.CANCELLED)
        return group.rowCount() if group is not None else 0

    def entry(self, index: QModelIndex | QPersistentModelIndex) -> Entry | None:
        """The failure at ``index`` (any column); None for a group row or an invalid index."""
        if not index.isValid() or not index.parent().isValid():
            return None
        key = index.sibling(index.row(), COL_URL).data(KEY_ROLE)
        return self._entries.get(key) if key is not None else None

    def group_kind(self, index: QModelIndex | QPersistentModelIndex) -> GroupKey | None:
        """The kind (or check group) of a group row (any column); None for a failure row."""
        if not index.isValid() or index.parent().isValid():
            return None
        token = index.sibling(index.row(), COL_URL).data(KIND_ROLE)
        return group_from_token(token) if token else None

    def entries(self, kind: GroupKey | None = None) -> list[Entry]:
        """The failures in display order, of one kind or of all."""
        groups = [(kind, self._groups[kind])] if kind in self._groups else []
        if kind is None:
            groups = self._sorted_groups()
        return [e for _, group in groups for row in range(group.rowCount())
                if (e := self._entry_at(group, row)) is not None]

    def entry_for(self, key: int) -> Entry | None:
        return self._entries.get(key)

    def check_entry_for(self, index: int) -> Entry | None:
        """The failed check of results row ``index``, if it failed."""
        return self._entries.get(CHECK_KEY_BASE + index)

    def group_index(self, kind: GroupKey) -> QModelIndex:
        group = self._groups.get(kind)
        return group.index() if group is not None else QModelIndex()

    def index_of(self, entry: Entry, column: int = COL_URL) -> QModelIndex:
        if entry.item is None:
            return QModelIndex()
        return entry.item.index().siblingAtColumn(column)

    # -- sorting -------------------------------------------------------------------------------

    def sort(self, column: int, order: Qt.SortOrder = Qt.SortOrder.AscendingOrder) -> None:
        """Sort the failures inside each group; groups keep their fixed order. Column -1 is the
        results table's order."""
        self._sort_column = column if 0 <= column < len(HEADERS) else -1
        self._sort_order = order
        for kind in self._groups:
            self._sort_group(kind)

    def sort_column(self) -> int:
        return self._sort_column

    def _sort_group(self, kind: GroupKey) -> None:
        group = self._groups[kind]
        self._unsorted.discard(kind)
        if self._sort_column < 0:
            self.setSortRole(KEY_ROLE)
            try:
                group.sortChildren(COL_URL, Qt.SortOrder.AscendingOrder)
            finally:
                self.setSortRole(Qt.ItemDataRole.DisplayRole)
        else:
            group.sortChildren(self._sort_column, self._sort_order)

    # -- mechanics -----------------------------------------------------------------------------

    def _sorted_groups(self) -> list[tuple[GroupKey, QStandardItem]]:
        return sorted(self._groups.items(), key=lambda pair: _rank(pair[0]))

    def _entry_at(self, group: QStandardItem, row: int) -> Entry | None:
        item = group.child(row, COL_URL)
        return self._entries.get(item.data(KEY_ROLE)) if item is not None else None

    def _describe(self, entry: Entry) -> None:
        """(Re)compute what is shown for an entry, masked as set."""
        raw_url = entry.result.url if entry.result is not None else ""
        entry.url = self._masker.url(raw_url)
        entry.message = self._masker.text(entry.text, raw_url)

    def _row_items(self, entry: Entry) -> list[QStandardItem]:
        url = QStandardItem(_url_text(entry))
        url.setData(entry.key, KEY_ROLE)
        if entry.row is None:
            font = QFont()
            font.setItalic(True)
            url.setFont(font)
        url.setData(_haystack(entry), FILTER_ROLE)
        status = QStandardItem()
        if entry.status is not None:
            status.setData(entry.status, Qt.ItemDataRole.DisplayRole)
        attempts = QStandardItem()
        if entry.attempts:
            attempts.setData(entry.attempts, Qt.ItemDataRole.DisplayRole)
        entry.item = url
        return [url, QStandardItem(group_info(entry.kind).title),
                QStandardItem(_one_line(entry.message)), status, attempts]

    def _new_group(self, kind: GroupKey) -> QStandardItem:
        group = QStandardItem()
        group.setData(kind.value, KIND_ROLE)
        group.setData(f"{group_title(kind, 0)} {kind.value}".lower(), FILTER_ROLE)
        group.setIcon(_icon(kind))
        font = QFont()
        if kind is Kind.CANCELLED:
            font.setItalic(True)
        else:
            font.setBold(True)
        group.setFont(font)
        return group

    def _remove(self, kind: GroupKey, entries: list[Entry], keep_group: bool) -> None:
        group = self._groups[kind]
        rows = sorted((e.item.row() for e in entries if e.item is not None), reverse=True)
        for entry in entries:
            del self._entries[entry.key]
            entry.item = None
        if len(rows) == group.rowCount() and not keep_group:
            del self._groups[kind]
            self._max_key.pop(kind, None)
            self._unsorted.discard(kind)
            self.removeRow(group.row())
            return
        for first, last in _ranges(rows):
            group.removeRows(first, last - first + 1)

    def _add(self, kind: GroupKey, entries: list[Entry]) -> None:
        for entry in entries:
            self._entries[entry.key] = entry
        group = self._groups.get(kind)
        fresh = group is None
        if group is None:
            group = self._groups[kind] = self._new_group(kind)
        # In table order, rows mostly arrive in order: appended sorted, they need no re-sort.
        entries.sort(key=lambda e: e.key)
        previous = self._max_key.get(kind, -1)
        if entries[0].key < previous:
            self._unsorted.add(kind)
        self._max_key[kind] = max(previous, entries[-1].key)
        # Children appended before the group is attached cost no signals at all.
        for entry in entries:
            group.appendRow(self._row_items(entry))
        if fresh:
            position = sum(1 for k in self._groups if _rank(k) < _rank(kind))
            group.setText(group_title(kind, group.rowCount()))
            self.insertRow(position, group)

    def _replace(self, old: Entry, entry: Entry) -> None:
        item = old.item
        assert item is not None
        group, row = item.parent(), item.row()
        entry.item = item
        self._entries[entry.key] = entry
        item.setText(_url_text(entry))
        item.setData(_haystack(entry), FILTER_ROLE)
        group.child(row, COL_MESSAGE).setText(_one_line(entry.message))
        group.child(row, COL_STATUS).setData(entry.status, Qt.ItemDataRole.DisplayRole)
        group.child(row, COL_ATTEMPTS).setData(entry.attempts or None,
                                               Qt.ItemDataRole.DisplayRole)

    def _after_change(self, kinds: set[GroupKey], resort: set[GroupKey]) -> None:
        for kind in kinds:
            group = self._groups.get(kind)
            if group is None:
                continue
            group.setText(group_title(kind, group.rowCount()))
            # Table order only breaks when rows arrive out of order; any other order can break
            # with every new or changed row.
            if kind in self._unsorted or (kind in resort and self._sort_column >= 0):
                self._sort_group(kind)
        self.counts_changed.emit()


def group_title(kind: GroupKey, count: int) -> str:
    if isinstance(kind, CheckGroup):
        return f"Check failed: {group_info(kind).title} ({count:,})"
    title = f"{group_info(kind).title} ({count:,})"
    if kind is Kind.CANCELLED:
        title += " \u2014 not counted as failures"
    return title


def _url_text(entry: Entry) -> str:
    return entry.url if entry.row is not None else "(not tied to a URL)"


def _haystack(entry: Entry) -> str:
    status = "" if entry.status is None else str(entry.status)
    return " ".join((entry.url, entry.message, group_info(entry.kind).title, entry.kind.value,
                     status)).lower()


def _one_line(text: str) -> str:
    return " ".join(text.split())


_ICONS: dict[GroupKey, QIcon] = {}


def _icon(kind: GroupKey) -> QIcon:
    icon = _ICONS.get(kind)
    if icon is None:
        # Red: no answer; yellow: the server answered with an error, or not the answer the
        # list expects; blue: the line itself; a stop sign: cancelled, not failed.
        if isinstance(kind, CheckGroup):
            icon = _ICONS[kind] = QApplication.style().standardIcon(
                QStyle.StandardPixmap.SP_MessageBoxWarning)
            return icon
        pixmap = {
            Kind.CANCELLED: QStyle.StandardPixmap.SP_MediaStop,
            Kind.HTTP_4XX: QStyle.StandardPixmap.SP_MessageBoxWarning,
            Kind.HTTP_5XX: QStyle.StandardPixmap.SP_MessageBoxWarning,
            Kind.INVALID_URL: QStyle.StandardPixmap.SP_MessageBoxInformation,
            Kind.UNSUPPORTED_SCHEME: QStyle.StandardPixmap.SP_MessageBoxInformation,
        }.get(kind, QStyle.StandardPixmap.SP_MessageBoxCritical)
        icon = _ICONS[kind] = QApplication.style().standardIcon(pixmap)
    return icon


def _failure_entry(index: int, result: Result) -> Entry | None:
    failure = _failure_of(result)
    return Entry(index, failure, result) if failure is not None else None


def _check_entry(index: int, result: Result) -> Entry | None:
    """A failed check's entry; a check that passed, or none, lists nothing."""
    if result.check != "fail":
        return None
    return Entry(CHECK_KEY_BASE + index, None, result,
                 check=CheckGroup(result.check_code or "fail"), text=result.check_reason)


def _failure_of(result: Result) -> Failure | None:
    """The failure a result puts in the panel, or None if it does not belong there."""
    if result.outcome in FAILED_OUTCOMES or result.outcome is Outcome.CANCELLED:
        if result.failure is not None:
            return result.failure
        # A failed row without a recorded failure is a bug upstream; show it, do not drop it.
        return Failure.plain(Kind.INTERNAL, f"outcome {result.outcome.value} without a failure")
    return None


def _ranges(rows_descending: Iterable[int]) -> list[tuple[int, int]]:
    """[9, 8, 7, 3, 1, 0] -> [(7, 9), (3, 3), (0, 1)]: contiguous runs, last first."""
    ranges: list[tuple[int, int]] = []
    for row in rows_descending:
        if ranges and ranges[-1][0] == row + 1:
            ranges[-1] = (row, ranges[-1][1])
        else:
            ranges.append((row, row))
    return ranges
