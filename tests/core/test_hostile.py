"""Hostile servers: text that is not UTF-8 or holds terminal escapes, impossible statuses,
bodies where none may be, Locations that are no URL. Every row is one precise, safe answer,
and every export of such rows can be read back."""

from __future__ import annotations

import csv
import io
import json

import pytest

from app.core.errors import KIND_INFO, Kind
from app.core.export import CsvFormat, JsonlFormat, write_csv
from app.core.result import Outcome, Result
from app.core.settings import Settings
from tests.core.runs import fetch_all, fetch_one
from tests.servers import HOSTILE_BEHAVIOURS, RawServers

pytestmark = pytest.mark.timeout(60)


@pytest.fixture(scope="module")
def hostile():
    with RawServers(behaviours=HOSTILE_BEHAVIOURS) as servers:
        yield servers


def safe(text: str) -> bool:
    """Text any cell, file or terminal takes: valid UTF-8, no control characters."""
    text.encode("utf-8")  # a lone surrogate raises here
    return all(ch.isprintable() or ch == " " for ch in text)


def every_text(result: Result) -> list[str]:
    r = result
    texts = [r.reason, r.content_type, r.server, r.title, r.note, r.final_url, r.error,
             r.redirect_chain_text()]
    if r.failure is not None:
        texts += [*r.failure.chain, r.failure.traceback.replace("\n", " ")]
    if r.details is not None:
        for name, value in [*r.details.response_headers, *r.details.request_headers]:
            texts += [name, value]
    return texts


def test_a_reason_phrase_that_is_not_utf8_is_read_as_latin1_and_said(hostile):
    result = fetch_one(hostile.url("latin1-reason"))
    assert result.outcome is Outcome.HTTP_ERROR
    assert result.reason == "Nicht gefunden \u00e4"
    assert result.error == "HTTP 404 Nicht gefunden \u00e4"
    assert "reason phrase not UTF-8; read as Latin-1" in result.note
    assert all(safe(text) for text in every_text(result))


def test_escapes_and_raw_bytes_in_headers_and_title_reach_no_cell_raw(hostile):
    result = fetch_one(hostile.url("escapes"))
    assert result.outcome is Outcome.OK, result.error
    assert result.server == "x\\x1b]0;pwned\\x07"
    assert result.reason == "O\\x07K"
    assert result.title == "nul\\x00 bel\\x07 esc\\x1b[2J \ufffd"
    assert result.content_type.startswith("text/html; charset=\u00e4\\x1b")
    headers = dict(result.details.response_headers)
    # The details pane and exports read header pairs: safe there too.
    assert headers["X-Thing"] == "caf\u00e9 \\x1b[31mred"
    assert headers["Server"] == "x\\x1b]0;pwned\\x07"
    for text in every_text(result):
        assert safe(text), repr(text)


def test_a_location_with_raw_bytes_and_escapes_is_quoted_safely(hostile):
    result = fetch_one(hostile.url("redirect-js-bytes"))
    assert result.failure.kind is Kind.UNSAFE_REDIRECT
    assert result.error.startswith(KIND_INFO[Kind.UNSAFE_REDIRECT].title)
    assert "javascript:" in result.error
    assert [hop.status for hop in result.chain] == [302]
    for text in every_text(result):
        assert safe(text), repr(text)


def test_a_location_whose_host_is_raw_bytes_is_no_internal_error(hostile):
    result = fetch_one(hostile.url("redirect-bad-host"))
    assert result.outcome is Outcome.FAILED
    assert result.failure.kind not in (Kind.INTERNAL, Kind.UNSAFE_REDIRECT), result.error
    assert [hop.status for hop in result.chain] == [302]
    for text in every_text(result):
        assert safe(text), repr(text)


def test_a_redirect_to_port_99999_is_an_invalid_redirect_url_not_an_unsafe_one(hostile):
    result = fetch_one(hostile.url("redirect-port"))
    assert result.failure.kind is Kind.INVALID_URL, result.error
    assert "the server redirected to http://127.0.0.1:99999/, which is not a valid URL" \
        in result.error
    assert "non-http" not in result.error
    assert result.redirects == 1
    assert [hop.status for hop in result.chain] == [301]
    assert result.first_status == 301


def test_a_redirect_without_location_is_the_final_answer(hostile):
    result = fetch_one(hostile.url("redirect-no-location"))
    assert result.outcome is Outcome.OK
    assert result.status == 302 and result.redirects == 0 and result.chain == ()
    assert result.note == "a 302 without a Location header: nothing to follow"


@pytest.mark.parametrize("name", ["status-099", "status-600", "status-999"])
def test_a_status_outside_100_to_599_is_a_protocol_error(hostile, name):
    result = fetch_one(hostile.url(name))
    assert result.outcome is Outcome.FAILED
    assert result.failure.kind is Kind.PROTOCOL
    assert "outside HTTP's 100-599" in result.error


def test_a_final_interim_answer_is_a_protocol_error_not_ok(hostile):
    result = fetch_one(hostile.url("switching-protocols"))
    assert result.outcome is Outcome.FAILED
    assert result.failure.kind is Kind.PROTOCOL
    assert result.status == 101
    assert result.error == (f"{KIND_INFO[Kind.PROTOCOL].title}: the server answered 101 "
                            "Switching Protocols, an interim answer, and no final one")


def test_an_interim_answer_before_the_real_one_is_read_past(hostile):
    result = fetch_one(hostile.url("early-hints"))
    assert result.outcome is Outcome.OK, result.error
    assert result.status == 200 and result.bytes == 2


def test_a_204_with_a_body_is_a_protocol_error_at_once_and_poisons_no_connection(hostile):
    # Both on one keep-alive server, one after the other: the 204's stray body must not make
    # the next request wait on (or read garbage from) the same connection.
    first, second = fetch_all([hostile.url("no-content-body", "/204"),
                               hostile.url("no-content-body", "/page")],
                              concurrency=1, per_host=1, timeout=3)
    assert first.failure is not None and first.failure.kind is Kind.PROTOCOL, first.error
    assert "a 204 answer has no body, but this one announced one (Content-Length: 5)" \
        in first.error
    assert first.status == 204
    assert second.outcome is Outcome.OK, second.error
    assert second.status == 200


def hostile_rows(hostile) -> list[Result]:
    names = ["latin1-reason", "escapes", "redirect-js-bytes", "redirect-bad-host",
             "redirect-port", "status-099"]
    return fetch_all([hostile.url(name) for name in names])


def test_csv_of_hostile_rows_is_written_and_reads_back(hostile, tmp_path):
    results = hostile_rows(hostile)
    path = tmp_path / "hostile.csv"
    assert write_csv(path, results, Settings()) == len(results)
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert [row["url"] for row in rows] == [r.url for r in results]
    assert rows[0]["reason"] == "Nicht gefunden \u00e4"
    assert rows[1]["server"] == "x\\x1b]0;pwned\\x07"
    for row in rows:
        for cell in row.values():
            assert safe(cell), repr(cell)


def test_jsonl_of_hostile_rows_reads_back(hostile):
    results = hostile_rows(hostile)
    fmt = JsonlFormat(Settings())
    text = fmt.header() + fmt.lines(results)
    text.encode("utf-8")
    records = [json.loads(line) for line in io.StringIO(text)]
    assert [r["url"] for r in records] == [r.url for r in results]
    assert records[1]["title"] == "nul\\x00 bel\\x07 esc\\x1b[2J \ufffd"
    csv_text = CsvFormat(Settings()).lines(results)
    assert len(list(csv.reader(io.StringIO(csv_text)))) == len(results)
