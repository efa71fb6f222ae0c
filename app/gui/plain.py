"""Text from servers and files, shown by Qt exactly as it is: never as rich text."""

from __future__ import annotations

import html


def plain_tooltip(text: str) -> str | None:
    """A tooltip that shows ``text`` literally.

    Qt renders a tooltip as HTML whenever ``Qt.mightBeRichText`` guesses so, and a reason phrase
    like ``<b>x</b>`` would pass that test; escaping inside an explicit rich-text wrapper is the
    one form that always shows the characters themselves.
    """
    if not text:
        return None
    return "<qt><p style='white-space:pre-wrap'>" + html.escape(text) + "</p></qt>"
