"""Where the GUI client's time goes: its run under cProfile, or sampled from outside by py-spy
(``pip install py-spy``), summarised as the top functions by own time and by inclusive time."""

from __future__ import annotations

import io
import pstats
import re
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
