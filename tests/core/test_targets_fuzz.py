"""The input parser against random text, random bytes and random mixes of URL pieces: one row
per non-blank, non-comment line (split at LF and CRLF only), each row on its own line number,
and no line ever an internal error, at parse time or when its host is encoded for the
resolver."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.errors import Kind, classify
from app.core.sources import SourceError, parse_text
from app.core.targets import MAX_LINE_LENGTH, TargetList, check_url, list_from_bytes

FUZZ = settings(max_examples=300, deadline=1000, database=None,
                suppress_health_check=[HealthCheck.too_slow])

# Characters that end a line for str.splitlines() but not for a URL list.
ODD_BREAKS = ["\r", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]

SCHEMES = ["http://", "https://", "HTTP://", "hTtPs://", "ftp://", "file://", "javascript:",
           "//", "", "http:", "http:/", "data:,"]
USERINFO = ["", "user:pw@", "user@", "@", ":@", "u%20s:p%zz@", "ü:ß@"]
HOSTS = ["example.com", "127.0.0.1", "[::1]", "[::1", "localhost", "a" * 63 + ".com",
         "a" * 64 + ".com", "a..b", ".a", "a.", "-a-.com", "xn--", "xn--zz.com", "ëxample.com",
         "例え.jp", "", ".", "0x7f.1", "999.999.999.999", "a_b.com", "%41.com", "\x00",
         "exa mple.com", "ex\u200bample.com", ("b" * 60 + ".") * 5 + "com"]
PORTS = ["", ":80", ":0", ":65535", ":65536", ":99999", ":", ":08080", ":-1", ":8o", ":1" * 3]
PATHS = ["", "/", "/a b", "/%zz", "/..", "/./x", "/é", "?q=1", "#frag", "\\x", "/%00",
         "/\udcff", "/" + "p" * 100, "?" + "&" * 50]
BREAKS = ["\n", "\r\n", *ODD_BREAKS, " ", "\t", "#", "\ufeff"]

url_pieces = st.builds(
    lambda *parts: "".join(parts),
    st.sampled_from(SCHEMES), st.sampled_from(USERINFO), st.sampled_from(HOSTS),
    st.sampled_from(PORTS), st.lists(st.sampled_from(PATHS), max_size=3).map("".join),
    st.lists(st.sampled_from(BREAKS), max_size=2).map("".join),
)
mixed_lists = st.lists(
    st.one_of(url_pieces, st.text(max_size=30), st.sampled_from(["", "  ", "# comment"])),
    max_size=12,
).flatmap(lambda lines: st.lists(st.sampled_from(["\n", "\r\n"]), min_size=len(lines),
                                 max_size=len(lines))
          .map(lambda ends: "".join(a + b for a, b in zip(lines, ends, strict=True))))


def expected_rows(text: str) -> list[tuple[int, str]]:
    """(line number, text) of every line that must become a row, worked out from scratch."""
    if "\x00too long:" in text:  # spells the over-long-line marker: its NULs are shown as U+FFFD
        text = text.replace("\x00", "\ufffd")
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    rows = []
    for number, line in enumerate(lines, start=1):
        if line.endswith("\r"):
            line = line[:-1]
        kept = line.strip().lstrip("\ufeff").strip()
        if kept and not kept.startswith("#"):
            rows.append((number, kept))
    return rows


def check_list(text: str) -> None:
    if parse_text(text).kind == "text":  # a plain list: one row per line, as worked out
        check_rows(TargetList.from_text(text), expected_rows(text))
    else:  # read as a table, a sitemap or a page: its rows, none of them internal
        check_rows(TargetList.from_text(text), None)


def check_rows(targets: TargetList, expected: list[tuple[int, str]] | None) -> None:
    rows = list(targets)
    assert len(targets) == len(rows)
    if expected is not None:
        assert len(rows) == len(expected)
    for index, target in enumerate(rows):
        assert target.index == index
        if expected is not None:
            line, kept = expected[index]
            assert target.line == line
            if len(kept) <= MAX_LINE_LENGTH and kept[:1] not in ('"', "'", "<", "\u201c",
                                                                  "\u2018", "\u00ab"):
                assert target.text == kept  # quotes and markup give the URL they hold
        if target.failure is not None:
            assert target.failure.kind in (Kind.INVALID_URL, Kind.UNSUPPORTED_SCHEME), target
            continue
        # What the run does with a fetchable line: parse it (a ValueError is an invalid row),
        # then hand its host to the resolver, which encodes it as IDNA.
        url, failure = check_url(target.text)
        assert failure is None or failure.kind is not Kind.INTERNAL
        try:
            parsed = target.url
        except ValueError:
            continue
        assert parsed is not None
        host = parsed.raw_host or ""
        try:
            host.encode("idna")
        except UnicodeError as exc:
            assert classify(exc)[0] is Kind.INVALID_URL, (target.text, exc)


@FUZZ
@given(st.text())
def test_random_text_gives_one_row_per_line_and_no_internal_error(text):
    check_list(text)


@FUZZ
@given(st.binary(max_size=400))
def test_random_bytes_give_rows_or_a_reason_and_no_internal_error(data):
    try:
        targets = list_from_bytes(data)
    except SourceError as exc:  # empty, or binary: refused in plain words
        assert str(exc)
        return
    check_rows(targets, None)


@FUZZ
@given(mixed_lists)
def test_random_mixes_of_url_pieces_give_one_row_per_line_and_no_internal_error(text):
    check_list(text)


@FUZZ
@given(st.lists(st.sampled_from(["http://a.test/", "x", "", "#", *ODD_BREAKS]), max_size=20))
def test_only_lf_and_crlf_end_a_line(pieces):
    text = "\n".join(pieces)
    assert parse_text(text).kind == "text"
    assert len(TargetList.from_text(text)) == len(expected_rows(text))
