"""A sink that writes a run's results to an output in input order, off the fetching loop.

Results finish in any order; the file must list them in input order. The sink itself is a
``deque.append`` (the cheapest call a done-callback can make); a thread of the writer's own
takes what arrived every ``INTERVAL`` seconds, holds back rows that finished before an earlier
one, and writes each run of consecutive rows as soon as it is complete. So a pipe reader sees
rows as they finish, and the loop never waits on a slow disk or reader.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from app.core.export import Format
from app.core.output import Output
from app.core.result import Result

__all__ = ["MissingRows", "ResultWriter"]

INTERVAL = 0.05


class MissingRows(RuntimeError):
    """The run ended without a result for every row: a bug in Fetchdeck. The output is not
    committed, so a file keeps what it had rather than a list with holes."""


class ResultWriter:
    """Writes ``total`` results, numbered 0..total-1 by ``index``, to ``output``.

    Call :meth:`start` before the run, give :attr:`add` to the engine as a sink, and
    :meth:`finish` after the run (every index has its result). ``error`` holds the first write
    error; ``on_error`` is called with it, once, from the writer thread.
    """

    def __init__(self, output: Output, fmt: Format, total: int,
                 on_error: Callable[[BaseException], None] | None = None) -> None:
        self.output = output
        self.format = fmt
        self.total = total
        self.written = 0
        self.error: BaseException | None = None
        self._arrived: deque[Result] = deque()
        self.add: Callable[[Result], None] = self._arrived.append
        self._held: dict[int, Result] = {}
        self._next = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="fetchdeck-writer",
                                        daemon=True)
        self._on_error = on_error

    def start(self) -> None:
        self._write(self.format.header())
        self._thread.start()

    def finish(self) -> None:
        """Write everything that arrived, wait for the thread, and commit the output."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self._drain()
        if self.error is None and self.written != self.total:
            missing = self.total - self.written - len(self._held)
            self._failed(MissingRows(
                f"{missing:,} of {self.total:,} rows never reached the writer (a bug in "
                "Fetchdeck); " + ("the output is incomplete" if self.output.streaming
                                  else "the file was not replaced")))
        if self.error is None:
            try:
                self.output.commit()
            except OSError as exc:
                self._failed(exc)

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL):
            self._drain()

    def _drain(self) -> None:
        arrived, held = self._arrived, self._held
        for _ in range(len(arrived)):
            result = arrived.popleft()
            held[result.index] = result
        ready: list[Result] = []
        index = self._next
        while index in held:
            ready.append(held.pop(index))
            index += 1
        self._next = index
        if ready and self.error is None:
            self._write(self.format.lines(ready))
            self.written += len(ready)

    def _write(self, text: str) -> None:
        if self.error is not None or not text:
            return
        try:
            self.output.stream.write(text)
        except (OSError, ValueError) as exc:
            self._failed(exc)

    def _failed(self, exc: BaseException) -> None:
        if self.error is None:
            self.error = exc
            if self._on_error is not None:
                self._on_error(exc)
