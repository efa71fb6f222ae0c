"""The window on a real X server (Xvfb), not offscreen: at 1366x768 it opens whole, and a layout
saved larger than the screen comes back inside it at 2x scaling. Skipped where Xvfb or Qt's
xcb libraries are missing (the platform check names those)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from app.gui.platform_check import xcb_problem

pytestmark = [
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="X11 only"),
    pytest.mark.skipif(shutil.which("Xvfb") is None, reason="needs Xvfb"),
]

PROBE = textwrap.dedent("""
    import json, sys
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from app.core.settings import Settings
    from app.gui.main_window import MainWindow
    window = MainWindow(Settings())
    window.show()
    for _ in range(20):
        app.processEvents()
    screen = window.screen().availableGeometry()
    g = window.geometry()
    print(json.dumps({"platform": app.platformName(), "dpr": window.devicePixelRatio(),
                      "screen": [screen.x(), screen.y(), screen.width(), screen.height()],
                      "window": [g.x(), g.y(), g.width(), g.height()],
                      "status": window.statusBar().isVisible()}))
    if len(sys.argv) > 1:
        window.setGeometry(*json.loads(sys.argv[1]))
        for _ in range(5):
            app.processEvents()
    window.close()
""")


def start_xvfb() -> tuple[subprocess.Popen[bytes], str]:
    """An X server of its own at 1366x768, and its display name (the test is skipped when
    Qt's xcb plugin cannot load, or the server does not start)."""
    if xcb_problem():
        pytest.skip("Qt's xcb plugin cannot load here")
    # -displayfd: the server picks a free display number and writes it here when it is ready.
    read_end, write_end = os.pipe()
    server = subprocess.Popen(["Xvfb", "-displayfd", str(write_end), "-screen", "0",
                               "1366x768x24", "-nolisten", "tcp"], pass_fds=(write_end,),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.close(write_end)
    with os.fdopen(read_end) as ready:
        number = ready.readline().strip()  # empty if the server died first
    if not number.isdigit():
        server.kill()
        pytest.skip("Xvfb did not start")
    return server, f":{number}"


@pytest.fixture(scope="module")
def display(tmp_path_factory):
    server, name = start_xvfb()
    yield name
    server.terminate()
    server.wait(10)


def probe(display, config, scale=None, set_geometry=None):
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", DISPLAY=display,
               FETCHDECK_CONFIG_DIR=str(config))
    env.pop("QT_SCALE_FACTOR", None)
    if scale:
        env["QT_SCALE_FACTOR"] = str(scale)
    args = [sys.executable, "-c", PROBE] + ([json.dumps(set_geometry)] if set_geometry else [])
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=60,
                          cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def inside(window, screen):
    x, y, w, h = window
    sx, sy, sw, sh = screen
    return sx <= x and sy <= y and x + w <= sx + sw and y + h <= sy + sh


def test_at_1366x768_the_window_and_its_status_bar_are_on_screen(display, tmp_path):
    seen = probe(display, tmp_path)
    assert seen["platform"] == "xcb"
    assert seen["screen"][2:] == [1366, 768]
    assert inside(seen["window"], seen["screen"]) and seen["status"]
    assert seen["window"][2:] == [1280, 728]


def test_a_layout_saved_larger_than_the_screen_fits_at_2x(display, tmp_path):
    probe(display, tmp_path, set_geometry=[0, 0, 1340, 740])  # saved at 1x, nearly full
    assert (tmp_path / "window.json").is_file()
    seen = probe(display, tmp_path, scale=2)
    assert seen["dpr"] == 2.0
    assert seen["screen"][2:] == [683, 384]  # logical pixels
    assert inside(seen["window"], seen["screen"])


DIALOG_PROBE = textwrap.dedent("""
    import json
    from PySide6.QtWidgets import QApplication, QDialogButtonBox, QScrollArea
    app = QApplication([])
    from app.core.settings import Settings
    from app.gui.main_window import MainWindow
    from app.gui.settings_dialog import SettingsDialog
    window = MainWindow(Settings())
    window.show()
    # Command-line flags add a note under their fields and one by the buttons: the tallest
    # the dialog gets.
    dialog = SettingsDialog(Settings(), window, notices=["A notice about the settings file."],
                            overrides={"concurrency": 40, "per_host": 0, "timeout": 5.0})
    dialog.show()
    for _ in range(30):
        app.processEvents()
    screen = dialog.screen().availableGeometry()
    g = dialog.frameGeometry()
    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    corner = ok.mapToGlobal(ok.rect().bottomRight())
    fields = dialog.findChild(QScrollArea, "fields")
    print(json.dumps({"screen": [screen.x(), screen.y(), screen.width(), screen.height()],
                      "dialog": [g.x(), g.y(), g.width(), g.height()],
                      "ok": [corner.x(), corner.y()], "visible": ok.isVisible(),
                      "scrolls": fields is not None
                                 and fields.verticalScrollBar().maximum() > 0}))
    dialog.close()
    window.close()
""")


def test_at_1366x768_the_settings_dialog_and_its_buttons_are_on_screen(display, tmp_path):
    env = dict(os.environ, QT_QPA_PLATFORM="xcb", DISPLAY=display,
               FETCHDECK_CONFIG_DIR=str(tmp_path))
    env.pop("QT_SCALE_FACTOR", None)
    done = subprocess.run([sys.executable, "-c", DIALOG_PROBE], capture_output=True, text=True,
                          env=env, timeout=60, cwd=Path(__file__).parents[2])
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert inside(seen["dialog"], seen["screen"]), seen
    x, y = seen["ok"]
    sx, sy, sw, sh = seen["screen"]
    assert seen["visible"] and sx <= x < sx + sw and sy <= y < sy + sh, seen
    assert seen["scrolls"]  # the fields scroll instead of pushing the buttons off screen


def test_a_lost_display_is_said_plainly_and_the_run_is_kept_to_resume(tmp_path):
    """The X server dies mid-run: Qt stops the loop under the window. That is not a bug: the
    window says its display went away, exits 1, and the run history keeps what was fetched,
    as an interrupted run that can be resumed."""
    import asyncio  # noqa: PLC0415
    import sqlite3  # noqa: PLC0415
    import time  # noqa: PLC0415

    from aiohttp import web  # noqa: PLC0415

    from tests.servers import ThreadedServer  # noqa: PLC0415

    async def page(request: web.Request) -> web.Response:
        await asyncio.sleep(0.2)
        return web.Response(text=f"<title>{request.path}</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/page/{n}", page)
    server, name = start_xvfb()
    try:
        with ThreadedServer(app) as site:
            listing = tmp_path / "urls.txt"
            listing.write_text("\n".join(site.url(f"/page/{n}") for n in range(400)) + "\n")
            env = dict(os.environ, QT_QPA_PLATFORM="xcb", DISPLAY=name,
                       FETCHDECK_CONFIG_DIR=str(tmp_path / "config"),
                       FETCHDECK_DATA_DIR=str(tmp_path / "data"))
            window = subprocess.Popen(
                [sys.executable, "-m", "app", str(listing), "--run", "--concurrency", "4"],
                env=env, cwd=Path(__file__).parents[2], stdout=subprocess.PIPE,
                stderr=subprocess.PIPE, text=True)
            deadline = time.monotonic() + 60
            while site.seen.count() < 30 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert site.seen.count() >= 30, "the run did not start"
            time.sleep(1.0)  # rows finished a second before are in the file
            server.kill()
            server.wait(10)
            out, err = window.communicate(timeout=60)
    finally:
        if server.poll() is None:
            server.kill()
    assert window.returncode == 1, err
    assert "lost its display" in err and "X11 connection broke" in err, err
    for noise in ("bug", "Traceback", "failed", "destroyed"):
        assert noise not in err, err
    with sqlite3.connect(tmp_path / "data" / "runs.sqlite3") as conn:
        (ended, kept), = conn.execute(
            "SELECT ended, ok FROM runs ORDER BY id DESC LIMIT 1").fetchall()
    assert ended == "interrupted" and kept >= 20, (ended, kept)
