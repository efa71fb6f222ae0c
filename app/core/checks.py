"""Redirect maps and expected answers: whether a row ended where it must, with the status it must
have had, graded ``pass`` or ``fail`` with the reason in plain words. Also the one owner of URL
comparison (:func:`normalise_url`), which duplicate detection uses too.

Pure functions over what a fetch observed; nothing here does I/O.

The rules, in the order a failing row's reason is chosen (the first that applies is its
``code``; any further ones are appended to its reason):

==============  ==========================================================================
code            fails when
==============  ==========================================================================
invalid         the row's URL could not be fetched at all (it is not a URL)
bad_expected    the expected target is neither an absolute http(s) URL nor a path from ``/``
no_answer       no response at all: "no answer: connection refused"
broken_chain    redirects were answered, then the next hop failed or they never ended
not_followed    the last answer is a redirect that was not followed (Follow redirects off)
no_redirect     an expected target differs from the URL, and the URL answered without redirecting
wrong_target    the redirects ended somewhere else: "ended at X, expected Y"
target_status   the target (the last answer after redirects) is not 2xx: "the target answered 404"
wrong_status    the first answer is not the expected status: "first answer 302, expected 301"
chain           the expected status is a redirect (3xx) and more than one redirect was followed
==============  ==========================================================================

Decisions, documented because reviewers will ask:

* A chain of several redirects ending at the right target passes unless an expected *status*
  is a 3xx: saying "301" means "one 301 to the target", so a 301 -> 301 -> 200 chain fails as
  "2 redirects before the target (a chain)". Without an expected status the pass reason still
  says how many redirects it took.
* A redirect (expected status 3xx, or an expected target that differs from the URL) must end at
  a 2xx answer; with an expected status outside 3xx (200, 404, 410...) only the first answer
  counts.
* Comparison ignores what does not change the resource: scheme and host case, IDNA vs Unicode
  host, a default port, an empty path vs ``/``, percent-encoding case and escaped unreserved
  characters, dot segments, the fragment. By default a trailing slash does **not** matter (the
  same page on nearly every server, and a server that redirects one to the other shows the
  extra hop in the chain) and the query string **does** (``?id=3`` is often another page);
  :class:`CheckOptions` changes both. A pass that needed either says so.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal, NamedTuple

from yarl import URL

from app.core.errors import KIND_INFO, Kind, KindInfo
from app.core.result import Outcome, Result

__all__ = [
    "CHECK_INFO",
    "CHECK_ORDER",
    "Check",
    "CheckOptions",
    "Expectation",
    "Observed",
    "check",
    "check_info",
    "check_result",
    "first_status",
    "normalise_url",
    "observe",
    "parse_status",
    "redirect_type",
    "request_keys",
    "resolve_expected",
]

# Each failing code's title, what it means and what to do (as KIND_INFO for failure kinds): the
# Errors panel's groups and the command line's summary read them. In the order a request meets
# them: the row itself, the answer, the chain, the target.
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
CHECK_ORDER = tuple(CHECK_INFO)  # how the Errors panel lists failed checks
_UNKNOWN_CHECK = KindInfo("Check failed", "The row's answer is not the one its list expects.",
                          "Read the reason; it says what was expected and what came.")


def check_info(code: str) -> KindInfo:
    """A failed check's title, meaning and advice by its code (a generic one for a code this
    version does not know, e.g. from a newer run history)."""
    return CHECK_INFO.get(code, _UNKNOWN_CHECK)


# URLs that yarl leaves exactly as written once the fragment is gone: lowercase scheme and
# host, no port, a path of characters yarl never re-quotes, no dot segment, a non-empty query.
# Most rows of a real list are like this; the rest take yarl's full parse (tests compare both).
_PLAIN = re.compile(  # possessive: a URL that does not fit fails at once, without backtracking
    r"https?://[a-z0-9.-]++"
    r"(/[A-Za-z0-9\-._~!$&'()*+,;=:@/]*+)"
    r"(\?[A-Za-z0-9\-._~!$&'()*+,;=:@/?]++)?+",
    re.ASCII,
)


def normalise_url(text: str, *, trailing_slash_matters: bool = True,
                  query_matters: bool = True) -> str:
    """A comparison key: equal keys mean the same resource (see the module docstring).

    With both options True (the defaults) equal keys mean the same request, which is what
    duplicate detection needs. Text that is not an absolute URL comes back stripped, as is.
    """
    text = text.strip()
    match = _PLAIN.fullmatch(text)
    if match is not None and "/." not in match[1] and ".." not in text and "xn--" not in text:
        key, query = text, match[2] or ""
        path_end = len(text) - len(query)
    else:
        try:
            url = URL(text)
            if not url.absolute:
                return text
            url = url.with_fragment(None)
            key = str(url)
        except (ValueError, TypeError):
            return text
        query_at = key.find("?")
        path_end = len(key) if query_at < 0 else query_at
        query = key[path_end:]
        if key.find("/", key.find("://") + 3, path_end) < 0:  # "http://h" is "http://h/"
            key = f"{key[:path_end]}/{query}"
            path_end += 1
    if not query_matters:
        key, query = key[:path_end], ""
    if not trailing_slash_matters and key[path_end - 1] == "/":
        path_start = key.find("/", key.find("://") + 3)
        if path_end - path_start > 1:  # "http://h/" keeps its only slash
            key = key[:path_end - 1] + query
    return key


def request_keys(texts: Iterable[str]) -> Iterator[str | None]:
    """:func:`normalise_url` with both options on (the same request) for many texts, quickly;
    None for a text that is not an absolute URL."""
    plain = _PLAIN.fullmatch
    for text in texts:
        match = plain(text)
        if match is not None and "/." not in match[1] and ".." not in text \
                and "xn--" not in text:
            yield text
        elif "://" in text:
            key = normalise_url(text)
            yield key if "://" in key else None
        else:
            yield None


def parse_status(value: object) -> int | None:
    """An expected status from a table cell: ``301``, ``301.0`` (a spreadsheet number),
    ``"301"``, ``"301 Moved Permanently"``. None when the cell holds no status code."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        number = int(value) if float(value).is_integer() else -1
    else:
        match = re.match(r"\s*([1-5][0-9]{2})(?:\.0*)?(?:\s|$)", str(value))
        number = int(match[1]) if match else -1
    return number if 100 <= number <= 599 else None


def redirect_type(status: int | None) -> str:
    """``permanent`` (301, 308), ``temporary`` (302, 303, 307) or ``""``: the first answer's
    kind of redirect, the column a migration reviewer reads first."""
    if status in (301, 308):
        return "permanent"
    if status in (302, 303, 307):
        return "temporary"
    return ""


def first_status(hops: tuple[tuple[int, str], ...], status: int | None) -> int | None:
    """The first answer's status: the first hop's when redirects were followed."""
    return hops[0][0] if hops else status


@dataclass(frozen=True, slots=True)
class CheckOptions:
    trailing_slash_matters: bool = False
    query_matters: bool = True


@dataclass(frozen=True, slots=True)
class Expectation:
    """What a table row expects: where it must end (absolute URL or a path on the row's host)
    and the status its first answer must have. Either may be missing."""

    url: str | None = None
    status: int | None = None

    def __bool__(self) -> bool:
        return bool(self.url and self.url.strip()) or self.status is not None


@dataclass(frozen=True, slots=True)
class Observed:
    """What a fetch saw. ``hops`` holds every response as (status, url) when redirects were
    followed (the last is the final answer), and is empty otherwise."""

    url: str
    hops: tuple[tuple[int, str], ...] = ()
    final_url: str = ""
    status: int | None = None
    failure_kind: str = ""  # a Kind value, "" when the fetch did not fail
    failure_message: str = ""
    invalid: bool = False  # the row's URL was rejected before any request


class Check(NamedTuple):
    verdict: Literal["pass", "fail"]
    reason: str
    code: str  # "ok" for a pass, else one of the codes in the module docstring


def resolve_expected(expected: str, url: str) -> str:
    """The expected target as an absolute URL: a path from ``/`` is taken on the row's own
    host (``//host/path`` with its scheme). Raises ValueError, in plain words, for anything
    else."""
    text = expected.strip()
    try:
        target = URL(text)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"expected {text!r} is not a URL: {exc}") from None
    if target.absolute and target.scheme:
        if target.scheme.lower() not in ("http", "https"):
            raise ValueError(f"expected {text!r} is not an http(s) URL")
        return text
    if not text.startswith("/"):
        raise ValueError(f"expected {text!r} is neither an absolute URL nor a path starting "
                         "with /")
    try:
        return str(URL(url).join(target))
    except (ValueError, TypeError) as exc:
        raise ValueError(f"expected {text!r} cannot be taken on {url}: {exc}") from None


def observe(result: Result) -> Observed | None:
    """What a finished row observed; None for a row that is pending or was cancelled."""
    if result.outcome in (Outcome.PENDING, Outcome.CANCELLED):
        return None
    failure = result.failure
    return Observed(
        url=result.url,
        hops=tuple((hop.status, hop.url) for hop in result.chain),
        final_url=result.final_url,
        status=result.status,
        failure_kind=failure.kind.value if failure is not None else "",
        failure_message=failure.message if failure is not None else "",
        invalid=result.outcome is Outcome.INVALID,
    )


def check_result(result: Result, expected: str | None, expected_status: int | None,
                 options: CheckOptions = CheckOptions()) -> Check | None:
    """:func:`check` for a row's :class:`Result`; None when there is nothing to check yet."""
    expectation = Expectation(expected, expected_status)
    observed = observe(result) if expectation else None
    return check(expectation, observed, options) if observed is not None else None


_NOT_BROKEN = frozenset({"", Kind.HTTP_4XX.value, Kind.HTTP_5XX.value, Kind.BODY_TOO_LARGE.value,
                         Kind.TRUNCATED.value, Kind.READ_TIMEOUT.value})


def check(expectation: Expectation, observed: Observed,
          options: CheckOptions = CheckOptions()) -> Check | None:
    """Grade one row; None when it expects nothing."""
    if not expectation:
        return None
    fails: list[tuple[str, str]] = []
    target = ""
    if expectation.url and expectation.url.strip():
        try:
            target = resolve_expected(expectation.url, observed.url)
        except ValueError as exc:
            fails.append(("bad_expected", str(exc)))
    if observed.invalid:
        return _fail([("invalid", f"the URL cannot be fetched: {observed.failure_message}"),
                      *fails])
    hops = observed.hops
    first = first_status(hops, observed.status)
    if first is None:  # not a single answer
        return _fail([*fails, ("no_answer", f"no answer: {_title(observed)}")])
    # Redirects were answered, then the next hop failed or they never ended.
    # Redirects were answered, then a hop got no usable answer (refused, TLS, a bad target,
    # no end): the row keeps the answers it got (its status is the last 3xx), and failed.
    broken = observed.failure_kind not in _NOT_BROKEN
    redirects = max(len(hops) - 1, 0)
    final = observed.final_url or (hops[-1][1] if hops else observed.url)
    status = observed.status if observed.status is not None else hops[-1][0]
    if broken:
        last_status, last_url = hops[-1] if hops else (first, observed.url)
        if observed.failure_kind == Kind.TOO_MANY_REDIRECTS.value:
            fails.append(("broken_chain", f"the redirects never end: still redirecting after "
                                          f"{len(hops)} answers"))
        else:
            fails.append(("broken_chain", f"{last_url} answered {last_status}, then no "
                                          f"answer: {_title(observed)}"))
    notes: list[str] = []
    redirected_as_expected = False
    if target and not broken:
        if 300 <= status < 400:
            fails.append(("not_followed", f"stopped at a {status} that was not followed "
                                          "(Follow redirects is off)"))
        elif not _same(final, target, options):
            if redirects == 0:
                fails.append(("no_redirect", f"did not redirect (answered {status}), expected "
                                             f"{target}"))
            else:
                where = f"ended at {final}" + (f" (which answered {status})"
                                               if not 200 <= status < 300 else "")
                fails.append(("wrong_target", f"{where}, expected {target}"))
        else:
            redirected_as_expected = redirects > 0
            if not 200 <= status < 300:
                fails.append(("target_status", f"the target answered {status}"))
            if final != target and not _same(final, target, CheckOptions(True, True)):
                notes.append(f"ended at {final}; {_ignored(final, target, options)} ignored")
    expected_status = expectation.status
    if expected_status is not None:
        if first != expected_status:
            fails.append(("wrong_status", f"first answer {first}, expected {expected_status}"))
        elif 300 <= expected_status < 400 and not broken:
            if redirects > 1:
                fails.append(("chain", f"{redirects} redirects before the target (a chain)"))
            if (not target and hops and not 200 <= status < 300
                    and not 300 <= status < 400):
                fails.append(("target_status", f"the target answered {status}"))
    if fails:
        return _fail(fails)
    return Check("pass", _pass_reason(first, status, redirects, bool(target),
                                      redirected_as_expected, expected_status, notes), "ok")


def _pass_reason(first: int, status: int, redirects: int, has_target: bool,
                 redirected: bool, expected_status: int | None, notes: list[str]) -> str:
    if has_target and redirected:
        hops = "one redirect" if redirects == 1 else f"{redirects} redirects"
        reason = f"reached the target after {hops} (first answer {first}); it answered {status}"
    elif has_target:
        reason = f"answered {status} at the expected URL, as expected"
    elif redirects:
        reason = f"first answer {first}, as expected; the target answered {status}"
    else:
        reason = f"answered {first}, as expected"
        if expected_status is not None and 300 <= first < 400:
            reason += " (redirects not followed)"
    return "; ".join([reason, *notes])


def _fail(fails: list[tuple[str, str]]) -> Check:
    return Check("fail", "; ".join(reason for _, reason in fails), fails[0][0])


def _same(a: str, b: str, options: CheckOptions) -> bool:
    return normalise_url(a, trailing_slash_matters=options.trailing_slash_matters,
                         query_matters=options.query_matters) == normalise_url(
        b, trailing_slash_matters=options.trailing_slash_matters,
        query_matters=options.query_matters)


def _ignored(final: str, target: str, options: CheckOptions) -> str:
    slash_only = _same(final, target, CheckOptions(False, True))
    return "trailing slash" if slash_only else "query string" if not options.query_matters \
        and _same(final, target, CheckOptions(True, False)) else "trailing slash and query string"


def _title(observed: Observed) -> str:
    try:
        title = KIND_INFO[Kind(observed.failure_kind)].title
    except ValueError:
        return observed.failure_message or "the request failed"
    return title[0].lower() + title[1:]
