"""The command line's fetching options, made from the settings table (:mod:`app.core.settings`).

Each flag's value is checked by the same check the settings run, so ``--proxy 'not a url'`` is a
usage error naming the flag, exactly as a bad value in the dialog or the settings file is named.
"""

from __future__ import annotations

import argparse
from typing import Any

from app.core.settings import (
    _TYPES,
    OPTIONS,
    SettingsError,
    check_value,
    default,
    file_problem,
    parse_header,
)

__all__ = ["add_setting_arguments", "overrides_from_args"]


def _typed(name: str) -> Any:
    """An argparse ``type=`` that converts and checks one value of setting ``name``."""
    kind = _TYPES[name]
    option = OPTIONS[name]

    def convert(text: str) -> Any:
        value: Any
        try:
            value = int(text) if kind == "int" else float(text) if kind == "float" else text
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"{text!r} is not a {'whole ' if kind == 'int' else ''}number") from None
        problem = check_value(name, option, value)
        if not problem and option.is_file:
            problem = file_problem(value)
        if problem:
            raise argparse.ArgumentTypeError(problem)
        return value

    convert.__name__ = name  # argparse names the type in some messages
    return convert


def _header(text: str) -> tuple[str, str]:
    try:
        return parse_header(text)
    except SettingsError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _default_text(name: str) -> str:
    value = default(name)
    if name == "max_body":
        return f"{value // (1024 * 1024)} MiB"
    if isinstance(value, float):
        return f"{value:g}"
    return "" if value in (None, ()) else str(value)


def add_setting_arguments(parser: argparse.ArgumentParser) -> None:
    """Add one option per setting that has a flag, in two groups (fetching, display/export).

    Every default is None ("not given"): a flag applies on top of the saved settings for this
    session only, and only what was given is an override.
    """
    groups = {
        "fetching": parser.add_argument_group(
            "fetching (defaults come from the saved settings; a flag applies to this run "
            "only and is not saved)"),
        "lists": parser.add_argument_group("lists and checks"),
        "storage": parser.add_argument_group("run history"),
        "display": parser.add_argument_group("display and export"),
    }
    for name, option in OPTIONS.items():
        group = groups[option.group]
        shown = _default_text(name)
        help_text = option.help + (f"; default {shown}" if shown else "")
        if option.off_flag:
            group.add_argument(option.off_flag, dest=name, action="store_false", default=None,
                               help=f"do not {option.help}" if name != "verify_tls"
                               else "do not verify TLS certificates")
        elif _TYPES[name] == "bool":
            group.add_argument(option.flag, dest=name, action=argparse.BooleanOptionalAction,
                               default=None,
                               help=f"{option.help} ({'on' if default(name) else 'off'})")
        elif name == "headers":
            group.add_argument(option.flag, dest=name, action="append", type=_header,
                               metavar=option.metavar, default=None, help=option.help)
        elif option.choices:
            group.add_argument(option.flag, dest=name, choices=option.choices, default=None,
                               help=f"{option.help}; default {shown}")
        else:
            group.add_argument(option.flag, dest=name, type=_typed(name), default=None,
                               metavar=option.metavar, help=help_text)


def overrides_from_args(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line gave, by field name (only those given)."""
    changes: dict[str, Any] = {}
    for name in OPTIONS:
        value = getattr(args, name, None)
        if value is None:
            continue
        changes[name] = tuple(value) if name == "headers" else value
    return changes
