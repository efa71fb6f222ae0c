"""What the URL form says about a list it read: which kind of input it was, which columns were
used, what was noticed on the way (encoding, undecodable lines, skipped rows), and how many
rows repeat an earlier URL. Plain functions of core records, tested without widgets."""

from __future__ import annotations

from app.core.imported import ImportedList, TablePreview

__all__ = ["count", "describe_import", "duplicates_phrase", "kind_phrase"]

_DELIMITERS = {",": "comma-separated", ";": "semicolon-separated", "\t": "tab-separated",
               "|": "separated by |"}


def count(number: int, word: str) -> str:
    """``1 URL``, ``1,204 URLs``."""
    return f"{number:,} {word}" if number == 1 else f"{number:,} {word}s"


def kind_phrase(kind: str, table: TablePreview | None = None) -> str:
    """The kind of input in the user's words: ``a CSV table (semicolon-separated)``."""
    if kind == "csv":
        delimiter = table.delimiter if table is not None else None
        if delimiter == "\t":
            return "a table (tab-separated)"
        how = _DELIMITERS.get(delimiter or "")
        return f"a CSV table ({how})" if how else "a CSV table"
    if kind in ("xlsx", "xls", "ods"):
        what = {"xlsx": "an Excel workbook", "xls": "an Excel 97-2003 workbook",
                "ods": "an OpenDocument spreadsheet"}[kind]
        if table is not None and table.sheet and len(table.sheets) > 1:
            what += f", sheet {table.sheet!r}"
        return what
    return {
        "text": "a list of URLs, one per line",
        "html": "an HTML page's links",
        "sitemap": "a sitemap",
        "sitemap_index": "a sitemap index",
    }.get(kind, kind)


_ROW_WORDS = {"text": "line", "html": "link", "sitemap": "URL", "sitemap_index": "sitemap"}


def describe_import(imported: ImportedList) -> list[str]:
    """Lines saying how ``imported`` was read: its kind and size, then every notice (the
    encoding, undecodable lines, the columns used and why), then the columns kept for the
    export. The first line has no capital, so that a caller can put a name before it."""
    size = len(imported)
    word = "row" if imported.table is not None else _ROW_WORDS.get(imported.kind, "row")
    lines = [f"{kind_phrase(imported.kind, imported.table)}: {count(size, word)}"]
    for notice in imported.notices:
        lines.append(_sentence(notice))
    if imported.columns:
        kept = ", ".join(repr(name) for name in imported.columns[:8])
        more = f" and {len(imported.columns) - 8:,} more" if len(imported.columns) > 8 else ""
        lines.append(f"Also kept, and exported after Fetchdeck's own columns: {kept}{more}.")
    return lines


def duplicates_phrase(duplicates: int, fetch_again: bool) -> str:
    """``37 duplicates, fetched once``; empty when there are none."""
    if not duplicates:
        return ""
    words = count(duplicates, "duplicate")
    return f"{words}, each fetched again" if fetch_again else f"{words}, fetched once"


def _sentence(text: str) -> str:
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text.endswith((".", "?", "!")) else text + "."
