"""How much detail a run keeps: one policy for which rows hold their headers and body preview.

A response's :class:`~app.core.result.Details` (request and response headers, the first 16 KiB
of the body) are what the details pane and the error panel show, and what a row costs most in
memory. A list of up to ``KEEP_ALL`` URLs keeps them for every row. A longer one keeps them for
the ``KEEP_FAILED`` most recent failures (what a user most often looks into) and the last
``KEEP_RECENT`` rows of each run; an ok row before those drops its details as it finishes,
while its objects are still in the CPU cache: kept for a while and freed later, out of the
cache, they cost ~5 us a request (docs/benchmarks.md, findings 30 and 32).

The policy lives as long as the list it serves (across retries), and it is the only code that
ever drops a row's details.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable

from app.core.result import FAILURES, Result

__all__ = ["DetailPolicy", "KEEP_ALL", "KEEP_FAILED", "KEEP_RECENT", "RULE"]

KEEP_ALL = 2000
KEEP_FAILED = 2000
KEEP_RECENT = 300
RULE = (f"A list of up to {KEEP_ALL:,} URLs keeps them for every row; a longer one for the "
        f"{KEEP_FAILED:,} most recent failures and the last {KEEP_RECENT:,} rows of each run "
        f"(of a cancelled run, only its failures).")


class DetailPolicy:
    """Decides, as each result arrives, whether its details stay.

    ``list_size`` is the size of the whole list (not of one run: retries of a long list stay
    bounded too). Call :meth:`begin_run` with each run's size, then :meth:`admit` once per
    result, in the order they finish.
    """

    __slots__ = ("keep_all", "_failed", "_recent", "_from", "_done")

    def __init__(self, list_size: int) -> None:
        self.keep_all = list_size <= KEEP_ALL
        self._failed: deque[Result] = deque()
        self._recent: deque[Result] = deque()
        self._from = 0
        self._done = 0

    @classmethod
    def keep_everything(cls) -> DetailPolicy:
        return cls(0)

    def begin_run(self, total: int) -> None:
        """A run of ``total`` results starts: its last ``KEEP_RECENT`` keep their details."""
        self._from = total - KEEP_RECENT
        self._done = 0

    def admit(self, result: Result) -> None:
        """Keep or drop ``result``'s details; older kept ones may be dropped to make room."""
        self._done += 1
        if self.keep_all:
            return
        response = result.response
        if response.details is None:
            return
        if result.outcome in FAILURES:
            failed = self._failed
            failed.append(result)
            if len(failed) > KEEP_FAILED:
                failed.popleft().response.details = None
        elif self._done <= self._from:
            response.details = None  # hot: costs nothing now, ~5 us a request later
        else:
            recent = self._recent
            recent.append(result)
            if len(recent) > KEEP_RECENT:
                recent.popleft().response.details = None

    def forget(self, indexes: Iterable[int]) -> None:
        """These rows are fetched again: their old results leave the table, and the policy lets
        go of them too (it would otherwise keep them alive until they aged out)."""
        again = set(indexes)
        if not again or self.keep_all:
            return
        self._recent = deque(r for r in self._recent if r.index not in again)
        self._failed = deque(r for r in self._failed if r.index not in again)
