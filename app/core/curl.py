"""A POSIX-shell curl command that repeats the request Fetchdeck makes for one URL, so that a
failure can be reproduced outside Fetchdeck (and attached to a bug report).

Passwords: when ``settings.mask_passwords`` is on, the command carries no password at all. The
user name stays, as ``--user NAME`` / ``--proxy-user NAME``, and curl asks for the password
when the command runs (``Enter host password for user 'NAME':``). A masked ``NAME:***`` would
send the literal password ``***`` and fail with 401, a copy that reproduces the wrong failure;
the real password on the clipboard ends up in chats and bug reports, which is exactly where
curl commands get pasted. A header whose name says it carries a credential (Cookie, X-Api-Key,
X-Auth-Token: :func:`app.core.redact.is_secret_header`) is sent as ``***``. With masking off the
password and the headers are written out.

What is not reproduced: retries and Retry-After waits (the command is one attempt), the cookie
jar of a run, and ``ca_file`` semantics: Fetchdeck trusts the file *in addition to* the system's
CAs, while curl built on OpenSSL trusts only the ``--cacert`` file.
"""

from __future__ import annotations

import shlex

from yarl import URL

from app.core.redact import MASK, is_secret_header, mask_url
from app.core.settings import Settings

__all__ = ["curl_command"]

# Characters curl treats as URL globbing ("[1-9]", "{a,b}"); IPv6 literals and PHP-style
# queries ("?a[]=1") contain them.
_GLOB_CHARS = frozenset("[]{}")


def curl_command(url: str, settings: Settings) -> str:
    """The curl command line for fetching ``url`` with ``settings``, shell-quoted."""
    args: list[str] = ["curl"]
    if settings.method == "head":
        args.append("-I")
    # head-then-get: the GET is the request whose answer Fetchdeck reports.
    if settings.follow_redirects:
        args += ["-L", "--max-redirs", str(settings.max_redirects)]
    args += ["--max-time", f"{settings.timeout:g}", "--connect-timeout",
             f"{settings.connect_timeout:g}"]
    # aiohttp asks for compressed bodies and decompresses them; so does curl with this.
    args.append("--compressed")
    args += _identity(settings)
    url, user_args = _credentials(url, settings)
    args += user_args
    if settings.proxy:
        args += _proxy(settings.proxy, settings.mask_passwords)
    if not settings.verify_tls:
        args.append("-k")
    elif settings.ca_file:
        args += ["--cacert", settings.ca_file]
    if _GLOB_CHARS.intersection(url):
        args.append("-g")
    args.append(url)
    return shlex.join(args)


def _header(name: str, value: str) -> str:
    # "Name:" would make curl drop the header; "Name;" sends it with an empty value.
    return f"{name};" if value == "" else f"{name}: {value}"


def _identity(settings: Settings) -> list[str]:
    """-A and -H arguments. A User-Agent among the extra headers wins, as in the session."""
    args: list[str] = []
    names = {name.lower() for name, _ in settings.headers}
    if "user-agent" not in names:
        if settings.user_agent:
            args += ["-A", settings.user_agent]
        else:
            args += ["-H", _header("User-Agent", "")]
    for name, value in settings.headers:
        if settings.mask_passwords and is_secret_header(name):
            value = MASK
        args += ["-H", _header(name, value)]
    return args


def _credentials(url: str, settings: Settings) -> tuple[str, list[str]]:
    """The URL to put on the command line and the ``--user`` arguments.

    As in the fetch, credentials in the URL win over ``settings.auth``.
    """
    try:
        parsed: URL | None = URL(url)
    except (ValueError, TypeError):
        parsed = None
    if parsed is not None and parsed.user is not None:
        if not settings.mask_passwords or parsed.password is None:
            return url, []
        return _without_userinfo(url), ["--user", parsed.user]
    if settings.mask_passwords:
        # A password the parser misreads ("u:p/x@host" or "u:p#x@host") cannot move to --user.
        url = mask_url(url)
    if not settings.auth:
        return url, []
    if settings.mask_passwords:
        user, _, _ = settings.auth.partition(":")
        return url, ["--user", user]
    return url, ["--user", settings.auth]


def _proxy(proxy: str, mask: bool) -> list[str]:
    if not mask:
        return ["--proxy", proxy]
    try:
        parsed = URL(proxy)
    except (ValueError, TypeError):
        return ["--proxy", proxy]
    if parsed.user is None or parsed.password is None:
        return ["--proxy", proxy]
    return ["--proxy", _without_userinfo(proxy), "--proxy-user", parsed.user]


def _without_userinfo(url: str) -> str:
    """``scheme://user:pw@host/x?a[]=1`` -> ``scheme://host/x?a[]=1``, the rest left byte for
    byte as given (yarl would re-encode the path and query)."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        return url
    end = min((i for i in (rest.find(c) for c in "/?#") if i >= 0), default=len(rest))
    authority = rest[:end]
    return f"{scheme}{sep}{authority.rpartition('@')[2]}{rest[end:]}"
