"""How fast aiohttp runs on each loop: asyncio's own, stock qasync, and Fetchdeck's FastQEventLoop.

    python -m tests.benchmarks.loop_bench [--requests 20000] [--concurrency 100] [--repeat 3]
    python -m tests.benchmarks.loop_bench --profile fast      # cProfile one run of a client

A loopback server (tests/benchmarks/servers.py: nginx when installed, else aiohttp workers) runs
in processes of its own on 127.0.0.1 and returns a ~2.5 KB page. Each client runs in a fresh
subprocess: one ClientSession, a bounded dispatcher that keeps only the in-flight tasks alive
(one task per request, the next started from the done-callback). On the Qt loops a 10 ms QTimer
on the GUI thread measures how late Qt gets to run its own events while the fetch runs.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import aiohttp

from tests.benchmarks.measure import QtLagProbe, percentiles
from tests.benchmarks.servers import PAGE, SERVER_KINDS, serving

KINDS = ("asyncio", "qasync", "fast")
LABELS = {
    "asyncio": "asyncio default loop",
    "qasync": "stock qasync.QEventLoop",
    "fast": "FastQEventLoop",
}


# -- client (own process) --------------------------------------------------------------------


async def fetch_all(url: str, total: int, concurrency: int) -> dict[str, float]:
    """GET ``url`` ``total`` times with ``concurrency`` in flight; return timing and errors."""
    loop = asyncio.get_running_loop()
    loop_lag = _loop_lag_probe(loop)
    connector = aiohttp.TCPConnector(limit=concurrency)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def one() -> int:
            async with session.get(url) as response:
                body = await response.read()
                if response.status != 200 or len(body) != len(PAGE):
                    raise RuntimeError(f"bad response: {response.status}, {len(body)} bytes")
                return len(body)

        async def batch(count: int) -> tuple[float, int]:
            done: asyncio.Future[None] = loop.create_future()
            remaining = iter(range(count))
            finished = errors = 0

            def start_next() -> None:
                if next(remaining, None) is not None:
                    asyncio.ensure_future(one()).add_done_callback(on_done)

            def on_done(task: asyncio.Task[int]) -> None:
                nonlocal finished, errors
                finished += 1
                if task.cancelled() or task.exception() is not None:
                    errors += 1
                start_next()
                if finished == count and not done.done():
                    done.set_result(None)

            for _ in range(min(concurrency, count)):
                start_next()
            await done
            return errors

        await batch(min(1000, total))  # warm up: connections open, code paths hot
        start, cpu_start = time.perf_counter(), time.process_time()
        errors = await batch(total)
        end, cpu_end = time.perf_counter(), time.process_time()
    # CPU per request is the steadier figure on a shared machine; req/s is what users feel.
    return {"seconds": end - start, "rps": total / (end - start), "errors": errors,
            "cpu_us_per_request": (cpu_end - cpu_start) / total * 1e6,
            "start": start, "end": end, **loop_lag(start, end)}


def _qt_lag_probe(app: Any) -> Callable[[float, float], dict[str, float]]:
    """A 10 ms QTimer on the GUI thread: how late Qt gets to run its own events."""
    probe = QtLagProbe(app)

    def result(start: float, end: float) -> dict[str, float]:
        probe.stop()
        return percentiles(probe.lags(start, end), "qt_lag")

    return result


def _loop_lag_probe(loop: asyncio.AbstractEventLoop) -> Callable[[float, float], dict[str, float]]:
    """A 10 ms call_at chain: how late the asyncio loop runs a due timer (on any loop)."""
    samples: list[tuple[float, float]] = []
    handle: list[asyncio.TimerHandle] = []

    def tick(deadline: float) -> None:
        now = loop.time()
        samples.append((time.perf_counter(), (now - deadline) * 1000))
        handle[:] = [loop.call_at(now + 0.01, tick, now + 0.01)]

    first = loop.time() + 0.01
    handle.append(loop.call_at(first, tick, first))

    def result(start: float, end: float) -> dict[str, float]:
        handle[0].cancel()
        return percentiles([lag for t, lag in samples if start <= t <= end], "loop_lag")

    return result


def run_client(kind: str, url: str, total: int, concurrency: int) -> dict[str, float]:
    if kind == "asyncio":
        return asyncio.run(fetch_all(url, total, concurrency))

    import qasync
    from PySide6.QtWidgets import QApplication

    from app.gui.loop import FastQEventLoop

    app = QApplication.instance() or QApplication([])
    loop = FastQEventLoop(app) if kind == "fast" else qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    probe = _qt_lag_probe(app)
    try:
        stats = loop.run_until_complete(fetch_all(url, total, concurrency))
    finally:
        loop.close()
    return {**stats, **probe(stats["start"], stats["end"])}


# -- driver ---------------------------------------------------------------------------------


def _client_in_subprocess(kind: str, port: int, args: argparse.Namespace) -> dict[str, float]:
    command = [
        sys.executable, "-m", "tests.benchmarks.loop_bench", "--client", kind,
        "--port", str(port), "--requests", str(args.requests),
        "--concurrency", str(args.concurrency),
    ]
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen"}
    done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} client failed:\n{done.stderr}")
    result: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3, help="runs per loop; the median is shown")
    parser.add_argument("--client", choices=KINDS, help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--profile", choices=KINDS, help="cProfile one client run, in-process")
    parser.add_argument("--top", type=int, default=30, help="functions to list with --profile")
    parser.add_argument("--raw", action="store_true", help="also print every run as JSON")
    parser.add_argument("--server", choices=SERVER_KINDS, default="auto",
                        help="auto: nginx when installed, else aiohttp workers")
    parser.add_argument("--workers", type=int, default=2, help="aiohttp server processes")
    args = parser.parse_args(argv)

    if args.client:  # we are a client subprocess
        url = f"http://127.0.0.1:{args.port}/"
        print(json.dumps(run_client(args.client, url, args.requests, args.concurrency)))
        return

    with serving(args.server, args.workers) as server:
        port = server.port
        print(f"server: {server.version}", file=sys.stderr)
        if args.profile:
            url = f"http://127.0.0.1:{port}/"
            profiler = cProfile.Profile()
            profiler.enable()
            stats = run_client(args.profile, url, args.requests, args.concurrency)
            profiler.disable()
            print(json.dumps(stats))
            pstats.Stats(profiler).sort_stats("tottime").print_stats(args.top)
            return
        runs: dict[str, list[dict[str, float]]] = {kind: [] for kind in KINDS}
        for _ in range(args.repeat):  # interleaved, so drift on the machine hits every loop alike
            for kind in KINDS:
                runs[kind].append(_client_in_subprocess(kind, port, args))

    print(f"{args.requests} GETs of {len(PAGE)} bytes, {args.concurrency} in flight, "
          f"median of {args.repeat} runs per loop\n")
    def median(kind: str, key: str) -> float:
        return statistics.median(r[key] for r in runs[kind])

    def lags(kind: str, prefix: str) -> str:
        return "/".join(f"{median(kind, f'{prefix}_{q}_ms'):.1f}" for q in ("p50", "p99", "max"))

    base_rps = median("asyncio", "rps")
    base_cpu = median("asyncio", "cpu_us_per_request")
    print(f"{'loop':<24}{'req/s':>7}{'ratio':>7}{'CPU µs/req':>11}{'ratio':>7}{'err':>4}"
          f"  {'Qt timer lag p50/p99/max':>25}  {'loop timer lag p50/p99/max':>27}")
    for kind in KINDS:
        rps, cpu = median(kind, "rps"), median(kind, "cpu_us_per_request")
        errors = sum(int(r["errors"]) for r in runs[kind])
        qt_lag = "-" if kind == "asyncio" else lags(kind, "qt_lag")
        loop_lag = lags(kind, "loop_lag")
        print(f"{LABELS[kind]:<24}{rps:>7.0f}{rps / base_rps:>6.2f}x{cpu:>11.1f}"
              f"{cpu / base_cpu:>6.2f}x{errors:>4}  {qt_lag:>25}  {loop_lag:>27}")
    print("\nCPU µs/req: client process CPU time per request (steadier than req/s on a busy box).")
    print("Qt timer lag: how late a 10 ms QTimer on the GUI thread fired (ms: gap to the previous")
    print("  tick minus 10, floored at 0).")
    print("Loop timer lag: how late a 10 ms call_at chain ran after its deadline (ms).")
    if args.raw:
        print(json.dumps(runs))


if __name__ == "__main__":
    main()
