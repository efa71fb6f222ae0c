"""Every window test keeps its run history in its own folder, never in the user's."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def data_dir(tmp_path, monkeypatch):
    """``FETCHDECK_DATA_DIR`` for this test: its runs.sqlite3 lives here."""
    folder = tmp_path / "data"
    monkeypatch.setenv("FETCHDECK_DATA_DIR", str(folder))
    return folder
