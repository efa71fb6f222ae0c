"""The desktop entry and the AppStream metainfo say what software centres need, read back with
real parsers: which files Fetchdeck opens, its screenshots, homepage and developer."""

from __future__ import annotations

import configparser
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DESKTOP = ROOT / "resources" / "io.github.fetchdeck.Fetchdeck.desktop"
METAINFO = ROOT / "resources" / "io.github.fetchdeck.Fetchdeck.metainfo.xml"


def test_the_desktop_entry_offers_fetchdeck_for_url_lists_and_their_tables_only():
    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # keys are case-sensitive
    entry.read(DESKTOP, encoding="utf-8")
    types = [t for t in entry["Desktop Entry"]["MimeType"].split(";") if t]
    assert types == ["text/uri-list", "text/csv", "text/tab-separated-values"]
    assert entry["Desktop Entry"]["Exec"].startswith("fetchdeck ")


def test_the_metainfo_names_screenshots_homepage_and_developer():
    root = ET.parse(METAINFO).getroot()
    developer = root.find("developer")
    assert developer is not None and developer.get("id") == "io.github.fetchdeck"
    assert developer.findtext("name") == "Fetchdeck developers"
    assert root.findtext("url[@type='homepage']", "").startswith("https://")
    images = [image.text or "" for image in root.iter("image")]
    assert len(images) == 2
    for url in images:
        assert url.startswith("https://raw.githubusercontent.com/")
        assert (ROOT / url.split("/main/", 1)[1]).is_file()  # the file the URL will serve
    assert [s.get("type") for s in root.iter("screenshot")][0] == "default"
    assert root.findtext("launchable") == DESKTOP.name


@pytest.mark.skipif(shutil.which("appstreamcli") is None, reason="needs appstreamcli")
def test_appstreamcli_validates_the_metainfo():
    done = subprocess.run(["appstreamcli", "validate", "--no-net", str(METAINFO)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
