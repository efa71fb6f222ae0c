"""The one place secrets are masked: URL passwords, ``--auth`` and proxy credentials.

Every view and export asks a :class:`Redactor` before text leaves the engine (the table, the
error panel, the details pane, logs, CSV/JSONL/XLSX, curl commands). Masking never needs a
valid URL: ``http://frank:pw@host:99999/`` is masked although no URL parser accepts it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from app.core.settings import Settings

__all__ = ["MASK", "SECRET_HEADERS", "Redactor", "is_secret_header", "mask_text", "mask_url",
           "without_password"]

MASK = "***"
SECRET_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie"})
# A header named like one of these carries a secret (X-Api-Key, X-Auth-Token, Session-Id...).
_SECRET_WORDS = ("auth", "token", "secret", "key", "password", "session", "cookie")

# scheme://user:password@host — people type passwords with "@", "#", "?" and "/" unencoded, and
# an unmasked one is a leak: the password runs to the "@" that is followed by a host (no "@",
# space or "/" until a "/", "?", "#", a space or the end). A URL with a ":" and an "@" in its
# path may lose more than its password to the mask; that errs on the safe side.
_USERINFO = re.compile(
    r"(?P<pre>[A-Za-z][A-Za-z0-9+.\-]*://[^/?#@\s:]*:)(?P<password>\S*?)@"
    r"(?=[^@\s/?#]*(?:[/?#\s]|$))")


def is_secret_header(name: str) -> bool:
    """Whether a header's value is a credential: never shown, stored or saved in the clear."""
    lowered = name.lower()
    return lowered in SECRET_HEADERS or any(word in lowered for word in _SECRET_WORDS)
# A secret shorter than this is not replaced as a literal: masking every "a" would wreck text.
MIN_LITERAL = 4


def mask_url(text: str) -> str:
    """``https://user:secret@host/`` -> ``https://user:***@host/``; other text unchanged."""
    if "@" not in text:
        return text
    return _USERINFO.sub(lambda m: f"{m['pre']}{MASK}@" if m["password"] else m[0], text)


def without_password(url: str) -> str:
    """``http://user:secret@host/`` -> ``http://user@host/`` (``http://:secret@host/`` ->
    ``http://host/``): for what is written down, where even a mask would mislead."""
    if "@" not in url:
        return url

    def drop(match: re.Match[str]) -> str:
        kept = match["pre"][:-1]  # without the ":" before the password
        return kept if kept.endswith("://") else f"{kept}@"

    return _USERINFO.sub(drop, url)


def mask_text(text: str) -> str:
    """Mask ``scheme://user:secret@`` wherever it appears in free text."""
    return mask_url(text)


class Redactor:
    """Masks what the settings say is secret; a disabled one passes text through.

    ``secrets`` are literal strings to hide wherever they appear (the ``--auth`` password and a
    proxy's password, which a server or a proxy may echo in an error message).
    """

    __slots__ = ("enabled", "_secrets")

    def __init__(self, enabled: bool = True, secrets: Iterable[str] = ()) -> None:
        self.enabled = enabled
        self._secrets = tuple(sorted({s for s in secrets if len(s) >= MIN_LITERAL},
                                     key=len, reverse=True))

    @classmethod
    def for_settings(cls, settings: Settings) -> Redactor:
        secrets: list[str] = []
        if settings.auth:
            secrets.append(settings.auth.partition(":")[2])
        if settings.proxy:
            match = _USERINFO.search(settings.proxy)
            if match:
                secrets.append(match["password"])
        return cls(settings.mask_passwords, secrets)

    @property
    def has_secrets(self) -> bool:
        """Whether literal secrets (an --auth or proxy password) are masked too, so that text
        without an "@" may still need masking."""
        return bool(self._secrets)

    def url(self, text: str) -> str:
        """A URL (or what should have been one) with its password masked, and any
        ``scheme://user:pw@`` inside it (a redirect target in a query string)."""
        if not self.enabled:
            return text
        if "@" in text:
            text = mask_url(text)
        return self._literals(text) if self._secrets else text

    def text(self, text: str, url: str = "") -> str:
        """Free text (messages, notes, chains, tracebacks) with every secret masked; ``url``'s
        own password too, wherever it appears (an error message may quote it bare)."""
        if not self.enabled or not text:
            return text
        if "@" in text:
            text = mask_url(text)
        if url and "@" in url:
            match = _USERINFO.search(url)
            if match and len(match["password"]) >= MIN_LITERAL:
                text = text.replace(match["password"], MASK)
        return self._literals(text) if self._secrets else text

    def header(self, name: str, value: str) -> str:
        """A header's value as it may be shown: credentials masked, and any URL password in a
        Location, Referer, Link or Refresh value."""
        if not self.enabled:
            return value
        if is_secret_header(name):
            if name.lower() in ("authorization", "proxy-authorization"):
                scheme, _, secret = value.partition(" ")
                return f"{scheme} {MASK}" if secret else MASK
            return MASK
        return self.text(value)

    def _literals(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, MASK)
        return text


PLAIN = Redactor(enabled=False)
MASKING = Redactor()
