"""The benchmark's one table: a row per figure, a column per client (or per run size), and the
product's target for that figure with PASS/FAIL beside it.

The targets are the product's, copied here verbatim; they are printed, never tuned to the figures.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

MIB = 1024 * 1024

# The product's targets (issue: end-to-end benchmark). Do not change them to make a run pass.
TARGET_RATIO = 0.90  # GUI path req/s / bare aiohttp req/s, at least
TARGET_LAG_P99_MS = 16.0
TARGET_LAG_MAX_MS = 100.0
TARGET_SCALE_URLS = 1_000_000
TARGET_SCALE_RSS = 1024 * MIB  # peak RSS of the 1,000,000-URL GUI run, at most
TARGET_PER_URL_SLOWDOWN = 0.10  # time per URL at 1,000,000 vs 100,000, at most 10% more
TARGET_EXPORT_S = 5.0  # CSV export of 1,000,000 rows, at most
TARGET_STARTUP_S = 1.0
TARGET_CLI_RATIO = 0.95  # `fetchdeck run` req/s / bare aiohttp req/s (whole processes), at least
TARGET_FIRST_REQUEST_S = 0.3  # `fetchdeck run` spawn to its first request, at most
# Issue 12 (the run store), verbatim, and the figures they set.
TARGET_REOPEN_TEXT = ("reopening a 1,000,000-row run: table shown in <= 2 s; sort/filter never "
                      "block the UI > 100 ms")
TARGET_STORE_EXPORT_TEXT = "CSV export of 1,000,000 rows from the store: <= 5 s"
TARGET_RESUME_TEXT = ("resume after kill -9 of a 100,000-URL run: re-fetches at most the rows in "
                      "flight at the kill (<= concurrency)")
TARGET_REOPEN_ROWS = 1_000_000
TARGET_REOPEN_SHOWN_S = 2.0
TARGET_REOPEN_BLOCK_MS = 100.0


def median(runs: Sequence[dict[str, Any]], key: str) -> float | None:
    values = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(values) if values else None


def verdict(ok: bool | None) -> str:
    return "-" if ok is None else ("PASS" if ok else "FAIL")


@dataclass
class Row:
    label: str
    cells: list[str]
    target: str = ""
    verdict: str = ""


def fmt(value: float | None, spec: str, suffix: str = "") -> str:
    return "-" if value is None else f"{value:{spec}}{suffix}"


def render(title: str, columns: Sequence[str], rows: Sequence[Row],
           notes: Sequence[str] = ()) -> str:
    """A plain-text table; the first column is the figure's name."""
    header = ["", *columns, "target", "verdict"]
    body = [[r.label, *r.cells, r.target, r.verdict] for r in rows]
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [c.rjust(w) if i < len(columns) else c.ljust(w)
                for i, (c, w) in enumerate(zip(cells[1:], widths[1:], strict=True))]
        return "  ".join([first, *rest]).rstrip()

    rule = "-" * len(line(header))
    out = [title, rule, line(header), rule, *(line(cells) for cells in body), rule]
    out.extend(notes)
    return "\n".join(out)


# -- the default comparison -------------------------------------------------------------------


def comparison_table(title: str, runs: dict[str, list[dict[str, Any]]], labels: dict[str, str],
                     startup: dict[str, Any] | None, urls: int) -> str:
    """Clients side by side: ``runs[client]`` holds one dict per repetition."""
    clients = [c for c in labels if c in runs]
    m: dict[str, Callable[[str], float | None]] = {
        c: (lambda key, c=c: median(runs[c], key)) for c in clients}
    base = m["bare"]("rps") if "bare" in m else None

    def cells(get: Callable[[str], str]) -> list[str]:
        return [get(c) for c in clients]

    gui = m.get("gui")
    ratio = (gui("rps") or 0) / base if gui and base else None
    p99 = gui("lag_p99_ms") if gui else None
    lag_max = gui("lag_max_ms") if gui else None
    export_s = gui("export_s") if gui else None
    start_s = startup.get("median_s") if startup else None
    first_s = startup.get("first_request_s") if startup else None
    base_wall = m["bare"]("wall_s") if "bare" in m else None
    cli = m.get("cli")
    cli_ratio = base_wall / cli("wall_s") if cli and base_wall and cli("wall_s") else None
    rows = [
        Row("req/s", cells(lambda c: fmt(m[c]("rps"), ",.0f"))),
        Row("ratio vs (a)", cells(lambda c: fmt((m[c]("rps") or 0) / base, ".2f", "x")
                                  if base else "-"),
            f"(b)/(a) >= {TARGET_RATIO:.2f}", verdict(None if ratio is None
                                                      else ratio >= TARGET_RATIO)),
        Row("ratio vs (a), whole process", cells(
            lambda c: fmt(base_wall / m[c]("wall_s"), ".2f", "x")  # type: ignore[operator]
            if base_wall and m[c]("wall_s") and c != "curl" else "-"),
            f"(e)/(a) >= {TARGET_CLI_RATIO:.2f}",
            verdict(None if cli_ratio is None else cli_ratio >= TARGET_CLI_RATIO)),
        Row("fetch time s", cells(lambda c: fmt(m[c]("fetch_s"), ".2f"))),
        Row("process wall time s", cells(lambda c: fmt(m[c]("wall_s"), ".2f"))),
        Row("CPU s, whole process", cells(lambda c: fmt(m[c]("cpu_s"), ".2f"))),
        Row("CPU µs/request, fetch", cells(lambda c: fmt(m[c]("cpu_us_per_request"), ",.0f"))),
        Row("GUI lag p50 ms", cells(lambda c: fmt(m[c]("lag_p50_ms"), ".1f"))),
        Row("GUI lag p99 ms", cells(lambda c: fmt(m[c]("lag_p99_ms"), ".1f")),
            f"<= {TARGET_LAG_P99_MS:.0f} ms",
            verdict(None if p99 is None else p99 <= TARGET_LAG_P99_MS)),
        Row("GUI lag max ms", cells(lambda c: fmt(m[c]("lag_max_ms"), ".1f")),
            f"<= {TARGET_LAG_MAX_MS:.0f} ms",
            verdict(None if lag_max is None else lag_max <= TARGET_LAG_MAX_MS)),
        Row("GUI stalls > 100 ms", cells(lambda c: fmt(m[c]("stalls_over_100ms"), ".0f"))),
        Row("GC pauses: longest ms", cells(lambda c: fmt(m[c]("gc_max_ms"), ".1f"))),
        Row("peak RSS MiB", cells(lambda c: fmt(_mib(m[c]("max_rss")), ",.0f"))),
        Row("start-up s", cells(lambda c: fmt(start_s, ".2f") if c == "gui" else "-"),
            f"<= {TARGET_STARTUP_S:.1f} s",
            verdict(None if start_s is None else start_s <= TARGET_STARTUP_S)),
        Row("first request s", cells(lambda c: fmt(first_s, ".3f") if c == "cli" else "-"),
            f"<= {TARGET_FIRST_REQUEST_S:.1f} s",
            verdict(None if first_s is None else first_s <= TARGET_FIRST_REQUEST_S)),
        Row(f"CSV export s, {urls:,} rows", cells(lambda c: fmt(m[c]("export_s"), ".2f")),
            f"<= {TARGET_EXPORT_S:.0f} s at {TARGET_SCALE_URLS:,}",
            "see --scale" if export_s is not None else "-"),
        Row("errors (all runs)", cells(lambda c: str(sum(int(r.get("errors", 0))
                                                         for r in runs[c])))),
    ]
    notes = [
        "req/s: URLs / fetch time (first request to last response; the GUI: Fetch pressed to "
        "run_finished;",
        "  fetchdeck run and curl: the whole process, spawn to exit, output written). 'whole "
        "process': (a)'s",
        "  process wall time / each client's, interpreter start-up and imports included on "
        "both sides.",
        "CPU s: user+sys of the client process from wait4 (start-up and export included); "
        "CPU µs/request:",
        "  process CPU during the fetch only (curl: whole process) / URLs - steadier than req/s "
        "on a shared machine.",
        "GUI lag: a 10 ms QTimer on the GUI thread during the run, each gap minus 10 ms; GC "
        "pauses: Python's",
        "  collector during the run (gc.callbacks).",
    ]
    worst = [r.get("worst_stalls") for r in runs.get("gui", []) if r.get("worst_stalls")]
    if worst:
        notes.append("GUI worst stalls, run 1 (s into the run: ms): " + ", ".join(
            f"{at:.1f}: {ms:,.0f}" for at, ms in worst[0]))
    if startup and start_s is not None:
        notes.append(
            f"start-up: `python -m app` spawn to window painted + one more event processed, "
            f"median of {startup['runs']} (interpreter alone: {startup['floor_s']:.2f} s).")
    if first_s is not None:
        notes.append("first request: `fetchdeck run URL` spawn to the request arriving at a "
                     "server in the driver.")
    return render(title, [labels[c] for c in clients], rows, notes)


def _mib(value: float | None) -> float | None:
    return None if value is None else value / MIB


# -- the scale run ----------------------------------------------------------------------------


def scale_table(title: str, runs: dict[int, dict[str, Any]], reference: int) -> str:
    """GUI runs by size: ``runs[n]`` is one run's figures (or why it did not finish)."""
    sizes = sorted(runs)
    big = max(sizes)
    top = runs[big]
    per_url = {n: (r["fetch_s"] / n * 1e6 if r.get("fetch_s") else None) for n, r in runs.items()}
    # The reference size, run before and after the big run when it was: their mean.
    after = runs.get(reference, {}).get("fetch_s_after")
    per_url_after = after / reference * 1e6 if after else None
    compared = (per_url[reference] + per_url_after) / 2 if per_url_after and per_url.get(
        reference) else per_url.get(reference)
    slow = (per_url[big] / compared - 1
            if per_url.get(big) and compared and big != reference else None)

    def cells(get: Callable[[int, dict[str, Any]], str]) -> list[str]:
        return [get(n, runs[n]) for n in sizes]

    completed = bool(top.get("completed"))
    # The targets hold from a million URLs on (issue 12 asks them at 10,000,000); the export's
    # is of a million rows.
    is_target = big >= TARGET_SCALE_URLS
    export_ok = (top.get("export_s") is not None and top["export_s"] <= TARGET_EXPORT_S
                 and not top.get("export_error"))
    export_target = big == TARGET_SCALE_URLS
    rss = top.get("max_rss")
    rows = [
        Row("completed", cells(lambda n, r: "yes" if r.get("completed") else "NO"),
            f"{max(big, TARGET_SCALE_URLS):,} URLs complete",
            verdict(completed) if is_target else "-"),
        Row("stopped at", cells(lambda n, r: r.get("stopped_at", "") or "-")),
        Row("form load s", cells(lambda n, r: fmt(r.get("form_s"), ",.1f"))),
        Row("fetch time s", cells(lambda n, r: fmt(r.get("fetch_s"), ",.1f"))),
        Row("req/s", cells(lambda n, r: fmt(r.get("rps"), ",.0f"))),
        Row("time per URL µs", cells(lambda n, _r: fmt(per_url.get(n), ",.0f"))),
        *([Row("  run again after", cells(
            lambda n, _r: fmt(per_url_after, ",.0f") if n == reference else "-"))]
          if per_url_after else []),
        Row(f"  vs {reference:,} run{'s' if per_url_after else ''}", cells(
            lambda n, _r: "-" if n == reference or slow is None else f"{slow:+.1%}"),
            f"<= +{TARGET_PER_URL_SLOWDOWN:.0%}",
            verdict(None if not is_target else (slow is not None
                                                and slow <= TARGET_PER_URL_SLOWDOWN))),
        Row("CPU µs/request, fetch", cells(lambda n, r: fmt(r.get("cpu_us_per_request"), ",.0f"))),
        Row("GUI lag p50/p99/max ms", cells(lambda n, r: "/".join(
            fmt(r.get(f"lag_{q}_ms"), ".0f") for q in ("p50", "p99", "max"))),
            f"p99 <= {TARGET_LAG_P99_MS:.0f}, max <= {TARGET_LAG_MAX_MS:.0f}",
            verdict(None if top.get("lag_p99_ms") is None else
                    top["lag_p99_ms"] <= TARGET_LAG_P99_MS
                    and top["lag_max_ms"] <= TARGET_LAG_MAX_MS)),
        Row("stalls > 100 ms", cells(lambda n, r: fmt(r.get("stalls_over_100ms"), ",.0f"))),
        Row("worst stall at s: ms", cells(lambda n, r: (
            "{:.1f}: {:,.0f}".format(*r["worst_stalls"][0]) if r.get("worst_stalls") else "-"))),
        Row("GC full runs / longest ms", cells(lambda n, r: (
            f"{r['gc_full_count']:.0f} / {r['gc_full_max_ms']:,.0f}"
            if r.get("gc_full_count") is not None else "-"))),
        Row("peak RSS MiB", cells(lambda n, r: fmt(_mib(r.get("max_rss")), ",.0f")),
            f"<= {TARGET_SCALE_RSS // MIB:,} MiB",
            verdict(None if not is_target or rss is None else rss <= TARGET_SCALE_RSS)),
        Row("RSS after fetch MiB", cells(lambda n, r: fmt(_mib(r.get("rss_after_fetch")),
                                                             ",.0f"))),
        Row("CSV export s, all rows", cells(lambda n, r: fmt(r.get("export_s"), ",.1f")),
            f"<= {TARGET_EXPORT_S:.0f} s at {TARGET_SCALE_URLS:,}",
            verdict(export_ok) if export_target else "-"),
        Row("errors", cells(lambda n, r: str(r.get("errors", "-")))),
    ]
    notes = ["time per URL: fetch time / URLs; a run that did not finish has no figure, and "
             "fails the targets that need one.",
             *([f"the {reference:,}-URL run is made before and after the big one, which is "
                "compared with their mean: the machine's speed drifts over the minutes between."]
               if per_url_after else []),
             "peak RSS: the GUI process's maximum resident set (wait4), whatever stage it "
             "reached.",
             *([] if big >= 10 * TARGET_SCALE_URLS else [
                 "issue 12 asks the same of 10,000,000 URLs: python -m tests.benchmarks --scale "
                 "--urls 10000000 --timeout 3600 (about 40 minutes here)"])]
    return render(title, [f"{n:,} URLs" for n in sizes], rows, notes)
