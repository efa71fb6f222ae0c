"""The detail pane for the selected results row: summary, redirect chain, timings, headers and a
preview of the body, all shown as plain text (server text is never interpreted as markup)."""

from __future__ import annotations

import mimetypes
import posixpath
from collections.abc import Sequence
from email.message import Message
from pathlib import Path

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFontDatabase, QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QStackedWidget,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)
from yarl import URL

from app.core.redact import MASKING, Redactor
from app.core.result import Details, Outcome, Result
from app.core.text import decode_text
from app.gui.colours import error_colour, outcome_colour
from app.gui.plain import plain_tooltip
from app.gui.results_model import first_answer
from app.gui.run_controller import DETAILS_KEPT
from app.gui.widgets import named as _named
from app.gui.widgets import plain_label
from app.gui.widgets import secondary as _secondary
from app.gui.widgets import text_view as _text_view


def _label(text: str, objectName: str = "") -> QLabel:  # noqa: N803 - Qt's name
    return plain_label(text, objectName)

__all__ = ["RowDetails", "body_is_binary", "hex_dump", "preview_text"]

NOT_MEASURED = "—"
PROSE_FIELDS = ("error", "check", "note")  # shown only when there is something to say
_TEXT_TYPES = ("text/", "application/json", "application/xml", "application/javascript",
               "application/ecmascript", "application/x-www-form-urlencoded")

OUTCOME_TEXT = {
    Outcome.PENDING: "Pending: not finished yet",
    Outcome.OK: "OK",
    Outcome.HTTP_ERROR: "HTTP error",
    Outcome.FAILED: "Failed: no usable response",
    Outcome.INVALID: "Invalid line: not fetched",
    Outcome.CANCELLED: "Cancelled",
}
# Outcomes shown in their colour (app.gui.colours); the others in the text colour.
COLOURED_OUTCOMES = frozenset({Outcome.OK, Outcome.HTTP_ERROR, Outcome.FAILED, Outcome.INVALID})


def hex_dump(data: bytes) -> str:
    """``00000000  89 50 4e 47 0d 0a 1a 0a  00 00 00 0d 49 48 44 52  |.PNG........IHDR|``"""
    lines = []
    for offset in range(0, len(data), 16):
        chunk = data[offset:offset + 16]
        left = " ".join(f"{b:02x}" for b in chunk[:8])
        right = " ".join(f"{b:02x}" for b in chunk[8:])
        text = "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in chunk)
        lines.append(f"{offset:08x}  {left:<23}  {right:<23}  |{text}|")
    return "\n".join(lines)


def body_is_binary(content_type: str, data: bytes) -> bool:
    """Whether to show ``data`` as a hex dump rather than text."""
    if b"\0" in data[:4096]:
        return True
    mime = content_type.split(";", 1)[0].strip().lower()
    if mime:
        return not (mime.startswith(_TEXT_TYPES) or mime.endswith(("+json", "+xml")))
    # No type given: text if it reads as UTF-8 or has few control characters.
    sample = data[:4096]
    try:
        sample.decode("utf-8")
        return False
    except UnicodeDecodeError as exc:
        if exc.start >= len(sample) - 3:  # a character cut by the sample's end
            return False
    controls = sum(1 for b in sample if b < 0x20 and b not in b"\t\r\n\f")
    return controls > len(sample) // 10


def preview_text(data: bytes, content_type: str, *, truncated: bool) -> tuple[str, str, str]:
    """The preview decoded with the charset the response declared: (text, note, charset).

    A preview cut at its byte limit may end inside a multi-byte character; those last bytes are
    dropped rather than reported as undecodable.
    """
    message = Message()
    message["Content-Type"] = content_type or "text/plain"
    charset = message.get_content_charset()
    text, note = decode_text(data, charset)
    shown = charset or "UTF-8 (no charset declared)"
    if note and truncated:
        for cut in (1, 2, 3):
            shorter, shorter_note = decode_text(data[:-cut], charset)
            if not shorter_note:
                return shorter, "", shown
    return text, note, shown


class RowDetails(QWidget):
    """Everything known about one result. Call :meth:`show_result` when the selection changes.

    Signals:
        save_dialog_opened: the Save chooser was opened; its argument is the QFileDialog.
        body_saved: the preview was written; the argument is the file's path.
        fetch_again_requested: Fetch again was pressed for the row whose headers and body
            were not kept; the argument is the row's index.
    """

    save_dialog_opened = Signal(QFileDialog)
    body_saved = Signal(str)
    fetch_again_requested = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._result: Result | None = None
        self._details: Details | None = None
        self._redactor: Redactor = MASKING
        self._save_dialog: QFileDialog | None = None
        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)

        self._placeholder = _label("Select a row to see what happened to it.")
        self._placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self._placeholder.setEnabled(False)

        self._fields: dict[str, QLineEdit | QLabel] = {}
        summary = QWidget()
        form = QFormLayout(summary)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        for key, title in (
            ("url", "URL"), ("line", "Input line"), ("outcome", "Outcome"), ("error", "Error"),
            ("check", "Check"), ("first", "First answer"), ("status", "Status"),
            ("final_url", "Final URL"), ("content_type", "Content type"),
            ("bytes", "Body size"), ("elapsed", "Elapsed"), ("attempts", "Attempts"),
            ("server", "Server"), ("title", "Title"), ("sha256", "SHA-256"), ("note", "Note"),
        ):
            field: QLineEdit | QLabel
            if key in PROSE_FIELDS:  # prose: wrap it
                field = _label("")
                field.setWordWrap(True)
                field.setContentsMargins(2, 0, 0, 0)  # line up with the QLineEdit text
            else:  # one line that may be long: scrolls, and copies whole
                field = QLineEdit(readOnly=True, frame=False)
                field.setStyleSheet("QLineEdit { background: transparent; }")
                if key == "sha256":
                    field.setFont(mono)
            field.setObjectName(f"summary_{key}")
            self._fields[key] = field
            form.addRow(f"{title}:", field)
        self._summary_form = form
        summary_scroll = QScrollArea(widgetResizable=True)
        summary_scroll.setFrameShape(QFrame.Shape.NoFrame)
        summary_scroll.setWidget(summary)

        self._redirects = _text_view("redirects", mono)
        self._timings = QWidget()
        timings_form = QFormLayout(self._timings)
        timings_form.setLabelAlignment(Qt.AlignmentFlag.AlignRight)
        self._timing_fields: dict[str, QLabel] = {}
        for key, title in (("dns", "DNS lookup"), ("connect", "Connect"), ("tls", "TLS handshake"),
                           ("ttfb", "First byte"), ("total", "Total")):
            value = _label("", objectName=f"timing_{key}")
            value.setFont(mono)
            self._timing_fields[key] = value
            timings_form.addRow(f"{title}:", value)
        explain = _label(
            f"{NOT_MEASURED} not measured: a reused connection does no DNS lookup, connect or "
            "TLS handshake, and an IP address needs no lookup. Connect includes the TLS "
            "handshake when that is not measured separately. Timings are for the last attempt.")
        explain.setWordWrap(True)
        _secondary(explain)
        timings_form.addRow(explain)

        self._request_headers = _text_view("request_headers", mono)
        self._response_headers = _text_view("response_headers", mono)

        self._body_info = _label("", objectName="body_info")
        self._body_info.setWordWrap(True)
        self._hex = _named(QCheckBox("Hex"), "body_hex")
        self._hex.setToolTip("Show the bytes as a hex dump instead of decoded text.")
        self._hex.toggled.connect(self._render_body)
        self._save = _named(QPushButton("Save preview…"), "body_save")
        self._save.clicked.connect(self._choose_save_path)
        self._save_status = _label("", objectName="body_save_status")
        self._save_status.setWordWrap(True)
        self._save_status.hide()
        self._body = _text_view("body", mono)
        body = QWidget()
        body_bar = QHBoxLayout()
        body_bar.addWidget(self._body_info, 1)
        body_bar.addWidget(self._hex)
        body_bar.addWidget(self._save)
        body_layout = QVBoxLayout(body)
        body_layout.addLayout(body_bar)
        body_layout.addWidget(self._save_status)
        body_layout.addWidget(self._body, 1)

        self._tabs = _named(QTabWidget(documentMode=True), "detail_tabs")
        # A laptop at 2x scaling has 384 logical pixels of height: the pane gives way to the
        # table rather than push the status bar off the screen.
        self._tabs.setMinimumSize(160, 90)
        for widget, title in ((summary_scroll, "Summary"), (self._redirects, "Redirects"),
                              (_scrolled(self._timings), "Timings"),
                              (self._request_headers, "Request headers"),
                              (self._response_headers, "Response headers"), (body, "Body")):
            self._tabs.addTab(widget, title)

        # Shown above the tabs when a row's headers and body were dropped to save memory.
        self._not_kept = _label("", objectName="details_not_kept")
        self._not_kept.setWordWrap(True)
        self._fetch_again = _named(QPushButton("Fetch again"), "details_fetch_again")
        self._fetch_again.clicked.connect(self._ask_fetch_again)
        self._not_kept_bar = QFrame()
        self._not_kept_bar.setFrameShape(QFrame.Shape.StyledPanel)
        bar = QHBoxLayout(self._not_kept_bar)
        bar.setContentsMargins(6, 4, 6, 4)
        bar.addWidget(self._not_kept, 1)
        bar.addWidget(self._fetch_again, 0, Qt.AlignmentFlag.AlignTop)
        self._not_kept_bar.hide()
        self._can_fetch_again = True
        self._page = QWidget()
        page = QVBoxLayout(self._page)
        page.setContentsMargins(0, 0, 0, 0)
        page.addWidget(self._not_kept_bar)
        page.addWidget(self._tabs, 1)

        self._stack = QStackedWidget()
        self._stack.addWidget(self._placeholder)
        self._stack.addWidget(self._page)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self._stack)
        self.show_result(None, redactor=MASKING)

    # -- public API ----------------------------------------------------------------------------

    def show_result(self, result: Result | None, *, redactor: Redactor) -> None:
        """Show ``result``, or the placeholder for None. URL passwords are masked when asked."""
        self._result = result
        # The pane keeps what it shows: the run may drop the row's details (to save memory)
        # while it is on screen, and a Hex toggle or Save must not find them gone.
        self._details = result.details if result is not None else None
        self._redactor = redactor
        self._save_status.hide()
        if result is None:
            self._stack.setCurrentWidget(self._placeholder)
            return
        self._stack.setCurrentWidget(self._page)
        self._show_summary(result)
        self._show_redirects(result)
        self._show_timings(result)
        details = self._details
        self._not_kept_bar.setVisible(self.details_dropped())
        if self.details_dropped():
            self._not_kept.setText("This row's headers and body were not kept, to save "
                                   f"memory. {DETAILS_KEPT}")
            self._update_fetch_again()
        if details is None:
            request = response = ("Not kept for this row, to save memory." if
                                  self.details_dropped() else
                                  "Not recorded: no response was received.")
        else:
            request = self._headers_text(details.request_headers) or "(none)"
            response = self._headers_text(details.response_headers) or "(none)"
        self._request_headers.setPlainText(request)
        self._response_headers.setPlainText(response)
        self._tabs.setTabText(3, _counted("Request headers",
                                          details.request_headers if details else ()))
        self._tabs.setTabText(4, _counted("Response headers",
                                          details.response_headers if details else ()))
        preview = details.preview if details is not None else b""
        self._hex.blockSignals(True)
        self._hex.setChecked(body_is_binary(result.content_type, preview))
        self._hex.blockSignals(False)
        self._render_body()

    def result(self) -> Result | None:
        return self._result

    def focus_target(self) -> QWidget:
        """Where keyboard focus goes when this pane is chosen (F6): its tabs, or the
        placeholder when no row is selected (which takes no focus)."""
        return self._tabs if self._stack.currentWidget() is self._page else self._placeholder

    def details_dropped(self) -> bool:
        """Whether the shown row got a response whose headers and body were not kept."""
        result = self._result
        return result is not None and self._details is None and result.status is not None

    def set_fetch_again_enabled(self, enabled: bool) -> None:
        """Fetch again is refused while a run is going."""
        self._can_fetch_again = enabled
        self._update_fetch_again()

    def _update_fetch_again(self) -> None:
        self._fetch_again.setEnabled(self._can_fetch_again)
        self._fetch_again.setToolTip(
            "Fetch this URL again, with the current settings, to see its headers and body; "
            "the row is updated in place." if self._can_fetch_again else
            "A run is going: cancel it or let it finish, then fetch this row again.")

    def _ask_fetch_again(self) -> None:
        if self._result is not None:
            self.fetch_again_requested.emit(self._result.index)

    def text_of(self, key: str) -> str:
        """The Summary value shown for ``key`` (url, status, title, note...), for tests and copy."""
        return self._fields[key].text()

    # -- sections ------------------------------------------------------------------------------

    def _show_summary(self, result: Result) -> None:
        status = f"{result.status} {result.reason}".strip() if result.status is not None else ""
        failure = result.failure
        values = {
            "url": self._url(result.url),
            "line": str(result.line),
            "outcome": OUTCOME_TEXT.get(result.outcome, str(result.outcome)),
            "error": self._text(f"{failure.kind.value}: {failure.message}") if failure else "",
            "check": self._text(f"{result.check}: {result.check_reason}") if result.check
            else "",
            "first": first_answer(result),
            "status": status,
            "final_url": self._url(result.final_url),
            "content_type": result.content_type,
            "bytes": _size(result.bytes),
            # The record keeps the last attempt's time; say so when there were others.
            "elapsed": _ms(result.elapsed_ms) + (" (last attempt)" if result.attempts > 1
                                                 and result.elapsed_ms is not None else ""),
            "attempts": str(result.attempts) if result.attempts else "",
            "server": result.server,
            "title": result.title,
            "sha256": result.sha256,
            "note": self._text(result.note),
        }
        for key, value in values.items():
            field = self._fields[key]
            field.setText(value or NOT_MEASURED)
            if key in PROSE_FIELDS:
                self._summary_form.setRowVisible(field, bool(value))
            if isinstance(field, QLineEdit):
                field.setCursorPosition(0)
                field.setToolTip((plain_tooltip(value) or "") if len(value) > 60 else "")
        self._colour_outcome()

    def _colour_outcome(self) -> None:
        result = self._result
        if result is None:
            return
        outcome = self._fields["outcome"]
        palette = self.palette()
        if result.outcome in COLOURED_OUTCOMES:
            palette.setColor(QPalette.ColorRole.Text, outcome_colour(result.outcome, palette))
        outcome.setPalette(palette)
        check = self._fields["check"]
        palette = self.palette()
        if result.check:
            shown = Outcome.OK if result.check == "pass" else Outcome.FAILED
            palette.setColor(QPalette.ColorRole.WindowText, outcome_colour(shown, palette))
        check.setPalette(palette)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt's name)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:  # light <-> dark: pick the other colours
            self._colour_outcome()
            if self._save_status.property("error"):
                self._say(self._save_status.text(), error=True)

    def _show_redirects(self, result: Result) -> None:
        chain = result.chain
        lines = []
        for i, hop in enumerate(chain):
            if i + 1 < len(chain):
                lines.append(f"{hop.status} {self._url(hop.url)} -> {self._url(chain[i + 1].url)}")
            elif 300 <= hop.status < 400:
                lines.append(f"{hop.status} {self._url(hop.url)} -> (not followed)")
            else:
                lines.append(f"{hop.status} {self._url(hop.url)}")
        if not chain:
            text = "No response was received."
        elif len(chain) == 1:
            text = "No redirects.\n\n" + lines[0]
        else:
            text = "\n".join(lines)
        self._redirects.setPlainText(text)
        self._tabs.setTabText(1, f"Redirects ({result.redirects})" if result.redirects
                              else "Redirects")

    def _show_timings(self, result: Result) -> None:
        t = result.timings
        for key, value in (("dns", t.dns_ms), ("connect", t.connect_ms), ("tls", t.tls_ms),
                           ("ttfb", t.ttfb_ms), ("total", result.elapsed_ms)):
            self._timing_fields[key].setText(_ms(value) or NOT_MEASURED)

    def _render_body(self) -> None:
        result = self._result
        if result is None:
            return
        details = self._details
        preview = details.preview if details is not None else b""
        total = result.bytes
        truncated = total is not None and total > len(preview)
        self._save.setEnabled(bool(preview))
        if not preview:
            reason = ("No body was read (HEAD request)." if details is not None
                      and total is None else "Not kept for this row, to save memory."
                      if self.details_dropped() else "No body preview was captured.")
            if details is not None and total == 0:
                reason = "The body is empty."
            self._body_info.setText(reason)
            self._body.setPlainText("")
            self._save.setText("Save preview…")
            self._save.setToolTip("")
            return
        if truncated:
            info = f"Preview of the first {len(preview):,} bytes of {total:,}."
            self._save.setText(f"Save first {len(preview):,} bytes…")
            self._save.setToolTip(
                f"Saves the captured preview only: the first {len(preview):,} bytes of a "
                f"{total:,}-byte body. Fetch the URL with another tool for the whole body.")
        else:
            info = f"Whole body, {len(preview):,} bytes."
            self._save.setText("Save body…")
            self._save.setToolTip(f"Saves the whole body ({len(preview):,} bytes).")
        if self._hex.isChecked():
            self._body.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
            self._body.setPlainText(hex_dump(preview))
        else:
            text, note, charset = preview_text(preview, result.content_type,
                                               truncated=truncated)
            info += f" Decoded as {charset}."
            if note:
                info += f" Note: {note}."
            self._body.setLineWrapMode(QPlainTextEdit.LineWrapMode.WidgetWidth)
            self._body.setPlainText(text)
        self._body_info.setText(info)

    # -- saving --------------------------------------------------------------------------------

    def _choose_save_path(self) -> None:
        result = self._result
        if result is None or self._details is None or not self._details.preview:
            return
        data = self._details.preview  # what is shown now, even if the selection changes
        if self._save_dialog is not None:
            self._save_dialog.close()
        truncated = result.bytes is not None and result.bytes > len(data)
        chooser = QFileDialog(self, "Save body preview" if truncated else "Save body",
                              _suggested_name(result, len(data)))
        chooser.setAcceptMode(QFileDialog.AcceptMode.AcceptSave)
        chooser.setFileMode(QFileDialog.FileMode.AnyFile)
        chooser.fileSelected.connect(lambda path: self._write(path, data))
        chooser.finished.connect(chooser.deleteLater)
        chooser.destroyed.connect(self._save_dialog_gone)
        self._save_dialog = chooser
        # open(), not exec() or getSaveFileName(): a nested loop re-enters qasync and hangs.
        chooser.open()
        self.save_dialog_opened.emit(chooser)

    def _save_dialog_gone(self) -> None:
        self._save_dialog = None

    def _write(self, path: str, data: bytes) -> None:
        try:
            Path(path).write_bytes(data)
        except OSError as exc:
            self._say(f"Could not save {path}: {exc.strerror or exc}", error=True)
            return
        self._say(f"Saved {len(data):,} bytes to {path}", error=False)
        self.body_saved.emit(path)

    def _say(self, message: str, *, error: bool) -> None:
        self._save_status.setText(message)
        palette = self.palette()
        if error:
            palette.setColor(QPalette.ColorRole.WindowText, error_colour(palette))
        self._save_status.setPalette(palette)
        self._save_status.setProperty("error", error)
        self._save_status.show()

    # -- masking -------------------------------------------------------------------------------

    def _url(self, url: str) -> str:
        return self._redactor.url(url)

    def _text(self, text: str) -> str:
        """Free text (messages, notes) with any URL password in it masked."""
        return self._redactor.text(text)

    def _headers_text(self, headers: Sequence[tuple[str, str]]) -> str:
        # Credentials masked; Location, Referer, Link, Refresh... may carry user:pass@ too.
        header = self._redactor.header
        return "\n".join(f"{name}: {header(name, value)}" for name, value in headers)


def _scrolled(widget: QWidget) -> QScrollArea:
    area = QScrollArea(widgetResizable=True)
    area.setFrameShape(QFrame.Shape.NoFrame)
    area.setWidget(widget)
    return area


def _suggested_name(result: Result, size: int) -> str:
    url = result.final_url or result.url
    try:
        name = posixpath.basename(URL(url).path)
    except (ValueError, TypeError):
        name = ""
    stem, ext = posixpath.splitext(name)
    if not ext:
        mime = result.content_type.split(";", 1)[0].strip().lower()
        ext = (mimetypes.guess_extension(mime) if mime else None) or ".bin"
    stem = stem or "body"
    if result.bytes is not None and result.bytes > size:
        stem += f".first-{size}-bytes"
    return stem + ext


def _counted(title: str, items: Sequence[object]) -> str:
    return f"{title} ({len(items)})" if items else title


def _size(value: int | None) -> str:
    if value is None:
        return ""
    if value < 1024:
        return f"{value:,} bytes"
    scaled = float(value)
    for unit in ("KiB", "MiB", "GiB"):
        scaled /= 1024
        if scaled < 1024 or unit == "GiB":
            break
    return f"{value:,} bytes ({scaled:.1f} {unit})"


def _ms(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:,.1f} ms" if value < 10_000 else f"{value / 1000:,.2f} s"
