"""Drag and drop onto the window, with real Qt drag events carrying real QMimeData, delivered to
the window as the platform delivers them (Qt finds the widget under the pointer): files on the
editor or the table become the list, text dropped outside the editor does too, and the editor
keeps inserting dropped text where it falls."""

from __future__ import annotations

import csv

import pytest
from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent, QImage
from PySide6.QtWidgets import QApplication, QWidget

from app.core.settings import Settings
from app.gui.main_window import MainWindow

pytestmark = pytest.mark.timeout(60)

ACTIONS = Qt.DropAction.CopyAction | Qt.DropAction.MoveAction | Qt.DropAction.LinkAction


@pytest.fixture
def window(qtbot, loop, monkeypatch, tmp_path):
    monkeypatch.setenv("FETCHDECK_CONFIG_DIR", str(tmp_path / "config"))
    w = MainWindow(Settings(retries=0, timeout=5), state_file=tmp_path / "window.json")
    qtbot.addWidget(w)
    w.resize(1200, 760)
    w.show()
    qtbot.waitExposed(w)
    return w


def files(*paths) -> QMimeData:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    return mime


def text(value: str) -> QMimeData:
    mime = QMimeData()
    mime.setText(value)
    return mime


def drag_and_drop(widget: QWidget, mime: QMimeData, at: QPoint | None = None) -> bool:
    """Drag ``mime`` over ``widget`` and drop it there, as the platform does: the events go to
    the top-level window, which hands them to the widget under the pointer that takes drops.
    Returns whether the drop was accepted (False also when the drag was refused on entry)."""
    top = widget.window()
    pos = widget.mapTo(top, at if at is not None else widget.rect().center())
    handle = top.windowHandle()
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos, ACTIONS, mime, buttons, modifiers)
    QApplication.sendEvent(handle, enter)
    if not enter.isAccepted():
        return False
    move = QDragMoveEvent(pos, ACTIONS, mime, buttons, modifiers)
    QApplication.sendEvent(handle, move)
    if not move.isAccepted():
        return False
    drop = QDropEvent(QPointF(pos), ACTIONS, mime, buttons, modifiers)
    QApplication.sendEvent(handle, drop)
    return drop.isAccepted()


def settled(qtbot, window):
    qtbot.waitUntil(lambda: not window.form.loading, timeout=10_000)


def write_csv(path, rows):
    with open(path, "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows(rows)
    return path


def test_a_file_dropped_on_the_editor_is_imported(window, qtbot, tmp_path):
    path = write_csv(tmp_path / "crawl.csv", [["Address", "Status Code"],
                                              ["https://a.example/", "200"],
                                              ["https://a.example/x", "404"]])
    window.form.set_text("https://typed.example/\n")
    assert drag_and_drop(window.form.editor.viewport(), files(path))
    settled(qtbot, window)
    assert window.form.is_big_list and window.form.source_paths == (str(path),)
    assert window.form.targets().texts == ["https://a.example/", "https://a.example/x"]
    assert "URLs from 'Address'" in window.form.big_label.text()


def test_several_files_dropped_on_the_table_become_one_list(window, qtbot, tmp_path):
    plain = tmp_path / "a.txt"
    plain.write_text("https://a.example/1\nhttps://a.example/2\n", encoding="utf-8")
    table = write_csv(tmp_path / "b.csv", [["url", "owner"], ["https://b.example/1", "ann"],
                                           ["https://a.example/1", "bob"]])
    assert drag_and_drop(window.table.viewport(), files(plain, table))
    settled(qtbot, window)
    form = window.form
    assert form.targets().texts == ["https://a.example/1", "https://a.example/2",
                                    "https://b.example/1", "https://a.example/1"]
    assert form.targets().columns == ("owner",)
    assert form.source_paths == (str(plain), str(table))
    label = form.big_label.text()
    assert label.startswith("2 files\n")
    assert "a.txt: a list of URLs, one per line: 2 lines" in label
    assert "b.csv: a CSV table (comma-separated): 2 rows" in label
    assert form.summary.text() == "4 URLs to fetch · 1 duplicate, fetched once"


def test_an_unreadable_file_among_several_is_named_and_the_rest_imported(window, qtbot,
                                                                         tmp_path):
    good = tmp_path / "good.txt"
    good.write_text("https://a.example/\n", encoding="utf-8")
    empty = tmp_path / "empty.txt"
    empty.write_bytes(b"")
    assert drag_and_drop(window.form, files(good, empty))
    settled(qtbot, window)
    assert window.form.targets().texts == ["https://a.example/"]
    assert "empty.txt: the file is empty" in "\n".join(window.notices)


def test_text_dropped_on_the_table_becomes_the_list_one_undo_away(window, qtbot):
    window.form.set_text("https://typed.example/\n")
    assert drag_and_drop(window.table.viewport(), text("https://x.example/\nhttps://y.example/"))
    assert window.form.targets().texts == ["https://x.example/", "https://y.example/"]
    window.form.editor.setFocus()
    qtbot.keyClick(window.form.editor, Qt.Key.Key_Z, Qt.KeyboardModifier.ControlModifier)
    assert window.form.targets().texts == ["https://typed.example/"]


def test_a_link_dragged_from_a_browser_onto_the_table_becomes_the_list(window, qtbot):
    mime = QMimeData()
    mime.setUrls([QUrl("https://dragged.example/page")])
    assert drag_and_drop(window.table.viewport(), mime)
    assert window.form.targets().texts == ["https://dragged.example/page"]


def test_text_dropped_in_the_editor_is_inserted_where_it_falls(window, qtbot):
    window.form.set_text("https://typed.example/\n")
    editor = window.form.editor
    below_the_text = QPoint(4, editor.viewport().height() - 4)
    assert drag_and_drop(editor.viewport(), text("https://dropped.example/\n"),
                         at=below_the_text)
    qtbot.waitUntil(lambda: "dropped" in editor.toPlainText())
    texts = window.form.targets().texts
    assert "https://typed.example/" in texts and "https://dropped.example/" in texts


def test_a_dropped_table_without_a_url_column_asks_for_it(window, qtbot, tmp_path):
    path = write_csv(tmp_path / "pages.csv", [["name", "where"], ["home", "a.example/"]])
    with qtbot.waitSignal(window.form.columns_asked, timeout=10_000):
        assert drag_and_drop(window.table.viewport(), files(path))
    window.form.column_dialog.reject()


def test_a_drag_with_nothing_to_import_is_refused(window, qtbot):
    mime = QMimeData()
    mime.setImageData(QImage(4, 4, QImage.Format.Format_RGB32))
    assert not drag_and_drop(window.table.viewport(), mime)
    assert not drag_and_drop(window.table.viewport(), text("   \n"))
    assert len(window.form.targets()) == 0
