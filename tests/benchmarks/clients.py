"""The clients the end-to-end benchmark compares, each run in a fresh subprocess by the driver:

* ``bare``: aiohttp on asyncio's default loop, one ClientSession, a bounded dispatcher that keeps
  only the in-flight tasks alive, the body read in full;
* ``gui``: Fetchdeck's real window offscreen on the real loop (``make_loop``): the URL file is
  loaded into the form, Fetch is pressed, the run's end awaited, then Export CSV; a 10 ms QTimer
  on the GUI thread measures lag during the run;
* ``core``: Fetchdeck's fetching alone (``app.core.engine.Engine``, every result kept, the GUI's
  garbage-collector setting) on asyncio's default loop, no Qt: what the GUI path costs beyond
  bare aiohttp, split into the core's share and the window's.

The driver runs ``fetchdeck run`` itself (``python -m app run``), as a user would.

    python -m tests.benchmarks.clients bare|gui|core --urls-file F --concurrency 100 [--csv OUT]

Each prints JSON lines: ``{"stage": ...}`` as it goes (so a run that stalls says where), and one
``{"result": {...}}`` at the end. The driver measures CPU time and peak RSS from outside.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import inspect
import os
import sys
import time
from pathlib import Path
from typing import Any

from tests.benchmarks.measure import GcWatch, QtLagProbe, emit, percentiles, rss_now
from tests.benchmarks.servers import PAGE

PROGRESS_EVERY = 5.0  # seconds between progress lines of the GUI client


# -- (a) bare aiohttp -------------------------------------------------------------------------


async def fetch_urls(urls: list[str], concurrency: int) -> dict[str, Any]:
    """GET every URL with ``concurrency`` in flight; one task per request, the next started from
    the done-callback, so only the in-flight tasks exist at any time."""
    import aiohttp

    loop = asyncio.get_running_loop()
    start, cpu_start = time.perf_counter(), time.process_time()
    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=0)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one(url: str) -> None:
            async with session.get(url) as response:
                body = await response.read()
                if response.status != 200 or len(body) != len(PAGE):
                    raise RuntimeError(f"bad response: {response.status}, {len(body)} bytes")

        done: asyncio.Future[None] = loop.create_future()
        remaining = iter(urls)
        finished = errors = 0

        def start_next() -> None:
            url = next(remaining, None)
            if url is not None:
                loop.create_task(one(url)).add_done_callback(on_done)

        def on_done(task: asyncio.Task[None]) -> None:
            nonlocal finished, errors
            finished += 1
            if task.cancelled() or task.exception() is not None:
                errors += 1
            start_next()
            if finished == len(urls) and not done.done():
                done.set_result(None)

        for _ in range(min(concurrency, len(urls))):
            start_next()
        if urls:
            await done
    end, cpu_end = time.perf_counter(), time.process_time()
    return {"urls": len(urls), "fetch_s": end - start, "fetch_cpu_s": cpu_end - cpu_start,
            "errors": errors, "ok": len(urls) - errors}


def _with_processes(settings: Any) -> Any:
    """``--processes N`` of the driver, where the app has the setting (older commits do not)."""
    processes = os.environ.get("FETCHDECK_BENCH_PROCESSES")
    if processes is None or "processes" not in type(settings).__slots__:
        return settings
    return settings.replace(processes=int(processes))


def run_bare(urls: list[str], concurrency: int) -> dict[str, Any]:
    return asyncio.run(fetch_urls(urls, concurrency))


# -- (d) Fetchdeck's core, no GUI -----------------------------------------------------------


async def run_core_async(urls_file: str, concurrency: int) -> dict[str, Any]:
    import gc

    from app.core.engine import Engine
    from app.core.result import Outcome
    from app.core.settings import Settings
    from app.core.targets import TargetList
    try:
        from app.core.engine import GC_YOUNG_THRESHOLD
    except ImportError:  # before it moved to the engine (comparing older commits)
        from app.gui.run_controller import GC_YOUNG_THRESHOLD  # type: ignore[attr-defined,no-redef]

    with open(urls_file, encoding="utf-8") as stream:
        targets = TargetList.from_lines(stream)
    kept: list[Any] = []
    # The engine sets it itself since d8eb360; set here for older commits compared in worktrees.
    gc.set_threshold(GC_YOUNG_THRESHOLD, *gc.get_threshold()[1:])
    start, cpu_start = time.perf_counter(), time.process_time()
    engine = Engine(targets, _with_processes(Settings(per_host=0, concurrency=concurrency,
                                                      retries=0)), [kept.append])
    await engine.start()
    end, cpu_end = time.perf_counter(), time.process_time()
    ok = sum(1 for result in kept if result.outcome is Outcome.OK)
    return {"urls": len(targets), "fetch_s": end - start, "fetch_cpu_s": cpu_end - cpu_start,
            "ok": ok, "errors": len(targets) - ok}


# -- (b) Fetchdeck's window -------------------------------------------------------------------


def _minor_faults() -> int | None:
    """Page faults served without I/O (the process's memory growing); None on Windows."""
    try:
        import resource
    except ImportError:
        return None
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt


def run_gui(urls_file: str, concurrency: int, csv_path: str | None) -> dict[str, Any]:
    from PySide6.QtWidgets import QApplication

    from app.gui.loop import make_loop

    try:
        from app.gui.exceptions import ExceptionRouter
    except ImportError:  # before the router moved out of app.gui.loop
        from app.gui.loop import ExceptionRouter  # type: ignore[attr-defined,no-redef]

    app = QApplication.instance() or QApplication([sys.argv[0]])
    assert isinstance(app, QApplication)
    app.setQuitOnLastWindowClosed(False)  # as app.__main__ does
    loop = make_loop(app)
    asyncio.set_event_loop(loop)
    router = ExceptionRouter()
    router.install(loop)
    try:
        return loop.run_until_complete(_drive_window(router, urls_file, concurrency, csv_path))
    finally:
        router.uninstall()
        loop.close()
        asyncio.set_event_loop(None)


async def _signalled(signal: Any, start: Any) -> tuple[Any, ...]:
    """Connect to ``signal``, call ``start()``, and wait for the signal's first emission."""
    future: asyncio.Future[tuple[Any, ...]] = asyncio.get_running_loop().create_future()

    def receive(*args: Any) -> None:
        if not future.done():
            future.set_result(args)

    signal.connect(receive)
    try:
        start()
        return await future
    finally:
        signal.disconnect(receive)


def _count_lines(path: str) -> int:
    with open(path, "rb") as stream:
        return sum(chunk.count(b"\n") for chunk in iter(lambda: stream.read(1 << 20), b""))


async def _drive_window(router: Any, urls_file: str, concurrency: int,
                        csv_path: str | None) -> dict[str, Any]:
    from app.core.settings import Settings
    from app.gui.main_window import MainWindow

    internal_errors: list[str] = []
    router.internal_error.connect(lambda failure: internal_errors.append(failure.message))
    settings = _with_processes(Settings(per_host=0, concurrency=concurrency, retries=0))
    if os.environ.get("FETCHDECK_BENCH_NO_STORE") and "keep_runs" in Settings.__slots__:
        settings = settings.replace(keep_runs=False)  # the window without its run history
    window = MainWindow(settings)
    router.internal_error.connect(window.error_panel.add_internal)
    window.show()
    summary = getattr(window, "summary_dock", None)
    if os.environ.get("FETCHDECK_BENCH_SUMMARY") and summary is not None:
        summary.show()  # the run summary's charts drawn during the run, as a user watches them
    await asyncio.sleep(0.05)  # first paint
    emit(stage="window shown", pid=os.getpid(), rss=rss_now())

    expected = _count_lines(urls_file)
    started = time.perf_counter()
    loading = window.load_path(urls_file)  # Import…: a task in newer versions, a bool before
    if inspect.isawaitable(loading):
        await loading
    count = len(window.form.targets())
    form_s = time.perf_counter() - started
    if count != expected:
        raise RuntimeError(f"the form holds {count:,} URLs after loading {urls_file} "
                           f"({expected:,} lines)")
    emit(stage="form loaded", urls=count, seconds=form_s, rss=rss_now())

    probe = QtLagProbe(window)
    collector = GcWatch()
    await asyncio.sleep(0.05)  # let the probe tick before the run starts
    # Each progress line says how its step went: a slow step with the usual CPU per URL is the
    # machine's (the process was not running), one with more CPU per URL is the process's.
    last: dict[str, Any] = {"done": 0}  # the step's start, set when Fetch is pressed

    def report(progress: Any) -> None:
        now = time.perf_counter()
        if now - last["at"] >= PROGRESS_EVERY:
            cpu, faults = time.process_time(), _minor_faults()
            urls = progress.done - last["done"]
            step: dict[str, Any] = {
                "step_rps": urls / (now - last["at"]),
                # every thread's CPU: over 100 % when a worker thread ran too
                "step_cpu_share": (cpu - last["cpu"]) / (now - last["at"])}
            if urls:
                step["step_cpu_us"] = (cpu - last["cpu"]) / urls * 1e6
            if faults is not None and last["faults"] is not None:
                step["step_minor_faults"] = faults - last["faults"]
            emit(stage="fetching", done=progress.done, total=progress.total,
                 seconds=now - start, rss=rss_now(), lag_max_ms=probe.max_since(start), **step)
            last.update(at=now, done=progress.done, cpu=cpu, faults=faults)

    start, cpu_start = time.perf_counter(), time.process_time()
    last.update(at=start, cpu=cpu_start, faults=_minor_faults())
    window.controller.progressed.connect(report)
    (progress,) = await _signalled(window.run_finished, window.start_run)
    end, cpu_end = time.perf_counter(), time.process_time()
    await asyncio.sleep(0.05)  # one more probe tick, so a stall at the very end is counted
    probe.stop()
    collector.stop()
    lags = probe.lags(start, end)
    emit(stage="fetched", seconds=end - start, rss=rss_now())

    result: dict[str, Any] = {
        "urls": count, "form_s": form_s, "fetch_s": end - start,
        "fetch_cpu_s": cpu_end - cpu_start, "ok": progress.ok if progress else 0,
        "errors": count - (progress.ok if progress else 0),
        "lag_samples": len(lags), **percentiles(lags, "lag"),
        "stalls_over_100ms": sum(1 for lag in lags if lag > 100),
        "worst_stalls": [[round(at, 2), round(ms, 1)] for at, ms in probe.worst(start, end)],
        **collector.summary(start, end),
        "rss_after_fetch": rss_now(),
    }
    if csv_path:
        started = time.perf_counter()
        path, error = await _signalled(window.export_finished,
                                       lambda: window.export_csv(csv_path))
        result["export_s"] = time.perf_counter() - started
        result["export_error"] = error
        result["export_bytes"] = Path(path).stat().st_size if not error else 0
        emit(stage="exported", seconds=result["export_s"], rss=rss_now())
    result["internal_errors"] = internal_errors[:5]
    closed = asyncio.get_running_loop().create_future()
    window.closed.connect(lambda: closed.done() or closed.set_result(None))
    window.close()
    await asyncio.wait_for(closed, 60)
    return result


# -- entry --------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="one benchmark client (run by the driver)")
    parser.add_argument("kind", choices=("bare", "gui", "core"))
    parser.add_argument("--urls-file", required=True)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--csv", help="gui: export the results here after the run")
    parser.add_argument("--cprofile", metavar="PATH", help="write cProfile stats here")
    args = parser.parse_args(argv)
    profiler = cProfile.Profile() if args.cprofile else None
    if profiler is not None:
        profiler.enable()
    if args.kind == "bare":
        urls = Path(args.urls_file).read_text().split()
        result = run_bare(urls, args.concurrency)
    elif args.kind == "core":
        result = asyncio.run(run_core_async(args.urls_file, args.concurrency))
    else:
        result = run_gui(args.urls_file, args.concurrency, args.csv)
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(args.cprofile)
    result["pid"] = os.getpid()
    emit(result=result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
