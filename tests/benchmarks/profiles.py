"""Where the GUI client's time goes: its run under cProfile, or sampled from outside by py-spy
(``pip install py-spy``), summarised as the top functions by own time and by inclusive time; or
sampled by ``perf`` (native code: the interpreter, C extensions, libc, Qt and the kernel)."""

from __future__ import annotations

import io
import pstats
import re
import subprocess
from collections import Counter
from pathlib import Path

_FRAME = re.compile(r"^(?P<func>.*) \((?P<file>.*?)(?::(?P<line>\d+))?\)$")


def cprofile_top(stats_path: str | Path, top: int) -> str:
    out = io.StringIO()
    stats = pstats.Stats(str(stats_path), stream=out)
    stats.strip_dirs().sort_stats("tottime").print_stats(top)
    stats.sort_stats("cumulative").print_stats(top)
    return out.getvalue()


def _short(path: str) -> str:
    for marker in ("/site-packages/", "/lib/python3"):
        if marker in path:
            return path.split(marker, 1)[1]
    for marker in ("/app/", "/tests/"):
        if marker in path:
            return marker.strip("/") + "/" + path.split(marker, 1)[1]
    return path


def py_spy_top(raw_path: str | Path, top: int) -> str:
    """Summarise py-spy's ``--format raw`` output (collapsed stacks: ``f1;f2;f3 count``).

    Own time is counted on the innermost frame with its line; inclusive time on each distinct
    function of a stack. Shares are of all samples taken while the process was busy.
    """
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for raw in Path(raw_path).read_text(errors="replace").splitlines():
        stack, _, count_text = raw.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        total += count
        frames = [f for f in stack.split(";") if not f.startswith(("process ", "thread "))]
        if not frames:
            continue
        parsed = [_FRAME.match(f) for f in frames]
        leaf = parsed[-1]
        if leaf:
            own[f"{leaf['func']} ({_short(leaf['file'])}:{leaf['line']})"] += count
        else:
            own[frames[-1]] += count
        seen: set[str] = set()
        for match, frame in zip(parsed, frames, strict=True):
            name = f"{match['func']} ({_short(match['file'])})" if match else frame
            if name not in seen:
                seen.add(name)
                inclusive[name] += count
    if not total:
        return "py-spy recorded no samples\n"
    lines = [f"py-spy: {total:,} samples of the busy process", "", "own time (innermost frame):"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in own.most_common(top)]
    lines += ["", "inclusive time (function anywhere on the stack):"]
    lines += [f"  {n / total:6.1%}  {name}" for name, n in inclusive.most_common(top)]
    return "\n".join(lines) + "\n"


_PERF_LINE = re.compile(
    r"^\s*(?P<share>[\d.]+)%\s+(?P<dso>\S+)\s+\[(?P<space>.)\]\s+(?P<sym>.+?)\s*$")
_PERF_TOTAL = re.compile(r"Event count \(approx\.\): (\d+)")


def perf_top(data_path: str | Path, top: int, urls: int) -> str:
    """Summarise a ``perf record -e cpu-clock`` file: time by shared object, then the top symbols,
    each as a share and as µs of CPU per URL (the figure to compare between clients or
    versions: ``perf report --sort dso,sym`` of each, symbol by symbol)."""
    def report(sort: str) -> tuple[int, list[tuple[float, str, str]]]:
        out = subprocess.run(
            ["perf", "report", "-i", str(data_path), "--stdio", "--no-children", "-g", "none",
             "--sort", sort], capture_output=True, text=True, check=True).stdout
        total_match = _PERF_TOTAL.search(out)
        total = int(total_match.group(1)) if total_match else 0
        rows = []
        for line in out.splitlines():
            if sort == "dso":
                parts = line.split()
                if len(parts) == 2 and parts[0].endswith("%"):
                    rows.append((float(parts[0][:-1]), parts[1], ""))
            elif (match := _PERF_LINE.match(line)) is not None:
                rows.append((float(match["share"]), match["dso"], match["sym"]))
        return total, rows

    total, dsos = report("dso")
    _, symbols = report("dso,sym")
    if not total:
        return "perf recorded no samples\n"
    per_url = total / 1e3 / max(urls, 1)  # cpu-clock counts nanoseconds

    def line(share: float, name: str) -> str:
        return f"  {share:6.2f}%  {share / 100 * per_url:7.2f} µs/URL  {name}"

    lines = [f"perf: {total / 1e9:.2f} s of CPU, {per_url:.1f} µs per URL", "", "by shared object:"]
    lines += [line(share, dso) for share, dso, _ in dsos[:top]]
    lines += ["", "by symbol:"]
    lines += [line(share, f"{sym}  [{dso.rsplit('/', 1)[-1]}]")
              for share, dso, sym in symbols[:top]]
    return "\n".join(lines) + "\n"
