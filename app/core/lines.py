"""One line of a list to the URL it holds: where lines end, which lines are blank or comments,
and the URL inside quotes or markup (:func:`row_text`).

Lines end at ``\\n`` or ``\\r\\n`` and nowhere else (see :func:`split_lines`). A line longer than
:data:`MAX_LINE_CHARS` is kept as a row whose text is a short marker (:func:`too_long_message`
says why it cannot be fetched): the huge string is never sliced out, kept or parsed.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Iterator

__all__ = ["MAX_LINE_CHARS", "pasted", "row_text", "split_lines", "stream_blocks",
           "too_long_message"]

MAX_LINE_CHARS = 65_536
_BLOCK = 1 << 20  # split_lines splits this many characters at a time

# A NUL never survives decoding (a file holding one is refused as binary), so no line can
# start with this by accident.
_TOO_LONG = "\x00too long:"


def pasted(text: str) -> str:
    """Typed or pasted text as the readers take it. No decoded file holds a NUL, but an
    editor can: text that spells the marker of an over-long line (a NUL, then "too long:")
    has its NULs shown as U+FFFD, so that a pasted line never passes for one."""
    return text.replace("\x00", "\ufffd") if _TOO_LONG in text else text


def too_long_message(text: str) -> str | None:
    """Why a row cannot be fetched when it stands for an over-long line, else None."""
    if not text.startswith(_TOO_LONG) or not text[len(_TOO_LONG):].isdigit():
        return None
    length = int(text[len(_TOO_LONG):])
    return f"the line is {length:,} characters long; the limit is {MAX_LINE_CHARS:,}"


def split_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line) for each line, ending at ``\\n`` or ``\\r\\n`` only.

    Unlike :meth:`str.splitlines`, ``\\v``, ``\\f``, ``\\x1c``-``\\x1e``, ``\\x85``, U+2028,
    U+2029 and a lone ``\\r`` do not end a line: they stay inside it, and a URL holding one is
    rejected for its control character instead of silently becoming two rows with every later
    line number wrong. A line over MAX_LINE_CHARS comes as a marker (:func:`too_long_message`)
    found with ``str.find``: a 50 MB line costs no copy and no parse.
    """
    number = 0
    for block in _blocks(text):
        for line in block:
            number += 1
            yield number, line


def _blocks(text: str) -> Iterator[list[str]]:
    """The lines of :func:`split_lines`, a block of consecutive lines at a time: splitting
    a megabyte at once with ``str.split`` is what keeps a million-line list quick."""
    size = len(text)
    pos = 0
    while pos < size:
        limit = pos + _BLOCK
        if limit >= size:
            end = size
        else:
            cut = text.rfind("\n", pos, limit)
            if cut < 0:  # no line end for a whole block: the line starting here is huge
                newline = text.find("\n", limit)
                stop = size if newline < 0 else newline
                yield [_marker(text, pos, stop)]
                pos = size if newline < 0 else newline + 1
                continue
            end = cut + 1
        chunk = text[pos:end]
        if "\r" in chunk:
            # Blocks end after a "\n", so no CRLF is cut in two; a lone CR stays.
            chunk = chunk.replace("\r\n", "\n")
        pieces = chunk.split("\n")
        if not pieces[-1]:
            pieces.pop()  # the "" after the block's last line break is no line
        if len(chunk) > MAX_LINE_CHARS and max(map(len, pieces)) > MAX_LINE_CHARS:
            pieces = [p if len(p) <= MAX_LINE_CHARS else f"{_TOO_LONG}{len(p)}"
                      for p in pieces]
        yield pieces
        pos = end


def stream_blocks(pieces: Iterable[str]) -> Iterator[list[str]]:
    """The lines of text that arrives in pieces (a file decoded a chunk at a time), a block at
    a time, exactly as :func:`split_lines` gives them from the whole text: a line may be cut
    anywhere, a CRLF too. Memory stays bounded: an over-long line is counted, never kept."""
    carry = ""  # the start of the line not ended yet: at most MAX_LINE_CHARS + 1 characters
    long = -1  # the length so far of an unended line found over the limit (then carry is "")
    cr = False  # whether that long line's last character so far is a CR
    for piece in pieces:
        if long >= 0:
            newline = piece.find("\n")
            if newline < 0:
                if piece:
                    long += len(piece)
                    cr = piece[-1] == "\r"
                continue
            ends_cr = piece[newline - 1] == "\r" if newline else cr
            yield [f"{_TOO_LONG}{long + newline - ends_cr}"]  # without a CRLF's CR
            long = -1
            piece = piece[newline + 1:]
        elif carry:
            piece = carry + piece
        cut = piece.rfind("\n")
        if cut < 0:
            carry = piece
        else:
            chunk, carry = piece[:cut + 1], piece[cut + 1:]
            if "\r" in chunk:
                chunk = chunk.replace("\r\n", "\n")  # the chunk ends after a "\n": no CRLF cut
            lines = chunk.split("\n")
            lines.pop()  # the "" after the chunk's last line break
            if len(chunk) > MAX_LINE_CHARS and max(map(len, lines)) > MAX_LINE_CHARS:
                lines = [p if len(p) <= MAX_LINE_CHARS else f"{_TOO_LONG}{len(p)}"
                         for p in lines]
            yield lines
        # One more than the limit: a line of exactly the limit may still end with a CRLF's CR.
        if len(carry) > MAX_LINE_CHARS + 1:
            long, cr, carry = len(carry), carry[-1] == "\r", ""
    if long >= 0:
        yield [f"{_TOO_LONG}{long}"]  # no line break after it: a last CR is its own
    elif carry:
        yield [carry if len(carry) <= MAX_LINE_CHARS else f"{_TOO_LONG}{len(carry)}"]


def _marker(text: str, start: int, stop: int) -> str:
    if stop < len(text) and stop > start and text[stop - 1] == "\r":
        stop -= 1  # the CR of a CRLF
    return f"{_TOO_LONG}{stop - start}"


_QUOTES = {'"': '"', "'": "'", "\u201c": "\u201d", "\u2018": "\u2019", "\u00ab": "\u00bb"}


def row_text(raw: str) -> str | None:
    """The URL a line holds, or None for a blank line or a ``#`` comment.

    Surrounding whitespace and a BOM are dropped; a URL in quotes (``"https://a/"``), in angle
    brackets (``<https://a/>``), inside ``<loc>...</loc>`` or in an ``href=`` on the line is
    taken as the URL it contains. Anything else is kept as written, to be rejected with a reason.
    """
    if raw.startswith(_TOO_LONG):
        return raw
    text = raw.strip()
    if text.startswith("\ufeff"):
        text = text.lstrip("\ufeff").strip()
    if not text or text[0] == "#":
        return None
    first = text[0]
    close = _QUOTES.get(first)
    if close is not None and len(text) > 1 and text[-1] == close:
        return text[1:-1].strip() or text
    if first == "<":
        return _from_markup(text) or text
    return text


def _from_markup(text: str) -> str | None:
    """The URL in ``<loc>``/``<image:loc>``, an ``href`` or ``<...>`` brackets; linear time."""
    lower = text.lower()
    at = lower.find("loc>")
    while at >= 0:
        tag = lower.rfind("<", 0, at)
        name = lower[tag + 1:at]
        if tag >= 0 and (not name or (len(name) < 32 and name.endswith(":")
                                      and name[:-1].replace("-", "").isalnum())):
            start = at + 4
            stop = text.find("<", start)
            value = text[start:stop if stop >= 0 else len(text)].strip()
            if not value and text.startswith("<![CDATA[", start):
                close = text.find("]]>", start)
                value = text[start + 9:close if close >= 0 else len(text)].strip()
            return html.unescape(value) if value else None
        at = lower.find("loc>", at + 4)
    at = lower.find("href")
    while at >= 0:
        pos = _skip_spaces(text, at + 4)
        if text.startswith("=", pos):
            pos = _skip_spaces(text, pos + 1)
            quote = text[pos:pos + 1]
            if quote in ('"', "'"):
                close = text.find(quote, pos + 1)
                value = text[pos + 1:close] if close >= 0 else ""
            else:
                stop = pos
                while stop < len(text) and not text[stop].isspace() and text[stop] != ">":
                    stop += 1
                value = text[pos:stop]
            return html.unescape(value.strip()) or None
        at = lower.find("href", at + 4)
    inner = text[1:-1]
    if text.endswith(">") and "://" in inner and "<" not in inner and ">" not in inner:
        return inner.strip()
    return None


def _skip_spaces(text: str, pos: int) -> int:
    while pos < len(text) and text[pos] in " \t":
        pos += 1
    return pos


# First characters of a stripped line that need more than stripping (see row_text).
_LOOK_CLOSER = frozenset(["#", "<", "\ufeff", _TOO_LONG[0], *_QUOTES])
