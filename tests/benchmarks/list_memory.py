"""A big URL list's memory and time, read the way a run reads it: each step in a fresh process,
its peak RSS (``ru_maxrss``) and seconds.

    python -m tests.benchmarks.list_memory --lines 1000000 10000000

Seconds are counted after the app's modules are imported; the peak includes them (the
``at start`` column). Steps: ``read`` is :func:`app.core.targets.read_list` alone; ``run`` is
that, then ``copies()`` and every :class:`Target` made once (what a run's start and its feeding do);
``window`` is the window's import (``app.gui.list_reader.read_file``: the list, its summary and
its duplicate count, off the GUI thread; no Qt is imported). The file holds lines like the
end-to-end benchmark's (``http://127.0.0.1:PORT/page.html?n=I``, ~42 bytes a line), written
once into ``--dir``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

STEPS = ("read", "run", "window")


def url_file(directory: Path, count: int) -> Path:
    path = directory / f"urls-{count}.txt"
    if not path.exists():
        base = "http://127.0.0.1:8080/page.html?n="
        with path.open("w") as out:
            for start in range(0, count, 100_000):
                out.write("".join(f"{base}{i}\n" for i in range(start, min(count, start
                                                                           + 100_000))))
    return path


def _step(step: str, path: str) -> None:
    """One step, in this process; prints its figures as JSON."""
    import resource

    from app.core.targets import read_list
    from app.gui.list_reader import read_file

    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # the interpreter and the app
    start = time.perf_counter()
    rows = duplicates = fetchable = 0
    if step == "window":
        read = read_file(Path(path))
        assert read.targets is not None and read.summary is not None
        rows, duplicates, fetchable = len(read.targets), read.duplicates, read.summary.fetchable
    else:
        targets = read_list(path)
        rows = len(targets)
        if step == "run":
            duplicates = len(targets.copies()[1])
            for target in targets:
                fetchable += target.failure is None
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"step": step, "rows": rows, "duplicates": duplicates,
                      "fetchable": fetchable, "seconds": round(seconds, 3),
                      "peak_mib": round(peak / 1024, 1),
                      "start_mib": round(before / 1024, 1)}))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, nargs="+", default=[20_000, 1_000_000])
    parser.add_argument("--steps", nargs="+", choices=STEPS, default=list(STEPS))
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--dir", default="/tmp/fetchdeck-list-memory")
    parser.add_argument("--step", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.step:
        _step(args.step, args.path)
        return 0
    directory = Path(args.dir)
    directory.mkdir(parents=True, exist_ok=True)
    print(f"{'lines':>11} {'step':>7} {'seconds':>8} {'peak MiB':>9} {'at start':>9}")
    for count in args.lines:
        path = url_file(directory, count)
        for step in args.steps:
            for _ in range(args.repeat):
                out = subprocess.run(
                    [sys.executable, "-m", "tests.benchmarks.list_memory", "--step", step,
                     "--path", str(path)], check=True, capture_output=True, text=True).stdout
                figures = json.loads(out.splitlines()[-1])
                print(f"{count:>11,} {step:>7} {figures['seconds']:>8.2f} "
                      f"{figures['peak_mib']:>9.0f} {figures['start_mib']:>9.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
