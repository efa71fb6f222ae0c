"""Run settings: one frozen dataclass whose fields are the one table of every setting.

Each field carries an :class:`Option` in its metadata: the dialog's label, the help line, the
command-line flag, the range and the check. From that table come the command line's options
(:mod:`app.core.options`), the Settings dialog's fields and their flag notes, and the validation
that ``Settings.__post_init__`` runs on every value wherever it came from (a flag, the dialog,
the settings file). Persistence lives in :mod:`app.core.config`.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from app import __version__
from app.core.redact import mask_url

Method = Literal["get", "head", "head-then-get"]
METHODS: tuple[Method, ...] = ("get", "head", "head-then-get")

MIB = 1024 * 1024
# RFC 9110 field-name token; aiohttp sends any name, and strict servers answer 400 to all URLs.
_TOKEN_RE = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
DEFAULT_USER_AGENT = f"Fetchdeck/{__version__}"
# A day: longer timeouts or waits are typing mistakes, and asyncio cannot schedule 1e308 s.
MAX_SECONDS = 86_400.0


class SettingsError(ValueError):
    """A setting has a value Fetchdeck cannot use; the message says which and why."""


Check = Callable[[Any], "str | None"]


@dataclass(frozen=True, slots=True)
class Option:
    """One row of the settings table.

    ``flag`` is the command-line option ("" for none). A bool whose default is True and that a
    flag can only turn off names that flag in ``off_flag`` (``--no-redirects``); other bools get
    ``--name`` / ``--no-name``. ``low``/``high`` bound numbers (inclusive); ``zero_means`` names
    what 0 stands for when 0 is allowed below ``low`` ("no limit"). ``secret`` values are never
    saved and are masked wherever a setting is shown.
    """

    label: str
    help: str
    flag: str = ""
    metavar: str | None = None
    off_flag: str = ""
    low: float | None = None
    high: float | None = None
    zero_means: str = ""
    unit: str = ""
    choices: tuple[str, ...] = ()
    secret: bool = False
    is_file: bool = False  # a file name: where it is given, it must name a readable file
    group: str = "fetching"
    explain: str = ""  # the Settings dialog's tooltip: what the setting does, in full
    check: Check | None = None


def _option(default: Any, option: Option, *, factory: Callable[[], Any] | None = None) -> Any:
    if factory is not None:
        return field(default_factory=factory, metadata={"option": option})
    return field(default=default, metadata={"option": option})


# -- checks shared by several fields ----------------------------------------------------------

def _no_line_breaks(what: str) -> Check:
    def check(value: Any) -> str | None:
        if value is not None and any(c in value for c in "\r\n\0"):
            return f"{what} has a line break or NUL in it"
        return None
    return check


def _check_headers(value: Any) -> str | None:
    for name, text in value:
        if _TOKEN_RE.fullmatch(name) is None:
            return f"header name {name!r} is not valid (letters, digits and !#$%&'*+-.^_`|~ only)"
        if any(c in text for c in "\r\n\0"):
            return f"header {name} has a line break or NUL in its value"
    return None


def _check_auth(value: Any) -> str | None:
    if value is None:
        return None
    if ":" not in value:
        return "basic auth must be given as USER:PASSWORD"
    return _no_line_breaks("basic auth")(value)


def _check_proxy(value: Any) -> str | None:
    """An http:// proxy URL with a host; checked without yarl so settings stay cheap to make."""
    if value is None:
        return None
    match = re.fullmatch(r"(?i)(https?)://(?:[^@/\s]*@)?(\[[0-9a-f:.]+\]|[^:/?#@\s\[\]]+)"
                         r"(?::(\d{1,5}))?/?", value)
    if match is None:
        return (f"proxy {mask_url(value)!r} is not a URL like http://host:3128 "
                "(only http:// and https:// proxies)")
    port = match.group(3)
    if port is not None and not 0 < int(port) < 65536:
        return f"proxy port {port} is out of range (1-65535)"
    return None


def _check_ca_file(value: Any) -> str | None:
    # Whether the file exists is checked where it is given (a flag, the dialog) and where it
    # is used (the run names an unreadable one on every row): a saved setting must not be
    # thrown away because a disk was not mounted at start-up.
    if value is not None and (not value or "\0" in value):
        return "CA file must be a file name"
    return None


def file_problem(path: str) -> str | None:
    """Why ``path`` cannot be read as a file, or None."""
    if not os.path.isfile(path):
        return f"{path}: no such file"
    if not os.access(path, os.R_OK):
        return f"{path}: not readable"
    return None


@dataclass(frozen=True, slots=True)
class Settings:
    """Everything that shapes a run. Every field's label, flag, range and check is in its
    :class:`Option` (``Settings.options()``); ``__post_init__`` checks them all."""

    concurrency: int = _option(50, Option(
        "Requests in flight", "requests in flight in the whole run", "--concurrency", "N",
        low=1, high=10_000,
        explain="How many requests run at the same time in the whole run."))
    processes: int = _option(0, Option(
        "Processes", "processes that fetch (0 = automatic: one a CPU core, up to 4, for "
        "lists of 5,000 URLs or more; only with no per-host limit or rate)", "--processes",
        "N", low=1, high=64, zero_means="automatic",
        explain="Processes that share the fetching of one run, each with its share of the "
                "requests in flight. Automatic: one a CPU core (up to 4) for lists of 5,000 "
                "URLs or more. A run with a per-host limit or rate is fetched by one process. "
                "Cookies and Retry-After pauses are shared between them."))
    per_host: int = _option(6, Option(
        "Per host", "requests in flight to one host (0 = no limit)", "--per-host", "N",
        low=1, high=10_000, zero_means="no limit",
        explain="How many of those may go to the same host at once. 0 = no per-host limit."))
    rate: float = _option(0.0, Option(
        "Rate per host", "requests started per second per host (0 = no limit)", "--rate",
        "R", low=0.001, high=100_000, zero_means="no limit", unit="/s",
        explain="Requests started per second to one host. 0 = no limit."))
    timeout: float = _option(20.0, Option(
        "Timeout", "seconds for one attempt, queueing excluded", "--timeout", "SECONDS",
        low=0.001, high=MAX_SECONDS, unit="s",
        explain="Seconds allowed for one attempt, from sending the request to the last byte. "
                "Time waiting for a free slot does not count."))
    connect_timeout: float = _option(10.0, Option(
        "Connect timeout", "seconds to open a connection (TCP + TLS)", "--connect-timeout",
        "SECONDS", low=0.001, high=MAX_SECONDS, unit="s",
        explain="Seconds allowed to open a connection (TCP and TLS)."))
    retries: int = _option(2, Option(
        "Retries", "extra attempts on connect errors, timeouts, 429, 502, 503, 504",
        "--retries", "N", low=0, high=100,
        explain="Extra attempts after connect errors, timeouts and 429/502/503/504 answers, "
                "with growing pauses."))
    method: Method = _option("get", Option(
        "Method", "get, head, or head-then-get (GET when HEAD is refused)", "--method",
        choices=METHODS,
        explain="GET fetches the body. HEAD fetches headers only. HEAD, then GET retries with "
                "GET when the server refuses HEAD (405/501) or HEAD fails."))
    follow_redirects: bool = _option(True, Option(
        "Follow redirects", "follow 3xx answers", off_flag="--no-redirects",
        explain="Follow 3xx answers to their Location. Off: the 3xx answer itself is the "
                "result."))
    max_redirects: int = _option(10, Option(
        "Max redirects", "redirects followed before giving up", "--max-redirects", "N",
        low=0, high=100,
        explain="Redirects followed before the URL fails with “too many redirects”."))
    headers: tuple[tuple[str, str], ...] = _option(None, Option(
        "Extra headers", "extra request header, 'Name: value' (repeatable)", "--header",
        "'Name: value'", check=_check_headers,
        explain="Sent with every request, one “Name: value” per line."), factory=tuple)
    user_agent: str = _option(DEFAULT_USER_AGENT, Option(
        "User-Agent", f"User-Agent header ({DEFAULT_USER_AGENT})", "--user-agent", "TEXT",
        check=_no_line_breaks("User-Agent"),
        explain="The User-Agent header. Empty: Fetchdeck's own, with its version."))
    cookies: bool = _option(True, Option(
        "Keep cookies", "keep cookies between requests of one run", "--cookies",
        explain="Cookies set by one response are sent with later requests of the same run. "
                "Cookies never outlive the run."))
    auth: str | None = _option(None, Option(
        "Basic auth", "HTTP basic auth for every URL", "--auth", "USER:PASS", secret=True,
        check=_check_auth,
        explain="HTTP basic auth sent to every URL that has no user:password@ of its own."))
    proxy: str | None = _option(None, Option(
        "Proxy", "HTTP proxy URL (default: the environment's proxies)", "--proxy", "URL",
        check=_check_proxy,
        explain="An http:// proxy URL for every request. Empty: use the proxy set in the "
                "environment (HTTP_PROXY, HTTPS_PROXY, NO_PROXY), if any."))
    verify_tls: bool = _option(True, Option(
        "Verify certificates", "check TLS certificates", off_flag="--insecure",
        explain="Refuse servers whose certificate is not trusted or is for another host."))
    ca_file: str | None = _option(None, Option(
        "Extra CA file", "extra CA bundle (PEM) trusted besides the system's", "--ca-file",
        "PATH", is_file=True, check=_check_ca_file,
        explain="A PEM bundle of certificate authorities trusted in addition to the system's, "
                "e.g. a company's internal CA."))
    max_body: int = _option(10 * MIB, Option(
        "Body size cap", "body bytes read, after decompression, before giving up", "--max-body",
        "BYTES", low=1, high=2**40, unit="bytes",
        explain="Stop reading a body past this size (counted after decompression); the URL "
                "fails with “body over the size cap”."))
    retry_after_cap: float = _option(120.0, Option(
        "Longest Retry-After", "longest Retry-After wait honoured, in seconds",
        "--retry-after-cap", "SECONDS", low=0, high=MAX_SECONDS, unit="s",
        explain="The longest wait honoured when a server answers 429/503 with Retry-After."))
    fetch_duplicates: bool = _option(False, Option(
        "Fetch repeated URLs again", "fetch a URL each time it appears in the list (off: once, "
        "later copies take its result)", "--fetch-duplicates", group="lists",
        explain="A URL that appears again later in the list is fetched once; its later rows "
                "carry the first one's result with a note naming its line. On: every row is "
                "fetched."))
    trailing_slash_matters: bool = _option(False, Option(
        "Trailing slash matters", "in checks, /page and /page/ are different targets",
        "--trailing-slash-matters", group="lists",
        explain="In redirect-map checks, whether https://a/page and https://a/page/ count as "
                "different targets."))
    query_matters: bool = _option(True, Option(
        "Query string matters", "in checks, a target with another query string is wrong",
        "--query-matters", group="lists",
        explain="In redirect-map checks, whether the query string (?a=1) must match the "
                "expected target's."))
    keep_runs: bool = _option(True, Option(
        "Keep every run", "record every run in the run history (a database file), to reopen, "
        "resume and compare it", "--store", group="storage",
        explain="Every result is written to the run history as it arrives: a run survives "
                "a crash or a closed window, can be resumed, reopened and compared. Off: "
                "results live in memory only."))
    db_path: str | None = _option(None, Option(
        "Run history file", "the run history's database file (default: in your data folder)",
        "--db", "PATH", group="storage",
        check=_no_line_breaks("run history file"),
        explain="Where the run history is kept. Empty: runs.sqlite3 in your data folder."))
    mask_passwords: bool = _option(True, Option(
        "Mask passwords", "hide URL passwords in the table, panel, logs and exports",
        "--mask-passwords", group="display",
        explain="Show https://user:***@host/ instead of the password in the table, details, "
                "error panel, logs and exports."))
    csv_raw: bool = _option(False, Option(
        "Export raw cell values", "export cells exactly, without neutralising spreadsheet "
        "formulas", "--csv-raw", group="display",
        explain="Write cells exactly as fetched. Only for CSV read by programs, not opened in "
                "a spreadsheet."))

    def __post_init__(self) -> None:
        for name, option in OPTIONS.items():
            problem = check_value(name, option, getattr(self, name))
            if problem:
                raise SettingsError(problem)

    @staticmethod
    def options() -> Mapping[str, Option]:
        return OPTIONS

    def replace(self, **changes: Any) -> Settings:
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        data["headers"] = [list(pair) for pair in self.headers]
        return data

    @classmethod
    def from_dict(cls, data: object) -> tuple[Settings, list[str]]:
        """Build settings from stored data; unknown or bad values fall back to defaults.

        Returns the settings and a list of warnings, one per value that was not used.
        """
        if not isinstance(data, dict):
            return cls(), ["settings are not a mapping of names to values; defaults used"]
        warnings: list[str] = []
        good: dict[str, Any] = {}
        for key, value in data.items():
            if key not in OPTIONS:
                warnings.append(f"unknown setting {str(key)[:80]!r} ignored")
                continue
            try:
                value = coerce(key, value)
                problem = check_value(key, OPTIONS[key], value)
            except SettingsError as exc:
                problem = str(exc)
            if problem:
                warnings.append(f"setting {key!r}: {problem}; default used")
            else:
                good[key] = value
        return cls(**good), warnings


OPTIONS: dict[str, Option] = {
    f.name: f.metadata["option"] for f in dataclasses.fields(Settings)
}
_DEFAULTS = {f.name: (f.default_factory() if f.default_factory is not dataclasses.MISSING
                      else f.default) for f in dataclasses.fields(Settings)}
_TYPES: dict[str, str] = {f.name: str(f.type) for f in dataclasses.fields(Settings)}


def default(name: str) -> Any:
    return _DEFAULTS[name]


def check_value(name: str, option: Option, value: Any) -> str | None:
    """Why ``value`` cannot be the setting ``name``, in plain words, or None when it can."""
    kind = _TYPES[name]
    label = option.label
    if kind == "bool":
        if not isinstance(value, bool):
            return f"{label} must be true or false"
        return None
    if kind in ("int", "float"):
        if isinstance(value, bool) or not isinstance(value, int | float) or (
                kind == "int" and not isinstance(value, int)):
            return f"{label} must be a {'whole ' if kind == 'int' else ''}number"
        if not math.isfinite(value):
            return f"{label} must be a finite number"
        if option.zero_means and value == 0:
            return None
        low, high = option.low, option.high
        if (low is not None and value < low) or (high is not None and value > high):
            return f"{label} must be {_range_text(option)}"
        return None
    if option.choices:
        if value not in option.choices:
            return f"{label} must be one of {', '.join(option.choices)}"
        return None
    if kind.startswith("str"):
        if value is None and "None" in kind:
            return None
        if not isinstance(value, str):
            return f"{label} must be text"
    return option.check(value) if option.check is not None else None


def _range_text(option: Option) -> str:
    def number(value: float | None) -> str:
        return f"{value:,g}" if value is not None else ""

    text = f"between {number(option.low)} and {number(option.high)}"
    if option.zero_means:
        text += f", or 0 for {option.zero_means}"
    return text


def coerce(name: str, value: Any) -> Any:
    """A stored (JSON) value as the field's type, without guessing: ``2.0`` is no count, and
    ``true`` is no number. Raises SettingsError when the JSON type is wrong."""
    kind = _TYPES[name]
    if name == "headers":
        if not isinstance(value, list | tuple) or not all(
            isinstance(pair, list | tuple) and len(pair) == 2
            and all(isinstance(part, str) for part in pair) for pair in value
        ):
            raise SettingsError("headers must be a list of [name, value] pairs")
        return tuple((str(n), str(v)) for n, v in value)
    if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


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


def iter_options() -> Iterator[tuple[str, Option]]:
    return iter(OPTIONS.items())


def flag_text(name: str) -> str:
    """How the command line sets ``name``, for a tooltip: ``--per-host N (0 = no limit)``."""
    option = OPTIONS[name]
    if option.off_flag:
        return f"{option.off_flag} (to turn off)"
    if not option.flag:
        return ""
    if _TYPES[name] == "bool":
        return f"{option.flag} / --no-{option.flag[2:]}"
    if name == "headers":
        return f"{option.flag} {option.metavar} (repeat for each header)"
    if option.choices:
        return f"{option.flag} {'|'.join(option.choices)}"
    text = f"{option.flag} {option.metavar}"
    if option.zero_means:
        text += f" (0 = {option.zero_means})"
    return text


def parse_header(text: str) -> tuple[str, str]:
    """``'Name: value'`` -> ``("Name", "value")``, checked as the settings check headers."""
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise SettingsError(f"header {text!r} must look like 'Name: value'")
    pair = (name.strip(), value.strip())
    problem = _check_headers((pair,))
    if problem:
        raise SettingsError(problem)
    return pair
