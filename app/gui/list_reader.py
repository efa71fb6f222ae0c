"""Reading URL files for the form, off the GUI thread: a short plain list as text for the
editor, a sitemap index with its bytes (to expand), or rows kept apart with their summary and
how many of them repeat an earlier URL. Plain functions of paths and text: nothing here may
reach a Qt object (a worker thread must never hold the last reference to one)."""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from app.core.imported import ColumnNotFound, ImportedList, TableColumns
from app.core.sources import (
    SourceError,
    decode_bytes,
    inflate,
    read_path,
)
from app.core.targets import Summary, TargetList, summarize

__all__ = ["BIG_LIST", "SHOWN_REJECTS", "Read", "prepared",
           "prepared_targets", "read_file", "read_files"]

SHOWN_REJECTS = 200
BIG_LIST = 20_000  # lines; longer imports are kept as a list, not put in the editor


class Read(NamedTuple):
    """A file read for the form: a short plain list as text for the editor, a sitemap index
    still to expand, or rows kept apart with their summary."""

    imported: ImportedList
    text: str | None = None
    targets: TargetList | None = None
    summary: Summary | None = None
    duplicates: int = 0
    data: bytes = b""


def read_file(path: Path, columns: TableColumns | None = None) -> Read:
    """A file for the form: a short plain list as text for the editor; a sitemap index with
    its bytes, to expand; anything else (a long list, a table, a sitemap) as rows kept apart,
    with their summary."""
    # A big plain list is read a chunk at a time, never whole: the few kinds of file that
    # need the bytes again (a short list for the editor, an index to expand) read them again.
    imported = read_path(path, columns=columns)
    if imported.kind == "text" and len(imported) < BIG_LIST:
        data = path.read_bytes()
        if data.startswith(b"\x1f\x8b"):  # urls.txt.gz: the editor gets what it holds
            data = inflate(data)
        return Read(imported, text=decode_bytes(data).text)
    if imported.kind == "sitemap_index":
        return Read(imported, data=path.read_bytes())
    return prepared(imported)


def prepared(imported: ImportedList) -> Read:
    return prepared_targets(TargetList.from_imported(imported), imported)


def prepared_targets(targets: TargetList, imported: ImportedList) -> Read:
    # copies() is made here, off the GUI thread, and kept by the list for the run.
    return Read(imported, targets=targets,
                 summary=summarize(targets, keep_rejected=SHOWN_REJECTS),
                 duplicates=len(targets.copies()[1]))


def read_files(paths: list[Path]) -> tuple[list[tuple[Path, Read]], list[str]]:
    """Several files, each read as :func:`read_file` reads one, as rows; what could not be read,
    in plain words."""
    reads: list[tuple[Path, Read]] = []
    problems: list[str] = []
    for path in paths:
        try:
            imported = read_path(path)
        except ColumnNotFound as exc:
            problems.append(f"{path.name}: {exc}; import it on its own to choose it")
            continue
        except SourceError as exc:
            problems.append(f"{path.name}: {exc}")
            continue
        except OSError as exc:
            problems.append(f"Could not read {path}: {exc.strerror or exc}")
            continue
        if imported.kind == "sitemap_index":
            problems.append(f"{path.name} is a sitemap index: import it on its own to read "
                            "the sitemaps it lists")
            continue
        targets = TargetList.from_imported(imported)
        reads.append((path, Read(imported, targets=targets)))
    return reads, problems
