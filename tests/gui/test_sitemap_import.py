"""File → Import sitemap from URL… against a loopback server: a sitemap index with gzipped
children (one missing) expanded with the window's settings, its progress in the form's summary,
Stop cancels it, and a sitemap that cannot be fetched is said in the notice bar."""

from __future__ import annotations

import asyncio
import gzip
import threading

import pytest
from aiohttp import web
from PySide6.QtCore import Qt

from app.core.settings import Settings
from app.gui.main_window import MainWindow
from tests.servers import ThreadedServer

pytestmark = pytest.mark.timeout(60)

NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def urlset(*urls: str) -> bytes:
    entries = "".join(f"<url><loc>{u}</loc><lastmod>2024-05-01</lastmod></url>\n" for u in urls)
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{NS}">\n{entries}</urlset>'\
        .encode()


def index(*locs: str) -> bytes:
    entries = "".join(f"<sitemap><loc>{loc}</loc></sitemap>\n" for loc in locs)
    return f'<?xml version="1.0"?>\n<sitemapindex xmlns="{NS}">\n{entries}</sitemapindex>'\
        .encode()


class Sitemaps:
    """An index of three sitemaps: a .xml.gz, a missing one, and one held back until
    ``release()`` (so that a test sees the expansion under way)."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.server = ThreadedServer(self._app())

    def url(self, path: str) -> str:
        return self.server.url(path)

    def release(self) -> None:
        self.gate.set()

    def _app(self) -> web.Application:
        async def serve(request: web.Request) -> web.StreamResponse:
            url = self.server.url
            if request.path == "/index.xml":
                return web.Response(body=index(url("/pages-1.xml.gz"), url("/missing.xml.gz"),
                                               url("/held.xml")),
                                    content_type="application/xml")
            if request.path == "/pages-1.xml.gz":
                return web.Response(body=gzip.compress(urlset(url("/a"), url("/b"))),
                                    content_type="application/gzip")
            if request.path == "/held.xml":
                while not self.gate.is_set():  # the server's own loop, not the test's
                    await asyncio.sleep(0.01)
                return web.Response(body=urlset(url("/c")), content_type="application/xml")
            raise web.HTTPNotFound()

        app = web.Application()
        app.router.add_get("/{tail:.*}", serve)
        return app


@pytest.fixture
def sitemaps():
    site = Sitemaps()
    with site.server:
        yield site
        site.release()


@pytest.fixture
def window(qtbot, loop, monkeypatch, tmp_path):
    monkeypatch.setenv("FETCHDECK_CONFIG_DIR", str(tmp_path / "config"))
    w = MainWindow(Settings(retries=0, timeout=5, connect_timeout=5),
                   state_file=tmp_path / "window.json")
    qtbot.addWidget(w)
    w.show()
    yield w
    w.form.cancel_loading()
    qtbot.waitUntil(lambda: not w.form.loading)


def ask_for(qtbot, window, url):
    window.import_sitemap_action.trigger()
    dialog = window.sitemap_dialog
    assert dialog is not None and dialog.isVisible()
    qtbot.keyClicks(dialog.url_edit, url)
    qtbot.mouseClick(dialog.import_button, Qt.MouseButton.LeftButton)
    return dialog


def test_an_index_is_expanded_with_progress_and_a_missing_child_is_a_row(window, qtbot,
                                                                         sitemaps):
    ask_for(qtbot, window, sitemaps.url("/index.xml"))
    form = window.form
    assert form.loading and form.stop_button.isVisible()
    qtbot.waitUntil(lambda: "2 / 3 sitemaps, 2 URLs so far" in form.summary.text())
    assert form.summary.text().startswith(
        f"Reading the sitemap index {sitemaps.url('/index.xml')}:")
    sitemaps.release()
    qtbot.waitUntil(lambda: not form.loading and form.is_big_list)
    assert not form.stop_button.isVisible()
    u = sitemaps.url
    assert form.targets().texts == [u("/a"), u("/b"), u("/missing.xml.gz"), u("/c")]
    assert form.summary.text() == "3 URLs to fetch · 1 line will not be fetched:"
    assert form.rejects.item(0).text().endswith("the sitemap answered 404 Not Found")
    label = form.big_label.text()
    assert label.startswith(u("/index.xml") + "\n")
    assert "A sitemap: 4 URLs." in label
    assert "2 sitemaps read, 1 could not be read (each is a failed row); 3 URLs" in label
    assert "'sitemap', 'lastmod'" in label  # kept for the export


def test_stop_cancels_the_expansion_and_keeps_the_list(window, qtbot, sitemaps):
    window.form.set_text("https://kept.example/\n")
    ask_for(qtbot, window, sitemaps.url("/index.xml"))
    qtbot.waitUntil(lambda: "2 / 3 sitemaps" in window.form.summary.text())
    task = window.form._loading
    qtbot.mouseClick(window.form.stop_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(task.done)
    assert task.cancelled()
    assert window.form.targets().texts == ["https://kept.example/"]
    assert window.form.summary.text().startswith("Import stopped; the list is as it was")
    assert not window.form.stop_button.isVisible()


def test_a_sitemap_that_cannot_be_fetched_is_said_in_the_notice_bar(window, qtbot, sitemaps):
    ask_for(qtbot, window, sitemaps.url("/nowhere.xml"))
    qtbot.waitUntil(lambda: not window.form.loading)
    notices = "\n".join(window.notices)
    assert f"could not fetch the sitemap {sitemaps.url('/nowhere.xml')}" in notices
    assert "404" in notices
    assert window.form.summary.text() == f"Could not read {sitemaps.url('/nowhere.xml')}"


def test_the_dialog_refuses_what_is_not_an_http_url_and_stays_open(window, qtbot):
    dialog = ask_for(qtbot, window, "example.com/sitemap.xml")
    assert dialog.isVisible() and not window.form.loading
    assert dialog.problem.text() == "No scheme: did you mean https://example.com/sitemap.xml?"
    dialog.url_edit.setText("https://example.com/sitemap.xml")
    assert not dialog.problem.isVisible()
    dialog.reject()


def test_a_sitemap_index_file_is_expanded_from_the_server_it_names(window, qtbot, sitemaps,
                                                                   tmp_path):
    path = tmp_path / "sitemap_index.xml.gz"
    path.write_bytes(gzip.compress(index(sitemaps.url("/pages-1.xml.gz"))))
    task = window.load_path(path)
    qtbot.waitUntil(task.done, timeout=10_000)
    assert window.form.targets().texts == [sitemaps.url("/a"), sitemaps.url("/b")]
    assert "A sitemap: 2 URLs." in window.form.big_label.text()
