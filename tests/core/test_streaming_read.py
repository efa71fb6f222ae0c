"""A big plain-text file is read a chunk at a time, and reads exactly as when it is read whole:
the same rows, line numbers, encoding, notices and refusals, wherever the chunks are cut (a
line, a CRLF or a multi-byte character across two chunks), for every kind of tricky file."""

from __future__ import annotations

import codecs
import os
import threading
from pathlib import Path

import pytest

from app.core import sources
from app.core.lines import MAX_LINE_CHARS
from app.core.sources import SourceError, parse_bytes, read_path, read_source, read_stream
from app.core.targets import TargetList

LONG = "https://long.example/" + "x" * MAX_LINE_CHARS  # one over the limit, and more

TRICKY: dict[str, bytes] = {
    "lf": b"https://a.example/\nhttps://b.example/x\n",
    "crlf": b"https://a.example/\r\nhttps://b.example/\r\n\r\nhttps://c.example/",
    "lone cr": b"https://a.example/\rhttps://b.example/\n\r\nhttps://c\r\r\n\r",
    "no final newline": b"https://a.example/\nhttps://b.example/",
    "utf-8 bom": codecs.BOM_UTF8 + b"https://a.example/\n\xef\xbb\xbfhttps://b.example/\n",
    "double bom": codecs.BOM_UTF8 * 2 + b"https://a.example/\n",
    "only a bom": codecs.BOM_UTF8,
    "utf-16 bom": codecs.BOM_UTF16_LE + "https://a.example/\nhttps://b/é\n".encode("utf-16-le"),
    "utf-16 no bom": "https://a.example/\nhttps://b.example/\n".encode("utf-16-le"),
    "utf-32 bom": codecs.BOM_UTF32_BE + "https://a.example/\n".encode("utf-32-be"),
    "latin-1 fallback": "https://a.example/caf\u00e9\n\u201cquoted\u201d\n".encode("cp1252"),
    "broken utf-8 late": ("https://a.example/\n" * 500).encode() + b"https://b/\xff\xfe\n",
    "truncated utf-8 at the end": b"https://a.example/\nhttps://b/\xc3",
    "multibyte": "https://\u4e2d\u6587.example/\u00e9\u00e8/\U0001f600\nhttps://b/\u00fc\n"
                 .encode() * 50,
    "comments and blanks": b"# a list\n\n   \nhttps://a.example/\n  # indented comment\n\t\n"
                           b"  https://b.example/  \n#\n",
    "look closer": '"https://q.example/"\n<https://a.example/>\n<loc>https://l/</loc>\n'
                   '\u201chttps://c/\u201d\n\ufeffhttps://bom.example/\n'
                   '<a href="https://h.example/">x</a>\n'.encode(),
    "odd separators": "https://a/\u2028b\nhttps://c/\x0bd\x0c\nhttps://e/\x85\x1c\n".encode(),
    "over-long lines": (f"https://a.example/\n{LONG}\n{LONG}\r\n{LONG[:MAX_LINE_CHARS]}\r\n"
                        f"{LONG[:MAX_LINE_CHARS]}\r\r\n{LONG[:MAX_LINE_CHARS + 1]}\r\n"
                        f"https://b.example/\n{LONG}\r").encode(),
    "over-long last line": f"https://a.example/\n{LONG}é".encode(),
    "huge line": ("https://a/\n" + "y" * (3 * 1024 * 1024 + 5) + "\r\nhttps://b/\n").encode(),
    "nul late": ("https://a.example/\n" * 100).encode() + b"https://b\x00/\n",
    "nul early": b"https://a.example/\x00\n",
    "nul after the head": ("https://a.example/\n" * 20_000).encode() + b"https://b\x00/\n",
    "binary": b"\x89PNG\r\n\x1a\n" + bytes(range(256)),
    "empty": b"",
    "blank only": b"\n\n  \n# nothing\n",
    "xml": b'<?xml version="1.0"?><urlset><url><loc>https://a/</loc></url></urlset>',
    "html": b"<!doctype html><a href='https://a.example/'>a</a>\n",
    "tab table": b"url\tstatus\nhttps://a.example/\t200\nhttps://b.example/\t301\n",
    "header table": b"Address,Status\nhttps://a.example/,200\n",
    "gzip": b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\x01\x00\x00\xff\xff"
            b"\x00\x00\x00\x00\x00\x00\x00\x00",
    "zip": b"PK\x03\x04 not really a zip",
}


def read_both(path: Path, chunk_size: int, name: str = "") -> tuple[object, object]:
    """What reading whole and reading a chunk at a time give: the list's parts, or the error."""
    def outcome(**options: int) -> object:
        try:
            imported = read_source(path, **options)
        except SourceError as exc:
            return ("error", type(exc), str(exc))
        return (list(imported.texts), list(imported.lines), imported.kind, imported.encoding,
                imported.notices, dict(imported.failures), imported.columns, imported.extra,
                imported.expected)

    return (outcome(stream_from=1 << 62),
            outcome(stream_from=0, chunk_size=chunk_size))


@pytest.mark.parametrize("chunk_size", [1, 2, 3, 7, 64, 4096, 1 << 20])
@pytest.mark.parametrize("name", sorted(TRICKY))
def test_reading_a_chunk_at_a_time_reads_as_reading_whole(tmp_path, name, chunk_size):
    if len(TRICKY[name]) > 1_000_000 and chunk_size < 64:
        pytest.skip("megabytes a byte at a time are slow; 64 bytes cut them enough")
    path = tmp_path / "list.txt"
    path.write_bytes(TRICKY[name])
    whole, streamed = read_both(path, chunk_size)
    assert streamed == whole


@pytest.mark.parametrize("chunk_size", [1, 5, 13])
def test_every_cut_of_a_crlf_and_a_character_reads_the_same(tmp_path, chunk_size):
    line = "https://\u00e9.example/\U0001f600/\u4e2d\r\n".encode()
    path = tmp_path / "list.txt"
    for shift in range(len(line)):  # the file's cuts fall at every byte of a line, in turn
        path.write_bytes(b"h" * shift + b"\n" + line * 40)
        whole, streamed = read_both(path, chunk_size)
        assert streamed == whole


@pytest.mark.parametrize("length", [MAX_LINE_CHARS - 1, MAX_LINE_CHARS, MAX_LINE_CHARS + 1])
def test_a_line_at_the_limit_is_cut_between_its_cr_and_lf_and_still_reads_the_same(
        tmp_path, length):
    path = tmp_path / "list.txt"
    for shift in range(16):
        path.write_bytes(b"x" * shift + b"\n" + b"y" * length + b"\r\nhttps://a/\r\n")
        whole, streamed = read_both(path, 16)
        assert streamed == whole


def test_a_table_by_its_name_is_read_whole_as_a_table(tmp_path):
    path = tmp_path / "list.tsv"
    path.write_bytes(b"https://a.example/\nhttps://b.example/\n")
    whole, streamed = read_both(path, 3)
    assert streamed == whole and whole[2] == "csv"  # type: ignore[index]


def test_a_chosen_column_reads_the_file_whole_as_a_table(tmp_path):
    path = tmp_path / "list.txt"
    path.write_bytes(b"https://a.example/\thttps://b.example/\n")
    imported = read_source(path, url_column=1, stream_from=0, chunk_size=2)
    assert imported.kind == "csv" and list(imported.texts) == ["https://b.example/"]


def test_a_big_file_s_rows_make_the_same_targets(tmp_path):
    lines = [f"http://127.0.0.1:8080/page.html?n={i % 5000}" for i in range(12_000)]
    lines[7] = LONG
    path = tmp_path / "urls.txt"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    streamed = TargetList.from_imported(read_path(path, stream_from=0, chunk_size=1000))
    whole = TargetList.from_imported(read_path(path, stream_from=1 << 62))
    assert list(streamed) == list(whole)
    assert streamed.copies() == whole.copies()


def test_a_folder_and_a_missing_file_are_named(tmp_path):
    with pytest.raises(SourceError, match="is a folder"):
        read_source(tmp_path, stream_from=0)
    with pytest.raises(SourceError, match="cannot read nothing.txt"):
        read_source(tmp_path / "nothing.txt", stream_from=0)
    with pytest.raises(FileNotFoundError):
        read_path(tmp_path / "nothing.txt", stream_from=0)


def read_piped(data: bytes, **options: int) -> object:
    """What :func:`read_stream` gives for ``data`` coming through a real pipe (a writer
    thread at the other end, as `cat urls.txt | fetchdeck run -`), or the error."""
    read_end, write_end = os.pipe()

    def feed() -> None:
        with os.fdopen(write_end, "wb") as pipe:
            for at in range(0, len(data), 4096):
                pipe.write(data[at:at + 4096])

    writer = threading.Thread(target=feed)
    writer.start()
    try:
        with os.fdopen(read_end, "rb") as stream:
            imported = read_stream(stream, "-", **options)
    except SourceError as exc:
        return ("error", type(exc), str(exc))
    finally:
        writer.join(10)
    return (list(imported.texts), list(imported.lines), imported.kind, imported.encoding,
            imported.notices, dict(imported.failures))


@pytest.mark.parametrize("name", ["crlf", "over-long lines", "latin-1 fallback", "multibyte",
                                  "broken utf-8 late", "nul after the head", "tab table",
                                  "xml", "empty", "blank only"])
@pytest.mark.parametrize("stream_from", [0, 64, 1 << 62], ids=["spooled", "spooled-64", "whole"])
def test_a_piped_list_reads_as_the_same_bytes_read_whole(name, stream_from):
    data = TRICKY[name]
    whole = read_piped(data, stream_from=1 << 62)
    assert read_piped(data, stream_from=stream_from, chunk_size=7) == whole
    try:
        imported = parse_bytes(data, "-")
    except SourceError as exc:
        assert whole == ("error", type(exc), str(exc))
    else:
        assert whole[:2] == (list(imported.texts), list(imported.lines))  # type: ignore[index]


def test_a_redirected_file_is_read_from_where_it_stands(tmp_path):
    path = tmp_path / "list.txt"
    path.write_bytes(b"https://skipped.example/\n" + TRICKY["lf"] * 100)
    with path.open("rb") as stream:
        stream.readline()  # something before us read a line of it
        imported = read_stream(stream, "-", stream_from=0, chunk_size=5)
    assert list(imported.texts) == ["https://a.example/", "https://b.example/x"] * 100


@pytest.mark.parametrize("name", ["lf", "crlf", "lone cr", "multibyte", "over-long lines",
                                  "huge line", "comments and blanks", "utf-8 bom"])
def test_a_plain_utf8_list_takes_the_chunked_path(tmp_path, name):
    """The comparisons above hold only if the chunked read did run: a file that fell back to
    the whole read would compare equal to itself."""
    path = tmp_path / "list.txt"
    path.write_bytes(TRICKY[name])
    with path.open("rb") as stream:
        assert sources._read_plain(stream, "list.txt", 7) is not None
    for other in ("latin-1 fallback", "tab table", "xml", "broken utf-8 late"):  # these not
        path.write_bytes(TRICKY[other])
        with path.open("rb") as stream:
            assert sources._read_plain(stream, "list.txt", 7) is None, other
