"""Text from servers: charsets, decoding, page titles, and making server text safe to show.

Pure functions on bytes and strings (no aiohttp), used by fetch as responses arrive and by the
views. Everything a server sends is untrusted: decoding never fails, a title is found in time
linear in the bytes looked at, and :func:`clean` makes a string safe for any table cell, CSV,
log or terminal (no lone surrogates, no control characters).
"""

from __future__ import annotations

import codecs
import functools
import html
import re

__all__ = [
    "clean",
    "charset_of",
    "decode_text",
    "extract_title",
    "find_title",
    "human_size",
    "title_of",
]

TITLE_SCAN_BYTES = 256 * 1024
MAX_TITLE_CHARS = 300
# An unclosed <title> gives the text up to the next tag, at most this much of it.
MAX_UNCLOSED_TITLE_BYTES = 1024

# Each a literal prefix, which the regex engine finds with a fast scan: an alternation such as
# <(/?)(title|svg) tries every "<" of a page and cost 10x as much (22 us on a 2.5 KB page).
_TITLE_START = re.compile(rb"<title", re.IGNORECASE)
_TITLE_END = re.compile(rb"</title", re.IGNORECASE)
_SVG_START = re.compile(rb"<svg", re.IGNORECASE)
_SVG_END = re.compile(rb"</svg", re.IGNORECASE)
_NAME_ENDS = b" \t\n\r\f/>"
_CHARSET = re.compile(r"""charset\s*=\s*["']?([^"';\s]+)""", re.IGNORECASE)
# Lone surrogates: aiohttp keeps each non-UTF-8 byte of a header as U+DC80..U+DCFF.
_SURROGATE = re.compile("[\udc80-\udcff]")
_OTHER_SURROGATE = re.compile("[\ud800-\udfff]")


# -- server text -------------------------------------------------------------------------------

def clean(text: str) -> tuple[str, str]:
    """``text`` made safe to show and export, and a note when it had to be changed.

    A byte that was not UTF-8 (kept by aiohttp as a lone surrogate) is read as Latin-1, the
    historical charset of HTTP headers; any other lone surrogate becomes U+FFFD; control
    characters (C0, DEL, C1, and line/paragraph separators) are written as ``\\x1b``-style
    escapes, so a terminal escape or a NUL from a server reaches no terminal or cell raw.
    """
    if text.isprintable():  # the common case, in C: printable text has none of the above
        return text, ""
    note = ""
    if _SURROGATE.search(text):
        text = _SURROGATE.sub(lambda m: chr(ord(m[0]) - 0xDC00), text)
        note = "not UTF-8; read as Latin-1"
    if _OTHER_SURROGATE.search(text):
        text = _OTHER_SURROGATE.sub("\ufffd", text)
        note = note or "invalid characters replaced"
    if not text.isprintable():
        escaped = "".join(c if c.isprintable() or c == " " else _escape(c) for c in text)
        if escaped != text:
            text = escaped
            note = f"{note}; control characters escaped" if note else \
                "control characters escaped"
    return text, note


def clean_text(text: str) -> str:
    """:func:`clean` without the note."""
    return text if text.isprintable() else clean(text)[0]


def _escape(char: str) -> str:
    code = ord(char)
    if char == "\t":
        return " "
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


# -- charsets ----------------------------------------------------------------------------------

_CHARSETS: dict[str, str | None] = {}


def charset_of(content_type: str) -> str | None:
    """The ``charset`` parameter of a Content-Type value, remembered by value: a run sees the
    same few values thousands of times."""
    try:
        return _CHARSETS[content_type]
    except KeyError:
        match = _CHARSET.search(content_type)
        charset = _CHARSETS[content_type] = match.group(1) if match else None
        if len(_CHARSETS) > 256:
            _CHARSETS.clear()
        return charset


# Python codecs that are text encodings but no web charset, and slow: punycode decodes 64 KiB
# in about half a second (every other codec takes under 30 ms), on the loop thread.
_NOT_WEB_CHARSETS = frozenset({"punycode"})


@functools.lru_cache(maxsize=256)
def codec_for(charset: str | None) -> tuple[str, str]:
    """The codec name for a declared charset, and a note when it is unknown (then UTF-8)."""
    name = (charset or "utf-8").strip().strip('"').lower()
    try:
        info = codecs.lookup(name)
        # Python has codecs that are no text charset (undefined, base64...): a server naming
        # one must not turn its row into an internal error when its text is decoded.
        usable = getattr(info, "_is_text_encoding", True) and info.name not in _NOT_WEB_CHARSETS
        if usable:
            b"<title>x</title>".decode(name, errors="replace")
    except (LookupError, UnicodeError, ValueError, TypeError):
        usable = False
    if not usable:
        shown = clean_text(str(charset))[:40]
        return "utf-8", (f"unknown charset {shown!r}; "
                         "decoded as UTF-8 with replacement characters")
    return name, ""


@functools.lru_cache(maxsize=256)
def reads_ascii(codec: str) -> bool:
    """Whether ``codec`` is known to decode any ASCII text as itself: the web's usual charsets
    (UTF-8, ASCII, ISO-8859-x, Windows-125x, KOI8, Shift JIS, EUC, GB, Big5). Not UTF-16, nor
    UTF-7, HZ, ISO-2022 (ASCII sequences switch modes), nor unicode-escape (backslashes do)."""
    try:
        name = codecs.lookup(codec).name
    except LookupError:
        return False
    return name in _ASCII_READING or name.startswith(("iso8859-", "cp125", "koi8-"))


_ASCII_READING = frozenset({
    "utf-8", "utf-8-sig", "ascii", "latin-1", "shift_jis", "cp932", "euc_jp", "euc_kr",
    "cp949", "gb2312", "gbk", "gb18030", "big5", "big5hkscs", "cp950", "tis-620", "mac-roman",
})


def decode_replacing(data: bytes, codec: str) -> str:
    """``data.decode(codec, errors="replace")``, which some codecs (punycode, UTF-7) still
    refuse for some input: then UTF-8, which never does."""
    try:
        return data.decode(codec, errors="replace")
    except UnicodeError:
        return data.decode("utf-8", errors="replace")


def decode_text(data: bytes, charset: str | None) -> tuple[str, str]:
    """Decode server text without ever failing: replacement characters, and a note saying so."""
    codec, note = codec_for(charset)
    try:
        return data.decode(codec), note
    except UnicodeError:
        return (decode_replacing(data, codec),
                note or f"text is not valid {codec}; undecodable bytes replaced")


def whole_chars(data: bytes, size: int) -> bytes:
    """``data`` without a multi-byte character cut at its end by the check's own limit."""
    if len(data) >= size:
        return data
    return data[:-3] + data[-3:].rstrip(bytes(range(0x80, 0x100))) if len(data) > 3 else data


# -- titles ------------------------------------------------------------------------------------

def find_title(head: bytes) -> bytes | None:
    """The raw bytes of the page's ``<title>``, or None; linear in ``len(head)``.

    The first ``<title>`` outside an inline ``<svg>`` (an SVG's title names the drawing, not
    the page). An unclosed one runs to the next tag, at most ``MAX_UNCLOSED_TITLE_BYTES``.
    Every search starts where the last one stopped, so 256 KB of repeated ``<title>`` (which
    a backtracking pattern took a minute over) costs a few passes over the bytes.
    """
    pos = 0
    size = len(head)
    match: re.Match[bytes] | None = None
    while True:
        if match is None or match.start() < pos:  # never searched twice over the same bytes
            match = _TITLE_START.search(head, pos)
            if match is None:
                return None
            if match.end() < size and head[match.end()] not in _NAME_ENDS:  # <titles>
                pos, match = match.end(), None
                continue
        svg = _SVG_START.search(head, pos, match.start())
        if svg is not None:  # a drawing before the title: is the title inside it?
            close = _SVG_END.search(head, svg.end())
            if close is None:
                return None
            pos = close.end()
            continue
        start = head.find(b">", match.end())
        if start < 0:
            return None
        start += 1
        end = _TITLE_END.search(head, start)
        if end is not None:
            return head[start:end.start()]
        stop = head.find(b"<", start, start + MAX_UNCLOSED_TITLE_BYTES)
        return head[start:stop if stop >= 0 else start + MAX_UNCLOSED_TITLE_BYTES]


def title_of(head: bytes, codec: str) -> str:
    """The page title as one line of plain, safe text (at most ``MAX_TITLE_CHARS``)."""
    raw = find_title(head)
    if not raw:
        return ""
    text = decode_replacing(raw[:MAX_TITLE_CHARS * 8], codec)
    return clean_text(" ".join(html.unescape(text).split())[:MAX_TITLE_CHARS])


def extract_title(head: bytes, charset: str | None) -> tuple[str, str]:
    """The page's ``<title>`` as plain text, and a note when the charset had to be guessed."""
    codec, note = codec_for(charset)
    title = title_of(head, codec)
    if title and not note:
        raw = find_title(head) or b""
        try:
            raw.decode(codec)
        except UnicodeError:
            note = f"text is not valid {codec}; undecodable bytes replaced"
    return title, note


def human_size(size: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:g} {unit}" if unit == "bytes" else f"{size:.4g} {unit}"
        size /= 1024
    return f"{size} bytes"
