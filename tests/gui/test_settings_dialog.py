"""The Settings dialog and the settings file: every value survives the dialog and a restart, a
broken file never stops the app, and bad input keeps the dialog open with the reason shown."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFileDialog,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSpinBox,
    QWidget,
)

from app.core.config import config_path, load_settings, save_settings
from app.core.settings import MIB, Settings, flag_text
from app.gui.main_window import MainWindow
from app.gui.settings_dialog import SettingsDialog, override_flag
from tests.core.test_settings import CHANGED  # every field away from its default


@pytest.fixture(autouse=True)
def config_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    folder = tmp_path / "config"
    monkeypatch.setenv("FETCHDECK_CONFIG_DIR", str(folder))
    return folder


@pytest.fixture
def make_dialog(qtbot):
    def make(settings: Settings | None = None, **kwargs) -> SettingsDialog:
        dialog = SettingsDialog(settings or Settings(), **kwargs)
        qtbot.addWidget(dialog)
        return dialog
    return make


def child(dialog: SettingsDialog, kind: type[QWidget], name: str):
    widget = dialog.findChild(kind, name)
    assert widget is not None, f"no {kind.__name__} named {name!r}"
    return widget


def button(dialog: SettingsDialog, which: QDialogButtonBox.StandardButton) -> QPushButton:
    return dialog.findChild(QDialogButtonBox).button(which)


def type_settings(dialog: SettingsDialog, s: Settings) -> None:
    """Set every editor the way a user would, from ``s``."""
    child(dialog, QSpinBox, "concurrency").setValue(s.concurrency)
    child(dialog, QSpinBox, "per_host").setValue(s.per_host)
    child(dialog, QSpinBox, "processes").setValue(s.processes)
    child(dialog, QDoubleSpinBox, "rate").setValue(s.rate)
    child(dialog, QDoubleSpinBox, "timeout").setValue(s.timeout)
    child(dialog, QDoubleSpinBox, "connect_timeout").setValue(s.connect_timeout)
    child(dialog, QSpinBox, "retries").setValue(s.retries)
    method = child(dialog, QComboBox, "method")
    method.setCurrentIndex(method.findData(s.method))
    child(dialog, QCheckBox, "follow_redirects").setChecked(s.follow_redirects)
    child(dialog, QSpinBox, "max_redirects").setValue(s.max_redirects)
    child(dialog, QPlainTextEdit, "headers").setPlainText(
        "\n".join(f"{n}: {v}" for n, v in s.headers))
    child(dialog, QLineEdit, "user_agent").setText(s.user_agent)
    child(dialog, QCheckBox, "cookies").setChecked(s.cookies)
    user, _, password = (s.auth or "").partition(":")
    child(dialog, QLineEdit, "auth_user").setText(user)
    child(dialog, QLineEdit, "auth_password").setText(password)
    child(dialog, QLineEdit, "proxy").setText(s.proxy or "")
    child(dialog, QCheckBox, "verify_tls").setChecked(s.verify_tls)
    child(dialog, QLineEdit, "ca_file").setText(s.ca_file or "")
    child(dialog, QDoubleSpinBox, "max_body").setValue(s.max_body / MIB)
    child(dialog, QDoubleSpinBox, "retry_after_cap").setValue(s.retry_after_cap)
    child(dialog, QCheckBox, "mask_passwords").setChecked(s.mask_passwords)
    child(dialog, QCheckBox, "csv_raw").setChecked(s.csv_raw)
    child(dialog, QCheckBox, "fetch_duplicates").setChecked(s.fetch_duplicates)
    child(dialog, QCheckBox, "trailing_slash_matters").setChecked(s.trailing_slash_matters)
    child(dialog, QCheckBox, "query_matters").setChecked(s.query_matters)
    child(dialog, QCheckBox, "keep_runs").setChecked(s.keep_runs)
    child(dialog, QLineEdit, "db_path").setText(s.db_path or "")


# -- the dialog ----------------------------------------------------------------------------------


def test_every_setting_shows_and_comes_back_unchanged(make_dialog):
    assert make_dialog(CHANGED).settings() == CHANGED
    assert make_dialog(Settings()).settings() == Settings()


def test_every_setting_can_be_edited(make_dialog):
    dialog = make_dialog(Settings())
    type_settings(dialog, CHANGED.replace(max_body=3 * MIB))
    assert dialog.settings() == CHANGED.replace(max_body=3 * MIB)


def test_every_setting_has_an_editor_and_a_tooltip_naming_the_command_line(make_dialog):
    dialog = make_dialog()
    names = [f.name for f in dataclasses.fields(Settings)]
    for name in names:
        editors = ["auth_user", "auth_password"] if name == "auth" else [name]
        widgets = [dialog.findChild(QWidget, editor) for editor in editors]
        for widget in widgets:
            assert widget is not None, name
            tip = widget.toolTip() or widget.parentWidget().toolTip()
            assert "Command line:" in tip, name
            assert flag_text(name) in tip  # the table's flag, as `fetchdeck run --help` shows
            assert Settings.options()[name].explain in tip


def test_values_past_the_editor_ranges_are_kept(make_dialog):
    odd = Settings(concurrency=10_000, max_body=1000, timeout=0.125, retry_after_cap=0.05)
    assert make_dialog(odd).settings() == odd


def test_empty_user_agent_means_the_default(make_dialog):
    dialog = make_dialog(CHANGED)
    child(dialog, QLineEdit, "user_agent").clear()
    assert dialog.settings().user_agent == Settings().user_agent


def test_password_is_not_echoed(make_dialog):
    dialog = make_dialog(CHANGED)
    assert child(dialog, QLineEdit, "auth_password").echoMode() == QLineEdit.EchoMode.Password


def test_dependent_fields_follow_their_switch(make_dialog):
    dialog = make_dialog(Settings(follow_redirects=False, verify_tls=False))
    assert not child(dialog, QSpinBox, "max_redirects").isEnabled()
    assert not child(dialog, QLineEdit, "ca_file").isEnabled()
    child(dialog, QCheckBox, "follow_redirects").setChecked(True)
    child(dialog, QCheckBox, "verify_tls").setChecked(True)
    assert child(dialog, QSpinBox, "max_redirects").isEnabled()
    assert child(dialog, QLineEdit, "ca_file").isEnabled()


def test_ok_accepts_and_reports_the_edited_settings(qtbot, make_dialog):
    dialog = make_dialog(Settings())
    dialog.open()
    assert dialog.isVisible()  # open() returned: the dialog does not block the loop
    child(dialog, QSpinBox, "retries").setValue(5)
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(button(dialog, QDialogButtonBox.StandardButton.Ok),
                         Qt.MouseButton.LeftButton)
    assert not dialog.isVisible()
    assert dialog.settings() == Settings(retries=5)


def test_cancel_discards(qtbot, make_dialog):
    dialog = make_dialog(Settings())
    dialog.open()
    child(dialog, QSpinBox, "retries").setValue(5)
    accepted = []
    dialog.accepted.connect(lambda: accepted.append(True))
    with qtbot.waitSignal(dialog.rejected):
        qtbot.mouseClick(button(dialog, QDialogButtonBox.StandardButton.Cancel),
                         Qt.MouseButton.LeftButton)
    assert accepted == []


@pytest.mark.parametrize("field, kind, text, expected", [
    ("headers", QPlainTextEdit, "Accept: */*\nnot a header", "Headers, line 2"),
    ("headers", QPlainTextEdit, "X Bad: 1", "Headers, line 1: header name 'X Bad'"),
    ("proxy", QLineEdit, "proxy:3128", "is not a URL like http://host:3128"),
    ("auth_user", QLineEdit, "a:b", "user name cannot contain"),
])
def test_invalid_input_is_shown_inline_and_keeps_the_dialog_open(
        qtbot, make_dialog, field, kind, text, expected):
    dialog = make_dialog(Settings())
    dialog.open()
    editor = child(dialog, kind, field)
    if isinstance(editor, QPlainTextEdit):
        editor.setPlainText(text)
    else:
        editor.setText(text)
    accepted = []
    dialog.accepted.connect(lambda: accepted.append(True))
    qtbot.mouseClick(button(dialog, QDialogButtonBox.StandardButton.Ok),
                     Qt.MouseButton.LeftButton)
    assert dialog.isVisible() and accepted == []
    error = child(dialog, QLabel, "error")
    assert expected in error.text() and error.isVisibleTo(dialog)
    assert error.textFormat() == Qt.TextFormat.PlainText  # the user's text, shown as typed
    assert dialog.focusWidget() is editor  # the cursor goes to the field at fault
    # Fixing it lets OK through and clears the message.
    if isinstance(editor, QPlainTextEdit):
        editor.setPlainText("")
    else:
        editor.setText("")
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(button(dialog, QDialogButtonBox.StandardButton.Ok),
                         Qt.MouseButton.LeftButton)
    assert dialog.error_text() == ""


def test_missing_ca_file_is_refused_while_verifying(tmp_path, make_dialog):
    dialog = make_dialog(Settings(ca_file=str(tmp_path / "nope.pem")))
    dialog.accept()
    assert "no such file" in dialog.error_text()


def test_restore_defaults_fills_in_every_default_and_can_still_be_cancelled(qtbot, make_dialog):
    dialog = make_dialog(CHANGED)
    dialog.open()
    qtbot.mouseClick(button(dialog, QDialogButtonBox.StandardButton.RestoreDefaults),
                     Qt.MouseButton.LeftButton)
    assert dialog.isVisible()
    assert dialog.settings() == Settings()
    with qtbot.waitSignal(dialog.rejected):
        dialog.reject()


def test_browse_opens_a_non_blocking_chooser_that_fills_the_ca_file(qtbot, tmp_path,
                                                                    make_dialog):
    pem = tmp_path / "company-ca.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\n")
    dialog = make_dialog(Settings())
    dialog.open()
    with qtbot.waitSignal(dialog.browse_opened) as opened:
        qtbot.mouseClick(child(dialog, QPushButton, "ca_browse"), Qt.MouseButton.LeftButton)
    chooser: QFileDialog = opened.args[0]
    assert chooser.isVisible()  # we got here while it is open: open(), not exec()
    chooser.selectFile(str(pem))
    chooser.accept()
    assert child(dialog, QLineEdit, "ca_file").text() == str(pem)
    assert dialog.settings().ca_file == str(pem)


def test_notices_show_config_problems(make_dialog):
    dialog = make_dialog(notices=["settings.json is not valid JSON"])
    notice = child(dialog, QWidget, "notice")
    assert notice.isVisibleTo(dialog)
    assert "not valid JSON" in notice.findChild(QLabel, "notice_text").text()
    assert not child(make_dialog(), QWidget, "notice").isVisibleTo(dialog)


def test_command_line_overrides_are_marked_while_the_fields_show_the_saved_values(make_dialog):
    dialog = make_dialog(Settings(concurrency=20), overrides={"concurrency": 5,
                                                              "verify_tls": False})
    assert child(dialog, QSpinBox, "concurrency").value() == 20  # what OK saves
    assert child(dialog, QWidget, "overrides_note").isVisibleTo(dialog)
    assert "for this session only" in dialog.overrides_text()
    assert "not saved" in dialog.overrides_text()
    assert dialog.override_marks() == {
        "concurrency": "This session uses --concurrency 5 from the command line.",
        "verify_tls": "This session uses --insecure from the command line.",
    }
    assert child(dialog, QLabel, "concurrency_override").isVisibleTo(dialog)
    assert "--concurrency 5" in child(dialog, QSpinBox, "concurrency").toolTip()
    assert "--concurrency 5" not in child(dialog, QSpinBox, "retries").toolTip()


def test_override_marks_follow_the_users_edits(make_dialog, qtbot):
    dialog = make_dialog(Settings(concurrency=20, cookies=True),
                         overrides={"concurrency": 5, "cookies": False})
    spin = child(dialog, QSpinBox, "concurrency")
    spin.setValue(30)
    assert dialog.override_marks()["concurrency"] == (
        "Your value replaces --concurrency 5 for this session and is saved.")
    assert dialog.override_marks()["cookies"] == (
        "This session uses --no-cookies from the command line.")
    child(dialog, QCheckBox, "cookies").setChecked(False)  # the same as the flag, but edited
    assert dialog.override_marks()["cookies"] == (
        "Your value replaces --no-cookies for this session and is saved.")
    spin.setValue(20)  # back to the saved value: the flag applies again
    assert dialog.override_marks()["concurrency"] == (
        "This session uses --concurrency 5 from the command line.")
    # While another field holds something invalid, the marks stay as they were.
    child(dialog, QLineEdit, "proxy").setText("not a proxy")
    spin.setValue(40)
    assert dialog.override_marks()["concurrency"] == (
        "This session uses --concurrency 5 from the command line.")
    child(dialog, QLineEdit, "proxy").setText("")
    assert dialog.override_marks()["concurrency"] == (
        "Your value replaces --concurrency 5 for this session and is saved.")


def test_no_override_note_without_overrides(make_dialog):
    dialog = make_dialog(Settings(concurrency=20))
    assert not child(dialog, QWidget, "overrides_note").isVisibleTo(dialog)
    assert dialog.overrides_text() == "" and dialog.override_marks() == {}
    assert dialog.findChild(QLabel, "concurrency_override") is None


def test_override_marks_hide_secrets():
    assert override_flag("auth", "ann:pa:ss") == "--auth 'ann:***'"
    assert override_flag("proxy", "http://u:secret@proxy:3128") == (
        "--proxy 'http://u:***@proxy:3128'")
    assert override_flag("headers", (("X-Api-Key", "k3y"),)) == "--header 'X-Api-Key: …'"
    assert override_flag("timeout", 2.5) == "--timeout 2.5"
    assert override_flag("cookies", False) == "--no-cookies"


# -- the file ------------------------------------------------------------------------------------


def test_restart_keeps_every_setting_but_credentials(make_dialog):
    save_settings(make_dialog(CHANGED).settings())
    loaded, warnings = load_settings()
    assert warnings == []
    # X-Token is a credential header: never written (see the next tests).
    assert make_dialog(loaded).settings() == CHANGED.replace(
        auth=None, headers=tuple(h for h in CHANGED.headers if h[0] != "X-Token"))


def test_credentials_are_never_written(config_dir):
    save_settings(CHANGED)
    text = config_path().read_text()
    assert "pa:ss" not in text and "auth" not in text


def test_proxy_passwords_and_secret_headers_are_never_written(config_dir):
    save_settings(Settings(proxy="http://pat:pr0xy-pw@proxy.example:3128", headers=(
        ("X-Api-Key", "k3y-value"), ("Cookie", "sid=abc123"), ("Accept", "text/html"))))
    text = config_path().read_text()
    for secret in ("pr0xy", "k3y-value", "abc123"):
        assert secret not in text
    loaded, warnings = load_settings()
    assert warnings == []
    assert loaded.proxy == "http://pat@proxy.example:3128"
    assert loaded.headers == (("Accept", "text/html"),)


def test_file_holds_a_version_and_only_changed_values(config_dir):
    path = save_settings(Settings(retries=5))
    assert path == config_dir / "settings.json"
    assert json.loads(path.read_text()) == {"version": 1, "settings": {"retries": 5}}
    assert [p.name for p in config_dir.iterdir()] == ["settings.json"]  # no temp file left


def test_missing_file_gives_defaults_silently():
    assert load_settings() == (Settings(), [])


def test_corrupt_file_gives_defaults_and_a_warning(config_dir, make_dialog):
    config_dir.mkdir()
    config_path().write_text('{"version": 1, "settings": {"retries": 5')
    settings, warnings = load_settings()
    assert settings == Settings()
    assert len(warnings) == 1 and "not valid JSON" in warnings[0]
    dialog = make_dialog(settings, notices=warnings)
    assert "not valid JSON" in dialog.findChild(QLabel, "notice_text").text()
    # Saving over it keeps the broken file for the user to recover from.
    save_settings(Settings(retries=1))
    assert (config_dir / "settings.json.bak").read_text().endswith('"retries": 5')
    assert load_settings() == (Settings(retries=1), [])


@pytest.mark.parametrize("document, expected", [
    ({"version": 99, "settings": {"retries": 5}}, "newer Fetchdeck"),
    ({"version": "1", "settings": {}}, "no format version"),
    ({"settings": {"retries": 5}}, "no format version"),
    ({"version": 1, "settings": [1]}, 'no "settings" object'),
    ([1, 2], "does not hold a JSON object"),
])
def test_unknown_version_or_shape_gives_defaults_and_a_warning(config_dir, document, expected):
    config_dir.mkdir()
    config_path().write_text(json.dumps(document))
    settings, warnings = load_settings()
    assert settings == Settings()
    assert len(warnings) == 1 and expected in warnings[0]


def test_one_bad_value_falls_back_alone(config_dir):
    config_dir.mkdir()
    config_path().write_text(json.dumps(
        {"version": 1, "settings": {"concurrency": "many", "retries": 5, "colour": "red"}}))
    settings, warnings = load_settings()
    assert settings == Settings(retries=5)
    assert len(warnings) == 2
    assert any("'concurrency'" in w for w in warnings) and any("'colour'" in w for w in warnings)


def test_credentials_in_the_file_are_ignored_with_a_warning(config_dir):
    config_dir.mkdir()
    config_path().write_text(json.dumps({"version": 1, "settings": {"auth": "a:b"}}))
    settings, warnings = load_settings()
    assert settings.auth is None
    assert len(warnings) == 1 and "credentials" in warnings[0]


def test_unreadable_file_gives_defaults_and_a_warning(config_dir):
    config_dir.mkdir()
    config_path().write_bytes(b'{"version": 1, "settings": {"user_agent": "\xff"}}')
    settings, warnings = load_settings()
    assert settings == Settings() and len(warnings) == 1


def test_save_reports_an_unwritable_folder(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("")
    monkeypatch.setenv("FETCHDECK_CONFIG_DIR", str(blocker / "sub"))
    with pytest.raises(OSError):
        save_settings(Settings())


# -- the window: saved settings, command-line overrides and OK -----------------------------------


@pytest.fixture
def started(qtbot, loop):
    """The window as ``python -m app`` starts it: the saved settings and the flags apart."""
    def start(**overrides) -> MainWindow:
        saved, warnings = load_settings()
        assert warnings == []
        window = MainWindow(saved, warnings, overrides=overrides)
        qtbot.addWidget(window)
        return window
    return start


def open_settings(window: MainWindow) -> SettingsDialog:
    window.open_settings()
    # A dialog closed earlier may linger until its deleteLater runs: take the open one.
    [dialog] = [d for d in window.findChildren(SettingsDialog) if d.isVisible()]
    return dialog


def press_ok_in_settings(qtbot, window: MainWindow, edit=lambda dialog: None) -> None:
    dialog = open_settings(window)
    edit(dialog)
    with qtbot.waitSignal(dialog.accepted):
        qtbot.mouseClick(button(dialog, QDialogButtonBox.StandardButton.Ok),
                         Qt.MouseButton.LeftButton)


def test_ok_does_not_save_an_untouched_command_line_value(qtbot, started):
    save_settings(Settings(concurrency=20))
    window = started(concurrency=5)
    assert window.settings.concurrency == 5
    press_ok_in_settings(qtbot, window)
    assert load_settings()[0] == Settings(concurrency=20)
    # The flag still holds for the rest of the session.
    assert window.settings.concurrency == 5 and window.controller.settings.concurrency == 5


def test_a_changed_overridden_field_is_saved_and_wins(qtbot, started):
    save_settings(Settings(concurrency=20))
    window = started(concurrency=5, timeout=3.0)
    press_ok_in_settings(
        qtbot, window, lambda dialog: child(dialog, QSpinBox, "concurrency").setValue(8))
    assert load_settings()[0] == Settings(concurrency=8)
    assert window.settings == Settings(concurrency=8, timeout=3.0)
    assert window.controller.settings == window.settings
    # The dialog no longer says the command line sets it; the other flag still shows.
    dialog = open_settings(window)
    assert list(dialog.override_marks()) == ["timeout"]
    dialog.reject()


def test_other_fields_save_as_before_while_flags_stay_for_the_session(qtbot, started):
    window = started(concurrency=5, verify_tls=False)
    press_ok_in_settings(
        qtbot, window, lambda dialog: child(dialog, QSpinBox, "retries").setValue(4))
    assert load_settings()[0] == Settings(retries=4)
    assert window.settings == Settings(retries=4, concurrency=5, verify_tls=False)


def test_credentials_from_the_command_line_stay_for_the_session_and_are_never_saved(
        qtbot, started):
    window = started(auth="ann:pw")

    def untouched(dialog: SettingsDialog) -> None:
        # The fields hold the user's own credentials (none yet), never the flag's password.
        assert child(dialog, QLineEdit, "auth_user").text() == ""
        assert child(dialog, QLineEdit, "auth_password").text() == ""
        assert dialog.override_marks()["auth"] == (
            "This session uses --auth 'ann:***' from the command line.")

    press_ok_in_settings(qtbot, window, untouched)
    assert "auth" not in config_path().read_text()
    assert window.settings.auth == "ann:pw"
    # Credentials typed in the dialog win for the session, and are not saved either.
    press_ok_in_settings(qtbot, window, lambda dialog: (
        child(dialog, QLineEdit, "auth_user").setText("bob"),
        child(dialog, QLineEdit, "auth_password").setText("pw2")))
    assert "auth" not in config_path().read_text() and "pw2" not in config_path().read_text()
    assert window.settings.auth == "bob:pw2"


def test_no_override_note_when_started_without_flags(qtbot, started):
    window = started()
    dialog = open_settings(window)
    assert dialog.overrides_text() == ""
    dialog.reject()
