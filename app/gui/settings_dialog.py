"""The Settings dialog: one editor per :class:`Settings` field, grouped as the user thinks of them.

It edits a copy of the user's saved settings; callers open it with ``open()`` (never ``exec()``: a
nested event loop re-enters qasync, guide fact 12), wait for ``accepted``, then read
:meth:`SettingsDialog.settings` and decide whether to save. The dialog itself writes nothing to
disk. A line under each field the command line overrides for this session says so, so that a
value differing from what the session runs with surprises nobody.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any, cast

from PySide6.QtCore import QEvent, Qt, Signal
from PySide6.QtGui import QFontDatabase, QResizeEvent, QShowEvent
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QVBoxLayout,
    QWidget,
)

from app.core.settings import (
    DEFAULT_USER_AGENT,
    METHODS,
    MIB,
    OPTIONS,
    Settings,
    SettingsError,
    file_problem,
)
from app.gui.plain import plain_tooltip
from app.gui.settings_fields import (
    METHOD_LABELS,
    HeadersEdit,
    align_labels,
    check_box,
    explained,
    field_group,
    fit_range,
    flag_tooltip,
    form_of,
    format_headers,
    hint_style,
    label_for,
    line_edit,
    named,
    override_flag,
    parse_headers,
    plain_label,
    spin_for,
)

__all__ = ["SettingsDialog", "format_headers", "override_flag", "parse_headers"]

class _FieldError(SettingsError):
    """A value the dialog refuses, and the editor to put the cursor in."""

    def __init__(self, message: str, widget: QWidget) -> None:
        super().__init__(message)
        self.widget = widget


# Pixels a window manager's title bar and frame take around the dialog.
FRAME_ALLOWANCE = 48


class SettingsDialog(QDialog):
    """Edit a copy of the settings. Open with ``open()``; read :meth:`settings` on ``accepted``.

    OK checks every value first: a problem is shown in the dialog, which stays open. Cancel
    discards the edits; Restore Defaults fills in the defaults (still cancellable).

    Signals:
        accepted: (inherited) the user pressed OK and the values are valid.
        rejected: (inherited) the user cancelled.
        browse_opened: the CA-file chooser was opened; its argument is the QFileDialog.
    """

    browse_opened = Signal(QFileDialog)

    def __init__(
        self,
        settings: Settings,
        parent: QWidget | None = None,
        *,
        notices: Sequence[str] = (),
        overrides: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.setObjectName("settings_dialog")
        # Exact values behind each decimal spin box, so that a value finer than its display
        # (a 1,000-byte cap shown in MiB) survives OK when the user did not touch it.
        self._exact: dict[QDoubleSpinBox, tuple[float, float]] = {}
        self._ca_browser: QFileDialog | None = None
        self._sized = False
        self._override_marks: dict[str, QLabel] = {}
        self._override_flags: dict[str, str] = {}
        self._saved = settings  # what the fields showed at first: a field that differs is edited
        self._build()
        self._plain_tips = {widget: widget.toolTip()
                            for widgets in self._field_widgets().values() for widget in widgets}
        self.set_notices(notices)
        self.set_settings(settings)
        self.set_overrides(overrides or {})
        self._watch_edits()

    # -- public API ----------------------------------------------------------------------------

    def settings(self) -> Settings:
        """The settings the fields describe. Raises :class:`SettingsError` when one is invalid."""
        return self._collect()

    def set_settings(self, settings: Settings) -> None:
        """Fill every field from ``settings``."""
        self._concurrency.setValue(fit_range(self._concurrency, settings.concurrency))
        self._per_host.setValue(fit_range(self._per_host, settings.per_host))
        self._processes.setValue(fit_range(self._processes, settings.processes))
        self._set_exact(self._rate, settings.rate)
        self._set_exact(self._timeout, settings.timeout)
        self._set_exact(self._connect_timeout, settings.connect_timeout)
        self._retries.setValue(fit_range(self._retries, settings.retries))
        self._method.setCurrentIndex(METHODS.index(settings.method))
        self._follow.setChecked(settings.follow_redirects)
        self._max_redirects.setValue(fit_range(self._max_redirects, settings.max_redirects))
        self._headers.setPlainText(format_headers(settings.headers))
        self._user_agent.setText("" if settings.user_agent == DEFAULT_USER_AGENT
                                 else settings.user_agent)
        self._cookies.setChecked(settings.cookies)
        user, _, password = (settings.auth or "").partition(":")
        self._auth_user.setText(user)
        self._auth_password.setText(password)
        self._proxy.setText(settings.proxy or "")
        self._verify_tls.setChecked(settings.verify_tls)
        self._ca_file.setText(settings.ca_file or "")
        self._set_exact(self._max_body, settings.max_body / MIB)
        self._set_exact(self._retry_after_cap, settings.retry_after_cap)
        self._mask_passwords.setChecked(settings.mask_passwords)
        self._csv_raw.setChecked(settings.csv_raw)
        self._fetch_duplicates.setChecked(settings.fetch_duplicates)
        self._trailing_slash.setChecked(settings.trailing_slash_matters)
        self._query_matters.setChecked(settings.query_matters)
        self._keep_runs.setChecked(settings.keep_runs)
        self._db_path.setText(settings.db_path or "")
        self._sync_enabled()
        self._show_error("")

    def set_notices(self, notices: Sequence[str]) -> None:
        """Show problems found while loading the settings file above the fields."""
        notices = list(notices)
        self._notice.setVisible(bool(notices))
        shown = notices[:2]
        if len(notices) > 2:
            shown.append(f"…and {len(notices) - 2} more (hover to see all)")
        self._notice_text.setText("\n".join(shown))
        self._notice_text.setToolTip(plain_tooltip("\n".join(notices)) or "")

    def set_overrides(self, overrides: Mapping[str, Any]) -> None:
        """Say which fields the command line overrides for this session, and with what.

        The fields keep showing the saved values (that is what OK saves); a line under each
        such field, its tooltip and a note by the buttons say that the session runs with the
        flag instead.
        """
        flags = {name: override_flag(name, value) for name, value in overrides.items()}
        fields = self._field_widgets()
        for name, widgets in fields.items():
            for widget in widgets:
                tip = self._plain_tips[widget]
                if name in flags:
                    tip = plain_tooltip(
                        f"This session uses {flags[name]} from the command line instead of the "
                        f"saved value shown here. Change the field to use and save your own "
                        f"value.\n\n{tip}") or ""
                widget.setToolTip(tip)
        for mark in self._override_marks.values():
            form_of(mark).removeRow(mark)  # deletes it
        self._override_flags = flags
        self._override_marks = {
            name: self._mark_override(fields[name][-1], name, flag)
            for name, flag in flags.items() if name in fields}
        self._overrides_note.setVisible(bool(flags))
        self._refresh_override_marks()

    def overrides_text(self) -> str:
        """The note on command-line overrides, or '' when there are none."""
        return self._overrides_text.text() if not self._overrides_note.isHidden() else ""

    def override_marks(self) -> dict[str, str]:
        """The line shown under each field the command line overrides, by setting name."""
        return {name: mark.text() for name, mark in self._override_marks.items()}

    def restore_defaults(self) -> None:
        self.set_settings(Settings())

    def error_text(self) -> str:
        """The problem shown after a refused OK, or ''."""
        return self._error.text()

    def accept(self) -> None:
        try:
            self._collect()
        except _FieldError as exc:
            self._show_error(str(exc))
            exc.widget.setFocus(Qt.FocusReason.OtherFocusReason)
            return
        except SettingsError as exc:
            self._show_error(str(exc))
            return
        self._show_error("")
        super().accept()

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        if not self._sized:
            self._sized = True
            self.resize(max(self.width(), 780), self.height())
        self._fit_height()
        super().showEvent(event)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 - Qt override
        super().resizeEvent(event)
        self._fit_height()

    def event(self, event: QEvent) -> bool:
        handled = super().event(event)
        if event.type() == QEvent.Type.LayoutRequest:  # a note or the error appeared
            self._fit_height()
        return handled

    def _fit_height(self) -> None:
        """As tall as the fields need, up to the screen's height (the fields then scroll).
        Top-level windows ignore height-for-width, so wrapped notes would be clipped; and
        once set, this minimum is ours to keep up to date (the layout no longer touches it)."""
        layout = self.layout()
        if layout is None:
            return
        margins = layout.contentsMargins()
        width = self.width() - margins.left() - margins.right()
        body = self._body
        body_margins = body.contentsMargins()
        inner = width - self._scroll.verticalScrollBar().sizeHint().width()
        needed = (body.totalHeightForWidth(inner) if body.hasHeightForWidth()
                  else body.totalSizeHint().height()) + body_margins.top() + body_margins.bottom()
        shown = [w for w in (self._notice, self._error, self._overrides_note, self._buttons)
                 if not w.isHidden()]
        needed += sum(w.heightForWidth(width) if w.hasHeightForWidth() else w.sizeHint().height()
                      for w in shown)
        needed += layout.spacing() * len(shown) + margins.top() + margins.bottom()
        screen = self.screen()
        if screen is not None:
            # Room for the window manager's title bar and frame, which Qt cannot see here.
            needed = min(needed, screen.availableGeometry().height() - FRAME_ALLOWANCE)
        if needed != self.minimumHeight():
            self.setMinimumHeight(needed)
        if self.height() < needed:
            self.resize(self.width(), needed)

    # -- reading the fields --------------------------------------------------------------------

    def _collect(self) -> Settings:
        try:
            headers = parse_headers(self._headers.toPlainText())
        except SettingsError as exc:
            raise _FieldError(str(exc), self._headers) from None
        user = self._auth_user.text()
        password = self._auth_password.text()
        if ":" in user:
            raise _FieldError("Basic auth: the user name cannot contain “:”", self._auth_user)
        proxy = self._proxy.text().strip() or None
        if proxy is not None and (problem := OPTIONS["proxy"].check(proxy)):  # type: ignore[misc]
            raise _FieldError(problem, self._proxy)
        ca_file = self._ca_file.text().strip() or None
        if ca_file is not None and self._verify_tls.isChecked() and (
                problem := file_problem(ca_file)):
            raise _FieldError(f"CA file: {problem}", self._ca_file)
        return Settings(
            concurrency=self._concurrency.value(),
            per_host=self._per_host.value(),
            processes=self._processes.value(),
            rate=self._get_exact(self._rate),
            timeout=self._get_exact(self._timeout),
            connect_timeout=self._get_exact(self._connect_timeout),
            retries=self._retries.value(),
            method=METHODS[self._method.currentIndex()],
            follow_redirects=self._follow.isChecked(),
            max_redirects=self._max_redirects.value(),
            headers=headers,
            user_agent=self._user_agent.text().strip() or DEFAULT_USER_AGENT,
            cookies=self._cookies.isChecked(),
            auth=f"{user}:{password}" if user or password else None,
            proxy=proxy,
            verify_tls=self._verify_tls.isChecked(),
            ca_file=ca_file,
            max_body=max(1, round(self._get_exact(self._max_body) * MIB)),
            retry_after_cap=self._get_exact(self._retry_after_cap),
            mask_passwords=self._mask_passwords.isChecked(),
            csv_raw=self._csv_raw.isChecked(),
            fetch_duplicates=self._fetch_duplicates.isChecked(),
            trailing_slash_matters=self._trailing_slash.isChecked(),
            query_matters=self._query_matters.isChecked(),
            keep_runs=self._keep_runs.isChecked(),
            db_path=self._db_path.text().strip() or None,
        )

    def _set_exact(self, spin: QDoubleSpinBox, value: float) -> None:
        spin.setMaximum(max(spin.maximum(), value))
        spin.setValue(value)
        self._exact[spin] = (spin.value(), value)

    def _get_exact(self, spin: QDoubleSpinBox) -> float:
        shown, exact = self._exact.get(spin, (None, 0.0))
        return exact if spin.value() == shown else spin.value()

    # -- building ------------------------------------------------------------------------------

    def _build(self) -> None:
        self._notice = named(QFrame(), "notice")
        self._notice.setFrameShape(QFrame.Shape.StyledPanel)
        self._notice.setStyleSheet(
            "QFrame#notice { background: #fff4ce; border: 1px solid #e0c060; border-radius: 3px; }"
            "QFrame#notice QLabel { color: #4a3b00; background: transparent; border: none; }")
        icon = QLabel()
        size = self.style().pixelMetric(QStyle.PixelMetric.PM_SmallIconSize)
        icon.setPixmap(self.style().standardIcon(
            QStyle.StandardPixmap.SP_MessageBoxWarning).pixmap(size, size))
        icon.setAlignment(Qt.AlignmentFlag.AlignTop)
        self._notice_text = plain_label("", objectName="notice_text")
        self._notice_text.setWordWrap(True)
        row = QHBoxLayout(self._notice)
        row.setContentsMargins(8, 6, 8, 6)
        row.addWidget(icon)
        row.addWidget(self._notice_text, 1)

        left = QVBoxLayout()
        left.addWidget(self._connections_group())
        left.addWidget(self._requests_group(), 1)
        left.addWidget(self._redirects_group())
        right = QVBoxLayout()
        right.addWidget(self._identity_group())
        right.addWidget(self._security_group())
        right.addWidget(self._limits_group())
        right.addWidget(self._lists_group())
        right.addWidget(self._history_group())
        right.addWidget(self._export_group())
        right.addStretch(1)
        columns = QHBoxLayout()
        columns.addLayout(left, 1)
        columns.addLayout(right, 1)

        self._error = plain_label("", objectName="error")
        self._error.setStyleSheet("color: #b00020; font-weight: bold;")
        self._error.setWordWrap(True)
        self._error.hide()

        self._overrides_note = named(QWidget(), "overrides_note")
        info = QLabel()
        info.setPixmap(self.style().standardIcon(
            QStyle.StandardPixmap.SP_MessageBoxInformation).pixmap(size, size))
        info.setAlignment(Qt.AlignmentFlag.AlignTop)
        self._overrides_text = plain_label(
            "Some settings come from the command line for this session only (see the lines "
            "under their fields). They are not saved: the fields show your saved settings. "
            "Change a field to use and save your own value instead.",
            objectName="overrides_text")
        self._overrides_text.setWordWrap(True)
        note_row = QHBoxLayout(self._overrides_note)
        note_row.setContentsMargins(0, 0, 0, 0)
        note_row.addWidget(info)
        note_row.addWidget(self._overrides_text, 1)

        buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok
            | QDialogButtonBox.StandardButton.Cancel
            | QDialogButtonBox.StandardButton.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        restore = buttons.button(QDialogButtonBox.StandardButton.RestoreDefaults)
        restore.setToolTip("Fill in the default for every setting. Nothing changes until OK.")
        restore.clicked.connect(self.restore_defaults)
        self._buttons = buttons

        align_labels(left)
        align_labels(right)

        # The fields scroll when the dialog would be taller than the screen (a 768-pixel
        # laptop with command-line notes shown): the buttons always stay in view.
        body = QWidget()
        body.setLayout(columns)
        self._body = columns
        self._scroll = named(QScrollArea(), "fields")
        self._scroll.setWidget(body)
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)

        layout = QVBoxLayout(self)
        layout.addWidget(self._notice)
        layout.addWidget(self._scroll, 1)
        layout.addWidget(self._error)
        layout.addWidget(self._overrides_note)
        layout.addWidget(buttons)

    def _watch_edits(self) -> None:
        """Refresh the override marks as the user edits any field."""
        editors = [widget for name in OPTIONS
                   if (widget := self.findChild(QWidget, name)) is not None]
        for editor in [*editors, self._auth_user, self._auth_password, self._ca_file]:
            if isinstance(editor, (QSpinBox, QDoubleSpinBox)):
                editor.valueChanged.connect(self._refresh_override_marks)
            elif isinstance(editor, (QLineEdit, QPlainTextEdit)):
                editor.textChanged.connect(self._refresh_override_marks)
            elif isinstance(editor, QCheckBox):
                editor.toggled.connect(self._refresh_override_marks)
            elif isinstance(editor, QComboBox):
                editor.currentIndexChanged.connect(self._refresh_override_marks)

    def _refresh_override_marks(self) -> None:
        """Each mark says what this session will run with: the flag while the field shows the
        saved value, the user's own value once they change it (which OK then saves)."""
        if not self._override_marks:
            return
        try:
            current = self._collect()
        except SettingsError:
            return  # a field being typed is not valid yet: keep the marks as they are
        for name, mark in self._override_marks.items():
            flag = self._override_flags[name]
            if getattr(current, name) != getattr(self._saved, name):
                mark.setText(f"Your value replaces {flag} for this session and is saved.")
            else:
                mark.setText(f"This session uses {flag} from the command line.")

    def _mark_override(self, editor: QWidget, name: str, flag: str) -> QLabel:
        """Put a line saying what the session uses under ``editor``'s row in its form."""
        form = form_of(editor)
        row, role = cast(tuple[int, QFormLayout.ItemRole], form.getWidgetPosition(editor))
        mark = plain_label(f"This session uses {flag} from the command line.",
                            objectName=f"{name}_override")
        mark.setWordWrap(True)
        hint_style(mark)
        if role == QFormLayout.ItemRole.SpanningRole:  # a check box: line up under it
            form.insertRow(row + 1, mark)
        else:
            form.insertRow(row + 1, "", mark)
        return mark

    def _field_widgets(self) -> dict[str, list[QWidget]]:
        """The widgets whose tooltip explains each setting (the CA file's is its whole row)."""
        widgets = {name: [widget] for name in OPTIONS
                   if (widget := self.findChild(QWidget, name)) is not None}
        widgets["auth"] = [self._auth_user, self._auth_password]
        widgets["ca_file"] = [self._ca_row]
        return widgets

    def _connections_group(self) -> QGroupBox:
        self._concurrency = cast(QSpinBox, spin_for("concurrency"))
        self._per_host = cast(QSpinBox, spin_for("per_host"))
        self._rate = cast(QDoubleSpinBox, spin_for("rate", suffix=" req/s"))
        self._processes = cast(QSpinBox, spin_for("processes"))
        self._connect_timeout = cast(QDoubleSpinBox, spin_for("connect_timeout", suffix=" s"))
        self._proxy = line_edit("proxy", "System proxy (environment)")
        return field_group("Connections", [
            (label_for(name), widget, explained(name)) for name, widget in (
                ("concurrency", self._concurrency), ("per_host", self._per_host),
                ("rate", self._rate), ("processes", self._processes),
                ("connect_timeout", self._connect_timeout), ("proxy", self._proxy))])

    def _requests_group(self) -> QGroupBox:
        self._method = named(QComboBox(), "method")
        for method in METHODS:
            self._method.addItem(METHOD_LABELS[method], method)
        self._timeout = cast(QDoubleSpinBox, spin_for("timeout", suffix=" s"))
        self._retries = cast(QSpinBox, spin_for("retries"))
        self._headers = named(HeadersEdit(), "headers")
        self._headers.setPlaceholderText("Accept-Language: en\nX-Api-Key: …")
        self._headers.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self._headers.setTabChangesFocus(True)
        self._headers.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        group = field_group("Requests", [
            (label_for(name), widget, explained(name)) for name, widget in (
                ("method", self._method), ("timeout", self._timeout),
                ("retries", self._retries), ("headers", self._headers))])
        form = cast(QFormLayout, group.layout())
        form.setRowWrapPolicy(QFormLayout.RowWrapPolicy.DontWrapRows)
        self._headers.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        return group

    def _redirects_group(self) -> QGroupBox:
        self._follow = check_box("follow_redirects", "Follow redirects")
        self._max_redirects = cast(QSpinBox, spin_for("max_redirects"))
        self._follow.toggled.connect(self._sync_enabled)
        return field_group("Redirects", [
            ("", self._follow, explained("follow_redirects")),
            ("Give up after:", self._max_redirects, explained("max_redirects")),
        ])

    def _identity_group(self) -> QGroupBox:
        self._user_agent = line_edit("user_agent", DEFAULT_USER_AGENT)
        self._cookies = check_box("cookies", "Keep cookies between requests of a run")
        self._auth_user = line_edit("auth_user", "User name")
        self._auth_password = line_edit("auth_password", "Password")
        self._auth_password.setEchoMode(QLineEdit.EchoMode.Password)
        not_saved = plain_label(
            "Credentials are not saved: the settings file is plain text. Neither are a "
            "proxy's password and headers such as Cookie or X-Api-Key. Enter them again "
            "after restarting Fetchdeck.", objectName="auth_note")
        not_saved.setWordWrap(True)
        hint_style(not_saved)
        auth_tip = flag_tooltip(explained("auth"), "auth")
        self._auth_user.setToolTip(auth_tip)
        self._auth_password.setToolTip(auth_tip)
        group = field_group("Identity", [
            (label_for("user_agent"), self._user_agent, explained("user_agent")),
            ("", self._cookies, explained("cookies")),
        ])
        form = cast(QFormLayout, group.layout())
        form.addRow("Basic auth user:", self._auth_user)
        form.addRow("Password:", self._auth_password)
        form.addRow(not_saved)
        return group

    def _security_group(self) -> QGroupBox:
        self._verify_tls = check_box("verify_tls", "Verify TLS certificates")
        unchecked = plain_label(
            "Certificates are not checked: anyone on the network path can read or change "
            "the traffic.", objectName="insecure_note")
        unchecked.setWordWrap(True)
        unchecked.setStyleSheet("color: #b00020;")
        self._ca_file = line_edit("ca_file", "None")
        browse = named(QPushButton("Browse…"), "ca_browse")
        browse.setToolTip("Choose a PEM file of extra certificate authorities.")
        browse.clicked.connect(self._browse_ca_file)
        ca = QWidget()
        ca_row = QHBoxLayout(ca)
        ca_row.setContentsMargins(0, 0, 0, 0)
        ca_row.addWidget(self._ca_file, 1)
        ca_row.addWidget(browse)
        self._verify_tls.toggled.connect(self._sync_enabled)
        self._mask_passwords = check_box("mask_passwords", "Mask passwords in URLs")
        group = field_group("Security", [
            ("", self._verify_tls, explained("verify_tls")),
            ("", unchecked, ""),
            (label_for("ca_file"), ca, explained("ca_file")),
            ("", self._mask_passwords, explained("mask_passwords")),
        ])
        # The row is a container; its children show its tooltip (tooltip events go to parents).
        ca.setToolTip(flag_tooltip(ca.toolTip(), "ca_file"))
        self._insecure_note = unchecked
        self._ca_row = ca
        return group

    def _limits_group(self) -> QGroupBox:
        self._max_body = cast(QDoubleSpinBox, spin_for("max_body", suffix=" MiB", scale=MIB))
        self._retry_after_cap = cast(QDoubleSpinBox, spin_for("retry_after_cap", decimals=1,
                                                              suffix=" s"))
        return field_group("Limits", [
            (label_for("max_body"), self._max_body, explained("max_body")),
            (label_for("retry_after_cap"), self._retry_after_cap, explained("retry_after_cap")),
        ])

    def _lists_group(self) -> QGroupBox:
        self._fetch_duplicates = check_box("fetch_duplicates",
                                           OPTIONS["fetch_duplicates"].label)
        self._trailing_slash = check_box("trailing_slash_matters",
                                         OPTIONS["trailing_slash_matters"].label)
        self._query_matters = check_box("query_matters", OPTIONS["query_matters"].label)
        return field_group("Lists and checks", [
            ("", self._fetch_duplicates, explained("fetch_duplicates")),
            ("", self._trailing_slash, explained("trailing_slash_matters")),
            ("", self._query_matters, explained("query_matters")),
        ])

    def _history_group(self) -> QGroupBox:
        self._keep_runs = check_box("keep_runs", OPTIONS["keep_runs"].label)
        self._db_path = line_edit("db_path", "runs.sqlite3 in your data folder")
        return field_group("Run history", [
            ("", self._keep_runs, explained("keep_runs")),
            (label_for("db_path"), self._db_path, explained("db_path")),
        ])

    def _export_group(self) -> QGroupBox:
        self._csv_raw = check_box("csv_raw", "Export raw cell values")
        explain = plain_label(
            "Cells starting with = + - @ can run as formulas in spreadsheets. Off: such cells "
            "are prefixed with ' so they show as text.", objectName="csv_raw_note")
        explain.setWordWrap(True)
        hint_style(explain)
        return field_group("Export", [
            ("", self._csv_raw, explained("csv_raw")),
            ("", explain, ""),
        ])

    # -- behaviour -----------------------------------------------------------------------------

    def _browse_ca_file(self) -> None:
        if self._ca_browser is not None:
            self._ca_browser.raise_()
            return
        start = self._ca_file.text().strip()
        chooser = QFileDialog(self, "Choose a CA bundle",
                              os.path.dirname(start) if start else os.path.expanduser("~"))
        chooser.setFileMode(QFileDialog.FileMode.ExistingFile)
        chooser.setNameFilters(["Certificates (*.pem *.crt *.cer)", "All files (*)"])
        chooser.fileSelected.connect(self._ca_file.setText)
        chooser.finished.connect(self._browser_closed)
        self._ca_browser = chooser
        # open(), not exec() or getOpenFileName(): those spin a nested loop and hang qasync.
        chooser.open()
        self.browse_opened.emit(chooser)

    def _browser_closed(self) -> None:
        if self._ca_browser is not None:
            self._ca_browser.deleteLater()
            self._ca_browser = None

    def _sync_enabled(self) -> None:
        self._max_redirects.setEnabled(self._follow.isChecked())
        self._ca_row.setEnabled(self._verify_tls.isChecked())
        self._insecure_note.setVisible(not self._verify_tls.isChecked())

    def _show_error(self, message: str) -> None:
        self._error.setText(message)
        self._error.setVisible(bool(message))
