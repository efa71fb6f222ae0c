"""Counts of a list's rows by outcome, kept as results arrive: the one source of every count
the window's status line, the error panel, the command line's summary and its exit status show.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.errors import Kind
from app.core.result import FAILURES, Finished, Outcome

__all__ = ["EXIT_FAILURES", "EXIT_INTERNAL", "EXIT_OK", "EXIT_USAGE", "Progress", "Tally",
           "exit_status", "format_duration", "status_text"]

EXIT_OK = 0  # every URL ok (and every check passed)
EXIT_FAILURES = 1  # any URL failed, was invalid or cancelled, or a check failed
EXIT_USAGE = 2  # a usage error, unreadable input or unwritable output
EXIT_INTERNAL = 3  # Fetchdeck itself failed: a bug, or a part of it is missing
EXIT_SIGINT = 130
EXIT_SIGTERM = 143

_OUTCOMES = tuple(Outcome)
_CODE = {outcome: code for code, outcome in enumerate(_OUTCOMES)}
_PENDING = _CODE[Outcome.PENDING]
_HTTP_ERROR = _CODE[Outcome.HTTP_ERROR]


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a list stands: its rows by outcome (the whole list, across retries), and the
    current run's pace. ``state`` is ``running``, ``finished`` or ``cancelled``."""

    total: int
    done: int
    ok: int
    http_error: int
    failed: int
    invalid: int
    cancelled: int
    in_flight: int
    elapsed: float
    fetched_per_second: float
    run_total: int = 0
    run_done: int = 0
    checks_failed: int = 0
    waiting: int = 0
    state: str = "running"

    @property
    def failures(self) -> int:
        """Rows that failed (``Outcome.is_failure``): HTTP errors, failed and invalid."""
        return self.http_error + self.failed + self.invalid

    @property
    def eta(self) -> float | None:
        """Seconds left in this run at its current pace, or None before there is a pace."""
        if self.fetched_per_second <= 0:
            return None
        return max(0, self.run_total - self.run_done) / self.fetched_per_second


def exit_status(size: int, ok: int, *, excused: int, checks_failed: int, internal: int) -> int:
    """The one rule for a run's exit status, live (:class:`Tally`) or stored (``resume``): 3 when
    Fetchdeck itself failed on a row; 0 when every row is ok or is the HTTP error its redirect
    map expected, and every check passed; else 1. An empty list is not a success: there was
    nothing to check."""
    if internal:
        return EXIT_INTERNAL
    if size and ok + excused == size and not checks_failed:
        return EXIT_OK
    return EXIT_FAILURES


class Tally:
    """Each row's latest outcome and the counts they add up to. A retried row moves from its
    old outcome to its new one, so the counts always describe the whole list."""

    __slots__ = ("size", "_codes", "counts", "internal", "_internal", "_checks", "checks_failed",
                 "excused", "_checked")

    def __init__(self, size: int) -> None:
        self.size = size
        self._codes = bytearray(size)  # every row starts pending (code 0)
        self.counts = [0] * len(_OUTCOMES)
        self.counts[_PENDING] = size
        self.internal = 0  # rows whose failure is a bug in Fetchdeck
        self._internal: bytearray | None = None  # per row, made at the first such failure
        self._checks = bytearray(size)  # per row: 0 nothing checked, 1 failed, 2 passed
        self.checks_failed = 0
        # HTTP errors a redirect map expected (a 410 for a page that must be gone): their
        # check passed, and they do not fail the exit status.
        self.excused = 0
        self._checked = False

    def add(self, result: Finished) -> None:
        index = result.index
        codes = self._codes
        code = _CODE[result.outcome]
        counts = self.counts
        old = codes[index]
        counts[old] -= 1
        counts[code] += 1
        codes[index] = code
        failure = result.failure
        internal = failure is not None and failure.kind is Kind.INTERNAL
        if internal or self._internal is not None:
            self._mark_internal(index, internal)
        if result.check or self._checked:  # a list with expectations
            self._checked = True
            self._count_check(index, old, code, result.check)

    def _mark_internal(self, index: int, internal: bool) -> None:
        # Per row, so that a retry which succeeds takes the row's bug out of the exit status.
        flags = self._internal
        if flags is None:
            flags = self._internal = bytearray(self.size)
        if flags[index] != internal:
            self.internal += 1 if internal else -1
            flags[index] = internal

    def _count_check(self, index: int, old: int, code: int, check: str) -> None:
        checks = self._checks
        before = checks[index]
        if before == 1:
            self.checks_failed -= 1
        elif before == 2 and old == _HTTP_ERROR:
            self.excused -= 1
        state = 1 if check == "fail" else 2 if check == "pass" else 0
        if state == 1:
            self.checks_failed += 1
        elif state == 2 and code == _HTTP_ERROR:
            self.excused += 1
        checks[index] = state

    def count(self, outcome: Outcome) -> int:
        return self.counts[_CODE[outcome]]

    @property
    def done(self) -> int:
        return self.size - self.counts[_PENDING]

    @property
    def failures(self) -> int:
        return sum(self.counts[_CODE[outcome]] for outcome in FAILURES)

    def exit_status(self) -> int:
        """0 when every row is ok (or is the HTTP error its redirect map expected) and every
        check passed, 3 when Fetchdeck itself failed on a row, else 1 (:func:`exit_status`)."""
        return exit_status(self.size, self.count(Outcome.OK), excused=self.excused,
                           checks_failed=self.checks_failed, internal=self.internal)

    def summary(self, elapsed: float | None = None, *, cancelled: bool = False) -> str:
        """One line: ``1,204 URLs: 1,100 ok, 50 HTTP errors, 30 failed, 4 invalid, 20
        cancelled in 12.3 s``."""
        parts = [f"{self.count(Outcome.OK):,} ok"]
        for outcome, words in ((Outcome.HTTP_ERROR, "HTTP errors"), (Outcome.FAILED, "failed"),
                               (Outcome.INVALID, "invalid"), (Outcome.CANCELLED, "cancelled"),
                               (Outcome.PENDING, "not finished")):
            if self.count(outcome):
                parts.append(f"{self.count(outcome):,} {words}")
        if self.checks_failed:
            parts.append(f"{self.checks_failed:,} checks failed")
        text = f"{self.size:,} URL{'s' if self.size != 1 else ''}: {', '.join(parts)}"
        if elapsed is not None:
            text += f" in {format_duration(elapsed)}"
        if cancelled:
            text = "cancelled: " + text
        return text


def status_text(p: Progress) -> str:
    """The window's status line for a list: where the whole list stands (its counts match the
    error panel's and the CSV's: failures are ``Outcome.is_failure``), and the current run's
    pace and time left, or how it ended.

    ``Fetching: 5,000 / 20,000 done · 4,900 ok · 100 failed · 1,250.0 req/s · 12 s left``
    ``Cancelled after 15 s: 592 done · 580 ok · 12 failed · 4,408 cancelled``
    """
    parts = [f"{p.done:,} / {p.total:,} done", f"{p.ok:,} ok"]
    if p.failures:
        parts.append(f"{p.failures:,} failed")
    if p.checks_failed:
        parts.append(f"{p.checks_failed:,} checks failed")
    if p.cancelled:
        parts.append(f"{p.cancelled:,} cancelled")
    if p.state == "running":
        if p.run_total and p.run_total != p.total:  # a retry of some rows
            parts.insert(0, f"retrying {p.run_done:,} / {p.run_total:,}")
        if p.waiting:
            parts.append(f"{p.waiting:,} waiting for Retry-After")
        if p.fetched_per_second > 0:  # none yet, or a run too short to time
            parts.append(f"{p.fetched_per_second:,.1f} req/s")
        eta = p.eta
        parts.append(f"{format_duration(eta)} left" if eta is not None else "estimating…")
        return "Fetching: " + " · ".join(parts)
    if p.fetched_per_second > 0:
        parts.append(f"{p.fetched_per_second:,.1f} req/s")
    if p.state == "cancelled":
        return f"Cancelled after {format_duration(p.elapsed)}: " + " · ".join(parts)
    return f"Finished in {format_duration(p.elapsed)}: " + " · ".join(parts)


def format_duration(seconds: float) -> str:
    if seconds < 0.05:
        return "under 0.1 s"
    if seconds < 9.95:  # a short run or wait reads 0.4 s, not 0 s
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"
