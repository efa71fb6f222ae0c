"""Run settings: one frozen dataclass, validated on creation, changed with `dataclasses.replace`.

Persistence and the dialog live at the GUI edge; the command line maps its flags onto these fields.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from app import __version__

Method = Literal["get", "head", "head-then-get"]
METHODS: tuple[Method, ...] = ("get", "head", "head-then-get")

MIB = 1024 * 1024
# RFC 9110 field-name token; aiohttp sends any name, and strict servers answer 400 to all URLs.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
DEFAULT_USER_AGENT = f"Fetchdeck/{__version__}"


class SettingsError(ValueError):
    """A setting has a value Fetchdeck cannot use; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that shapes a run.

    ==================  ==========================================================  =========
    field               meaning                                                     default
    ==================  ==========================================================  =========
    concurrency         requests in flight in the whole run                         50
    per_host            requests in flight to one host (0 = no per-host limit)      6
    rate                requests started per second per host (0 = no limit)         0
    timeout             seconds for one attempt, queueing excluded                  20
    connect_timeout     seconds to open a connection (TCP + TLS)                    10
    retries             extra attempts on connect errors, timeouts, 429/502/503/504 2
    method              get, head, or head-then-get (GET when HEAD is refused)      get
    follow_redirects    follow 3xx answers                                          True
    max_redirects       redirects followed before giving up                         10
    headers             extra request headers, as (name, value) pairs               ()
    user_agent          User-Agent header                                           Fetchdeck/v
    cookies             keep cookies between requests of one run                    True
    auth                "user:password" for HTTP basic auth on every URL            None
    proxy               http:// proxy URL; None honours the environment's proxies   None
    verify_tls          check certificates                                          True
    ca_file             extra CA bundle (PEM) trusted besides the system's          None
    max_body            bytes of body read, after decompression, before giving up   10 MiB
    retry_after_cap     longest Retry-After wait honoured, in seconds               120
    mask_passwords      hide URL passwords in the table, panel, logs and exports    True
    csv_raw             export cells exactly, without neutralising formulas         False
    ==================  ==========================================================  =========
    """

    concurrency: int = 50
    per_host: int = 6
    rate: float = 0.0
    timeout: float = 20.0
    connect_timeout: float = 10.0
    retries: int = 2
    method: Method = "get"
    follow_redirects: bool = True
    max_redirects: int = 10
    headers: tuple[tuple[str, str], ...] = field(default_factory=tuple)
    user_agent: str = DEFAULT_USER_AGENT
    cookies: bool = True
    auth: str | None = None
    proxy: str | None = None
    verify_tls: bool = True
    ca_file: str | None = None
    max_body: int = 10 * MIB
    retry_after_cap: float = 120.0
    mask_passwords: bool = True
    csv_raw: bool = False

    def __post_init__(self) -> None:
        _check(self.concurrency >= 1, "concurrency must be at least 1")
        _check(self.per_host >= 0, "per-host limit must be 0 (no limit) or more")
        _check(self.rate >= 0, "rate must be 0 (no limit) or more")
        _check(self.timeout > 0, "timeout must be more than 0 seconds")
        _check(self.connect_timeout > 0, "connect timeout must be more than 0 seconds")
        _check(self.retries >= 0, "retries must be 0 or more")
        _check(self.method in METHODS, f"method must be one of {', '.join(METHODS)}")
        _check(self.max_redirects >= 0, "max redirects must be 0 or more")
        _check(self.max_body >= 1, "body cap must be at least 1 byte")
        _check(self.retry_after_cap >= 0, "Retry-After cap must be 0 or more")
        # A stored 'Infinity' passes the comparisons above; asyncio cannot schedule it.
        _check(all(math.isfinite(v) for v in (self.rate, self.timeout, self.connect_timeout,
                                              self.retry_after_cap)),
               "rate, timeouts and Retry-After cap must be finite numbers")
        _check(
            self.auth is None or ":" in self.auth,
            "basic auth must be given as USER:PASSWORD",
        )
        for name, value in self.headers:
            _check(_TOKEN_RE.fullmatch(name) is not None,
                   f"header name {name!r} is not valid (letters, digits and !#$%&'*+-.^_`|~ only)")
            _check(not any(c in value for c in "\r\n\0"),
                   f"header {name} has a line break or NUL in its value")

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["headers"] = [list(pair) for pair in self.headers]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> tuple[Settings, list[str]]:
        """Build settings from stored data; unknown or bad values fall back to defaults.

        Returns the settings and a list of warnings, one per value that was not used.
        """
        if not isinstance(data, dict):
            return cls(), ["settings are not a mapping of names to values; defaults used"]
        warnings: list[str] = []
        known = {f.name for f in dataclasses.fields(cls)}
        values: dict[str, Any] = {}
        for key, value in data.items():
            if key not in known:
                warnings.append(f"unknown setting {key!r} ignored")
                continue
            if key == "headers":
                # Each pair must be a real [name, value] list: a 2-character string unpacks too.
                if not isinstance(value, list | tuple) or not all(
                    isinstance(pair, list | tuple) and len(pair) == 2
                    and all(isinstance(part, str) for part in pair) for pair in value
                ):
                    warnings.append("headers setting is malformed; using none")
                    continue
                value = tuple((name, text) for name, text in value)
            values[key] = value
        defaults = cls()
        for key, value in list(values.items()):
            expected = type(getattr(defaults, key))
            if getattr(defaults, key) is None:
                ok = value is None or isinstance(value, str)
            elif expected is float:
                ok = isinstance(value, int | float) and not isinstance(value, bool)
                value = float(value) if ok else value
            else:
                # bool is an int subclass: `"concurrency": true` must not mean 1.
                ok = isinstance(value, expected) and (
                    expected is bool or not isinstance(value, bool))
            if not ok:
                warnings.append(f"setting {key!r} has a value of the wrong type; default used")
                del values[key]
            else:
                values[key] = value
        try:
            return cls(**values), warnings
        except SettingsError as exc:
            # Validate one by one so that a single bad value does not reset everything.
            good: dict[str, Any] = {}
            for key, value in values.items():
                try:
                    cls(**{**good, key: value})
                except SettingsError as one:
                    warnings.append(f"setting {key!r}: {one}; default used")
                else:
                    good[key] = value
            if not good and not warnings:
                warnings.append(str(exc))
            return cls(**good), warnings


def overrides_after_edit(before: Settings, after: Settings,
                         overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The command-line overrides still in force once the user edited their settings from
    ``before`` to ``after``.

    A flag is a one-off for the session, applied on top of the user's own settings. A field the
    user changed in the dialog is theirs again: their new value is saved and wins for the rest
    of the session too, so that field's override lapses. The others stay, except one that
    equals the user's value: it changes nothing, and naming it would only puzzle the user.
    Called with ``before`` == ``after`` it gives the overrides that matter at start-up.
    """
    return {name: value for name, value in overrides.items()
            if getattr(before, name) == getattr(after, name) != value}


def _check(condition: bool, message: str) -> None:
    if not condition:
        raise SettingsError(message)
