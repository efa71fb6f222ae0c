"""Fetchdeck end to end against bare aiohttp and curl, on one URL list, one server, one table.

    python -m tests.benchmarks                      # 20,000 URLs, 3 repetitions, medians
    python -m tests.benchmarks --scale              # GUI path at 100,000 and 1,000,000 URLs
    python -m tests.benchmarks --smoke              # 500 URLs, aiohttp server, a few seconds
    python -m tests.benchmarks --profile py-spy     # plus one profiled GUI run: top costs

A loopback server runs in processes of its own (nginx when installed, else aiohttp workers), and
every client runs in a fresh subprocess, bounded in time, measured from outside (CPU, peak RSS):
(a) bare aiohttp on asyncio's loop, (b) Fetchdeck's real window offscreen, (c) curl --parallel.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tests.benchmarks import report
from tests.benchmarks.measure import Child, py_spy_binary, run_child
from tests.benchmarks.profiles import cprofile_top, perf_top, py_spy_top
from tests.benchmarks.servers import PAGE, SERVER_KINDS, Server, serving

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = ("bare", "gui", "cli", "curl")  # the default; "core" on request
KNOWN_CLIENTS = (*CLIENTS, "core")
LABELS = {"bare": "(a) bare aiohttp", "gui": "(b) Fetchdeck GUI", "curl": "(c) curl --parallel",
          "core": "(d) core, no GUI", "cli": "(e) fetchdeck run"}
SCALE_URLS = 1_000_000
SCALE_REFERENCE = 100_000
GIB = 1024 ** 3


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tests.benchmarks", description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Targets (GUI/bare >= 0.90; lag p99 <= 16 ms, max <= 100 ms; 1,000,000 URLs with "
               "peak RSS <= 1 GiB and time per URL within 10% of 100,000; CSV export of "
               "1,000,000 rows <= 5 s; start-up <= 1.0 s) are printed with PASS/FAIL. "
               "See docs/benchmarks.md.")
    parser.add_argument("--urls", type=int, metavar="N",
                        help="URLs in the list (default 20,000; over 100,000 implies --scale)")
    parser.add_argument("--concurrency", type=int, default=100, metavar="N",
                        help="requests in flight, every client (default 100)")
    parser.add_argument("--repeat", type=int, metavar="N",
                        help="runs of each client, interleaved; medians shown (default 3)")
    parser.add_argument("--server", choices=SERVER_KINDS, default="auto",
                        help="auto: nginx when installed, else aiohttp workers (default auto)")
    parser.add_argument("--workers", type=int, default=2, metavar="N",
                        help="aiohttp server processes (SO_REUSEPORT) (default 2)")
    parser.add_argument("--clients", default=",".join(CLIENTS), metavar="LIST",
                        help="which of bare,gui,curl,core to run (default bare,gui,curl; curl "
                             "when installed; core: Fetchdeck's fetching without the window)")
    parser.add_argument("--startup-runs", type=int, metavar="N",
                        help="start-ups of `python -m app` timed, after one untimed (default 5)")
    parser.add_argument("--scale", action="store_true",
                        help=f"GUI path only, at --scale-reference and --urls (default "
                             f"{SCALE_URLS:,}) URLs: time per URL, peak RSS, export of all rows")
    parser.add_argument("--scale-reference", type=int, default=SCALE_REFERENCE, metavar="N",
                        help=f"the run the big one is compared with (default {SCALE_REFERENCE:,})")
    parser.add_argument("--scale-baseline", action="store_true",
                        help="with --scale, also run bare aiohttp at each size")
    parser.add_argument("--no-table", action="store_true",
                        help="with --scale, skip sorting, filtering and scrolling a table of "
                             "--urls finished rows (tests/benchmarks/table_bench.py)")
    parser.add_argument("--timeout", type=float, metavar="S",
                        help="time limit per client process (default 600; --scale 900; "
                             "--smoke 120)")
    parser.add_argument("--rss-limit", type=float, default=8.0, metavar="GIB",
                        help="kill a client whose RSS passes this (default 8 GiB)")
    parser.add_argument("--no-store", action="store_true",
                        help="the GUI and fetchdeck run without their run history")
    parser.add_argument("--processes", type=int, default=None, metavar="N",
                        help="the GUI, core and fetchdeck run clients fetch with N processes "
                             "(default: the app's own choice, automatic)")
    parser.add_argument("--summary", action="store_true",
                        help="the GUI client runs with the run summary (charts) shown")
    parser.add_argument("--smoke", action="store_true",
                        help="CI check: 500 URLs, aiohttp server, 1 run, 1 start-up")
    parser.add_argument("--profile", choices=("cprofile", "py-spy", "perf"),
                        help="after the table, profile one GUI run of --urls and list top costs"
                             " (perf: native symbols, C extensions, libc and kernel included)")
    parser.add_argument("--top", type=int, default=25, metavar="N",
                        help="functions listed by --profile (default 25)")
    parser.add_argument("--reopen", type=int, nargs="?", const=1_000_000, metavar="N",
                        help="reopen a stored run of N rows (default 1,000,000) in the window "
                             "and export it from the store (tests/benchmarks/reopen_bench.py); "
                             "the run is built once with fetchdeck run and cached")
    parser.add_argument("--kill-resume", type=int, nargs="?", const=100_000, metavar="N",
                        help="kill -9 a fetchdeck run of N URLs (default 100,000) halfway, "
                             "resume it, and count the rows fetched twice "
                             "(tests/benchmarks/kill_resume.py; needs nginx)")
    parser.add_argument("--json", metavar="PATH", help="also write every run's figures here")
    return parser


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def _env(state_dir: Path) -> dict[str, str]:
    env = dict(os.environ)
    # Users' installs keep compiled bytecode (pip writes it; Python caches each module on its
    # first import). A machine that sets PYTHONDONTWRITEBYTECODE (this sandbox does) would
    # have every start-up compile every module of the app anew: the untimed first start-up
    # writes the caches, and the timed ones then start as a user's does.
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    env.update(QT_QPA_PLATFORM="offscreen", FETCHDECK_STATE_DIR=str(state_dir),
               FETCHDECK_CONFIG_DIR=str(state_dir), FETCHDECK_DATA_DIR=str(state_dir))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _app_revision() -> str:
    """The app's commit, or what ``$FETCHDECK_BENCH_REVISION`` says (a tree without .git)."""
    if os.environ.get("FETCHDECK_BENCH_REVISION"):
        return f"app at {os.environ['FETCHDECK_BENCH_REVISION']}"
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--", "app"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "app (not a git tree)"
    if not head:
        return "app (not a git tree)"
    return f"app at {head}" + (" + uncommitted changes" if dirty else "")


# -- one client run ---------------------------------------------------------------------------


class Workbench:
    """What every run shares: the server, temp files, the child environment, the limits."""

    def __init__(self, args: argparse.Namespace, server: Server, tmp: Path) -> None:
        self.args = args
        self.server = server
        self.tmp = tmp
        self.env = _env(tmp / "state")
        if args.summary:
            self.env["FETCHDECK_BENCH_SUMMARY"] = "1"
        if args.no_store:
            self.env["FETCHDECK_BENCH_NO_STORE"] = "1"
        if args.processes is not None:
            self.env["FETCHDECK_BENCH_PROCESSES"] = str(args.processes)
        (tmp / "state").mkdir(exist_ok=True)
        self.curl = shutil.which("curl")

    def url_file(self, count: int) -> Path:
        path = self.tmp / f"urls-{count}.txt"
        if not path.exists():
            base = self.server.url("/page.html?n=")
            with path.open("w") as out:
                for i in range(count):
                    out.write(f"{base}{i}\n")
        return path

    def curl_config(self, count: int) -> Path:
        path = self.tmp / f"curl-{count}.cfg"
        if not path.exists():
            base = self.server.url("/page.html?n=")
            with path.open("w") as out:
                for i in range(count):
                    out.write(f'url = "{base}{i}"\noutput = "/dev/null"\n')
        return path

    def python(self, *args: str) -> list[str]:
        return [sys.executable, *args]

    def client_command(self, kind: str, count: int, *extra: str) -> list[str]:
        command = self.python("-m", "tests.benchmarks.clients", kind,
                              "--urls-file", str(self.url_file(count)),
                              "--concurrency", str(self.args.concurrency), *extra)
        if kind == "gui":
            command += ["--csv", str(self.tmp / "export.csv")]
        return command

    def run(self, kind: str, count: int, *, strict: bool = True,
            on_line: Any = None) -> tuple[dict[str, Any], Child]:
        """One client process over ``count`` URLs; its figures, and how the process went."""
        output = self.tmp / "cli.csv"
        if kind == "curl":
            assert self.curl is not None
            command = [self.curl, "--parallel", "--parallel-max", str(self.args.concurrency),
                       "--parallel-immediate", "--silent", "--write-out", "%{http_code}\\n",
                       "--config", str(self.curl_config(count))]
        elif kind == "cli":
            command = self.python("-m", "app", "run", str(self.url_file(count)), "-o",
                                  str(output), "--concurrency", str(self.args.concurrency),
                                  "--per-host", "0", "--retries", "0", "--quiet",
                                  *(["--no-store"] if self.args.no_store else []),
                                  *(["--processes", str(self.args.processes)]
                                    if self.args.processes is not None else []))
        else:
            command = self.client_command(kind, count)
        child = run_child(command, self.args.timeout, env=self.env, cwd=str(ROOT),
                          on_line=on_line, rss_limit=int(self.args.rss_limit * GIB))
        with contextlib.suppress(FileNotFoundError):
            (self.tmp / "export.csv").unlink()
        if kind == "curl":
            ok = sum(1 for line in child.stdout.split() if line == "200")
            figures: dict[str, Any] = {"urls": count, "ok": ok, "errors": count - ok,
                                       "fetch_s": child.wall, "fetch_cpu_s": child.cpu}
        elif kind == "cli":
            # A command is timed as a user waits for it: spawn to exit, output written.
            ok = _ok_rows(output) if child.returncode in (0, 1) else 0
            figures = {"urls": count, "ok": ok, "errors": count - ok, "fetch_s": child.wall,
                       "fetch_cpu_s": child.cpu} if child.returncode in (0, 1) else {}
            with contextlib.suppress(FileNotFoundError):
                output.unlink()
        else:
            figures = child.result
        completed = (child.returncode == 0 or kind == "cli") and bool(figures)
        if strict and not completed:
            raise RuntimeError(f"{LABELS[kind]} failed: {child.failure()}")
        figures.update(completed=completed, cpu_s=child.cpu, max_rss=child.max_rss)
        if figures.get("fetch_s"):
            figures["rps"] = count / figures["fetch_s"]
            figures["cpu_us_per_request"] = figures["fetch_cpu_s"] / count * 1e6
        figures["wall_s"] = child.wall
        return figures, child


# -- modes --------------------------------------------------------------------------------------


def measure_startup(bench: Workbench, runs: int) -> dict[str, Any]:
    """``python -m app`` from spawn to its window painted and one more event processed."""
    command = bench.python("-m", "tests.benchmarks.startup_probe")
    times: list[float] = []
    for i in range(runs + 1):  # the first one untimed: it may compile bytecode, warm caches
        child = run_child(command, 60, env=bench.env, cwd=str(ROOT))
        usable = child.result.get("usable")
        if child.returncode != 0 or usable is None:
            raise RuntimeError(f"start-up probe failed: {child.failure()}")
        if i:
            times.append(usable - child.spawned_at)
    floors = [run_child(bench.python("-c", "pass"), 30, env=bench.env).wall for _ in range(3)]
    return {"runs": runs, "median_s": statistics.median(times), "all_s": times,
            "floor_s": statistics.median(floors)}


def _ok_rows(path: Path) -> int:
    import csv

    with path.open(newline="", encoding="utf-8") as stream:
        return sum(1 for row in csv.DictReader(stream) if row["outcome"] == "ok")


def measure_first_request(bench: Workbench, runs: int) -> dict[str, Any]:
    """``fetchdeck run URL`` from spawn to its first request arriving at a server of the
    driver's own (its clock, the same machine's)."""
    import http.server
    import threading

    arrivals: list[float] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - http.server's name
            arrivals.append(time.time())
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}/first"
    times: list[float] = []
    try:
        for i in range(runs + 1):  # the first one untimed: it may compile bytecode
            arrivals.clear()
            command = bench.python("-m", "app", "run", url, "-o", os.devnull, "--quiet")
            child = run_child(command, 60, env=bench.env, cwd=str(ROOT))
            if child.returncode != 0 or not arrivals:
                raise RuntimeError(f"fetchdeck run failed: {child.failure()}")
            if i:
                times.append(arrivals[0] - child.spawned_at)
    finally:
        server.shutdown()
        server.server_close()
    return {"runs": runs, "median_s": statistics.median(times), "all_s": times}


def compare(bench: Workbench, clients: list[str], count: int) -> str:
    args = bench.args
    runs: dict[str, list[dict[str, Any]]] = {c: [] for c in clients}
    bench.url_file(count)
    for rep in range(args.repeat):  # interleaved, so drift on the machine hits every client
        for kind in clients:
            figures, _ = bench.run(kind, count)
            runs[kind].append(figures)
            log(f"run {rep + 1}/{args.repeat} {LABELS[kind]}: {figures['rps']:,.0f} req/s, "
                f"{figures['cpu_us_per_request']:,.0f} µs CPU/request, "
                f"{figures['errors']} errors")
    startup = None
    if "gui" in clients and args.startup_runs > 0:
        startup = measure_startup(bench, args.startup_runs)
        log(f"start-up: {startup['median_s']:.2f} s (median of {args.startup_runs})")
    if "cli" in clients and args.startup_runs > 0:
        startup = dict(startup or {})
        first = measure_first_request(bench, args.startup_runs)
        startup["first_request_s"] = first["median_s"]
        startup["first_request_all_s"] = first["all_s"]
        log(f"fetchdeck run, first request: {first['median_s']:.3f} s "
            f"(median of {args.startup_runs})")
    title = (f"Fetchdeck end to end: {count:,} GETs of a {len(PAGE):,}-byte page from "
             f"{bench.server.version} on 127.0.0.1, {args.concurrency} in flight "
             f"(per_host=0, retries=0), median of {args.repeat} run(s); {_app_revision()}"
             + ("; the GUI with its run summary shown" if args.summary else "")
             + ("; no run history" if args.no_store else "")
             + (f"; {args.processes} process(es)" if args.processes is not None else "")
             + "; bytecode caches on")
    bench.results = {"mode": "compare", "urls": count, "runs": runs, "startup": startup}
    return report.comparison_table(title, runs, {c: LABELS[c] for c in clients}, startup, count)


def scale(bench: Workbench, count: int) -> str:
    args = bench.args
    sizes = sorted({min(args.scale_reference, count), count})
    runs: dict[int, dict[str, Any]] = {}
    baseline: dict[int, dict[str, Any]] = {}
    dumps: list[str] = []
    for n in sizes:
        if args.scale_baseline:
            baseline[n], _ = bench.run("bare", n, strict=False)
            log(f"{n:,} URLs, bare aiohttp: {baseline[n].get('rps', 0):,.0f} req/s")
        stages: list[dict[str, Any]] = []

        def progress(event: dict[str, Any], n: int = n, stages: list[Any] = stages) -> None:
            if "stage" in event:
                stages.append(event)
                extra = (f" {event['done']:,}/{event['total']:,} done," if "done" in event
                         else "")
                if "step_rps" in event:  # how the last step went (see clients.run_gui)
                    extra += f" {event['step_rps']:,.0f} req/s,"
                    if "step_cpu_us" in event:
                        extra += f" {event['step_cpu_us']:,.0f} µs CPU/URL,"
                    extra += f" CPU {event['step_cpu_share']:.0%} of the time,"
                    if "step_minor_faults" in event:
                        extra += f" {event['step_minor_faults']:,} minor page faults,"
                log(f"{n:,} URLs, GUI: {event['stage']}{extra} RSS "
                    f"{event.get('rss', 0) / 2**20:,.0f} MiB")

        log(f"{n:,} URLs, GUI: starting (time limit {args.timeout:.0f} s)")
        figures, child = bench.run("gui", n, strict=False, on_line=progress)
        if not figures["completed"]:
            figures["stopped_at"] = _where_stopped(child, stages)
            if child.stack_dump:
                dumps.append(f"Where the {n:,}-URL GUI process was when it was killed "
                             f"(py-spy dump):\n{child.stack_dump}")
            elif child.stderr.strip():
                dumps.append(f"{n:,}-URL GUI process stderr (last lines):\n"
                             + "\n".join(child.stderr.strip().splitlines()[-20:]))
        runs[n] = figures
        log(f"{n:,} URLs, GUI: {'completed' if figures['completed'] else 'did not complete'}"
            f", peak RSS {figures['max_rss'] / 2**20:,.0f} MiB")
    reference = min(args.scale_reference, count)
    if count != reference and runs[reference].get("fetch_s"):
        # This machine's speed drifts over the minutes of the big run: the reference is run
        # again after it, and the big run is compared with the two reference runs' mean.
        log(f"{reference:,} URLs, GUI: again, after the {count:,}-URL run")
        again, _ = bench.run("gui", reference, strict=False)
        if again.get("fetch_s"):
            runs[reference]["fetch_s_after"] = again["fetch_s"]
    title = (f"Fetchdeck at scale: GUI path, {bench.server.version} on 127.0.0.1, "
             f"{args.concurrency} in flight (per_host=0, retries=0), one run per size, time "
             f"limit {args.timeout:.0f} s each; {_app_revision()}")
    bench.results = {"mode": "scale", "runs": runs, "baseline": baseline}
    table = report.scale_table(title, runs, min(args.scale_reference, count))
    if baseline:
        table += "\nbare aiohttp at the same sizes: " + ", ".join(
            f"{n:,}: {b.get('rps', 0):,.0f} req/s, peak RSS {b['max_rss'] / 2**20:,.0f} MiB"
            for n, b in baseline.items())
    parts = [table, *dumps]
    if not args.no_table:
        parts.append(table_operations(bench, count))
    return "\n\n".join(parts)


def table_operations(bench: Workbench, rows: int) -> str:
    """Sort, filter and scroll a table of ``rows`` finished rows in the real window, in a
    process of its own (tests/benchmarks/table_bench.py); its table as printed."""
    log(f"table of {rows:,} rows: sorting, filtering, scrolling")
    child = run_child(bench.python("-m", "tests.benchmarks.table_bench", "--rows", str(rows)),
                      bench.args.timeout, env=bench.env, cwd=str(ROOT))
    if child.returncode != 0:
        return f"Table operations at {rows:,} rows did not finish: {child.failure()}"
    peak = f"(table process peak RSS {child.max_rss / 2**20:,.0f} MiB)"
    return child.stdout.rstrip() + "\n" + peak


def _where_stopped(child: Child, stages: list[dict[str, Any]]) -> str:
    why = child.killed_for or f"exit status {child.returncode}"
    if not stages:
        return f"{why} before the window showed"
    last = stages[-1]
    where = f"{why} after '{last['stage']}'"
    if "done" in last:
        where += f" ({last['done']:,}/{last['total']:,} done at {last['seconds']:.0f} s)"
    return where


def profile(bench: Workbench, count: int, how: str, top: int) -> str:
    """One more GUI run, profiled: cProfile inside, or py-spy or perf attached for the fetch
    only."""
    if how == "perf":
        return _perf_profile(bench, count, top)
    if how == "cprofile":
        stats = bench.tmp / "gui.pstats"
        command = bench.client_command("gui", count, "--cprofile", str(stats))
        child = run_child(command, bench.args.timeout, env=bench.env, cwd=str(ROOT))
        if child.returncode != 0:
            raise RuntimeError(f"profiled GUI run failed: {child.failure()}")
        return f"cProfile of one GUI run, {count:,} URLs (whole process):\n" + \
            cprofile_top(stats, top)
    spy = py_spy_binary()
    if spy is None:
        raise RuntimeError("py-spy is not installed: pip install py-spy")
    raw = bench.tmp / "gui.pyspy.txt"
    recorder: list[subprocess.Popen[bytes]] = []

    def attach(event: dict[str, Any]) -> None:
        # Sample the fetch only: from the form loaded to the run's end.
        if event.get("stage") == "window shown":
            bench.gui_pid = event["pid"]
        elif event.get("stage") == "form loaded":
            recorder.append(subprocess.Popen(
                [spy, "record", "--pid", str(bench.gui_pid), "--rate", "250", "--nonblocking",
                 "--format", "raw", "--output", str(raw)],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        elif event.get("stage") == "fetched" and recorder:
            recorder[0].send_signal(signal.SIGINT)

    child = run_child(bench.client_command("gui", count), bench.args.timeout, env=bench.env,
                      cwd=str(ROOT), on_line=attach)
    for process in recorder:
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    if child.returncode != 0:
        raise RuntimeError(f"profiled GUI run failed: {child.failure()}")
    rps = child.result["urls"] / child.result["fetch_s"]
    return (f"py-spy of one GUI run's fetch, {count:,} URLs ({rps:,.0f} req/s while sampled at "
            f"250 Hz):\n" + py_spy_top(raw, top))


def _perf_profile(bench: Workbench, count: int, top: int) -> str:
    """``perf record -e cpu-clock`` of the GUI client's fetch: the software clock works in VMs
    without hardware counters, and sees what py-spy cannot (C extensions, libc, the kernel)."""
    perf = shutil.which("perf")
    if perf is None:
        raise RuntimeError("perf is not installed (Debian: apt-get install linux-perf; "
                           "Ubuntu: linux-tools-generic)")
    data = bench.tmp / "gui.perf.data"
    perf_log = bench.tmp / "perf.log"
    recorder: list[subprocess.Popen[bytes]] = []

    def attach(event: dict[str, Any]) -> None:
        if event.get("stage") == "window shown":
            bench.gui_pid = event["pid"]
        elif event.get("stage") == "form loaded":
            with perf_log.open("wb") as log_file:
                recorder.append(subprocess.Popen(
                    [perf, "record", "-e", "cpu-clock", "-F", "1000", "-p",
                     str(bench.gui_pid), "-o", str(data)],
                    stdout=subprocess.DEVNULL, stderr=log_file))
        elif event.get("stage") == "fetched" and recorder:
            recorder[0].send_signal(signal.SIGINT)

    child = run_child(bench.client_command("gui", count), bench.args.timeout, env=bench.env,
                      cwd=str(ROOT), on_line=attach)
    for process in recorder:
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)
    if child.returncode != 0:
        raise RuntimeError(f"profiled GUI run failed: {child.failure()}")
    said = perf_log.read_text(errors="replace").strip() if perf_log.exists() else ""
    if not recorder or not data.exists() or data.stat().st_size == 0:
        raise RuntimeError("perf recorded nothing: "
                           + (said or "it was not started (the run ended too soon?)")
                           + "\n(perf_event_paranoid above 1 needs root; a run of a few "
                             "seconds at least: --urls 20000)")
    rps = child.result["urls"] / child.result["fetch_s"]
    try:
        summary = perf_top(data, top, count)
    except subprocess.CalledProcessError as exc:
        raise RuntimeError(f"perf report failed on {data}: {exc.stderr or exc}") from exc
    # perf attaches after the form is loaded and may miss the run's first milliseconds: the
    # per-URL figures are a little low on short runs.
    return (f"perf (cpu-clock, 1 kHz) of one GUI run's fetch, {count:,} URLs "
            f"({rps:,.0f} req/s while sampled):\n" + summary)


# -- entry ---------------------------------------------------------------------------------------


def _settle(args: argparse.Namespace) -> None:
    if args.smoke:
        args.urls = args.urls or 500
        args.server = "aiohttp" if args.server == "auto" else args.server
        args.repeat = args.repeat or 1
        args.startup_runs = 1 if args.startup_runs is None else args.startup_runs
        args.timeout = args.timeout or 120
    if args.urls is not None and args.urls > SCALE_REFERENCE:
        args.scale = True
    if args.scale:
        args.urls = args.urls or SCALE_URLS
        args.timeout = args.timeout or 900
    args.urls = args.urls or 20_000
    args.repeat = args.repeat or 3
    args.startup_runs = 5 if args.startup_runs is None else args.startup_runs
    args.timeout = args.timeout or 600


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _settle(args)
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    unknown = sorted(set(clients) - set(KNOWN_CLIENTS))
    if unknown or args.urls < 1 or args.concurrency < 1:
        parser.error(f"unknown clients {unknown}" if unknown else "--urls and --concurrency "
                     "must be at least 1")
    if "curl" in clients and not shutil.which("curl"):
        log("curl is not installed: its column is left out")
        clients.remove("curl")
    if args.kill_resume:
        from tests.benchmarks.kill_resume import kill_resume  # noqa: PLC0415

        print(kill_resume(args.kill_resume, args.concurrency, log, _app_revision(),
                          args.processes), flush=True)
        return 0
    with tempfile.TemporaryDirectory(prefix="fetchdeck-bench-") as tmp, \
            serving(args.server, args.workers) as server:
        log(f"server: {server.version} on port {server.port}")
        bench = Workbench(args, server, Path(tmp))
        if args.reopen:
            from tests.benchmarks.reopen_bench import reopen  # noqa: PLC0415

            output = reopen(bench, args.reopen, log, _app_revision())
        else:
            output = (scale(bench, args.urls) if args.scale
                      else compare(bench, clients, args.urls))
        print(output, flush=True)
        if args.profile:
            print("\n" + profile(bench, args.urls if not args.scale else args.scale_reference,
                                 args.profile, args.top), flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps({"args": vars(args), **bench.results},
                                                  indent=1, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
