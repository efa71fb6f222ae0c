"""Lists the way users have them: text in any encoding, CSV/TSV exports, spreadsheets and
sitemap files, each written by a real writer, read into rows; bad input is named, never guessed.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import os
import random
import re
import tracemalloc
import zipfile
from pathlib import Path

import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.core.sources import (
    MAX_LINE_CHARS,
    ColumnNotFound,
    SourceError,
    TableColumns,
    find_duplicates,
    parse_bytes,
    parse_text,
    preview_table,
    read_source,
    row_text,
    split_lines,
    too_long_message,
)

BINARY = "this looks like a binary file, not a list of URLs"


def write_csv(path: Path, rows: list[list[object]], *, encoding: str = "utf-8",
              delimiter: str = ",", lineterminator: str = "\r\n") -> Path:
    with path.open("w", newline="", encoding=encoding) as out:
        csv.writer(out, delimiter=delimiter, lineterminator=lineterminator).writerows(rows)
    return path


# --- text -------------------------------------------------------------------------------------


def test_a_text_list_keeps_each_url_line_with_its_number(tmp_path):
    path = tmp_path / "list.txt"
    path.write_bytes(b"\xef\xbb\xbf# my list\r\nhttps://a.example/\r\n\r\n  http://b.example/x  \n")
    imported = read_source(path)
    assert (imported.kind, imported.encoding) == ("text", "utf-8")
    assert imported.texts == ["https://a.example/", "http://b.example/x"]
    assert list(imported.lines) == [2, 4]
    assert imported.notices == ()
    assert imported.extra is imported.expected is imported.expected_status is None


@pytest.mark.parametrize(("line", "url"), [
    ('"https://a.example/x"', "https://a.example/x"),
    ("'https://a.example/x'", "https://a.example/x"),
    ("\u201chttps://a.example/x\u201d", "https://a.example/x"),
    ("<https://a.example/x>", "https://a.example/x"),
    ("<loc>https://a.example/x?a=1&amp;b=2</loc>", "https://a.example/x?a=1&b=2"),
    ("  <url><loc> https://a.example/x </loc><lastmod>2024</lastmod></url>",
     "https://a.example/x"),
    ("<image:loc>https://a.example/i.png</image:loc>", "https://a.example/i.png"),
    ("<loc><![CDATA[https://a.example/x]]></loc>", "https://a.example/x"),
    ('<a href="https://a.example/x">A</a>', "https://a.example/x"),
    ("<DT><A HREF='https://a.example/x' ADD_DATE=\"1\">A</A>", "https://a.example/x"),
    ("<a class=x href = https://a.example/x>A</a>", "https://a.example/x"),
    ("<url>", "<url>"),  # markup without a URL stays, to be rejected with a reason
    ('"', '"'),
    ("https://a.example/?q=<b>", "https://a.example/?q=<b>"),
])
def test_a_url_in_quotes_or_markup_is_taken_as_the_url_it_contains(line, url):
    assert row_text(line) == url
    assert parse_text(f"{line}\n").texts == [url]


def test_only_lf_and_crlf_end_a_line(tmp_path):
    odd = ["\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029", "\r"]
    lines = [f"https://a.example/{i}{sep}https://b.example/{i}" for i, sep in enumerate(odd)]
    text = "\r\n".join(lines) + "\nhttps://last.example/\n"
    imported = parse_bytes(text.encode("utf-8"), "odd.txt")
    assert len(imported) == len(odd) + 1
    assert list(imported.lines) == list(range(1, len(odd) + 2))
    assert imported.texts[-1] == "https://last.example/"
    assert all(sep in row for sep, row in zip(odd, imported.texts, strict=False))
    assert len(text.splitlines()) > len(imported)  # what str.splitlines would have made


@pytest.mark.parametrize(("text", "lines"), [
    ("", []),
    ("\n", [(1, "")]),
    ("a", [(1, "a")]),
    ("a\n", [(1, "a")]),
    ("a\r\n\r\nb", [(1, "a"), (2, ""), (3, "b")]),
    ("a\r", [(1, "a\r")]),
    ("a\rb\r\n", [(1, "a\rb")]),
])
def test_split_lines(text, lines):
    assert list(split_lines(text)) == lines


def test_a_50_mb_line_is_one_invalid_row_and_costs_no_copy():
    huge = 50 * 1024 * 1024
    data = b"https://good.example/\n" + b"x" * huge + b"\r\nhttps://next.example/\n"
    tracemalloc.start()
    try:
        imported = parse_bytes(data, "list.txt")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert imported.texts[0] == "https://good.example/"
    assert imported.texts[2] == "https://next.example/"
    assert list(imported.lines) == [1, 2, 3]
    assert too_long_message(imported.texts[1]) == (
        f"the line is {huge:,} characters long; the limit is 65,536")
    assert len(imported.texts[1]) < 40
    # The decoded text is the one copy: no slice of the line, no second pass over a copy.
    assert peak < huge * 1.3


def test_lines_just_under_and_over_the_limit():
    ok = "https://a.example/" + "a" * (MAX_LINE_CHARS - 18)
    over = ok + "b"
    imported = parse_text(f"{ok}\n{over}\r\n")
    assert imported.texts[0] == ok and too_long_message(ok) is None
    assert too_long_message(imported.texts[1]) is not None
    assert str(MAX_LINE_CHARS + 1) in imported.texts[1]


# --- encodings --------------------------------------------------------------------------------

URLS = "https://a.example/\nhttps://b.example/caf\u00e9\n"


@pytest.mark.parametrize(("data", "encoding", "notice"), [
    (codecs.BOM_UTF16_LE + URLS.encode("utf-16-le"), "utf-16-le", "UTF-16 (the file starts"),
    (codecs.BOM_UTF16_BE + URLS.encode("utf-16-be"), "utf-16-be", "UTF-16 (the file starts"),
    (URLS.encode("utf-16-le"), "utf-16-le", "UTF-16 (no byte order mark"),
    (URLS.encode("utf-16-be"), "utf-16-be", "UTF-16 (no byte order mark"),
    (codecs.BOM_UTF32_LE + URLS.encode("utf-32-le"), "utf-32-le", "UTF-32"),
    (URLS.encode("cp1252"), "cp1252", "decoded as Windows-1252"),
])
def test_an_encoding_other_than_utf8_is_detected_and_said(tmp_path, data, encoding, notice):
    path = tmp_path / "list.txt"
    path.write_bytes(data)
    imported = read_source(path)
    assert imported.texts == ["https://a.example/", "https://b.example/caf\u00e9"]
    assert imported.encoding == encoding
    assert any(notice in n for n in imported.notices), imported.notices


def test_invalid_utf8_is_replaced_and_its_lines_named(tmp_path):
    path = tmp_path / "list.txt"
    lines = [b"https://ok.example/caf\xc3\xa9", b"https://a.example/\xff", b"# \xfe comment",
             b"", b"https://b.example/\xc3", b"https://c.example/"]
    path.write_bytes(b"\n".join(lines))
    imported = read_source(path)
    assert imported.encoding == "utf-8"
    assert imported.texts == ["https://ok.example/caf\u00e9", "https://a.example/\ufffd",
                              "https://b.example/\ufffd", "https://c.example/"]
    assert imported.notices == ("invalid UTF-8 on lines 2, 3 and 5 (replaced with \ufffd)",)


def test_many_invalid_lines_are_counted_and_the_first_named():
    data = b"".join(b"https://a.example/%d\xff\n" % i for i in range(40))
    imported = parse_bytes(data + "https://b.example/\u00e9\n".encode(), "list.txt")
    assert imported.notices == ("invalid UTF-8 on 40 lines (1, 2, 3, 4, 5, ...) "
                                "(replaced with \ufffd)",)


@pytest.mark.parametrize("data", [
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01",
    random.Random(7).randbytes(4096),
    b"https://a.example/\n\x00\x01\x02\x03",
    b"\x01\x02\x03\x04\x05\x06\x07\x08\x0e\x0f\x10\x11",
])
def test_a_binary_file_is_refused(data):
    with pytest.raises(SourceError, match="^" + re.escape(BINARY) + "$"):
        parse_bytes(data, "list.txt")


@pytest.mark.parametrize("data", [b"", codecs.BOM_UTF8, codecs.BOM_UTF16_LE])
def test_an_empty_file_says_so(tmp_path, data):
    path = tmp_path / "empty.txt"
    path.write_bytes(data)
    with pytest.raises(SourceError, match="^the file is empty$"):
        read_source(path)


def test_a_file_of_blank_lines_and_comments_has_no_rows_and_says_so():
    imported = parse_bytes(b"\n  \n# nothing here\n", "list.txt")
    assert len(imported) == 0
    assert imported.notices == ("no URLs: the text holds only blank lines and comments",)


def test_a_missing_file_or_a_folder_is_a_source_error(tmp_path):
    with pytest.raises(SourceError, match="cannot read nothing.txt"):
        read_source(tmp_path / "nothing.txt")
    with pytest.raises(SourceError, match="is a folder"):
        read_source(tmp_path)


# --- compressed files ---------------------------------------------------------------------------


def test_a_gzipped_list_is_read(tmp_path):
    path = tmp_path / "list.txt.gz"
    with gzip.open(path, "wb") as out:
        out.write(b"https://a.example/\nhttps://b.example/\n")
    assert read_source(path).texts == ["https://a.example/", "https://b.example/"]


def test_a_gzip_that_inflates_past_the_cap_is_refused():
    bomb = gzip.compress(b"\0" * (64 * 1024 * 1024), compresslevel=9)
    assert len(bomb) < 100_000
    with pytest.raises(SourceError, match="inflates to more than 8 MiB"):
        parse_bytes(bomb, "bomb.txt.gz", max_inflated=8 * 1024 * 1024)


def test_a_cut_short_gzip_is_refused():
    data = gzip.compress(b"https://a.example/\n" * 1000)
    with pytest.raises(SourceError, match="cut short"):
        parse_bytes(data[: len(data) // 2], "list.txt.gz")


def test_a_zip_that_is_not_a_spreadsheet_is_refused():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("urls.txt", "https://a.example/\n")
    with pytest.raises(SourceError, match="ZIP archive"):
        parse_bytes(buffer.getvalue(), "urls.zip")


# --- CSV and TSV --------------------------------------------------------------------------------

SCREAMING_FROG = [
    ["Address", "Content Type", "Status Code", "Status", "Indexability", "Indexability Status",
     "Title 1", "Redirect URL", "Redirect Type"],
    ["https://www.example.com/", "text/html; charset=utf-8", 200, "OK", "Indexable", "",
     "Home, sweet home", "", ""],
    ["https://www.example.com/old", "text/html", 301, "Moved Permanently", "Non-Indexable",
     "Redirected", "", "https://www.example.com/new", "HTTP Redirect"],
    ["https://www.example.com/a b", "text/html", 404, "Not Found", "Non-Indexable",
     "Client Error", 'He said "hi"\non two lines', "", ""],
]


def test_a_screaming_frog_export_reads_its_address_column(tmp_path):
    path = write_csv(tmp_path / "internal_all.csv", SCREAMING_FROG)
    imported = read_source(path)
    assert imported.kind == "csv"
    assert imported.texts == ["https://www.example.com/", "https://www.example.com/old",
                              "https://www.example.com/a b"]
    assert list(imported.lines) == [2, 3, 4]
    # Status Code and Redirect URL are what the crawl saw, not expectations: kept as columns.
    assert imported.expected is None and imported.expected_status is None
    assert imported.columns == tuple(SCREAMING_FROG[0][1:])
    assert imported.extra is not None
    assert imported.extra[2][imported.columns.index("Title 1")] == 'He said "hi"\non two lines'
    assert imported.extra[1][imported.columns.index("Status Code")] == "301"
    assert "columns: URLs from 'Address' (by its header)" in imported.notices


def test_an_old_screaming_frog_export_with_a_title_row_above_the_header(tmp_path):
    path = write_csv(tmp_path / "internal_html.csv", [["Internal - HTML"], *SCREAMING_FROG])
    imported = read_source(path)
    assert len(imported) == 3 and list(imported.lines) == [3, 4, 5]
    assert any("above the header row: 'Internal - HTML'" in n for n in imported.notices)


def test_a_search_console_export_reads_top_pages(tmp_path):
    path = write_csv(tmp_path / "Pages.csv", [
        ["Top pages", "Clicks", "Impressions", "CTR", "Position"],
        ["https://www.example.com/", 1204, 40112, "3%", 4.2],
        ["https://www.example.com/blog/", 37, 900, "4.1%", 9.8],
    ], encoding="utf-8-sig")
    imported = read_source(path)
    assert imported.texts == ["https://www.example.com/", "https://www.example.com/blog/"]
    assert imported.columns == ("Clicks", "Impressions", "CTR", "Position")
    assert imported.extra == [("1204", "40112", "3%", "4.2"), ("37", "900", "4.1%", "9.8")]


def test_a_semicolon_redirect_map_with_bom_and_crlf(tmp_path):
    path = write_csv(tmp_path / "map.csv", [
        ["Old URL", "New URL", "Type", "Owner"],
        ["https://old.example/a", "https://new.example/a", "301", "Zoë"],
        ["https://old.example/b", "/b", "302 Found", ""],
        ["https://old.example/c", "", "", "x;y"],
        ["", "", "", "a note with no URL"],
        ["https://old.example/d", "https://new.example/d", "perm", ""],
    ], encoding="utf-8-sig", delimiter=";")
    assert path.read_bytes().startswith(codecs.BOM_UTF8) and b"\r\n" in path.read_bytes()
    imported = read_source(path)
    assert imported.texts == ["https://old.example/a", "https://old.example/b",
                              "https://old.example/c", "https://old.example/d"]
    assert imported.expected == ["https://new.example/a", "/b", None, "https://new.example/d"]
    assert imported.expected_status == [301, 302, None, None]
    assert imported.columns == ("Owner",)
    assert imported.extra == [("Zoë",), ("",), ("x;y",), ("",)]
    assert list(imported.lines) == [2, 3, 4, 6]
    assert ("columns: URLs from 'Old URL' (by its header); expected targets from 'New URL' "
            "(by its header); expected statuses from 'Type'") in imported.notices
    assert "row 5 has no URL in 'Old URL'; skipped" in imported.notices
    assert any(n.startswith("row 6 has an expected status that is not a status code")
               for n in imported.notices)


def test_a_crawlers_type_column_of_words_is_not_an_expected_status(tmp_path):
    path = write_csv(tmp_path / "redirects.csv", [
        ["Address", "Type", "Destination"],
        ["https://a.example/", "HTTP Redirect", "https://b.example/"],
    ])
    imported = read_source(path)
    assert imported.expected_status is None
    assert imported.expected == ["https://b.example/"]
    assert imported.columns == ("Type",)


def test_a_tsv_with_quoted_newlines(tmp_path):
    path = write_csv(tmp_path / "list.tsv", [
        ["url", "note"], ["https://a.example/", "first\nsecond"], ["https://b.example/", "x"],
    ], delimiter="\t", lineterminator="\n")
    imported = read_source(path)
    assert imported.texts == ["https://a.example/", "https://b.example/"]
    assert imported.extra == [("first\nsecond",), ("x",)]
    assert list(imported.lines) == [2, 3]  # rows as a spreadsheet counts them


def test_a_headerless_csv_finds_the_url_column_by_content_and_a_second_as_expected(tmp_path):
    path = write_csv(tmp_path / "map.csv", [
        ["1", "https://old.example/a", "https://new.example/a"],
        ["2", "https://old.example/b", "https://new.example/b"],
    ])
    imported = read_source(path)
    assert imported.texts == ["https://old.example/a", "https://old.example/b"]
    assert imported.expected == ["https://new.example/a", "https://new.example/b"]
    assert imported.columns == ("column 1",)
    assert any("a second column of URLs, with no header row" in n for n in imported.notices)


def test_a_headerless_one_column_csv_is_a_list(tmp_path):
    path = write_csv(tmp_path / "list.csv", [["https://a.example/"], ["not a url"]])
    imported = read_source(path)
    assert imported.texts == ["https://a.example/", "not a url"]
    assert imported.columns == () and imported.extra is None


def test_a_table_without_a_url_column_offers_a_preview_and_a_choice(tmp_path):
    rows = [["Name", "Where"], *([f"page {i}", f"https://a.example/{i}?x"] for i in range(30))]
    rows[1][1] = "not yet"
    for row in rows[2:]:
        row[1] = "see " + row[1]
    path = write_csv(tmp_path / "pages.csv", rows)
    with pytest.raises(ColumnNotFound) as caught:
        read_source(path)
    preview = caught.value.preview
    assert preview.header == ("Name", "Where") and preview.has_header
    assert preview.columns is None and len(preview.rows) == 20
    assert preview.rows[0] == ("page 0", "not yet")
    assert preview_table(path.read_bytes(), path.name) == preview
    chosen = read_source(path, url_column="where")
    assert chosen.texts[:2] == ["not yet", "see https://a.example/1?x"]
    assert chosen.columns == ("Name",)
    by_index = read_source(path, columns=TableColumns(url=1, expected=0))
    assert by_index.expected is not None and by_index.expected[0] == "page 0"
    with pytest.raises(SourceError, match="no column named 'nope'"):
        read_source(path, url_column="nope")


def test_a_table_copied_from_a_spreadsheet_is_pasted_as_a_table():
    imported = parse_text("Address\tStatus Code\nhttps://a.example/\t200\n")
    assert (imported.kind, imported.texts, imported.columns) == (
        "csv", ["https://a.example/"], ("Status Code",))
    tab_only = parse_text("https://a.example/\t301\nhttps://b.example/\t302\n")
    assert tab_only.texts == ["https://a.example/", "https://b.example/"]
    # Commas and semicolons belong to URLs: a plain list is never split on them.
    plain = parse_text("https://a.example/x,y\nhttps://b.example/p;q=1\n")
    assert plain.kind == "text" and plain.texts == ["https://a.example/x,y",
                                                    "https://b.example/p;q=1"]


def test_a_table_with_an_overlong_line_is_refused_by_line_number():
    text = "url\nhttps://a.example/\n" + "x" * (MAX_LINE_CHARS + 1) + "\n"
    with pytest.raises(SourceError, match="line 3 of this table is longer than 65,536"):
        parse_text(text, "list.csv")


# --- spreadsheets -------------------------------------------------------------------------------


def test_an_xlsx_redirect_map_with_typed_cells(tmp_path):
    book = openpyxl.Workbook()
    notes = book.active
    notes.title = "Read me"
    notes.sheet_state = "hidden"
    sheet = book.create_sheet("Redirects")
    sheet.append(["Source", "Destination", "Redirect type", "Launched"])
    sheet.append(["https://old.example/a", "https://new.example/a", 301, True])
    sheet.append([None, None, None, None])
    sheet.append(["https://old.example/b", "/b", 302.0, 1.5])
    book.create_sheet("Other").append(["url"])
    path = tmp_path / "map.xlsx"
    book.save(path)
    imported = read_source(path)
    assert imported.kind == "xlsx"
    assert imported.texts == ["https://old.example/a", "https://old.example/b"]
    assert list(imported.lines) == [2, 4]
    assert imported.expected == ["https://new.example/a", "/b"]
    assert imported.expected_status == [301, 302]
    assert imported.extra == [("TRUE",), ("1.5",)]
    assert imported.table is not None and imported.table.sheet == "Redirects"
    assert imported.table.sheets == ("Read me", "Redirects", "Other")
    other = read_source(path, sheet="other")
    assert other.texts == [] and other.notices[-1].startswith("no URLs")
    with pytest.raises(SourceError, match="no sheet named 'Nope'"):
        read_source(path, sheet="Nope")


def test_an_ods_spreadsheet(tmp_path):
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table, TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    table = Table(name="Pages")
    for values in (["URL", "Clicks"], ["https://a.example/", 12], ["https://b.example/", 3]):
        row = TableRow()
        for value in values:
            if isinstance(value, int):
                cell = TableCell(valuetype="float", value=str(value))
            else:
                cell = TableCell(valuetype="string")
            cell.addElement(P(text=str(value)))
            row.addElement(cell)
        table.addElement(row)
    doc.spreadsheet.addElement(table)
    path = tmp_path / "pages.ods"
    doc.save(str(path))
    imported = read_source(path)
    assert imported.kind == "ods"
    assert imported.texts == ["https://a.example/", "https://b.example/"]
    assert imported.extra == [("12",), ("3",)]


def test_a_damaged_spreadsheet_is_a_source_error(tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook>not really")
    with pytest.raises(SourceError, match="cannot read this Excel file"):
        parse_bytes(buffer.getvalue(), "broken.xlsx")


# --- sitemap files --------------------------------------------------------------------------------

URLSET = b"""<?xml version="1.0" encoding="UTF-8"?>
<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"
        xmlns:image="http://www.google.com/schemas/sitemap-image/1.1">
  <url>
    <loc>https://www.example.com/?a=1&amp;b=2</loc>
    <lastmod>2024-05-01</lastmod>
    <image:image><image:loc>https://www.example.com/logo.png</image:loc></image:image>
  </url>
  <url><lastmod>2024-06-01</lastmod><loc>
     https://www.example.com/caf\xc3\xa9
  </loc></url>
  <url><loc></loc></url>
</urlset>
"""


@pytest.mark.parametrize("name", ["sitemap.xml", "sitemap.xml.gz", "sitemap.txt"])
def test_a_sitemap_file_lists_its_pages(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(URLSET) if name.endswith(".gz") else URLSET)
    imported = read_source(path)
    assert imported.kind == "sitemap"
    assert imported.texts == ["https://www.example.com/?a=1&b=2",
                              "https://www.example.com/caf\u00e9"]
    assert list(imported.lines) == [5, 9]  # where each <loc> starts
    assert imported.columns == ("lastmod",)
    assert imported.extra == [("2024-05-01",), ("2024-06-01",)]
    assert imported.notices == ("1 empty <loc> element skipped (line 12)",)


def test_a_sitemap_in_utf16_and_a_pasted_sitemap():
    text = URLSET.decode("utf-8").replace('encoding="UTF-8"', 'encoding="UTF-16"')
    assert len(parse_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))) == 2
    assert len(parse_text(text)) == 2


def test_a_sitemap_index_file_lists_its_sitemaps():
    index = (b'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             b"<sitemap><loc>https://a.example/1.xml.gz</loc></sitemap>\n"
             b"<sitemap><loc>https://a.example/2.xml</loc></sitemap></sitemapindex>")
    imported = parse_bytes(index, "index.xml")
    assert imported.kind == "sitemap_index"
    assert imported.texts == ["https://a.example/1.xml.gz", "https://a.example/2.xml"]
    assert "a sitemap index of 2 sitemaps" in imported.notices[-1]


def test_a_billion_laughs_sitemap_is_refused_not_expanded():
    entities = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    bomb = (f'<?xml version="1.0"?>\n<!DOCTYPE urlset [<!ENTITY lol0 "lol">{entities}]>\n'
            "<urlset><url><loc>&lol9;</loc></url></urlset>").encode()
    tracemalloc.start()
    try:
        with pytest.raises(SourceError, match="declares a document type"):
            parse_bytes(bomb, "sitemap.xml")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 10 * 1024 * 1024


def test_an_external_entity_is_never_read(tmp_path):
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    xxe = (f'<?xml version="1.0"?><!DOCTYPE urlset [<!ENTITY x SYSTEM "file://{secret}">]>'
           "<urlset><url><loc>https://a.example/&x;</loc></url></urlset>").encode()
    with pytest.raises(SourceError) as caught:
        parse_bytes(xxe, "sitemap.xml")
    assert "TOP-SECRET" not in str(caught.value)
    parameter = (f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY % p SYSTEM "file://{secret}">'
                 "%p;]><urlset/>").encode()
    with pytest.raises(SourceError, match="document type"):
        parse_bytes(parameter, "sitemap.xml")


@pytest.mark.parametrize(("data", "words"), [
    (b'<?xml version="1.0"?><opml version="2.0"><body/></opml>', "root element is <opml>"),
    (b"<feed><entry><link href='https://a.example/'/></entry></feed>",  # not Atom's namespace
     "not a sitemap or a feed: its root element is <feed>"),
    (b"<urlset><url><loc>https://a.example/</url></urlset>", "not well-formed XML (line 1)"),
    (b"<urlset><url><loc>&nbsp;</loc></url></urlset>", "not well-formed XML"),
])
def test_xml_that_is_not_a_sitemap_is_refused(data, words):
    with pytest.raises(SourceError, match=re.escape(words)):
        parse_bytes(data, "feed.xml")


RSS = b"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom">
  <channel>
    <title>News</title>
    <link>https://news.example/</link>
    <atom:link href="https://news.example/feed.xml" rel="self"/>
    <item>
      <title>First</title>
      <link>https://news.example/first</link>
    </item>
    <item><title>No link, only a guid</title><guid>tag:1</guid></item>
    <item>
      <link>
        https://news.example/second?x=1&amp;y=2
      </link>
    </item>
  </channel>
</rss>
"""

ATOM = b"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom">
  <title>Blog</title>
  <link href="https://blog.example/"/>
  <link rel="self" href="https://blog.example/atom.xml"/>
  <entry>
    <title>One</title>
    <link rel="enclosure" href="https://cdn.example/one.mp3"/>
    <link rel="alternate" type="text/html" href="https://blog.example/one"/>
    <updated>2026-11-30T10:00:00Z</updated>
  </entry>
  <entry>
    <link href="https://blog.example/two"/>
    <link href="https://blog.example/two-again"/>
  </entry>
</feed>
"""


def test_an_rss_feed_is_read_as_the_links_of_its_items():
    imported = parse_bytes(RSS, "feed.xml")
    assert imported.texts == ["https://news.example/first",
                              "https://news.example/second?x=1&y=2"]
    assert list(imported.lines) == [9, 13]
    assert imported.notices == ("1 <item> without a <link> skipped (line 11)",)


def test_an_atom_feed_is_read_as_each_entrys_own_page():
    imported = parse_bytes(ATOM, "atom.xml")
    assert imported.texts == ["https://blog.example/one", "https://blog.example/two"]
    assert list(imported.lines) == [9, 13]


BOOKMARKS = b"""<!DOCTYPE NETSCAPE-Bookmark-file-1>
<!-- This is an automatically generated file. -->
<META HTTP-EQUIV="Content-Type" CONTENT="text/html; charset=UTF-8">
<TITLE>Bookmarks</TITLE>
<DL><p>
    <DT><A HREF="https://a.example/" ADD_DATE="1">A</A>
    <DT><H3>Folder</H3>
    <DL><p>
        <DT><A HREF="https://b.example/x?a=1&amp;b=2">B</A>
    </DL><p>
</DL><p>
"""


def test_a_bookmarks_file_gives_the_link_on_each_line_that_holds_one(tmp_path):
    path = tmp_path / "bookmarks.html"
    path.write_bytes(BOOKMARKS)
    imported = read_source(path)
    assert imported.kind == "html"
    assert imported.texts == ["https://a.example/", "https://b.example/x?a=1&b=2"]
    assert list(imported.lines) == [6, 9]
    assert imported.notices == ("an HTML file: read 2 links, one from each line that holds "
                                "one; its other lines are skipped",)


def test_a_sitemap_after_a_comment_is_still_a_sitemap():
    data = b"<!-- made by hand -->\n<urlset><url><loc>https://a.example/</loc></url></urlset>"
    assert parse_bytes(data).kind == "sitemap"
    assert parse_bytes(b"<!-- urls -->\nhttps://a.example/\n").texts == [
        "<!-- urls -->", "https://a.example/"]


# --- duplicates -------------------------------------------------------------------------------


def test_duplicates_point_at_the_first_row_with_the_same_url():
    texts = ["https://a.example/x", "HTTPS://A.example:443/x", "https://a.example/x/",
             "https://a.example/x#part", "not a url", "not a url", "http://b.example",
             "http://b.example/", "https://a.example/x?q=1"]
    assert list(find_duplicates(texts)) == [-1, 0, -1, 0, -1, -1, -1, 6, -1]


# --- fuzz -------------------------------------------------------------------------------------


def _expected_rows(data: bytes, encoding: str) -> int:
    """Rows by the rule, counted independently: non-blank, non-comment LF/CRLF lines."""
    for bom in (codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE, codecs.BOM_UTF8,
                codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        if data.startswith(bom) and (bom != codecs.BOM_UTF16_LE or encoding == "utf-16-le"):
            data = data[len(bom):]
            break
    text = data.decode(encoding, "replace")
    count = 0
    for line in re.split(r"\r?\n", text.removesuffix("\n").removesuffix("\r")
                         if text.endswith("\r\n") else text.removesuffix("\n")):
        stripped = line.strip().lstrip("\ufeff").strip()
        if len(line) > MAX_LINE_CHARS or (stripped and not stripped.startswith("#")):
            count += 1
    return count


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=600))
def test_random_bytes_give_rows_or_a_source_error_and_nothing_else(data):
    try:
        imported = parse_bytes(data, "list.txt")
    except SourceError:
        return
    assert len(imported.texts) == len(imported.lines)
    if imported.kind == "text":
        assert len(imported) == _expected_rows(data, imported.encoding)


_PIECES = st.sampled_from([
    "https://", "http://", "a.example", "/path", "?q=1", "#f", ":8080", "%zz", "\u00e9", " ",
    "\n", "\r\n", "\r", "\v", "\f", "\x1c", "\x85", "\u2028", "#", '"', "<loc>", "</loc>",
    "<a href=", "'", ",", ";", "\ufeff", "\x00", "\x01",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_PIECES, max_size=40).map("".join))
def test_a_list_of_url_pieces_has_one_row_per_lf_or_crlf_line(text):
    data = text.encode("utf-8")
    try:
        imported = parse_bytes(data, "list.txt")
    except SourceError:
        assert "\x00" in text or "\x01" in text or not data.strip(b"\xef\xbb\xbf")
        return
    assert imported.kind == "text"
    if "\x00" in text and imported.encoding.startswith("utf-16"):
        # NULs in every other byte and none between: read as UTF-16 without a byte order
        # mark, and said so (found by this test: b"\x00\xe2\x80\xa8\x00\n\x00 ").
        assert len(data) % 2 == 0 or len(data) >= 64
        assert any("UTF-16" in notice for notice in imported.notices)
    assert len(imported) == _expected_rows(data, imported.encoding)


def test_a_few_bytes_of_odd_length_are_not_utf16_but_a_long_list_a_byte_off_is():
    # Seven bytes, two of three even ones NUL: once read as UTF-16-BE (found by the test
    # above); UTF-16 is two bytes a unit. NULs: refused as binary.
    with pytest.raises(SourceError):
        parse_bytes("\x00\u2028\x00\n ".encode(), "list.txt")
    # A UTF-16 list without a byte order mark and a stray byte at its end still reads.
    data = "http://a.example/1\nhttp://a.example/2\nhttp://a.example/3\n".encode("utf-16-le")
    imported = parse_bytes(data + b"\n", "list.txt")
    assert imported.encoding == "utf-16-le"
    assert list(imported.texts)[:3] == [f"http://a.example/{n}" for n in (1, 2, 3)]


def test_the_fuzz_rule_is_the_rule_on_a_known_case():
    data = b"a\r\n\r\n# c\nb\rc\n  \n\xef\xbb\xbfd"
    assert _expected_rows(data, "utf-8") == 3 == len(parse_bytes(data, "x.txt"))


@pytest.mark.skipif(os.environ.get("FETCHDECK_BIG") is None, reason="measure by hand")
def test_find_duplicates_on_a_million_rows():  # pragma: no cover - a measurement aid
    texts = [f"https://host{i % 1000}.example/page/{i}" for i in range(1_000_000)]
    assert find_duplicates(texts).count(-1) == 1_000_000


def test_a_feed_opening_with_a_comment_is_still_read_as_a_feed():
    imported = parse_bytes(b"<!-- generated -->\n<rss version=\"2.0\"><channel><item>"
                           b"<link>https://a.example/1</link></item></channel></rss>", "feed")
    assert imported.kind == "sitemap" and imported.texts == ["https://a.example/1"]
