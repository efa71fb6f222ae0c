"""CSV export, read back with the csv module: the column contract, input order, quoting,
formula neutralising and password masking."""

from __future__ import annotations

import csv

import pytest

from app.core.errors import Failure, Kind
from app.core.export import (
    COLUMNS,
    CONTRACT_COLUMNS,
    neutralise,
    row_values,
    write_csv,
)
from app.core.redact import mask_text as mask_passwords_in_text
from app.core.result import Hop, Outcome, Result, Timings
from app.core.settings import Settings
from app.core.text import clean_text


def read(path):
    with open(path, newline="", encoding="utf-8") as stream:
        return list(csv.DictReader(stream))


def sample_results():
    ok = Result.of(0, 1, "https://a.example/", Outcome.OK, status=200, reason="OK",
                final_url="https://a.example/b", redirects=1, content_type="text/html",
                bytes=1234, elapsed_ms=12.345, attempts=1,
                chain=(Hop(301, "https://a.example/"), Hop(200, "https://a.example/b")),
                title='Say "hi", then\nleave', timings=Timings(1.0, 2.0, None, 3.0))
    failed = Result.of(1, 3, "http://ann:pw@b.example/", Outcome.FAILED, attempts=3,
                    failure=Failure(Kind.REFUSED, "Connection refused: b.example:80"))
    invalid = Result.of(2, 4, "=HYPERLINK(\"x\")", Outcome.INVALID,
                     failure=Failure(Kind.INVALID_URL, "no scheme"))
    return [ok, failed, invalid]


def test_header_starts_with_the_contract_columns_in_order(tmp_path):
    path = tmp_path / "out.csv"
    write_csv(path, sample_results(), Settings())
    with open(path, newline="", encoding="utf-8") as stream:
        header = next(csv.reader(stream))
    assert tuple(header[: len(CONTRACT_COLUMNS)]) == (
        "url", "outcome", "status", "reason", "final_url", "redirects", "content_type",
        "bytes", "elapsed_ms", "error_kind", "error")
    assert tuple(header) == COLUMNS


def test_rows_round_trip_through_a_real_csv_parser(tmp_path):
    path = tmp_path / "out.csv"
    assert write_csv(path, sample_results(), Settings()) == 3
    rows = read(path)
    assert [r["outcome"] for r in rows] == ["ok", "failed", "invalid"]
    first = rows[0]
    assert first["status"] == "200"
    assert first["bytes"] == "1234"
    assert first["elapsed_ms"] == "12.3"
    # Quoted; a line break inside server text is escaped, so no cell spans two lines.
    assert first["title"] == 'Say "hi", then\\x0aleave'
    assert first["redirect_chain"] == "301 https://a.example/ -> 200 https://a.example/b"
    assert first["error_kind"] == "" and first["error"] == ""
    assert first["tls_ms"] == ""
    assert rows[1]["error_kind"] == "refused"
    assert rows[1]["attempts"] == "3"
    assert rows[2]["line"] == "4"


def test_passwords_are_masked_unless_turned_off(tmp_path):
    path = tmp_path / "out.csv"
    write_csv(path, sample_results(), Settings())
    assert read(path)[1]["url"] == "http://ann:***@b.example/"
    write_csv(path, sample_results(), Settings(mask_passwords=False))
    assert read(path)[1]["url"] == "http://ann:pw@b.example/"


@pytest.mark.parametrize("start", ["=", "+", "-", "@"])
def test_formula_cells_are_neutralised_by_default(tmp_path, start):
    result = Result.of(0, 1, f"{start}cmd|' /C calc'!A0", Outcome.INVALID,
                    failure=Failure(Kind.INVALID_URL, "no scheme"))
    path = tmp_path / "out.csv"
    write_csv(path, [result], Settings())
    assert read(path)[0]["url"] == f"'{start}cmd|' /C calc'!A0"
    write_csv(path, [result], Settings(csv_raw=True))
    assert read(path)[0]["url"] == f"{start}cmd|' /C calc'!A0"


@pytest.mark.parametrize("raw", [False, True])
def test_control_characters_never_reach_a_cell_raw(tmp_path, raw):
    # A tab or CR would start a formula; an escape sequence would drive a terminal.
    result = Result.of(0, 1, "\tcmd\x1b]0;pwned\x07\r", Outcome.INVALID,
                       failure=Failure(Kind.INVALID_URL, "bad \x00 line"))
    path = tmp_path / "out.csv"
    write_csv(path, [result], Settings(csv_raw=raw))
    row = read(path)[0]
    assert row["url"] == " cmd\\x1b]0;pwned\\x07\\x0d"
    assert row["error"] == "bad \\x00 line"


def test_a_failed_export_leaves_no_partial_file(tmp_path):
    def broken():
        yield sample_results()[0]
        raise RuntimeError("disk full")

    path = tmp_path / "out.csv"
    with pytest.raises(RuntimeError):
        write_csv(path, broken(), Settings())
    assert list(tmp_path.iterdir()) == []


def test_export_reports_progress(tmp_path):
    seen = []
    results = [Result.of(i, i + 1, f"https://h.example/{i}", Outcome.OK, status=200)
               for i in range(25)]
    write_csv(tmp_path / "o.csv", results, Settings(), progress=seen.append, every=10)
    assert seen == [10, 20, 25]


def test_passwords_in_free_text_are_masked():
    text = "redirected to https://bob:hunter2@x.example/ then http://y.example/"
    assert mask_passwords_in_text(text) == \
        "redirected to https://bob:***@x.example/ then http://y.example/"


HOSTILE = ["", "plain", "a,b", 'say "hi"', "two\nlines", "cr\ronly", "crlf\r\n", ",", '"',
           " lead", "trail ", "ünïcode ✓", "tab\there", "=1+1", "'quoted"]


def test_lines_are_byte_for_byte_what_the_csv_module_writes(tmp_path):
    # The fast path joins cells itself: it must never differ from csv.writer, whatever a
    # server put in a title, reason or header.
    results = []
    for i, text in enumerate(HOSTILE * 3):
        other = HOSTILE[(i * 7) % len(HOSTILE)]
        results.append(Result.of(
            i, i + 1, f"https://h.example/{i}?q={text}", Outcome.HTTP_ERROR, status=500,
            reason=text, final_url=f"https://h.example/{other}", content_type=other,
            bytes=i, elapsed_ms=i / 3, attempts=2, title=text + other, server=other, note=text,
            failure=Failure.plain(Kind.HTTP_5XX, f"HTTP 500 {text}"),
            chain=(Hop(301, f"https://h.example/{text}"), Hop(500, "https://h.example/x")),
            timings=Timings(1.25, None, 3.5, 4.75)))
    for settings in (Settings(), Settings(csv_raw=True, mask_passwords=False)):
        path = tmp_path / "out.csv"
        write_csv(path, results, settings)
        expected = tmp_path / "expected.csv"
        with expected.open("w", encoding="utf-8", newline="") as stream:
            writer = csv.writer(stream, lineterminator="\r\n")
            writer.writerow(COLUMNS)
            writer.writerows(row_values(r, settings) for r in results)
        assert path.read_bytes() == expected.read_bytes()
        with path.open(encoding="utf-8", newline="") as stream:
            rows = list(csv.reader(stream))
        assert len(rows) == len(results) + 1
        assert all(len(row) == len(COLUMNS) for row in rows)
        # Control characters are escaped first (a CR or LF never reaches a cell), then formulas
        # neutralised.
        assert [row[3] for row in rows[1:]] == [
            clean_text(r.reason) if settings.csv_raw else neutralise(clean_text(r.reason))
            for r in results]
