"""XLSX export, read back with openpyxl: the CSV's columns, numbers as numbers, a frozen header
row, an autofilter, masking and neutralising, and runs longer than a sheet."""

from __future__ import annotations

from pathlib import Path

import openpyxl
import pytest

import app.core.xlsx as xlsx
from app.core.errors import Failure, Kind
from app.core.export import COLUMNS, row_values
from app.core.result import Hop, Outcome, Result, Timings
from app.core.settings import Settings
from app.core.store import RunStore
from app.core.xlsx import write_xlsx
from tests.core.runs import fetch_all


def sample_results() -> list[Result]:
    ok = Result.of(0, 1, "https://a.example/", Outcome.OK, status=200, reason="OK",
                final_url="https://a.example/b", redirects=1, content_type="text/html",
                bytes=1234, elapsed_ms=12.345, attempts=1,
                chain=(Hop(301, "https://a.example/"), Hop(200, "https://a.example/b")),
                title='Say "hi", then\nleave', timings=Timings(1.0, 2.0, None, 3.0))
    failed = Result.of(1, 3, "http://ann:pw@b.example/", Outcome.FAILED, attempts=3,
                    failure=Failure(Kind.REFUSED, "Connection refused: http://ann:pw@b.example/"))
    invalid = Result.of(2, 4, '=HYPERLINK("http://evil.example/")', Outcome.INVALID,
                     failure=Failure(Kind.INVALID_URL, "no scheme"))
    return [ok, failed, invalid]


def read(path: Path):
    book = openpyxl.load_workbook(path)
    return book, book.worksheets[0]


def column(name: str) -> int:
    return COLUMNS.index(name) + 1


def test_header_types_frozen_row_and_filter(tmp_path):
    path = tmp_path / "out.xlsx"
    assert write_xlsx(path, sample_results(), Settings()) == 3
    book, sheet = read(path)
    assert [c.value for c in sheet[1]] == list(COLUMNS)
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == f"A1:{openpyxl.utils.get_column_letter(len(COLUMNS))}4"
    ok = {name: sheet.cell(2, column(name)).value for name in COLUMNS}
    assert ok["status"] == 200 and isinstance(ok["status"], int)
    assert ok["bytes"] == 1234 and isinstance(ok["bytes"], int)
    assert ok["elapsed_ms"] == pytest.approx(12.345) and isinstance(ok["elapsed_ms"], float)
    assert sheet.cell(2, column("elapsed_ms")).number_format == "0.0"
    assert ok["tls_ms"] is None and ok["dns_ms"] == 1.0
    assert ok["redirects"] == 1 and ok["line"] == 1 and ok["attempts"] == 1
    assert ok["title"] == 'Say "hi", then\\x0aleave'  # control characters escaped, as in the CSV
    assert ok["redirect_chain"] == "301 https://a.example/ -> 200 https://a.example/b"
    assert ok["outcome"] == "ok" and ok["error"] is None


def test_cells_are_masked_and_neutralised_as_in_the_csv(tmp_path):
    path = tmp_path / "out.xlsx"
    write_xlsx(path, sample_results(), Settings())
    _, sheet = read(path)
    failed = {name: sheet.cell(3, column(name)).value for name in COLUMNS}
    assert failed["url"] == "http://ann:***@b.example/"
    assert failed["error"] == "Connection refused: http://ann:***@b.example/"
    formula = sheet.cell(4, column("url"))
    assert formula.data_type == "s"
    assert formula.value == "'=HYPERLINK(\"http://evil.example/\")"
    # Every text cell is what the CSV export writes for it.
    for row, result in enumerate(sample_results(), start=2):
        csv_cells = row_values(result, Settings())
        for index, name in enumerate(COLUMNS):
            value = sheet.cell(row, index + 1).value
            if isinstance(value, str):
                assert value == csv_cells[index], name


def test_raw_settings_keep_cells_as_they_are(tmp_path):
    path = tmp_path / "out.xlsx"
    write_xlsx(path, sample_results(), Settings(mask_passwords=False, csv_raw=True))
    _, sheet = read(path)
    assert sheet.cell(3, column("url")).value == "http://ann:pw@b.example/"
    assert sheet.cell(4, column("url")).value == '=HYPERLINK("http://evil.example/")'
    assert sheet.cell(4, column("url")).data_type == "s"  # text, never a formula


def test_a_run_read_from_the_store_exports(tmp_path, http_server):
    fetched = fetch_all([http_server.url("/ok"), http_server.url("/status/404")])
    with RunStore.open(tmp_path / "runs.sqlite3") as store:
        writer = store.start_run(source="pasted", settings=Settings())
        for result in fetched:
            writer.add(result)
        writer.close()
        writer.join(10)
        path = tmp_path / "run.xlsx"
        assert write_xlsx(path, store.results(writer.run_id), Settings()) == 2
    _, sheet = read(path)
    assert [sheet.cell(r, column("status")).value for r in (2, 3)] == [200, 404]
    assert sheet.cell(2, column("title")).value == "OK"
    assert sheet.cell(3, column("error_kind")).value == "http_4xx"


def test_a_run_longer_than_a_sheet_goes_on_in_another(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx, "MAX_ROWS_PER_SHEET", 2)
    results = [Result.of(i, i + 1, f"http://c.example/{i}", Outcome.OK, status=200)
               for i in range(5)]
    path = tmp_path / "long.xlsx"
    assert write_xlsx(path, results, Settings()) == 5
    book = openpyxl.load_workbook(path)
    assert book.sheetnames == ["results", "results (2)", "results (3)"]
    urls = [[row[0] for row in sheet.iter_rows(min_row=2, values_only=True)]
            for sheet in book.worksheets]
    assert urls == [["http://c.example/0", "http://c.example/1"],
                    ["http://c.example/2", "http://c.example/3"], ["http://c.example/4"]]
    assert all(sheet.freeze_panes == "A2" for sheet in book.worksheets)
    assert book.worksheets[2].auto_filter.ref.endswith("2")


def test_no_rows_still_makes_a_valid_file_and_a_failed_export_leaves_nothing(tmp_path):
    path = tmp_path / "empty.xlsx"
    assert write_xlsx(path, [], Settings()) == 0
    _, sheet = read(path)
    assert [c.value for c in sheet[1]] == list(COLUMNS)

    def broken():
        yield sample_results()[0]
        raise OSError("the source went away")

    target = tmp_path / "broken.xlsx"
    with pytest.raises(OSError):
        write_xlsx(target, broken(), Settings())
    assert list(tmp_path.iterdir()) == [path]
