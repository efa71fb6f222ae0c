"""The detail pane shows what really happened to a URL: results come from a real Run against a
real server on loopback, and everything the server sent is shown as plain text."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from aiohttp import web
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QFileDialog, QLabel, QPlainTextEdit, QPushButton

from app.core.errors import Failure, Kind
from app.core.fetch import PREVIEW_BYTES
from app.core.redact import MASKING, PLAIN
from app.core.result import Outcome, Result
from app.core.run import Run
from app.core.settings import Settings
from app.core.targets import parse_text
from app.gui.row_details import RowDetails, body_is_binary, hex_dump, preview_text
from tests.servers import ReservedPort, ThreadedServer

pytestmark = pytest.mark.timeout(60)

PNG = bytes.fromhex("89504e470d0a1a0a0000000d49484452") + bytes(range(256))
PAGE = ("<!doctype html><html><head><title>&lt;b&gt;x&lt;/b&gt;</title></head>"
        "<body>Grüße aus Köln</body></html>").encode()
LONG_TEXT = ("ä" * 20_000).encode()  # 40,000 bytes; the preview cuts a character in two


def details_app() -> web.Application:
    async def start(request: web.Request) -> web.StreamResponse:
        raise web.HTTPMovedPermanently("/page")

    async def page(request: web.Request) -> web.StreamResponse:
        return web.Response(body=PAGE, headers={"Content-Type": "text/html; charset=utf-8",
                                                "X-Markup": "<b>x</b>"})

    async def logo(request: web.Request) -> web.StreamResponse:
        return web.Response(body=PNG, content_type="image/png")

    async def long(request: web.Request) -> web.StreamResponse:
        return web.Response(body=LONG_TEXT, headers={"Content-Type": "text/plain; charset=utf-8"})

    app = web.Application()
    app.add_routes([web.get("/start", start), web.get("/page", page), web.get("/logo.png", logo),
                    web.get("/long", long), web.get("/private", page)])
    return app


@pytest.fixture(scope="module")
def server():
    with ThreadedServer(details_app()) as s:
        yield s


@pytest.fixture
def fetch(run_async):
    """Fetch URLs with a real Run on the Qt loop; the results in input order."""
    def go(*urls: str, settings: Settings | None = None) -> list[Result]:
        results: list[Result] = []
        run = Run(parse_text("\n".join(urls)), settings or Settings(retries=0), results.append)
        run_async(run.start())
        return sorted(results, key=lambda r: r.index)
    return go


@pytest.fixture
def details(qtbot) -> RowDetails:
    widget = RowDetails()
    qtbot.addWidget(widget)
    widget.resize(760, 460)
    return widget


def text(details: RowDetails, name: str) -> str:
    return details.findChild(QPlainTextEdit, name).toPlainText()


def label(details: RowDetails, name: str) -> QLabel:
    return details.findChild(QLabel, name)


# -- a real result -------------------------------------------------------------------------------


def test_summary_redirects_timings_and_headers_of_a_real_fetch(server, fetch, details):
    (result,) = fetch(server.url("/start"))
    assert result.outcome is Outcome.OK
    details.show_result(result, redactor=MASKING)

    assert details.text_of("url") == server.url("/start")
    assert details.text_of("status") == "200 OK"
    assert details.text_of("final_url") == server.url("/page")
    assert details.text_of("outcome") == "OK"
    assert details.text_of("content_type") == "text/html; charset=utf-8"
    assert details.text_of("bytes").startswith(f"{len(PAGE):,} bytes")
    assert details.text_of("attempts") == "1"
    assert details.text_of("sha256") == result.sha256 and len(result.sha256) == 64
    assert details.text_of("elapsed").endswith(" ms")

    assert text(details, "redirects").splitlines() == [
        f"301 {server.url('/start')} -> {server.url('/page')}",
        f"200 {server.url('/page')}",
    ]
    # 127.0.0.1 is an IP literal: no DNS lookup happened, and the pane says so.
    assert label(details, "timing_dns").text() == "—"
    assert label(details, "timing_ttfb").text().endswith(" ms")
    assert "User-Agent: Fetchdeck/" in text(details, "request_headers")
    assert "Content-Type: text/html; charset=utf-8" in text(details, "response_headers")


def test_server_text_is_shown_literally_never_as_markup(server, fetch, details):
    (result,) = fetch(server.url("/page"))
    assert result.title == "<b>x</b>"
    details.show_result(result, redactor=MASKING)
    assert details.text_of("title") == "<b>x</b>"
    assert "X-Markup: <b>x</b>" in text(details, "response_headers")
    for name in ("summary_error", "summary_note", "body_info", "body_save_status"):
        assert label(details, name).textFormat() == Qt.TextFormat.PlainText, name
    # Even a failure message carrying markup stays text.
    result = result.replace(note="<i>note</i>")
    details.show_result(result, redactor=MASKING)
    assert details.text_of("note") == "<i>note</i>"


def test_text_body_is_decoded_with_the_declared_charset(server, fetch, details):
    (result,) = fetch(server.url("/page"))
    details.show_result(result, redactor=MASKING)
    assert not details.findChild(QCheckBox, "body_hex").isChecked()
    assert "Grüße aus Köln" in text(details, "body")
    assert label(details, "body_info").text().startswith(f"Whole body, {len(PAGE):,} bytes.")
    assert details.findChild(QPushButton, "body_save").text() == "Save body…"


def test_long_body_says_it_is_a_preview_of_the_first_bytes(server, fetch, details):
    (result,) = fetch(server.url("/long"))
    details.show_result(result, redactor=MASKING)
    info = label(details, "body_info").text()
    assert info.startswith(f"Preview of the first {PREVIEW_BYTES:,} bytes of {len(LONG_TEXT):,}")
    assert "Note" not in info  # the character cut at the preview's end is not "undecodable"
    assert text(details, "body") == "ä" * (PREVIEW_BYTES // 2)
    save = details.findChild(QPushButton, "body_save")
    assert save.text() == f"Save first {PREVIEW_BYTES:,} bytes…"
    assert "preview only" in save.toolTip()


def test_binary_body_is_shown_as_a_hex_dump(server, fetch, details):
    (result,) = fetch(server.url("/logo.png"))
    details.show_result(result, redactor=MASKING)
    assert details.findChild(QCheckBox, "body_hex").isChecked()
    first = text(details, "body").splitlines()[0]
    assert first == ("00000000  89 50 4e 47 0d 0a 1a 0a  00 00 00 0d 49 48 44 52  "
                     "|.PNG........IHDR|")
    details.findChild(QCheckBox, "body_hex").setChecked(False)  # the user can still read it
    assert text(details, "body").startswith("\ufffdPNG")


def test_passwords_are_masked_in_urls_and_the_authorization_header(server, fetch, details):
    url = server.url("/private").replace("http://", "http://ann:s3cret@")
    (result,) = fetch(url)
    details.show_result(result, redactor=MASKING)
    assert details.text_of("url") == url.replace("s3cret", "***")
    assert "Authorization: Basic ***" in text(details, "request_headers")
    everything = " ".join([details.text_of("url"), details.text_of("final_url"),
                           text(details, "redirects"), text(details, "request_headers")])
    assert "s3cret" not in everything
    assert base64.b64encode(b"ann:s3cret").decode() not in everything

    details.show_result(result, redactor=PLAIN)
    assert details.text_of("url") == url
    assert "Authorization: Basic " + base64.b64encode(b"ann:s3cret").decode() in text(
        details, "request_headers")


def test_passwords_in_messages_and_notes_are_masked(details):
    result = Result.of(0, 1, "http://a/", Outcome.FAILED, note="redirected to http://u:pw@b/",
                    failure=Failure.plain(Kind.UNSAFE_REDIRECT, "to ftp://u:pw@c/"))
    details.show_result(result, redactor=MASKING)
    assert "pw" not in details.text_of("error") + details.text_of("note")
    details.show_result(result, redactor=PLAIN)
    assert details.text_of("error") == "unsafe_redirect: to ftp://u:pw@c/"


def test_a_failure_shows_its_error_and_no_response(fetch, details):
    with ReservedPort() as refused:
        (result,) = fetch(refused.url("/"))
    assert result.outcome is Outcome.FAILED
    details.show_result(result, redactor=MASKING)
    assert details.text_of("outcome").startswith("Failed")
    assert details.text_of("error").startswith("refused: Connection refused")
    assert label(details, "summary_error").isVisibleTo(details)
    assert details.text_of("status") == "—"
    assert text(details, "redirects") == "No response was received."
    assert text(details, "request_headers").startswith("Not recorded")
    assert not details.findChild(QPushButton, "body_save").isEnabled()


def test_nothing_selected_shows_a_placeholder(server, fetch, details):
    (result,) = fetch(server.url("/page"))
    details.show_result(result, redactor=MASKING)
    details.show_result(None, redactor=MASKING)
    assert details.result() is None
    assert not details.findChild(QPlainTextEdit, "body").isVisibleTo(details)


def test_the_pane_keeps_what_it_shows_when_the_run_drops_the_rows_details(server, fetch,
                                                                           details):
    (result,) = fetch(server.url("/page"))
    details.show_result(result, redactor=MASKING)
    result.response.details = None  # what the detail policy does to older rows, while it shows
    details.findChild(QCheckBox, "body_hex").setChecked(True)  # the body is drawn again
    assert details.findChild(QPlainTextEdit, "body").toPlainText().startswith("00000000  ")
    assert details.findChild(QPushButton, "body_save").isEnabled()
    assert not details.findChild(QLabel, "details_not_kept").isVisibleTo(details)
    details.show_result(result, redactor=MASKING)  # shown again: now it says so
    assert details.findChild(QLabel, "details_not_kept").isVisibleTo(details)


# -- saving --------------------------------------------------------------------------------------


def test_save_writes_the_captured_bytes_through_a_non_blocking_dialog(
        qtbot, server, fetch, details, tmp_path: Path):
    (result,) = fetch(server.url("/logo.png"))
    details.show_result(result, redactor=MASKING)
    details.show()
    with qtbot.waitSignal(details.save_dialog_opened) as opened:
        qtbot.mouseClick(details.findChild(QPushButton, "body_save"), Qt.MouseButton.LeftButton)
    chooser: QFileDialog = opened.args[0]
    assert chooser.isVisible()  # the click returned while it is open: open(), not exec()
    assert chooser.selectedFiles()[0].endswith("logo.png")
    target = tmp_path / "saved.png"
    with qtbot.waitSignal(details.body_saved) as saved:
        chooser.selectFile(str(target))
        chooser.accept()
    assert saved.args == [str(target)]
    assert target.read_bytes() == PNG
    assert "Saved 272 bytes" in label(details, "body_save_status").text()


def test_a_failed_save_is_reported_in_the_pane(qtbot, server, fetch, details, tmp_path):
    (result,) = fetch(server.url("/page"))
    details.show_result(result, redactor=MASKING)
    with qtbot.waitSignal(details.save_dialog_opened) as opened:
        details.findChild(QPushButton, "body_save").click()
    chooser: QFileDialog = opened.args[0]
    chooser.fileSelected.emit(str(tmp_path / "missing-folder" / "page.html"))
    status = label(details, "body_save_status")
    assert status.text().startswith("Could not save") and status.property("error")
    chooser.reject()


# -- the pieces ----------------------------------------------------------------------------------


def test_hex_dump_lays_out_offsets_bytes_and_text():
    assert hex_dump(b"ABC\x00") == "00000000  41 42 43 00" + " " * 39 + "|ABC.|"
    lines = hex_dump(bytes(range(40))).splitlines()
    assert [line[:8] for line in lines] == ["00000000", "00000010", "00000020"]


@pytest.mark.parametrize("content_type, data, binary", [
    ("text/html", b"<p>hi</p>", False),
    ("application/json", b"{}", False),
    ("application/problem+json", b"{}", False),
    ("image/svg+xml", b"<svg/>", False),
    ("image/png", PNG, True),
    ("text/plain", b"a\0b", True),
    ("", b"plain words", False),
    ("", PNG, True),
    ("application/octet-stream", b"words", True),
])
def test_binary_or_text(content_type, data, binary):
    assert body_is_binary(content_type, data) is binary


def test_preview_text_reports_a_real_decoding_problem():
    text, note, charset = preview_text(b"caf\xe9", "text/plain; charset=utf-8", truncated=False)
    assert text == "caf\ufffd" and "not valid utf-8" in note and charset == "utf-8"
    assert preview_text("café".encode("latin-1"), "text/plain; charset=ISO-8859-1",
                        truncated=False)[0] == "café"
