"""Feed a RunWriter synthetic results at a steady rate until killed (test_store's kill -9 test).

    python -m tests.core.store_feeder DB_PATH RATE LINES

Prints ``run ID`` once the run is recorded, then, every 10 ms, ``COUNT TIME``: how many
results (indexes 0..COUNT-1) had been handed to the writer at wall-clock TIME.
"""

from __future__ import annotations

import sys
import time
from array import array

from app.core.errors import Failure
from app.core.result import Details, Outcome, Result, Timings
from app.core.settings import Settings
from app.core.store import RunStore
from app.core.targets import TargetList


def url(index: int) -> str:
    return f"http://host{index % 50}.example/page/{index}"


def result(index: int) -> Result:
    if index % 7 == 3:
        try:
            raise ConnectionRefusedError(111, "Connection refused")
        except ConnectionRefusedError as exc:
            failure = Failure.from_exception(exc)
        return Result.of(index, index + 1, url(index), Outcome.FAILED, attempts=1, failure=failure,
                      elapsed_ms=1.5)
    return Result.of(index, index + 1, url(index), Outcome.OK, status=200, reason="OK",
                  final_url=url(index), content_type="text/html", bytes=2048, elapsed_ms=3.25,
                  attempts=1, title=f"Page {index}", sha256="ab" * 32, server="feeder",
                  timings=Timings(None, 0.5, None, 2.0),
                  details=Details([("Accept", "*/*")], [("Server", "feeder")], b"<html>" * 40)
                  if index % 5 == 0 else None)


def main() -> None:
    path, rate, lines = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    store = RunStore.open(path)
    inputs = TargetList([url(i) for i in range(lines)], array("L", range(1, lines + 1)))
    writer = store.start_run(source="feeder", settings=Settings(), inputs=inputs)
    print(f"run {writer.run_id}", flush=True)
    started = time.monotonic()
    handed = 0
    while handed < lines:
        due = min(lines, int((time.monotonic() - started) * rate))
        while handed < due:
            writer.add(result(handed))
            handed += 1
        print(f"{handed} {time.time()}", flush=True)
        time.sleep(0.01)
    time.sleep(3600)  # never ends on its own: the test kills it


if __name__ == "__main__":
    main()
