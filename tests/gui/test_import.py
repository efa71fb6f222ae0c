"""Import in the window, as a user does it: files written by real writers (the csv module,
openpyxl, gzip) read into the form, which says what it read; the column dialog when no column
holds URLs, and to change the columns of any table; pasted tables; repeated URLs."""

from __future__ import annotations

import asyncio
import codecs
import csv
import gzip

import openpyxl
import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFileDialog

from app.core.settings import Settings
from app.gui.import_dialog import ColumnDialog
from app.gui.main_window import MainWindow
from app.gui.url_form import IMPORT_FILTERS, UrlForm

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def form(qtbot, loop):
    widget = UrlForm()
    qtbot.addWidget(widget)
    widget.resize(420, 600)
    widget.show()
    return widget


@pytest.fixture
def window(qtbot, loop, monkeypatch, tmp_path):
    monkeypatch.setenv("FETCHDECK_CONFIG_DIR", str(tmp_path / "config"))
    w = MainWindow(Settings(retries=0, timeout=5), state_file=tmp_path / "window.json")
    qtbot.addWidget(w)
    w.show()
    return w


def load(qtbot, form, path, **kwargs):
    task = form.start_loading(path, **kwargs)
    qtbot.waitUntil(task.done, timeout=10_000)
    task.result()


def write_csv(path, rows, **kwargs):
    with open(path, "w", newline="", encoding=kwargs.pop("encoding", "utf-8")) as f:
        csv.writer(f, **kwargs).writerows(rows)
    return path


def screaming_frog(path, pages=20):
    """A crawler export: the URL in 'Address', the crawl's own status and redirect columns."""
    rows = [["Address", "Content Type", "Status Code", "Status", "Indexability",
             "Redirect URL", "Redirect Type"]]
    for i in range(pages):
        rows.append([f"https://shop.example/p/{i}", "text/html; charset=UTF-8", "200", "OK",
                     "Indexable", "", ""])
    rows.append(["https://shop.example/old", "", "301", "Moved Permanently", "Non-Indexable",
                 "https://shop.example/new", "HTTP Redirect"])
    return write_csv(path, rows)


def info(form):
    return form.big_label.text() if form.is_big_list else form.source_info.text()


# -- tables --------------------------------------------------------------------------------------


def test_a_crawler_export_is_read_by_its_address_column_and_says_so(form, qtbot, tmp_path):
    load(qtbot, form, screaming_frog(tmp_path / "internal_all.csv"))
    assert form.is_big_list
    targets = form.targets()
    assert len(targets) == 21 and targets.texts[0] == "https://shop.example/p/0"
    assert form.summary.text() == "21 URLs to fetch"
    text = info(form)
    assert "internal_all.csv" in text
    assert "A CSV table (comma-separated): 21 rows." in text
    assert "URLs from 'Address' (by its header)" in text
    # The crawl's observations are kept as columns, never taken for expectations.
    assert "'Redirect URL'" in text and "expected" not in text.split("Also kept")[0]
    assert targets.expected is None and targets.expected_status is None
    assert form.columns_button.isVisible()


def test_a_semicolon_csv_with_a_bom_says_how_it_was_split(form, qtbot, tmp_path):
    path = tmp_path / "export.csv"
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.writer(f, delimiter=";")
        writer.writerows([["Seite", "URL", "Klicks"], ["Start", "https://a.example/", "1.204"],
                          ["Über uns", "https://a.example/über", "37"]])
    load(qtbot, form, path)
    assert "A CSV table (semicolon-separated): 2 rows." in info(form)
    assert form.targets().texts == ["https://a.example/", "https://a.example/über"]
    assert form.targets().columns == ("Seite", "Klicks")


def test_an_xlsx_redirect_map_names_its_expected_columns(form, qtbot, tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = "Redirects"
    sheet.append(["old", "new", "type"])
    sheet.append(["https://old.example/a", "https://new.example/a", 301])
    sheet.append(["https://old.example/b", "/b", 308])
    book.create_sheet("Notes").append(["nothing here"])
    path = tmp_path / "map.xlsx"
    book.save(path)
    load(qtbot, form, path)
    text = info(form)
    assert "An Excel workbook, sheet 'Redirects': 2 rows." in text
    assert "expected targets from 'new' (by its header)" in text
    assert "expected statuses from 'type'" in text
    targets = form.targets()
    assert targets.expected == ["https://new.example/a", "/b"]
    assert targets.expected_status == [301, 308]


def test_a_table_with_no_url_column_asks_for_it_and_reads_the_one_chosen(form, qtbot, tmp_path):
    path = write_csv(tmp_path / "pages.csv", [["name", "where"], ["home", "a.example/"],
                                                 ["shop", "a.example/shop"]])
    with qtbot.waitSignal(form.columns_asked) as asked:
        task = form.start_loading(path)
    qtbot.waitUntil(task.done)
    dialog = asked.args[0]
    assert isinstance(dialog, ColumnDialog) and dialog.isVisible()
    assert "choose the column that holds the URLs" in form.summary.text()
    assert dialog.table.item(1, 1).text() == "a.example/shop"
    assert not dialog.ok_button.isEnabled()  # nothing chosen yet
    # A click on a column's title makes it the URL column.
    header = dialog.table.horizontalHeader()
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton,
                     pos=header.rect().topLeft() + _section_centre(header, 1))
    assert dialog.columns().url == 1 and dialog.ok_button.isEnabled()
    assert "look like URLs" in dialog.problem.text()  # said, not refused
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: form.is_big_list and not form.loading)
    assert form.targets().texts == ["a.example/", "a.example/shop"]
    assert form.targets().columns == ("name",)
    assert "2 lines will not be fetched" in form.summary.text()


def _section_centre(header, column):
    from PySide6.QtCore import QPoint

    return QPoint(header.sectionViewportPosition(column) + header.sectionSize(column) // 2,
                  header.height() // 2)


def test_columns_of_any_table_can_be_changed(form, qtbot, tmp_path):
    path = write_csv(tmp_path / "map.csv", [
        ["from", "to", "note", "wanted"],
        ["https://a.example/1", "https://b.example/1", "https://elsewhere.example/", "301"],
        ["https://a.example/2", "https://b.example/2", "https://elsewhere.example/", "302"],
    ])
    load(qtbot, form, path)
    assert form.targets().expected == ["https://b.example/1", "https://b.example/2"]
    assert form.targets().expected_status is None  # "wanted" names no status column
    with qtbot.waitSignal(form.columns_asked) as asked:
        qtbot.mouseClick(form.columns_button, Qt.MouseButton.LeftButton)
    dialog = asked.args[0]
    assert (dialog.url_choice.currentText(), dialog.expected_choice.currentText()) == (
        "from", "to")
    dialog.choose(0, expected=2, expected_status=3)
    header = dialog.table.horizontalHeaderItem(2).text()
    assert header == "note\nexpected target"
    dialog.choose(0, expected=0)
    assert not dialog.ok_button.isEnabled()
    assert dialog.problem.text() == "A column can hold only one of these."
    dialog.choose(0, expected=2, expected_status=3)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not form.loading and form.targets().expected_status is not None)
    targets = form.targets()
    assert targets.expected == ["https://elsewhere.example/"] * 2
    assert targets.expected_status == [301, 302]
    assert targets.columns == ("to",)


def test_the_column_dialog_reads_another_sheet_and_the_list_comes_from_it(form, qtbot, tmp_path):
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["Read me first"])
    book.active.append(["The map is on the next sheet."])
    sheet = book.create_sheet("Redirects")
    sheet.append(["Old", "New", "Type"])
    sheet.append(["https://a.example/1", "https://b.example/1", "301"])
    sheet.append(["https://a.example/2", "https://b.example/2", "301"])
    book.save(tmp_path / "book.xlsx")
    load(qtbot, form, tmp_path / "book.xlsx")
    assert "sheet 'Notes'" in info(form)
    with qtbot.waitSignal(form.columns_asked) as asked:
        form.choose_columns()
    dialog = asked.args[0]
    assert dialog.sheet_row.isVisibleTo(dialog)
    assert [dialog.sheet_choice.itemText(i) for i in range(dialog.sheet_choice.count())] == [
        "Notes", "Redirects"]
    assert dialog.sheet_choice.currentText() == "Notes"
    dialog.sheet_choice.setCurrentText("Redirects")
    qtbot.waitUntil(lambda: dialog.preview.sheet == "Redirects" and dialog.ok_button.isEnabled())
    assert dialog.table.item(0, 0).text() == "https://a.example/1"
    assert (dialog.url_choice.currentText(), dialog.expected_choice.currentText(),
            dialog.status_choice.currentText()) == ("Old", "New", "Type")
    assert dialog.columns().sheet == "Redirects"
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not form.loading and len(form.targets()) == 2)
    targets = form.targets()
    assert targets.texts == ["https://a.example/1", "https://a.example/2"]
    assert targets.expected_status == [301, 301]
    assert "sheet 'Redirects'" in info(form)


def test_a_single_sheet_workbook_offers_no_sheet_choice(form, qtbot, tmp_path):
    book = openpyxl.Workbook()
    book.active.append(["URL"])
    book.active.append(["https://a.example/"])
    book.save(tmp_path / "one.xlsx")
    load(qtbot, form, tmp_path / "one.xlsx")
    with qtbot.waitSignal(form.columns_asked) as asked:
        form.choose_columns()
    assert not asked.args[0].sheet_row.isVisibleTo(asked.args[0])


def test_cancel_in_the_column_dialog_keeps_the_list(form, qtbot, tmp_path):
    load(qtbot, form, screaming_frog(tmp_path / "crawl.csv", pages=2))
    with qtbot.waitSignal(form.columns_asked) as asked:
        form.choose_columns()
    dialog = asked.args[0]
    dialog.choose(1)
    dialog.reject()
    assert not form.loading and form.targets().texts[0] == "https://shop.example/p/0"


# -- text files ----------------------------------------------------------------------------------


def test_a_short_text_file_goes_to_the_editor_and_its_encoding_is_said(form, qtbot, tmp_path):
    path = tmp_path / "liste.txt"
    path.write_bytes("https://a.example/café\nhttps://b.example/\n".encode("cp1252"))
    load(qtbot, form, path)
    assert not form.is_big_list
    assert form.text() == "https://a.example/café\nhttps://b.example/\n"
    assert form.source_info.isVisible()
    assert form.source_info.text() == ("Read from liste.txt.\n"
                                       "Decoded as Windows-1252: the file is not UTF-8.")
    form.set_text("https://c.example/")  # something else: the file is no longer its source
    assert not form.source_info.isVisible()


def test_a_gzipped_text_file_goes_to_the_editor_as_text(form, qtbot, tmp_path):
    path = tmp_path / "urls.txt.gz"
    path.write_bytes(gzip.compress(b"https://a.example/\nhttps://b.example/\n"))
    load(qtbot, form, path)
    assert form.text() == "https://a.example/\nhttps://b.example/\n"
    assert form.summary.text() == "2 URLs to fetch"


def test_a_utf16_file_says_its_encoding(form, qtbot, tmp_path):
    path = tmp_path / "urls.txt"
    path.write_bytes(codecs.BOM_UTF16_LE + "https://a.example/\n".encode("utf-16-le"))
    load(qtbot, form, path)
    assert form.targets().texts == ["https://a.example/"]
    assert "UTF-16" in form.source_info.text()


def test_repeated_urls_are_counted_and_said_to_be_fetched_once(form, qtbot, tmp_path):
    rows = [["url"]] + [[f"https://a.example/{i % 4}"] for i in range(10)]
    load(qtbot, form, write_csv(tmp_path / "dupes.csv", rows))
    assert form.summary.text() == "10 URLs to fetch · 6 duplicates, fetched once"
    assert form.duplicates == 6
    form.set_settings(Settings(fetch_duplicates=True))
    assert form.summary.text() == "10 URLs to fetch"


def test_bad_files_are_named_in_the_notice_bar(window, qtbot, tmp_path):
    binary = tmp_path / "photo.txt"
    binary.write_bytes(bytes(range(256)) * 4)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    for path in (binary, empty):
        task = window.load_path(path)
        qtbot.waitUntil(task.done)
    notices = "\n".join(window.notices)
    assert "photo.txt: this looks like a binary file" in notices
    assert "empty.csv: the file is empty" in notices
    assert window.form.summary.text() == "Could not read empty.csv"


def test_the_import_dialog_offers_tables_spreadsheets_and_sitemaps(window, qtbot):
    window.import_action.trigger()
    dialog = window.form._dialog
    assert isinstance(dialog, QFileDialog) and dialog.isVisible()
    assert dialog.nameFilters() == IMPORT_FILTERS
    first = IMPORT_FILTERS[0]
    for pattern in ("*.csv", "*.tsv", "*.xlsx", "*.ods", "*.xml", "*.gz", "*.txt"):
        assert pattern in first
    assert dialog.fileMode() == QFileDialog.FileMode.ExistingFiles
    dialog.reject()


# -- pasted text ---------------------------------------------------------------------------------


def test_cells_pasted_from_a_spreadsheet_are_shown_as_a_table(form, qtbot):
    from PySide6.QtWidgets import QApplication

    QApplication.clipboard().setText(
        "Address\tStatus Code\nhttps://a.example/\t200\nhttps://a.example/x\t404\n")
    form.editor.setFocus()
    qtbot.keyClick(form.editor, Qt.Key.Key_V, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: form.source_info.isVisible(), timeout=3_000)
    text = form.source_info.text()
    assert text.startswith("The text is a table (tab-separated): 2 rows")
    assert "URLs from 'Address' (by its header)" in text
    assert "Also kept, and exported after Fetchdeck's own columns: 'Status Code'." in text
    assert form.targets().texts == ["https://a.example/", "https://a.example/x"]
    assert form.columns_button.isVisible()


def test_a_pasted_table_without_a_url_column_asks_instead_of_failing(form, qtbot):
    form.set_text("Name\tWhere\nhome\thttps://a.example/\nshop\tsee the shop\nblog\tsoon\n")
    assert len(form.targets()) == 0
    assert "no column holds URLs" in form.source_info.text()
    with qtbot.waitSignal(form.columns_asked) as asked:
        qtbot.mouseClick(form.columns_button, Qt.MouseButton.LeftButton)
    dialog = asked.args[0]
    dialog.choose(1)
    qtbot.mouseClick(dialog.ok_button, Qt.MouseButton.LeftButton)
    assert form.targets().texts == ["https://a.example/", "see the shop", "soon"]
    assert "1 URL to fetch" in form.summary.text()


def test_half_typed_xml_is_read_line_by_line_and_said(form, qtbot):
    form.set_text("<urlset><url><loc>https://a.example/\nhttps://b.example/\n")
    assert form.targets().texts == ["https://a.example/", "https://b.example/"]
    info = form.source_info.text()
    assert "not well-formed XML" in info and "it is read line by line" in info


def test_the_readme_redirect_map_imports_as_the_readme_says(form, qtbot, tmp_path):
    import re
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    example = re.search(r"```csv\n(.*?)```", readme, re.S)
    assert example is not None
    path = tmp_path / "redirects.csv"
    path.write_text(example[1], encoding="utf-8")
    load(qtbot, form, path)
    targets = form.targets()
    assert targets.expected == ["https://www.example.com/", "/shop/blue",
                                "https://www.example.com/about", None]
    assert targets.expected_status == [301, 301, 308, 410]
    assert "expected targets from 'new'" in form.big_label.text()


def _two_sheet_book(path):
    book = openpyxl.Workbook()
    book.active.title = "Notes"
    book.active.append(["Read me first"])
    sheet = book.create_sheet("Redirects")
    sheet.append(["Old", "New"])
    sheet.append(["https://a.example/1", "https://b.example/1"])
    book.save(path)
    return path


def test_a_sheet_that_cannot_be_read_leaves_the_dialog_on_the_sheet_shown(form, qtbot, tmp_path):
    path = _two_sheet_book(tmp_path / "book.xlsx")
    load(qtbot, form, path)
    with qtbot.waitSignal(form.columns_asked) as asked:
        form.choose_columns()
    dialog = asked.args[0]
    path.unlink()  # gone before the other sheet is read
    dialog.sheet_choice.setCurrentText("Redirects")
    qtbot.waitUntil(lambda: not dialog.reading and "cannot be read" in dialog.problem.text())
    assert dialog.sheet_choice.currentText() == "Notes" == dialog.preview.sheet
    assert "cannot read book.xlsx" in dialog.problem.text()
    assert dialog.ok_button.isEnabled() and dialog.columns().sheet == "Notes"


def test_choosing_back_the_sheet_shown_drops_the_read_under_way(qtbot, loop, tmp_path):
    from app.core.sources import preview_table

    data = _two_sheet_book(tmp_path / "book.xlsx").read_bytes()
    gate = asyncio.Event()
    asked: list[str] = []

    async def slow_loader(sheet):
        asked.append(sheet)
        await gate.wait()
        return preview_table(data, "book.xlsx", sheet=sheet)

    dialog = ColumnDialog(preview_table(data, "book.xlsx"), "book.xlsx", load_sheet=slow_loader)
    qtbot.addWidget(dialog)
    dialog.show()
    dialog.sheet_choice.setCurrentText("Redirects")
    qtbot.waitUntil(lambda: asked == ["Redirects"])
    assert dialog.reading and not dialog.ok_button.isEnabled()
    dialog.choose(0)  # a chooser changed while it reads: OK still waits
    assert not dialog.ok_button.isEnabled()
    dialog.sheet_choice.setCurrentText("Notes")
    assert not dialog.reading and dialog.ok_button.isEnabled()
    gate.set()
    with qtbot.waitSignal(dialog.chosen) as chosen:
        dialog.accept()
    assert chosen.args[0].sheet == "Notes" and dialog.preview.sheet == "Notes"
