"""The Settings dialog's parts: command-line flag texts, header text, and its field widgets.

Split from app/gui/settings_dialog.py, which composes these into the dialog.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any, TypeVar, cast

from PySide6.QtCore import QSize, Qt
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import (
    QCheckBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.core.redact import mask_url
from app.core.settings import _TYPES, OPTIONS, SettingsError, flag_text, parse_header
from app.core.sources import split_lines

METHOD_LABELS = {
    "get": "GET",
    "head": "HEAD (headers only)",
    "head-then-get": "HEAD, then GET if HEAD is refused",
}


def parse_headers(text: str) -> tuple[tuple[str, str], ...]:
    """``Name: value`` lines -> pairs; blank lines are skipped.

    Raises :class:`SettingsError` naming the first bad line.
    """
    pairs: list[tuple[str, str]] = []
    for number, line in split_lines(text):
        if not line.strip():
            continue
        if ":" not in line:
            raise SettingsError(f"Headers, line {number}: expected “Name: value”, got {line!r}")
        try:
            pairs.append(parse_header(line))
        except SettingsError as exc:
            raise SettingsError(f"Headers, line {number}: {exc}") from None
    return tuple(pairs)


def format_headers(headers: Sequence[tuple[str, str]]) -> str:
    return "\n".join(f"{name}: {value}" for name, value in headers)


def override_flag(name: str, value: Any) -> str:
    """A command-line override as the user typed it, e.g. ``--concurrency 5``.

    Secrets stay hidden, since the dialog may be on a shared screen: the password of ``--auth``
    and of a proxy URL, and header values (an API key is often one).
    """
    option = OPTIONS[name]
    if option.off_flag and not value:
        return option.off_flag
    flag = option.flag or "--" + name.replace("_", "-")
    if isinstance(value, bool):
        return flag if value else f"--no-{flag[2:]}"
    if name == "headers":
        return " ".join(f"--header {shlex.quote(f'{header}: …')}" for header, _ in value)
    if name == "auth":
        return f"--auth {shlex.quote(str(value).partition(':')[0] + ':***')}"
    if name == "proxy":
        return f"--proxy {shlex.quote(mask_url(str(value)))}"
    if isinstance(value, float):
        return f"{flag} {value:g}"
    return f"{flag} {shlex.quote(str(value))}"


class HeadersEdit(QPlainTextEdit):
    """A few lines tall by default; it takes whatever height the column has left."""

    def sizeHint(self) -> QSize:  # noqa: N802 - Qt override
        hint = super().sizeHint()
        lines = self.fontMetrics().lineSpacing()
        return QSize(hint.width(), lines * 4 + 2 * self.frameWidth() + 8)

    def minimumSizeHint(self) -> QSize:  # noqa: N802 - Qt override
        return self.sizeHint()


def form_of(widget: QWidget) -> QFormLayout:
    """The form a field sits in: its group box's layout."""
    return cast(QFormLayout, cast(QGroupBox, widget.parentWidget()).layout())


def align_labels(column: QVBoxLayout) -> None:
    """Give the forms stacked in one column the same label width, so their fields line up."""
    groups = [column.itemAt(i).widget() for i in range(column.count())]  # type: ignore[union-attr]
    forms = [cast(QFormLayout, group.layout()) for group in groups if isinstance(group, QGroupBox)]
    labels = [item.widget() for form in forms for row in range(form.rowCount())
              if (item := form.itemAt(row, QFormLayout.ItemRole.LabelRole)) is not None]
    found = [label for label in labels if isinstance(label, QLabel)]
    width = max((label.sizeHint().width() for label in found), default=0)
    for label in found:
        label.setMinimumWidth(width)
        label.setAlignment(forms[0].labelAlignment())


W = TypeVar("W", bound=QWidget)


def named(widget: W, name: str) -> W:
    """``widget`` with its object name set: tests and style sheets find editors by it."""
    if name:
        widget.setObjectName(name)
    return widget


def fit_range(spin: QSpinBox, value: int) -> int:
    # A value set on the command line may be past the spin box's range; widen rather than clip.
    spin.setMaximum(max(spin.maximum(), min(value, 2**31 - 1)))
    return value


def field_group(title: str, rows: list[tuple[str, QWidget, str]]) -> QGroupBox:
    group = QGroupBox(title)
    form = QFormLayout(group)
    form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
    form.setLabelAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
    for label, widget, explanation in rows:
        name = widget.objectName()
        if explanation:
            widget.setToolTip(flag_tooltip(explanation, name))
        if label:
            form.addRow(label, widget)
        else:
            form.addRow(widget)
    return group


def flag_tooltip(explanation: str, name: str) -> str:
    flag = flag_text(name) if name in OPTIONS else ""
    if not flag:
        return explanation
    return f"{explanation}\n\nCommand line: {flag}"


def explained(name: str) -> str:
    """A setting's explanation from the settings table (the dialog's tooltip)."""
    return OPTIONS[name].explain


def label_for(name: str) -> str:
    return OPTIONS[name].label + ":"


def spin_for(name: str, *, decimals: int = 2, suffix: str = "", special: str = "",
             scale: float = 1.0) -> QSpinBox | QDoubleSpinBox:
    """The editor of a numeric setting, its range from the settings table (shown in units of
    ``scale``: max_body in MiB). A setting whose 0 means "no limit" gets 0 and a special text."""
    option = OPTIONS[name]
    low = 0.0 if option.zero_means else float(option.low or 0)
    high = float(option.high if option.high is not None else 2**31 - 1)
    special = special or (option.zero_means.capitalize() if option.zero_means else "")
    if _TYPES[name] == "int" and scale == 1.0:
        return int_spin(name, int(low), int(min(high, 2**31 - 1)), special=special)
    return double_spin(name, max(low / scale, 10 ** -decimals if low > 0 else 0.0),
                       high / scale, decimals, suffix, special=special)


def int_spin(name: str, low: int, high: int, *, special: str = "") -> QSpinBox:
    spin = named(QSpinBox(), name)
    spin.setRange(low, high)
    spin.setAccelerated(True)
    if special:
        spin.setSpecialValueText(special)
    return spin


def double_spin(name: str, low: float, high: float, decimals: int, suffix: str, *,
           special: str = "") -> QDoubleSpinBox:
    spin = named(QDoubleSpinBox(), name)
    spin.setDecimals(decimals)
    spin.setRange(low, high)
    spin.setSuffix(suffix)
    spin.setAccelerated(True)
    if special:
        spin.setSpecialValueText(special)
    return spin


def line_edit(name: str, placeholder: str) -> QLineEdit:
    edit = named(QLineEdit(), name)
    edit.setPlaceholderText(placeholder)
    edit.setClearButtonEnabled(True)
    return edit


def check_box(name: str, text: str) -> QCheckBox:
    return named(QCheckBox(text), name)


def plain_label(text: str, objectName: str = "") -> QLabel:  # noqa: N803 - Qt's name
    label = named(QLabel(), objectName)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setText(text)
    return label


def hint_style(label: QLabel) -> None:
    """Secondary text: smaller and greyed, as platform dialogs show explanations."""
    font = label.font()
    font.setPointSizeF(font.pointSizeF() * 0.9)
    label.setFont(font)
    palette = label.palette()
    palette.setColor(QPalette.ColorRole.WindowText,
                     palette.color(QPalette.ColorRole.PlaceholderText))
    label.setPalette(palette)
