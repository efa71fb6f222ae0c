"""Instructions per request, counted by valgrind's callgrind: a measure that does not move with the
machine's load, for changes too small to see in req/s on a shared two-core box.

    python -m tests.benchmarks.instructions                     # bare and core, 500 and 2,500 URLs
    python -m tests.benchmarks.instructions --clients bare,core,gui --small 300 --large 1500

Each client (tests/benchmarks/clients.py) runs under ``valgrind --tool=callgrind`` twice, over
``--small`` and ``--large`` URLs from the same loopback server as the main benchmark; the
difference of the two totals divided by the difference in URLs is the user-space instructions
one more request costs (start-up and imports cancel out). System calls are not counted, and
neither is the time the kernel spends on them.

Read it with care: valgrind runs the client ~50 times slower, so work done per unit of *time*
(the GUI's 100 ms ticks, repaints, the probe timer) is counted ~50 times too often: use the
``gui`` figure to compare two versions of the app, not against ``bare``. And valgrind's CPU has
no SHA extensions, so hashing a 2.5 KB body counts ~72,000 instructions (``libcrypto``, printed
apart) against ~1.7 µs on this machine's CPU.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from tests.benchmarks.servers import SERVER_KINDS, serving

ROOT = Path(__file__).resolve().parents[2]
_TOTALS = re.compile(r"^totals:\s+(\d+)", re.MULTILINE)
_OBJECT = re.compile(r"^c?ob=\((\d+)\)(?: (.*))?$")


def instructions(out_file: Path) -> tuple[int, int]:
    """(total, in libcrypto) instructions recorded in a callgrind output file."""
    text = out_file.read_text(errors="replace")
    match = _TOTALS.search(text)
    if match is None:
        raise RuntimeError(f"no totals in {out_file}")
    crypto = 0
    names: dict[str, str] = {}
    current = ""
    after_call = False
    for line in text.splitlines():
        if line.startswith(("ob=", "cob=")):
            # Objects are named at first mention, which may be as a callee's (cob=).
            found = _OBJECT.match(line)
            if found:
                if found.group(2):
                    names[found.group(1)] = found.group(2)
                if line.startswith("ob="):
                    current = names.get(found.group(1), "")
        elif line.startswith("calls="):
            after_call = True  # the next cost line is the callee's, already counted there
        elif line[:1].isdigit() or line[:1] in "+-*":
            if not after_call and "libcrypto" in current:
                fields = line.split()
                if len(fields) >= 2 and fields[1].isdigit():
                    crypto += int(fields[1])
            after_call = False
    return int(match.group(1)), crypto


def count(kind: str, urls_file: Path, out_file: Path) -> tuple[int, int]:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT),
           "FETCHDECK_DATA_DIR": str(out_file.parent / "data"),
           "FETCHDECK_CONFIG_DIR": str(out_file.parent / "config")}
    if kind.startswith("cli"):  # fetchdeck run as a user runs it, every thread counted
        client = [sys.executable, "-m", "app", "run", str(urls_file), "-o",
                  str(out_file.with_suffix(".csv")), "--concurrency", "100", "--per-host", "0",
                  "--retries", "0", "--quiet"]
        if kind == "cli-nostore":
            client.append("--no-store")
    else:
        client = [sys.executable, "-m", "tests.benchmarks.clients", kind,
                  "--urls-file", str(urls_file)]
    command = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out_file}", *client]
    done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=3600, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} under callgrind failed:\n{done.stderr[-2000:]}")
    return instructions(out_file)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.benchmarks.instructions",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", default="bare,core",
                        help="of bare,core,gui,cli,cli-nostore (cli: fetchdeck run, its run "
                             "history on; cli-nostore: --no-store)")
    parser.add_argument("--small", type=int, default=500)
    parser.add_argument("--large", type=int, default=2500)
    parser.add_argument("--server", choices=SERVER_KINDS, default="auto")
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        parser.error("valgrind is not installed (apt-get install -y valgrind)")
    if args.large <= args.small:
        parser.error("--large must be more than --small")
    clients = [c.strip() for c in args.clients.split(",") if c.strip()]
    with tempfile.TemporaryDirectory(prefix="fetchdeck-instr-") as tmp, \
            serving(args.server) as server:
        files = {}
        for n in (args.small, args.large):
            files[n] = Path(tmp) / f"urls-{n}.txt"
            files[n].write_text("".join(f"{server.url('/page.html?n=')}{i}\n"
                                        for i in range(n)))
        print(f"User-space instructions per request (callgrind; {server.version} on 127.0.0.1; "
              f"{args.large:,} minus {args.small:,} URLs)")
        print(f"{'client':12} {'per request':>12} {'of which libcrypto':>19}")
        for kind in clients:
            small = count(kind, files[args.small], Path(tmp) / f"{kind}.small.out")
            large = count(kind, files[args.large], Path(tmp) / f"{kind}.large.out")
            extra = args.large - args.small
            print(f"{kind:12} {(large[0] - small[0]) / extra:12,.0f} "
                  f"{(large[1] - small[1]) / extra:19,.0f}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
