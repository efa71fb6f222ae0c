"""What the window does with its run history: open a stored run into the table, resume an
unfinished one, offer the run a crash interrupted, compare two runs, delete runs.

Every read of the store happens on a worker thread (through :class:`RunHistory`); a stored
run's rows stream into the table a chunk at a time, as a run's results do, so the table, the
Errors panel and the details show it as it was. Once opened, a run is the table's run: a retry
fetches into it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QWidget

from app.core.history import (
    Comparison,
    compare_runs,
    export_list,
    interrupted_last_run,
    plan_resume,
    previous_run_of,
    resumable_run,
    run_settings,
    stored_list,
    unfinished_count,
    write_results,
)
from app.core.redact import Redactor
from app.core.result import Outcome, Result
from app.core.settings import Settings
from app.core.store import RunInfo, RunStore, StoredRow, StoreError
from app.core.stored_rows import StoredRows
from app.core.targets import TargetList
from app.gui.compare_view import CompareDialog
from app.gui.history_dialog import OpenRunDialog
from app.gui.notice_bar import NoticeBar
from app.gui.run_controller import RunController
from app.gui.run_history import RunHistory
from app.gui.threads import run_in_thread
from app.gui.widgets import ask

__all__ = ["HistoryActions"]

T = TypeVar("T")
SECRETS = ("auth", "proxy", "headers")


class _Replaced(Exception):
    """Another run took the table while a stored one was being read into it."""


class HistoryActions(QObject):
    """Signals:
        replacing(): the table is about to show another run (clear what belongs to the old).
        run_opened(object): a stored run (its RunInfo) is in the table, every row read.
        notice(str): something asked for could not be done.
        dialog_opened(QDialog): the Open run dialog or a comparison opened (tests use it).
        changes_exported(str, str): a comparison's CSV was written (path, error or "").
    """

    replacing = Signal()
    run_opened = Signal(object)
    notice = Signal(str)
    dialog_opened = Signal(object)
    changes_exported = Signal(str, str)

    def __init__(self, history: RunHistory, controller: RunController, notice_bar: NoticeBar,
                 settings: Callable[[], Settings], parent: QWidget) -> None:
        super().__init__(parent)
        self.history = history
        self.controller = controller
        self.notice_bar = notice_bar
        self._settings = settings
        self._parent = parent
        self._loading: asyncio.Future[Any] | None = None
        self._tasks: set[asyncio.Future[Any]] = set()
        self.dialog: OpenRunDialog | None = None
        controller.started.connect(self.stop_loading)

    @property
    def loading(self) -> bool:
        """A stored run is being read into the table."""
        return self._loading is not None and not self._loading.done()

    # -- open --------------------------------------------------------------------------------

    def show_open_dialog(self) -> OpenRunDialog:
        """File → Open run…: the dialog, filled once the runs are read."""
        if self.dialog is not None:
            self.dialog.raise_()
            return self.dialog
        dialog = self.dialog = OpenRunDialog(self._parent)
        dialog.open_requested.connect(self.open_run)
        dialog.compare_requested.connect(self.compare)
        dialog.compare_previous_requested.connect(self.compare_previous)
        dialog.delete_requested.connect(self.ask_delete)
        dialog.finished.connect(self._dialog_closed)
        dialog.open()
        self._own(self._fill_dialog())
        self.dialog_opened.emit(dialog)
        return dialog

    def _dialog_closed(self) -> None:
        if self.dialog is not None:
            self.dialog.deleteLater()
            self.dialog = None

    async def _fill_dialog(self) -> None:
        try:
            runs = await self.history.runs()
        except StoreError as exc:
            self.notice.emit(f"The run history cannot be read: {exc}")
            if self.dialog is not None:
                self.dialog.set_runs([], "")
            return
        if self.dialog is not None:
            store = self.history.store
            self.dialog.set_runs(runs, str(store.path) if store is not None else "")

    def open_run(self, run_id: int) -> asyncio.Future[RunInfo | None]:
        """Show stored run ``run_id`` in the table, its errors and details as they were."""
        return self._own(self._open_quietly(run_id))

    async def _open_quietly(self, run_id: int) -> RunInfo | None:
        try:
            return await self._open(run_id)
        except StoreError as exc:
            self.notice.emit(f"Run {run_id} could not be opened: {exc}")
        except _Replaced:
            pass
        return None

    async def _open(self, run_id: int) -> RunInfo:
        if self.controller.running:
            raise StoreError("a run is going: cancel it or let it finish first")
        info, targets, rows = await self.history.call(_run_and_list, run_id)
        if self.controller.running:
            raise StoreError("a run started meanwhile")
        self.stop_loading()
        self.replacing.emit()
        self.controller.show_stored(targets, rows)
        self.history.show(run_id)
        engine = self.controller.engine

        def arrived(results: list[Result | StoredRow]) -> None:
            if self.controller.engine is not engine:
                raise _Replaced
            self.controller.add_stored(results)

        loading = self._loading = self._own(self.history.read(run_id, arrived))
        try:
            await loading
        except asyncio.CancelledError:
            raise _Replaced from None
        self.controller.finish_stored()
        self.run_opened.emit(info)
        return info

    def stop_loading(self) -> None:
        if self._loading is not None and not self._loading.done():
            self._loading.cancel()

    # -- resume ------------------------------------------------------------------------------

    def resume(self, run_id: int | None = None) -> asyncio.Future[bool]:
        """Fetch only the unfinished lines of run ``run_id`` into it: by default the table's
        run when it has any, else the last interrupted or cancelled run. True once started."""
        return self._own(self._resume(run_id))

    async def _resume(self, run_id: int | None) -> bool:
        if self.controller.running or self.loading:
            self.notice.emit("A run is going: cancel it or let it finish, then resume.")
            return False
        shown = self.history.run_id
        if run_id is None or run_id == shown:
            left = self._unfinished_rows()
            if shown is not None and left:
                self.controller.retry(left)
                return True
        try:
            if run_id is None:
                info = await self.history.call(_resumable)
                if info is None:
                    self.notice.emit("There is no interrupted or cancelled run to resume.")
                    return False
                run_id = info.id
            plan = await self.history.call(plan_resume, run_id)
            if not plan.unfinished:
                self.notice.emit(f"Run {run_id} has no unfinished lines: nothing to resume.")
                return False
            current = self._settings()
            secrets = {name: getattr(current, name) for name in SECRETS
                       if getattr(current, name)}
            found = await self.history.call(run_settings, run_id, current, secrets)
            await self._open(run_id)
        except StoreError as exc:
            self.notice.emit(f"The run could not be resumed: {exc}")
            return False
        except _Replaced:
            return False
        if self.controller.running:
            return False
        for problem in found.problems:
            self.notice.emit(f"Run {run_id}'s settings: {problem}")
        if found.missing:
            self.notice.emit(f"Run {run_id} used {', '.join(found.missing)} that the history "
                             "does not keep: it resumes without them (set them in Settings "
                             "and retry its failures if they are needed).")
        self.controller.retry(plan.unfinished, settings=found.settings)
        return True

    def _unfinished_rows(self) -> list[int]:
        return self.controller.model.indexes_where(frozenset({Outcome.PENDING,
                                                              Outcome.CANCELLED}))

    def offer_interrupted(self) -> asyncio.Future[RunInfo | None]:
        """At start-up: when the last run was interrupted (its Fetchdeck or computer stopped
        mid-run), say so in the notice bar with a Resume button."""
        return self._own(self._offer())

    async def _offer(self) -> RunInfo | None:
        with contextlib.suppress(StoreError):  # an unusable history says so by itself
            info = await self.history.call(interrupted_last_run)
            if info is not None:
                started = info.started.astimezone().strftime("%Y-%m-%d %H:%M")
                self.notice_bar.show_offer(
                    f"Run {info.id} ({info.source}, started {started}) was interrupted: "
                    f"{unfinished_count(info):,} of its {info.total:,} URLs were not fetched.",
                    "Resume", lambda: self.resume(info.id))
            return info
        return None

    # -- compare -----------------------------------------------------------------------------

    def compare(self, run_a: int, run_b: int) -> asyncio.Future[CompareDialog | None]:
        return self._own(self._compare(run_a, run_b))

    def compare_previous(self, run_id: int) -> asyncio.Future[CompareDialog | None]:
        """Compare run ``run_id`` with the previous run of the same list."""
        return self._own(self._compare_previous(run_id))

    async def _compare_previous(self, run_id: int) -> CompareDialog | None:
        try:
            previous = await self.history.call(previous_run_of, run_id)
        except StoreError as exc:
            self.notice.emit(f"Runs could not be compared: {exc}")
            return None
        if previous is None:
            self.notice.emit(f"Run {run_id} is the first run of its list: there is nothing "
                             "to compare it with.")
            return None
        return await self._compare(previous.id, run_id)

    async def _compare(self, run_a: int, run_b: int) -> CompareDialog | None:
        try:
            comparison = await self.history.call(compare_runs, run_a, run_b)
        except StoreError as exc:
            self.notice.emit(f"Runs could not be compared: {exc}")
            return None
        dialog = CompareDialog(comparison, Redactor.for_settings(self._settings()),
                               self.dialog or self._parent)
        dialog.export_requested.connect(
            lambda path: self.export_changes(comparison, path))
        dialog.finished.connect(dialog.deleteLater)
        dialog.open()
        self.dialog_opened.emit(dialog)
        return dialog

    def export_changes(self, comparison: Comparison, path: str) -> asyncio.Future[int]:
        """Every change between the two runs (not only those listed) to ``path`` as CSV."""
        return self._own(self._export_changes(comparison, path))

    async def _export_changes(self, comparison: Comparison, path: str) -> int:
        settings = self._settings()
        try:
            count: int = await self.history.call(_write_changes, comparison.run_a,
                                                 comparison.run_b, path, settings)
        except (StoreError, OSError) as exc:
            error = f"Could not write {path}: {getattr(exc, 'strerror', None) or exc}"
            self.notice.emit(error)
            self.changes_exported.emit(path, error)
            return 0
        self.changes_exported.emit(path, "")
        return count

    # -- delete ------------------------------------------------------------------------------

    def ask_delete(self, run_ids: list[int]) -> None:
        names = ", ".join(str(i) for i in run_ids[:10]) + ("…" if len(run_ids) > 10 else "")
        many = len(run_ids) > 1
        ask(self.dialog or self._parent, "Delete runs?" if many else "Delete run?",
            f"Delete run{'s' if many else ''} {names} and everything stored for "
            f"{'them' if many else 'it'}? This cannot be undone.",
            "Delete", "Keep", lambda: self.delete(run_ids))

    def delete(self, run_ids: list[int]) -> asyncio.Future[None]:
        return self._own(self._delete(run_ids))

    async def _delete(self, run_ids: list[int]) -> None:
        model = self.controller.model
        shown = model.stored_rows
        try:
            if shown is not None and shown.run_id in run_ids:
                # The table reads the run from the file: it keeps its rows in memory first,
                # as it held every run's before, so that deleting it changes nothing shown.
                rows = await self.history.call(_read_whole, shown.run_id, len(shown))
                if model.stored_rows is shown:
                    model.hold_rows(rows)
            await self.history.call(_delete_runs, run_ids)
        except StoreError as exc:
            self.notice.emit(f"Could not delete: {exc}")
        self.history.forget(run_ids)
        if self.dialog is not None:
            await self._fill_dialog()

    # -- export from the store ---------------------------------------------------------------

    def export_run(self, run_id: int, path: str, *, fmt: str | None = None,
                   protect: list[str] | None = None) -> asyncio.Future[int]:
        """Every stored row of ``run_id`` to ``path`` (CSV, JSON Lines or XLSX)."""
        settings = self._settings()

        async def export() -> int:
            store = await self.history.open()
            if store is None:
                raise StoreError("the run history cannot be used")
            return await run_in_thread(_write_run, store, run_id, path, fmt, settings,
                                       protect or [])

        return self._own(export())

    # -- plumbing ----------------------------------------------------------------------------

    def _own(self, coro: Coroutine[Any, Any, T]) -> asyncio.Future[T]:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        return task

    def _done(self, task: asyncio.Future[Any]) -> None:
        self._tasks.discard(task)
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None and not isinstance(exc, (StoreError, _Replaced, OSError)):
            task.get_loop().call_exception_handler({
                "message": "The run history failed", "exception": exc, "future": task})


# Run on a worker thread, with the store as the first argument.

def _run_and_list(store: RunStore, run_id: int) -> tuple[RunInfo, TargetList, StoredRows]:
    targets = stored_list(store, run_id)
    return store.run(run_id), targets, StoredRows(store.path, run_id, len(targets))


def _resumable(store: RunStore) -> RunInfo | None:
    return resumable_run(store)


def _write_changes(store: RunStore, run_a: int, run_b: int, path: str,
                   settings: Settings) -> int:
    from app.core.compare import diff_runs, write_changes_csv  # noqa: PLC0415

    return write_changes_csv(path, diff_runs(store, run_a, run_b), settings)


def _read_whole(store: RunStore, run_id: int, size: int) -> list[Result | None]:
    rows: list[Result | None] = [None] * size
    for result in store.results(run_id):
        if result.index < size:
            rows[result.index] = result
    return rows


def _delete_runs(store: RunStore, run_ids: list[int]) -> None:
    for run_id in run_ids:
        store.delete_run(run_id)


def _write_run(store: RunStore, run_id: int, path: str, fmt: str | None, settings: Settings,
               protect: list[str]) -> int:
    return write_results(path, store.results(run_id, details=False), settings, fmt=fmt,
                         targets=export_list(store, run_id), protect=protect)
