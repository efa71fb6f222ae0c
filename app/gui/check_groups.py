"""Failed redirect-map checks as the Errors panel groups them: one group per check code
(:mod:`app.core.checks`), each with a plain title, what it means and what to do, as failure
kinds have theirs in :data:`app.core.errors.KIND_INFO`."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.errors import KIND_INFO, Kind, KindInfo

__all__ = ["CHECK_INFO", "CHECK_ORDER", "CheckGroup", "GroupKey", "group_from_token",
           "group_info"]

TOKEN_PREFIX = "check:"


@dataclass(frozen=True, slots=True)
class CheckGroup:
    """The group of rows whose check failed with ``code``. ``value`` is its token, as a
    failure kind's ``value`` is (kept apart from kinds by its prefix)."""

    code: str

    @property
    def value(self) -> str:
        return TOKEN_PREFIX + self.code


GroupKey = Kind | CheckGroup

# In the order a request meets them: the row itself, the answer, the chain, the target.
CHECK_INFO: dict[str, KindInfo] = {
    "invalid": KindInfo(
        "URL cannot be checked",
        "The row's URL is not one Fetchdeck can fetch, so where it ends cannot be checked.",
        "Fix the URL in the list."),
    "bad_expected": KindInfo(
        "Expected target is not a URL",
        "The expected target is neither an absolute http(s) URL nor a path starting with /.",
        "Write the expected target as https://host/path, or as /path on the URL's own host."),
    "no_answer": KindInfo(
        "No answer to check",
        "The URL got no answer at all (its failure says why), so there is nothing to grade.",
        "Look at the row's failure first, then fetch it again."),
    "wrong_status": KindInfo(
        "Wrong first status",
        "The first answer's status is not the one expected, e.g. a temporary 302 where a "
        "permanent 301 was expected.",
        "Change the redirect's type on the server: search engines treat permanent (301, 308) "
        "and temporary (302, 307) redirects differently."),
    "no_redirect": KindInfo(
        "Did not redirect",
        "The URL should redirect to its expected target, but it answered without redirecting.",
        "Add the redirect on the server, or check this row of the map."),
    "not_followed": KindInfo(
        "Redirect not followed",
        "The URL answered with a redirect, but Follow redirects is off, so where it ends is "
        "not known.",
        "Turn on Follow redirects in Settings and fetch again."),
    "broken_chain": KindInfo(
        "Redirect chain broken",
        "Redirects were answered, then a later hop got no answer, or they never ended.",
        "Read the chain in the Redirects tab: the last hop listed is where it breaks."),
    "chain": KindInfo(
        "Redirect chain (more than one hop)",
        "The target was reached, but through more than one redirect where one was expected.",
        "Point the first redirect straight at the final target."),
    "wrong_target": KindInfo(
        "Redirected to the wrong place",
        "The redirects ended at another URL than the expected target.",
        "Fix the redirect rule, or the map if the target has moved."),
    "target_status": KindInfo(
        "Target is not OK",
        "The redirects reached the expected target, but it answered with an error (not 2xx).",
        "The new page itself is broken or missing: fix it where it is served."),
}
CHECK_ORDER = tuple(CHECK_INFO)
_UNKNOWN = KindInfo("Check failed", "The row's answer is not the one its list expects.",
                    "Read the reason; it says what was expected and what came.")


def group_info(key: GroupKey) -> KindInfo:
    """A group's title, what it means and what to do."""
    if isinstance(key, CheckGroup):
        return CHECK_INFO.get(key.code, _UNKNOWN)
    return KIND_INFO[key]


def group_from_token(token: str) -> GroupKey:
    """The group a token names (a failure kind's value, or ``check:`` and a code)."""
    if token.startswith(TOKEN_PREFIX):
        return CheckGroup(token[len(TOKEN_PREFIX):])
    return Kind(token)
