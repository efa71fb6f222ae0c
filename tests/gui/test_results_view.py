"""The results view repaints rows a change shows, and only those: a run reports each tick's
finished rows as one range, mostly far from what is on screen."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtCore import QEvent, QObject, QRect
from PySide6.QtWidgets import QApplication
from pytestqt.qtbot import QtBot

from app.core.result import Outcome, Result
from app.core.targets import TargetList
from app.gui.results_model import COL_STATUS, ResultsModel
from app.gui.results_view import ResultsView

ROWS = 5000


class PaintLog(QObject):
    """The regions of every paint event a widget receives."""

    def __init__(self) -> None:
        super().__init__()
        self.regions: list[QRect] = []

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            self.regions.append(event.region().boundingRect())  # type: ignore[attr-defined]
        return False


@pytest.fixture
def view(qapp: QApplication, qtbot: QtBot) -> Iterator[tuple[ResultsView, ResultsModel, PaintLog]]:
    model = ResultsModel()
    model.reset_rows(TargetList.from_text("\n".join(f"https://h.example/{i}"
                                                    for i in range(ROWS))))
    view = ResultsView()
    view.setModel(model)
    view.resize(700, 400)
    qtbot.addWidget(view)
    view.show()
    qtbot.waitExposed(view)
    log = PaintLog()
    view.viewport().installEventFilter(log)
    painted(qtbot, view, log)  # the first paint is done
    log.regions.clear()
    yield view, model, log
    view.viewport().removeEventFilter(log)


MARKER = QRect(0, 0, 1, 1)


def painted(qtbot: QtBot, view: ResultsView, log: PaintLog) -> list[QRect]:
    """The regions repainted by the next paint pass, which is forced by asking for a marker
    pixel (so the assertion that something was *not* repainted waits for a moment that proves
    the pass happened, not for a guessed time)."""
    view.viewport().update(MARKER)
    qtbot.waitUntil(lambda: any(r.contains(MARKER) for r in log.regions), timeout=5_000)
    regions = [r for r in log.regions if r != MARKER]
    log.regions.clear()
    return regions


def finish(model: ResultsModel, rows: range) -> None:
    for i in rows:
        model.store(Result.of(i, i + 1, f"https://h.example/{i}", Outcome.OK, status=200, bytes=10))
    model.flush()


def test_a_change_below_the_screen_repaints_nothing(
    qtbot: QtBot, view: tuple[ResultsView, ResultsModel, PaintLog],
) -> None:
    table, model, log = view
    finish(model, range(3000, 3800))
    # Nothing repainted: proved by a paint pass that repaints only a marker pixel.
    assert painted(qtbot, table, log) == []
    # The rows did change: scrolled to, they show it.
    table.scrollTo(model.index(3500, 0))
    qtbot.waitUntil(lambda: bool(log.regions))
    row = table.rowAt(table.viewport().height() // 2)
    assert 3000 <= row < 3800
    assert model.data(model.index(row, COL_STATUS)) == "200"


def test_a_change_partly_on_screen_repaints_only_the_rows_shown(
    qtbot: QtBot, view: tuple[ResultsView, ResultsModel, PaintLog],
) -> None:
    table, model, log = view
    last_shown = table.rowAt(table.viewport().height() - 1)
    assert 5 < last_shown < 100
    finish(model, range(2, 4000))
    qtbot.waitUntil(lambda: bool(log.regions))
    painted = log.regions[0]
    assert painted.top() >= table.rowViewportPosition(2)
    assert painted.bottom() <= table.viewport().height()
    top_left_status = table.indexAt(painted.topLeft()).row()
    assert top_left_status == 2
    assert model.data(model.index(2, COL_STATUS)) == "200"


def test_an_on_screen_change_is_painted(
    qtbot: QtBot, view: tuple[ResultsView, ResultsModel, PaintLog],
) -> None:
    table, model, log = view
    finish(model, range(0, 1))
    qtbot.waitUntil(lambda: bool(log.regions))
    assert log.regions[0].intersects(table.visualRect(model.index(0, COL_STATUS)))
