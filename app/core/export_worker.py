"""One part of a big CSV export from the run store, written by a process of its own
(:func:`app.core.export.write_stored_csv` starts it):

    python -m app.core.export_worker DB RUN FIRST END SETTINGS OUT

writes the CSV lines of run RUN's rows FIRST <= index < END to file OUT (UTF-8), as the
settings pickled in file SETTINGS (written by the export, in its own temporary folder) say, and
prints how many it wrote.
"""

from __future__ import annotations

import pickle
import sys

from app.core.export import CsvFormat, write_cells
from app.core.settings import Settings
from app.core.store import RunStore


def main(argv: list[str]) -> int:
    path, run_id, first, end, pickled, out = argv
    with open(pickled, "rb") as given:
        settings = pickle.load(given)
    if not isinstance(settings, Settings):
        raise TypeError(f"{pickled} holds no settings")
    store = RunStore.reader(path)
    try:
        with open(out, "w", encoding="utf-8", newline="") as stream:
            count = write_cells(stream, store.cell_rows(int(run_id), first=int(first),
                                                        end=int(end)),
                                CsvFormat(settings), None, 10_000, 0)
    finally:
        store.close()
    print(count)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
