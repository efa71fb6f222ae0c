"""Settings on disk, shared by the window and the command line: ``settings.json`` in the
user's config directory, read forgivingly and written atomically.

The file looks like ``{"version": 1, "settings": {"concurrency": 20}}``. Only values that differ
from the defaults are written, so a default that improves in a later release (or the
User-Agent, which carries the version) reaches users who never changed it.

Credentials are never written: the file is plain JSON that backups, dotfile repositories and
other programs read, so a password in it would leak. That is ``auth``, the password of a
proxy URL (``http://user:pw@proxy:3128`` is saved as ``http://user@proxy:3128``) and every header
whose name says it carries a credential (:func:`app.core.redact.is_secret_header`: Cookie,
X-Api-Key, X-Auth-Token...). The user enters them again each session; the settings dialog says
so next to the fields.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import platformdirs

from app.core.redact import is_secret_header, without_password
from app.core.settings import Settings

__all__ = ["CONFIG_FILE", "VERSION", "config_dir", "config_path", "load_settings",
           "save_settings"]

VERSION = 1
CONFIG_FILE = "settings.json"
# Fields never written to, nor read from, the file (see the module docstring).
NOT_STORED = frozenset({"auth"})


def config_dir() -> Path:
    """``$FETCHDECK_CONFIG_DIR``, else ``$FETCHDECK_STATE_DIR`` (set by the test suite so that a
    test never touches the real home), else the platform's per-user config directory."""
    for name in ("FETCHDECK_CONFIG_DIR", "FETCHDECK_STATE_DIR"):
        value = os.environ.get(name)
        if value:
            return Path(value)
    return Path(platformdirs.user_config_dir("fetchdeck", appauthor=False))


def config_path() -> Path:
    return config_dir() / CONFIG_FILE


def load_settings() -> tuple[Settings, list[str]]:
    """The stored settings and a list of warnings for the user; never raises.

    A missing file gives the defaults silently. A file that cannot be read or parsed, or that
    was written by a newer Fetchdeck, gives the defaults with a warning; a single bad value
    falls back to its default alone, with a warning naming it.
    """
    path = config_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return Settings(), []
    except (OSError, UnicodeDecodeError) as exc:
        return Settings(), [f"Could not read {path}: {_reason(exc)}. Using default settings."]
    try:
        document = _parse(text)
    except json.JSONDecodeError as exc:
        return Settings(), [
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}: {exc.msg}). "
            f"Using default settings; saving keeps a copy of the old file as "
            f"{path.name}.bak."
        ]
    except ValueError as exc:  # RecursionError and huge numbers, as plain words
        return Settings(), [
            f"{path} cannot be read as settings ({exc}). Using default settings; saving "
            f"keeps a copy of the old file as {path.name}.bak."
        ]
    problem = _check_document(document)
    if problem:
        return Settings(), [
            f"{path}: {problem}. Using default settings; saving keeps a copy of the old file "
            f"as {path.name}.bak."
        ]
    assert isinstance(document, dict)  # _check_document said so
    stored: dict[str, Any] = document["settings"]
    warnings: list[str] = []
    for name in NOT_STORED & stored.keys():
        warnings.append(f"{path}: {name!r} ignored: credentials are never read from the "
                        f"settings file; enter them in Settings each session.")
    settings, problems = Settings.from_dict(
        {k: v for k, v in stored.items() if k not in NOT_STORED})
    warnings += [f"{path}: {problem}." for problem in problems]
    return settings, warnings


def _without_secrets(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("proxy"):
        data["proxy"] = without_password(data["proxy"])
    data["headers"] = [[name, value] for name, value in data.get("headers", [])
                       if not is_secret_header(name)]
    return data


def save_settings(settings: Settings) -> Path:
    """Write ``settings`` (minus credentials) and return the file's path.

    The file is replaced atomically, so a crash mid-write leaves the old file whole. A file this
    version cannot use (corrupt, or from a newer Fetchdeck) is first kept as ``settings.json.bak``.
    Raises ``OSError`` when the directory or file cannot be written; the caller shows it.
    """
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    defaults = Settings().to_dict()
    changed = {
        name: value for name, value in _without_secrets(settings.to_dict()).items()
        if name not in NOT_STORED and value != defaults[name]
    }
    text = json.dumps({"version": VERSION, "settings": changed}, indent=2, sort_keys=True,
                      allow_nan=False) + "\n"
    if _unusable(path):
        os.replace(path, path.with_name(path.name + ".bak"))
    fd, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return path


def _check_document(document: object) -> str:
    """Why the parsed file cannot be used, or '' when it can."""
    if not isinstance(document, dict):
        return "the file does not hold a JSON object"
    version = document.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        return "the file has no format version"
    if version > VERSION:
        return (f"the file was written by a newer Fetchdeck (format version {version}; "
                f"this one reads version {VERSION})")
    if version < 1:
        return f"unknown format version {version}"
    if not isinstance(document.get("settings"), dict):
        return 'the file has no "settings" object'
    return ""


def _unusable(path: Path) -> bool:
    """True when ``path`` exists and holds something :func:`load_settings` rejected whole."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return False
    except (OSError, UnicodeDecodeError):
        return True
    try:
        return bool(_check_document(_parse(text)))
    except ValueError:
        return True


# A settings file is a few hundred bytes: anything far larger is not one of ours.
MAX_FILE_BYTES = 1024 * 1024


def _parse(text: str) -> object:
    """``json.loads`` that raises only ValueError: a file nested thousands of levels deep
    (RecursionError) or holding a 5,000-digit number (ValueError from int()) must not escape
    as anything but "this file cannot be used"."""
    if len(text) > MAX_FILE_BYTES:
        raise ValueError(f"the file is {len(text):,} characters long; settings take a few hundred")
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("the JSON is nested too deeply") from None
    except ValueError:
        raise
    except Exception as exc:  # noqa: BLE001 - any parser failure means the file is unusable
        raise ValueError(f"{type(exc).__name__}: {exc}") from None


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror
    return str(exc) or type(exc).__name__
