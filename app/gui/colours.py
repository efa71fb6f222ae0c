"""Every colour the window paints that is not the style's own, in one place, for light and dark.

Each colour is a pair: the first for a light palette, the second for a dark one, chosen so that
text in it reads against the palette's base and alternate-base colours with a contrast ratio of
at least 4.5 (WCAG AA). Which one applies follows the palette the widget is painted with, so a
dark system theme (or a dark Fusion palette) gets light-on-dark text, never red on black.
"""

from __future__ import annotations

from typing import NamedTuple

from PySide6.QtGui import QColor, QPalette

from app.core.result import Outcome

__all__ = ["NoticeColours", "contrast_ratio", "dark_palette", "error_colour", "is_dark",
           "notice_colours", "outcome_colour", "outcome_colours", "status_class_colour"]

# (light, dark). One red for "failed" everywhere: table, details, error text.
_OUTCOME = {
    Outcome.OK: ("#1a7a38", "#7ddc95"),
    Outcome.HTTP_ERROR: ("#a14f00", "#ffb870"),
    Outcome.FAILED: ("#c01c28", "#ff8f8f"),
    Outcome.INVALID: ("#735800", "#e8cc5a"),
    Outcome.CANCELLED: ("#666666", "#ababab"),
    Outcome.PENDING: ("#666666", "#ababab"),
}
_NOTICE = {  # background, border, text
    False: ("#fff4ce", "#d9b84a", "#3d3000"),
    True: ("#4a3d0c", "#8a7420", "#fbeeb8"),
}


class NoticeColours(NamedTuple):
    background: QColor
    border: QColor
    text: QColor


def is_dark(palette: QPalette) -> bool:
    """Whether text is painted light on dark (a view's base colour darker than its text)."""
    base = palette.color(QPalette.ColorRole.Base)
    text = palette.color(QPalette.ColorRole.Text)
    return _luminance(base) < _luminance(text)


def outcome_colour(outcome: Outcome, palette: QPalette) -> QColor:
    return QColor(_OUTCOME[outcome][is_dark(palette)])


# Status classes (charts): 2xx as ok, 3xx blue (only seen when redirects are not followed),
# 4xx as HTTP errors, 5xx as failures; anything else as cancelled's grey.
_STATUS_CLASS = {2: _OUTCOME[Outcome.OK], 3: ("#1565c0", "#64b5f6"),
                 4: _OUTCOME[Outcome.HTTP_ERROR], 5: _OUTCOME[Outcome.FAILED]}


def status_class_colour(status_class: int, palette: QPalette) -> QColor:
    """The colour of a status class (``status // 100``) for ``palette``."""
    pair = _STATUS_CLASS.get(status_class, _OUTCOME[Outcome.CANCELLED])
    return QColor(pair[is_dark(palette)])


def outcome_colours(palette: QPalette) -> dict[Outcome, QColor]:
    """Every outcome's text colour for ``palette``: looked up once per palette change, so the
    table's ``data()`` does a dict lookup per painted cell, nothing more."""
    dark = is_dark(palette)
    return {outcome: QColor(pair[dark]) for outcome, pair in _OUTCOME.items()}


def error_colour(palette: QPalette) -> QColor:
    """Text that says something went wrong (a failed save, a refused value)."""
    return outcome_colour(Outcome.FAILED, palette)


def notice_colours(palette: QPalette) -> NoticeColours:
    return NoticeColours(*(QColor(c) for c in _NOTICE[is_dark(palette)]))


def contrast_ratio(a: QColor, b: QColor) -> float:
    """WCAG 2 contrast ratio of two colours, 1 (none) to 21 (black on white)."""
    high, low = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


def dark_palette() -> QPalette:
    """A dark palette for the Fusion style (screenshots, tests, ``--dark`` users' themes)."""
    palette = QPalette()
    role, group = QPalette.ColorRole, QPalette.ColorGroup
    for name, colour in ((role.Window, "#2b2b2b"), (role.WindowText, "#e6e6e6"),
                         (role.Base, "#1e1e1e"), (role.AlternateBase, "#262626"),
                         (role.ToolTipBase, "#3a3a3a"), (role.ToolTipText, "#f0f0f0"),
                         (role.Text, "#e6e6e6"), (role.Button, "#353535"),
                         (role.ButtonText, "#e6e6e6"), (role.BrightText, "#ff6e6e"),
                         (role.Highlight, "#2f65ca"), (role.HighlightedText, "#ffffff"),
                         (role.Link, "#8ab4f8"), (role.PlaceholderText, "#9a9a9a"),
                         (role.Light, "#4a4a4a"), (role.Midlight, "#3c3c3c"),
                         (role.Mid, "#2a2a2a"), (role.Dark, "#1a1a1a"), (role.Shadow, "#000000")):
        palette.setColor(name, QColor(colour))
    for name in (role.WindowText, role.Text, role.ButtonText):
        palette.setColor(group.Disabled, name, QColor("#7a7a7a"))
    return palette


def _luminance(colour: QColor) -> float:
    def channel(value: float) -> float:
        return value / 12.92 if value <= 0.03928 else ((value + 0.055) / 1.055) ** 2.4

    return (0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF())
            + 0.0722 * channel(colour.blueF()))
