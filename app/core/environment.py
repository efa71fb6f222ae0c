"""What the user's environment says about requests: proxy variables and ``~/.netrc``.

aiohttp can read these itself (``trust_env=True``), but it then sends two jobs to a thread pool
for every request (a netrc read and a proxy lookup): under qasync each costs a round trip
through the GUI thread, and together they made the GUI path several times slower than aiohttp
alone. They are read once per run here instead, and looked up per host from memory.
"""

from __future__ import annotations

import netrc
import os
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from yarl import URL


@dataclass(slots=True)
class Environment:
    """Proxies by scheme (``http``, ``https``) and netrc credentials, as loaded at run start."""

    proxies: dict[str, URL] = field(default_factory=dict)
    credentials: netrc.netrc | None = None
    _bypass: dict[str, bool] = field(default_factory=dict)
    _auth: dict[str, tuple[str, str] | None] = field(default_factory=dict)

    @classmethod
    def load(cls) -> Environment:
        """Read proxy variables and the netrc file (``$NETRC`` or ``~/.netrc``). Blocking I/O:
        call it off the loop thread."""
        credentials = _read_netrc()
        proxies: dict[str, URL] = {}
        for scheme, value in urllib.request.getproxies().items():
            if scheme not in ("http", "https"):
                continue
            try:
                proxy = URL(value if "://" in value else f"http://{value}")
            except ValueError:
                continue
            if proxy.scheme != "http":
                continue  # aiohttp speaks to http:// proxies only
            if proxy.user is None and credentials is not None and proxy.host:
                found = credentials.authenticators(proxy.host)
                if found is not None:
                    proxy = proxy.with_user(found[0] or found[1]).with_password(found[2] or "")
            proxies[scheme] = proxy
        return cls(proxies, credentials)

    def proxy_for(self, url: URL) -> URL | None:
        """The environment's proxy for ``url``, unless ``no_proxy`` exempts its host."""
        proxy = self.proxies.get(url.scheme)
        if proxy is None or not url.host:
            return None
        bypass = self._bypass.get(url.host)
        if bypass is None:
            bypass = self._bypass[url.host] = bool(urllib.request.proxy_bypass(url.host))
        return None if bypass else proxy

    def login_for(self, host: str) -> tuple[str, str] | None:
        """(user, password) from netrc for ``host``, or None."""
        if self.credentials is None or not host:
            return None
        if host not in self._auth:
            found = self.credentials.authenticators(host)
            self._auth[host] = None if found is None else (found[0] or found[1] or "",
                                                           found[2] or "")
        return self._auth[host]


def _read_netrc() -> netrc.netrc | None:
    path = os.environ.get("NETRC") or str(Path.home() / (
        "_netrc" if os.name == "nt" else ".netrc"))
    try:
        return netrc.netrc(path)
    except (OSError, netrc.NetrcParseError):
        return None
