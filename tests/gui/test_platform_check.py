"""Before Qt starts on X: a missing system library is named, with the apt line, and exit 3."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.gui import platform_check
from app.gui.platform_check import (
    missing_from_ldd,
    missing_libraries,
    needed_libraries,
    problem_message,
    uses_xcb,
    xcb_plugin_files,
)

LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007fa11f9a4000)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007fa11ec00000)
\tlibxcb-cursor.so.0 => /lib/x86_64-linux-gnu/libxcb-cursor.so.0 (0x00007fa11f7ec000)
\tlibxcb-icccm.so.4 => not found
\tlibxcb-keysyms.so.1 => not found
\tlibxcb-icccm.so.4 => not found
\tlibX11.so.6 => /lib/x86_64-linux-gnu/libX11.so.6 (0x00007fa11e2be000)
"""


def test_the_ldd_listing_yields_the_missing_libraries_once_each():
    assert missing_from_ldd(LDD_OUTPUT) == ["libxcb-icccm.so.4", "libxcb-keysyms.so.1"]
    assert missing_from_ldd("\tlibc.so.6 => /lib/libc.so.6 (0x1)\n") == []


def test_the_message_names_each_library_and_one_apt_line():
    message = problem_message(missing_from_ldd(LDD_OUTPUT) + ["libweird.so.9"])
    assert "libxcb-icccm.so.4  (package libxcb-icccm4)" in message
    assert "libxcb-keysyms.so.1  (package libxcb-keysyms1)" in message
    apt_lines = [line for line in message.splitlines() if "apt-get install" in line]
    assert apt_lines == ["  sudo apt-get install libxcb-icccm4 libxcb-keysyms1"]
    assert "libweird.so.9" in message  # unknown to the table, still named


def test_every_system_library_the_installed_plugin_needs_has_a_package():
    files = xcb_plugin_files()
    if not files:
        pytest.skip("no PySide6 xcb plugin on this platform")
    names = {name for path in files for name in needed_libraries(path)
             if not platform_check._BUNDLED.match(name)
             and name not in platform_check._ALWAYS_THERE}
    assert "libxcb-icccm.so.4" in names and "libxkbcommon-x11.so.0" in names
    assert names - set(platform_check.PACKAGES) == set()


@pytest.mark.skipif(shutil.which("ldd") is None, reason="needs ldd")
def test_the_check_agrees_with_ldd_on_the_installed_plugin():
    (plugin, *_rest) = xcb_plugin_files() or [None]
    if plugin is None:
        pytest.skip("no PySide6 xcb plugin on this platform")
    ldd = subprocess.run(["ldd", str(plugin)], capture_output=True, text=True, check=True)
    assert "libxcb" in ldd.stdout
    assert sorted(missing_libraries([plugin])) == sorted(missing_from_ldd(ldd.stdout))
    direct = set(needed_libraries(plugin))
    assert direct <= {line.split("=>")[0].strip() for line in ldd.stdout.splitlines()}


def test_a_library_the_loader_cannot_load_stops_the_start_with_exit_3(tmp_path: Path):
    """As a user hits it: an X display, and one library the loader finds but cannot load."""
    if not xcb_plugin_files():
        pytest.skip("no PySide6 xcb plugin on this platform")
    hidden = tmp_path / "lib"
    hidden.mkdir()
    (hidden / "libxcb-randr.so.0").write_bytes(b"")  # "file too short" to the loader
    env = dict(os.environ, LD_LIBRARY_PATH=str(hidden), QT_QPA_PLATFORM="xcb", DISPLAY=":97")
    script = textwrap.dedent("""
        from app.gui.platform_check import exit_if_qt_cannot_start
        exit_if_qt_cannot_start()
        print("Qt would start now")
    """)
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env=env, cwd=Path(__file__).parents[2], timeout=60)
    assert done.returncode == 3, done.stderr
    assert "libxcb-randr.so.0  (package libxcb-randr0)" in done.stderr
    assert "sudo apt-get install" in done.stderr and "libxcb-randr0" in done.stderr
    assert "Qt would start now" not in done.stdout


def test_only_an_x_display_is_checked():
    assert uses_xcb({"DISPLAY": ":0"}, "linux")
    assert uses_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not uses_xcb({"QT_QPA_PLATFORM": "offscreen", "DISPLAY": ":0"}, "linux")
    assert not uses_xcb({"DISPLAY": ":0", "XDG_SESSION_TYPE": "wayland",
                         "WAYLAND_DISPLAY": "wayland-0"}, "linux")
    assert not uses_xcb({"DISPLAY": ":0"}, "darwin")
    assert not uses_xcb({}, "linux")


def test_a_file_that_is_not_elf_is_refused(tmp_path: Path):
    path = tmp_path / "not.so"
    path.write_text("hello")
    with pytest.raises(ValueError):
        needed_libraries(path)
