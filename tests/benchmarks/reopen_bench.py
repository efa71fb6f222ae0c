"""Reopening a stored run, and exporting one from the store (issue 12's targets).

    python -m tests.benchmarks --reopen [N]          # the driver: N rows, default 1,000,000

The driver builds a real stored run of N rows once, with the real ``fetchdeck run`` against the
benchmark's loopback server (``FAIL_EVERY``-th URL to a closed port, so the run has failures
with their tracebacks), and keeps the database file in a cache folder keyed by N and the schema
version. Then, each in a fresh process on a copy of that file:

* ``window``: the real MainWindow (offscreen, run summary shown): File → Open run of it, timed
  until the table shows its first rows, and until every row is in (the run opened, the error
  panel and the summary counting them all), with the GUI thread's worst gap (a 10 ms QTimer);
  then sort by Status, sort by Time, filter Failures, filter by text, each timed until applied,
  with the worst gap meanwhile;
* ``export``: the CSV export of the stored run by the function ``fetchdeck export`` uses, read
  back with :mod:`csv` to count its rows.

    python -m tests.benchmarks.reopen_bench window|export --db F --run ID --rows N [--csv OUT]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import os
import shutil
import socket
import sqlite3
import sys
import time
from pathlib import Path
from typing import Any

from tests.benchmarks import report
from tests.benchmarks.measure import QtLagProbe, emit, rss_now, run_child

FAIL_EVERY = 33  # one URL in 33 (~3 %) goes to a closed port: a refused connection
BUILD_TIMEOUT = 3600.0
CACHE_ENV = "FETCHDECK_BENCH_CACHE"
TEXT_FILTER = "n=4242"
ROOT = Path(__file__).resolve().parents[2]  # matches a few hundred URLs of a million


# -- the driver -------------------------------------------------------------------------------


def cache_dir() -> Path:
    folder = os.environ.get(CACHE_ENV)
    return Path(folder) if folder else Path.home() / ".cache" / "fetchdeck-bench"


def closed_port() -> int:
    """A port nothing listens on (bound then closed: the kernel refuses connections to it)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stored_run(bench: Any, rows: int, log: Any) -> Path:
    """The cached store file holding one finished run of ``rows`` URLs; built when missing."""
    from app.core.store import SCHEMA_VERSION

    path = cache_dir() / f"reopen-{rows}-schema{SCHEMA_VERSION}.sqlite3"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    urls = bench.tmp / f"reopen-{rows}.txt"
    base = bench.server.url("/page.html?n=")
    dead = f"http://127.0.0.1:{closed_port()}/gone?n="
    with urls.open("w") as out:
        for i in range(rows):
            out.write(f"{dead if i % FAIL_EVERY == FAIL_EVERY - 1 else base}{i}\n")
    building = path.with_suffix(".building")
    for leftover in (building, Path(f"{building}-wal"), Path(f"{building}-shm")):
        with contextlib.suppress(FileNotFoundError):
            leftover.unlink()
    log(f"building a stored run of {rows:,} URLs with fetchdeck run (once; cached in {path})")
    child = run_child(bench.python("-m", "app", "run", str(urls), "-o", os.devnull, "--db",
                                   str(building), "--concurrency", str(bench.args.concurrency),
                                   "--per-host", "0", "--retries", "0", "--quiet"),
                      BUILD_TIMEOUT, env=bench.env, cwd=str(ROOT))
    if child.returncode not in (0, 1):  # 1: some URLs failed, as they should
        raise RuntimeError(f"fetchdeck run failed: {child.failure()}")
    conn = sqlite3.connect(building)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")  # one self-contained file to cache
    finally:
        conn.close()
    building.rename(path)
    log(f"built in {child.wall:,.0f} s")
    return path


def reopen(bench: Any, rows: int, log: Any, revision: str) -> str:
    """The driver's ``--reopen`` mode: the table of figures, targets beside them."""
    cached = stored_run(bench, rows, log)
    db = bench.tmp / "reopen.sqlite3"
    shutil.copyfile(cached, db)  # the window may write (WAL, a retry): never to the cache
    conn = sqlite3.connect(db)
    try:
        run_id, total, failures = conn.execute(
            "SELECT id, total, http_error + failed FROM runs ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        conn.close()
    common = ["--db", str(db), "--run", str(run_id), "--rows", str(total)]
    log(f"reopening run {run_id} ({total:,} rows, {failures:,} failures) in the window")
    window = run_child(bench.python("-m", "tests.benchmarks.reopen_bench", "window", *common),
                       bench.args.timeout, env=bench.env, cwd=str(ROOT))
    if window.returncode != 0:
        raise RuntimeError(f"the reopen benchmark's window failed: {window.failure()}")
    log("exporting it from the store as CSV")
    out = bench.tmp / "reopen-export.csv"
    export = run_child(bench.python("-m", "tests.benchmarks.reopen_bench", "export", *common,
                                    "--csv", str(out)),
                       bench.args.timeout, env=bench.env, cwd=str(ROOT))
    if export.returncode != 0:
        raise RuntimeError(f"the store export failed: {export.failure()}")
    figures = {**window.result, **export.result, "window_max_rss": window.max_rss,
               "export_max_rss": export.max_rss, "rows": total, "failures": failures}
    bench.results = {"mode": "reopen", "figures": figures}
    return table(figures, revision)


def table(f: dict[str, Any], revision: str) -> str:
    ms = report.TARGET_REOPEN_BLOCK_MS
    big = f["rows"] >= report.TARGET_REOPEN_ROWS

    def gap(key: str) -> report.Row:
        worst = f.get(key)
        return report.Row(f"  worst GUI gap ms ({_LABELS[key]})", [report.fmt(worst, ",.0f")],
                          f"<= {ms:.0f} ms", report.verdict(None if worst is None or not big
                                                           else worst <= ms))

    first = f.get("first_rows_s")
    export_s = f.get("export_s")
    export_ok = export_s is not None and f.get("export_rows") == f["rows"]
    rows = [
        report.Row("table shows first rows s", [report.fmt(first, ".2f")],
                   f"<= {report.TARGET_REOPEN_SHOWN_S:.0f} s",
                   report.verdict(None if first is None or not big
                                  else first <= report.TARGET_REOPEN_SHOWN_S)),
        report.Row("every row in (errors, summary) s", [report.fmt(f.get("loaded_s"), ".2f")]),
        report.Row("  worst GUI gap ms (opening)", [report.fmt(f.get("open_gap_ms"), ",.0f")],
                   f"<= {ms:.0f} ms (sort/filter only)"),
        report.Row("sort by Status s", [report.fmt(f.get("sort_status_s"), ".2f")]),
        gap("sort_status_gap_ms"),
        report.Row("sort by Time s", [report.fmt(f.get("sort_time_s"), ".2f")]),
        gap("sort_time_gap_ms"),
        report.Row("filter Failures s", [report.fmt(f.get("filter_failures_s"), ".2f")]),
        gap("filter_failures_gap_ms"),
        report.Row(f"filter text {TEXT_FILTER!r} s", [report.fmt(f.get("filter_text_s"), ".2f")]),
        gap("filter_text_gap_ms"),
        report.Row("error panel failures", [f"{f.get('panel_failures', 0):,}"]),
        report.Row("RSS after opening MiB", [report.fmt(report._mib(f.get("rss_loaded")),
                                                         ",.0f")]),
        report.Row("window peak RSS MiB", [report.fmt(report._mib(f.get("window_max_rss")),
                                                       ",.0f")]),
        report.Row("CSV export from the store s", [report.fmt(export_s, ".2f")],
                   f"<= {report.TARGET_EXPORT_S:.0f} s at {report.TARGET_REOPEN_ROWS:,}",
                   report.verdict(None if not big else export_ok
                                  and export_s <= report.TARGET_EXPORT_S)),
        report.Row("  rows read back", [f"{f.get('export_rows', 0):,}"]),
        report.Row("  export peak RSS MiB", [report.fmt(report._mib(f.get("export_max_rss")),
                                                         ",.0f")]),
    ]
    title = (f"Reopening a stored run of {f['rows']:,} rows ({f['failures']:,} failures) in the "
             f"window (offscreen, run summary shown), and its CSV export; {revision}")
    notes = [f"targets (issue 12): {report.TARGET_REOPEN_TEXT}; "
             f"{report.TARGET_STORE_EXPORT_TEXT}",
             "gap: a 10 ms QTimer on the GUI thread, each gap minus 10 ms; sort/filter timed "
             "from the click to the table rearranged."]
    if f.get("open_worst"):
        notes.append("worst gaps while opening (s after File → Open run: ms): " + ", ".join(
            f"{at:.2f}: {ms:,.0f}" for at, ms in f["open_worst"]))
    return report.render(title, ["figure"], rows, notes)


_LABELS = {"sort_status_gap_ms": "sort Status", "sort_time_gap_ms": "sort Time",
           "filter_failures_gap_ms": "Failures", "filter_text_gap_ms": "text filter"}


# -- the child: the window ----------------------------------------------------------------------


async def _until(condition: Any, timeout: float, step: float = 0.002) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("gave up waiting")
        await asyncio.sleep(step)


async def measure_window(db: str, run_id: int, rows: int) -> dict[str, Any]:
    from PySide6.QtCore import Qt

    from app.core.result import Outcome
    from app.core.settings import Settings
    from app.gui.main_window import MainWindow
    from app.gui.results_model import COL_STATUS, COL_TIME, RowFilter

    conn = sqlite3.connect(db)
    try:
        failures = conn.execute("SELECT http_error + failed FROM runs WHERE id = ?",
                                (run_id,)).fetchone()[0]
    finally:
        conn.close()
    window = MainWindow(Settings(db_path=db))
    window.resize(1400, 860)
    window.show()
    if window.summary_dock is not None:
        window.summary_dock.show()
    await asyncio.sleep(0.3)
    await window.history.open()  # the file opened, as at start-up
    await asyncio.sleep(0.1)
    probe = QtLagProbe()
    model = window.model
    figures: dict[str, Any] = {}
    started = time.perf_counter()
    opening = window.history_actions.open_run(run_id)

    def first_shown() -> bool:
        return model.rowCount() > 0 and model.result(model.index_at(0)) is not None

    await _until(first_shown, 600)
    figures["first_rows_s"] = time.perf_counter() - started
    emit(stage="first rows", seconds=figures["first_rows_s"], rss=rss_now())

    def all_in() -> bool:
        stats = window.summary.stats
        return (opening.done() and window.error_panel.model.failure_count() >= failures
                and stats.total >= rows)

    await _until(all_in, 1200, 0.01)
    if opening.exception() is not None or opening.result() is None:
        raise RuntimeError("the run did not open")
    loaded = time.perf_counter()
    figures["loaded_s"] = loaded - started
    figures["panel_failures"] = window.error_panel.model.failure_count()
    figures["rss_loaded"] = rss_now()
    emit(stage="all rows", seconds=figures["loaded_s"], rss=figures["rss_loaded"])
    # What the window does once every row is in (a last redraw) belongs to opening: the gaps
    # are counted until it has been quiet a while, and the sorts start after that.
    settled = await _quiet(probe, loaded)
    figures["open_gap_ms"] = probe.max_since(started)
    figures["open_worst"] = probe.worst(started, settled)

    async def arranged(name: str, action: Any) -> None:
        done = asyncio.get_running_loop().create_future()

        def finished() -> None:
            if not done.done():
                done.set_result(None)

        model.arranged.connect(finished)
        begun = time.perf_counter()
        action()
        await asyncio.wait_for(done, 600)
        end = time.perf_counter()
        await asyncio.sleep(0.05)  # a paint after it
        model.arranged.disconnect(finished)
        figures[f"{name}_s"] = end - begun
        figures[f"{name}_gap_ms"] = max(probe.lags(begun, time.perf_counter()) or [0.0])
        emit(stage=name, seconds=figures[f"{name}_s"], gap_ms=figures[f"{name}_gap_ms"])
        await asyncio.sleep(0.2)

    header = window.table.horizontalHeader()
    await arranged("sort_status", lambda: header.setSortIndicator(
        COL_STATUS, Qt.SortOrder.AscendingOrder))
    await arranged("sort_time", lambda: header.setSortIndicator(
        COL_TIME, Qt.SortOrder.DescendingOrder))
    failed = frozenset({Outcome.HTTP_ERROR, Outcome.FAILED, Outcome.INVALID})
    await arranged("filter_failures", lambda: model.set_filter(RowFilter(outcomes=failed)))
    shown_failures = model.rowCount()
    await arranged("filter_text", lambda: model.set_filter(RowFilter(TEXT_FILTER)))
    figures["shown_failures"] = shown_failures
    figures["shown_text"] = model.rowCount()
    probe.stop()
    window.close()
    await asyncio.sleep(0.1)
    return figures


async def _quiet(probe: QtLagProbe, since: float, quiet: float = 0.5,
                 limit: float = 10.0) -> float:
    """Wait until the GUI thread has had no gap over 20 ms for ``quiet`` seconds (at most
    ``limit``); when that began."""
    while True:
        await asyncio.sleep(0.05)
        now = time.perf_counter()
        last_stall = max((at + since for at, ms in probe.worst(since, now, 1000) if ms > 20),
                         default=since)
        if now - last_stall >= quiet or now - since > limit:
            return now


def run_window(db: str, run_id: int, rows: int) -> dict[str, Any]:
    from PySide6.QtWidgets import QApplication

    from app.gui.loop import make_loop

    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)
    loop = make_loop(app)
    asyncio.set_event_loop(loop)
    try:
        return loop.run_until_complete(measure_window(db, run_id, rows))
    finally:
        loop.close()
        asyncio.set_event_loop(None)


# -- the child: the export ----------------------------------------------------------------------


def run_export(db: str, run_id: int, path: str) -> dict[str, Any]:
    from app.cli.history import _export
    from app.core.settings import Settings
    from app.core.store import RunStore

    started = time.perf_counter()
    with RunStore.open(db) as store:
        # What `fetchdeck export RUN -o PATH` runs (it once called the list reading itself,
        # ~0.9 s at a million lines that a plain run's cells do not need).
        _export(store, str(run_id), path, "csv", Settings())
    export_s = time.perf_counter() - started
    with open(path, newline="", encoding="utf-8") as stream:
        count = sum(1 for _ in csv.DictReader(stream))
    return {"export_s": export_s, "export_rows": count}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.reopen_bench")
    parser.add_argument("what", choices=("window", "export"))
    parser.add_argument("--db", required=True)
    parser.add_argument("--run", type=int, required=True)
    parser.add_argument("--rows", type=int, required=True)
    parser.add_argument("--csv")
    args = parser.parse_args(argv)
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    if args.what == "window":
        figures = run_window(args.db, args.run, args.rows)
    else:
        figures = run_export(args.db, args.run, args.csv)
    emit(result=figures)
    return 0


if __name__ == "__main__":
    sys.exit(main())
