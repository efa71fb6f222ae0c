"""Bytes to text: the encoding of a list's bytes found and said (BOMs, UTF-16 without one,
Windows-1252), undecodable bytes named by line, binary files refused, and gzip inflated
under a cap.
"""

from __future__ import annotations

import codecs
import contextvars
import zlib

from app.core.imported import MIB, Decoded, SourceError, TooLarge, _lines_phrase

__all__ = ["MAX_INFLATED_BYTES", "decode_bytes", "inflate", "refuse_nul", "utf8_start"]

MAX_INFLATED_BYTES = 256 * MIB  # what a .gz file may inflate to before it is refused

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32-le", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32-be", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8", ""),
    (codecs.BOM_UTF16_LE, "utf-16-le", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16-be", "UTF-16"),
)
_MAGIC = (b"\x89PNG", b"GIF8", b"\xff\xd8\xff", b"%PDF-", b"\x7fELF", b"SQLite format 3",
          b"7z\xbc\xaf", b"Rar!", b"BZh9", b"\xfd7zXZ", b"\x28\xb5\x2f\xfd", b"OggS", b"ID3")
# Bytes that never appear in text: C0 controls but tab, line breaks, \v, \f and the
# separators \x1c-\x1e (which real lists do carry), and DEL.
_CONTROL = bytes([*range(0x01, 0x09), *range(0x0e, 0x1c), 0x1f, 0x7f])
_NOT_CONTROL = bytes(b for b in range(256) if b not in _CONTROL)
_BINARY = "this looks like a binary file, not a list of URLs"
_SNIFF = 64 * 1024

_DECODE_ERRORS: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar(
    "fetchdeck_decode_errors", default=None)


def _record_error(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    positions = _DECODE_ERRORS.get()
    if positions is not None:
        positions.append(exc.start)
    return "\ufffd", exc.end


codecs.register_error("fetchdeck-record", _record_error)


def decode_bytes(data: bytes) -> Decoded:
    """Decode a list's bytes: UTF-8 (with or without BOM), UTF-16/32 with a BOM, UTF-16 that
    is clearly so without one, else Windows-1252 when that reads as text, else UTF-8 with
    undecodable bytes replaced and their lines named. Raises SourceError for an empty or
    binary file."""
    if not data:
        raise SourceError("the file is empty")
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            body = data[len(bom):]
            if not body:
                raise SourceError("the file is empty")
            if codec == "utf-8":
                break
            return _decode_wide(body, codec, f"decoded as {label} (the file starts with its "
                                                  "byte order mark)")
    else:
        body = data
        wide = _utf16_without_bom(body)
        if wide is not None:
            return _decode_wide(body, wide, "decoded as UTF-16 (no byte order mark, but every "
                                            "other byte is 0)")
    _refuse_binary(body)
    try:
        return Decoded(body.decode("utf-8"), "utf-8", ())
    except UnicodeDecodeError:
        pass
    text, positions = _decode_recording(body, "utf-8")
    if _reads_as_cp1252(body, text, len(positions)):
        return Decoded(body.decode("cp1252"), "cp1252",
                       ("decoded as Windows-1252: the file is not UTF-8",))
    lines: list[int] = []
    line, last = 1, 0
    for position in positions:
        line += body.count(b"\n", last, position)
        last = position
        if not lines or lines[-1] != line:
            lines.append(line)
    return Decoded(text, "utf-8", (f"invalid UTF-8 on {_lines_phrase(lines)} (replaced with "
                                   "\ufffd)",))


def utf8_start(head: bytes) -> int | None:
    """Where the text starts (after a UTF-8 BOM) when bytes that begin with ``head`` are UTF-8
    to :func:`decode_bytes` if they decode at all; None when it would choose another codec, or
    refuse them from their start alone. ``head`` must hold the first ``_SNIFF`` bytes after
    any BOM, or all the bytes; the rest must still pass :func:`refuse_nul`."""
    for bom, codec, _label in _BOMS:
        if head.startswith(bom):
            if codec != "utf-8" or len(head) == len(bom):
                return None
            start = len(bom)
            break
    else:
        start = 0
        if _utf16_without_bom(head) is not None:
            return None
    try:
        _refuse_binary(head[start:])
    except SourceError:
        return None
    return start


def refuse_nul(chunk: bytes) -> None:
    """Refuse bytes after the head as :func:`decode_bytes` would: a NUL makes them binary."""
    if b"\x00" in chunk:
        raise SourceError(_BINARY)


def _decode_wide(body: bytes, codec: str, notice: str) -> Decoded:
    text, positions = _decode_recording(body, codec)
    if "\x00" in text:
        raise SourceError(_BINARY)
    notices = [notice]
    if positions:
        lines = sorted({body[:p].decode(codec, "replace").count("\n") + 1
                        for p in positions[:5]})
        more = f" and {len(positions) - 5} more places" if len(positions) > 5 else ""
        notices.append(f"bytes that are not valid {codec.upper()} on {_lines_phrase(lines)}"
                       f"{more} (replaced with \ufffd)")
    return Decoded(text, codec, tuple(notices))


def _decode_recording(data: bytes, codec: str) -> tuple[str, list[int]]:
    positions: list[int] = []
    token = _DECODE_ERRORS.set(positions)
    try:
        return data.decode(codec, "fetchdeck-record"), positions
    finally:
        _DECODE_ERRORS.reset(token)


_FEW_BYTES = 64


def _utf16_without_bom(data: bytes) -> str | None:
    if len(data) < _FEW_BYTES and len(data) % 2:
        # A few bytes of odd length are no UTF-16 (two bytes a unit) to guess from: seven
        # bytes with two NULs among three even ones were read as UTF-16-BE. A longer file a
        # byte off (a line break added, a download cut) still reads, its last byte replaced.
        return None
    sample = data[:4096]
    pairs = len(sample) // 2
    if pairs < 2:
        return None
    even_zeros = sample[0:pairs * 2:2].count(0)
    odd_zeros = sample[1:pairs * 2:2].count(0)
    if odd_zeros >= 0.6 * pairs and even_zeros <= 0.02 * pairs:
        return "utf-16-le"
    if even_zeros >= 0.6 * pairs and odd_zeros <= 0.02 * pairs:
        return "utf-16-be"
    return None


def _refuse_binary(data: bytes) -> None:
    sample = data[:_SNIFF]
    controls = len(sample.translate(None, _NOT_CONTROL))  # what is left are the controls
    if (b"\x00" in data or data.startswith(_MAGIC)
            or controls > max(8, len(sample) // 10)):
        raise SourceError(_BINARY)


# Non-ASCII characters a Windows-1252 text uses besides letters: typographic punctuation.
_CP1252_PUNCTUATION = frozenset("€‚„…†‡‰‹›‘’“”•–—™«»°§©®±×÷·¿¡£¥¢µ¶ ")


def _reads_as_cp1252(data: bytes, utf8_text: str, errors: int) -> bool:
    """Windows-1252 when no byte is undefined there, the file holds no valid multi-byte UTF-8
    sequence (a UTF-8 file with a few broken bytes stays UTF-8), and what it decodes to is
    letters and typographic punctuation, not noise."""
    valid_multibyte = len(utf8_text) - len(utf8_text.encode("ascii", "ignore")) - errors
    if valid_multibyte > 0:
        return False
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:
        return False
    wide = [ch for ch in text[:_SNIFF] if ord(ch) > 0x7f]
    sensible = sum(1 for ch in wide if ch.isalpha() or ch in _CP1252_PUNCTUATION)
    return sensible >= 0.9 * len(wide)


def inflate(data: bytes, cap: int = MAX_INFLATED_BYTES) -> bytes:
    """Inflate gzip data (every member of it), refusing to grow past ``cap`` bytes."""
    out: list[bytes] = []
    size = 0
    while data:
        engine = zlib.decompressobj(wbits=31)
        try:
            while data:
                chunk = engine.decompress(data, cap + 1 - size)
                size += len(chunk)
                out.append(chunk)
                if size > cap:
                    raise TooLarge(f"the gzip file inflates to more than {_human(cap)}; "
                                      "Fetchdeck stops there (a compression bomb?)")
                data = engine.unconsumed_tail
        except zlib.error as exc:
            raise SourceError(f"the gzip file is damaged: {exc}") from None
        if not engine.eof:
            raise SourceError("the gzip file is cut short")
        data = engine.unused_data.lstrip(b"\x00")  # padding after the last member is allowed
    return b"".join(out)


def _human(size: int) -> str:
    return f"{size / MIB:g} MiB" if size >= MIB else f"{size:,} bytes"


def _head(data: bytes) -> str:
    """The first characters of the data, enough to tell what kind of text it is."""
    head = data[:1024]
    for bom, codec, _label in _BOMS:
        if head.startswith(bom):
            return head[len(bom):].decode(codec, "ignore")
    return head.decode(_utf16_without_bom(head) or "latin-1", "ignore")
