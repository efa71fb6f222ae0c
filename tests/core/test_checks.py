"""Redirect maps graded PASS or FAIL: every kind of pass and fail from what a fetch observed,
the URL comparison they rest on, and a real redirect map fetched from a loopback server."""

from __future__ import annotations

import pytest
from aiohttp import web
from hypothesis import given, settings
from hypothesis import strategies as st
from yarl import URL

from app.core.checks import (
    CheckOptions,
    Expectation,
    Observed,
    check,
    check_result,
    normalise_url,
    parse_status,
    redirect_type,
    resolve_expected,
)
from tests.core.runs import fetch_all

OLD = "https://old.example/products/blue"
NEW = "https://new.example/products/blue"


def redirected(*hops: tuple[int, str], url: str = OLD) -> Observed:
    """A fetch that followed redirects: every answer, the last being the final one."""
    return Observed(url, hops=hops, final_url=hops[-1][1], status=hops[-1][0])


def answered(status: int, url: str = OLD) -> Observed:
    return Observed(url, final_url=url, status=status)


def failed(kind: str, message: str, *hops: tuple[int, str]) -> Observed:
    return Observed(OLD, hops=hops, failure_kind=kind, failure_message=message)


# (expectation, observed, options, verdict, code, words in the reason)
CASES = [
    # --- passes ---
    (Expectation(NEW, 301), redirected((301, OLD), (200, NEW)), None, "pass", "ok",
     "reached the target after one redirect (first answer 301); it answered 200"),
    (Expectation(NEW), redirected((302, OLD), (301, NEW + "/"), (200, NEW)), None, "pass",
     "ok", "after 2 redirects"),
    (Expectation("/products/blue", 308),
     redirected((308, OLD), (200, "https://old.example/products/blue"),
                url="https://old.example/old"), None, "pass", "ok", "answered 200"),
    (Expectation(NEW), redirected((301, OLD), (200, NEW + "/")), None, "pass", "ok",
     "trailing slash ignored"),
    (Expectation(NEW + "?ref=a"), redirected((301, OLD), (200, NEW + "?ref=b")),
     CheckOptions(query_matters=False), "pass", "ok", "query string ignored"),
    (Expectation("HTTPS://NEW.example:443/products/%7eblue#top"),
     redirected((301, OLD), (200, "https://new.example/products/~blue")), None, "pass", "ok",
     "it answered 200"),
    (Expectation(OLD), answered(200), None, "pass", "ok", "answered 200 at the expected URL"),
    (Expectation(status=410), answered(410), None, "pass", "ok", "answered 410, as expected"),
    (Expectation(status=301), redirected((301, OLD), (200, NEW)), None, "pass", "ok",
     "first answer 301, as expected; the target answered 200"),
    (Expectation(status=301), answered(301), None, "pass", "ok", "(redirects not followed)"),
    # --- fails ---
    (Expectation(NEW), redirected((301, OLD), (200, "https://new.example/home")), None, "fail",
     "wrong_target", "ended at https://new.example/home, expected " + NEW),
    (Expectation(NEW), redirected((301, OLD), (404, "https://new.example/home")), None,
     "fail", "wrong_target", "(which answered 404)"),
    (Expectation(NEW, 301), redirected((302, OLD), (200, NEW)), None, "fail", "wrong_status",
     "first answer 302, expected 301"),
    (Expectation(NEW, 301),
     redirected((301, OLD), (301, "https://old.example/x"), (301, NEW + "/"), (200, NEW)),
     None, "fail", "chain", "3 redirects before the target (a chain)"),
    (Expectation(NEW), redirected((301, OLD), (404, NEW)), None, "fail", "target_status",
     "the target answered 404"),
    (Expectation(status=301), redirected((301, OLD), (500, NEW)), None, "fail",
     "target_status", "the target answered 500"),
    (Expectation(NEW), answered(200), None, "fail", "no_redirect",
     "did not redirect (answered 200), expected " + NEW),
    (Expectation(NEW), answered(301), None, "fail", "not_followed",
     "stopped at a 301 that was not followed"),
    (Expectation(NEW, 301), failed("refused", "Connection refused: old.example:443"), None,
     "fail", "no_answer", "no answer: connection refused"),
    (Expectation(NEW), failed("dns", "Host name not found"), None, "fail", "no_answer",
     "no answer: host name not found"),
    (Expectation(NEW), failed("refused", "Connection refused: new.example:443", (301, OLD)),
     None, "fail", "broken_chain", f"{OLD} answered 301, then no answer: connection refused"),
    (Expectation(NEW), failed("too_many_redirects", "Too many redirects",
                              *[(302, OLD)] * 11), None, "fail", "broken_chain",
     "the redirects never end: still redirecting after 11 answers"),
    (Expectation(NEW), Observed("example.com/x", failure_kind="invalid_url",
                                failure_message="no scheme", invalid=True), None, "fail",
     "invalid", "the URL cannot be fetched: no scheme"),
    (Expectation("products/blue"), redirected((301, OLD), (200, NEW)), None, "fail",
     "bad_expected", "neither an absolute URL nor a path starting with /"),
    (Expectation("ftp://new.example/x"), redirected((301, OLD), (200, NEW)), None, "fail",
     "bad_expected", "is not an http(s) URL"),
    (Expectation(NEW), redirected((301, OLD), (200, NEW + "/")),
     CheckOptions(trailing_slash_matters=True), "fail", "wrong_target", "ended at " + NEW + "/"),
    (Expectation(NEW + "?a=1"), redirected((301, OLD), (200, NEW + "?a=2")), None, "fail",
     "wrong_target", "expected " + NEW + "?a=1"),
]


@pytest.mark.parametrize(("expectation", "observed", "options", "verdict", "code", "words"),
                         CASES, ids=[f"{c[3]}-{c[4]}-{i}" for i, c in enumerate(CASES)])
def test_each_kind_of_pass_and_fail_is_graded_with_its_reason(
        expectation, observed, options, verdict, code, words):
    graded = check(expectation, observed, options or CheckOptions())
    assert graded is not None
    assert (graded.verdict, graded.code) == (verdict, code), graded.reason
    assert words in graded.reason


def test_a_row_that_expects_nothing_is_not_checked():
    assert check(Expectation(), redirected((301, OLD), (200, NEW))) is None
    assert check(Expectation("  "), answered(200)) is None


def test_every_failing_rule_is_named_and_the_first_gives_the_code():
    graded = check(Expectation(NEW, 301),
                   redirected((302, OLD), (302, "https://old.example/a"), (200, "https://x/")))
    assert graded is not None and graded.code == "wrong_target"
    assert graded.reason == ("ended at https://x/, expected " + NEW
                             + "; first answer 302, expected 301")


@pytest.mark.parametrize(("expected", "url", "absolute"), [
    ("/new?x=1", "https://old.example:8443/a/b", "https://old.example:8443/new?x=1"),
    ("//cdn.example/p", "http://old.example/", "http://cdn.example/p"),
    (" https://new.example/ ", "https://old.example/", "https://new.example/"),
])
def test_a_path_or_scheme_relative_target_is_taken_on_the_rows_own_host(expected, url,
                                                                          absolute):
    assert resolve_expected(expected, url) == absolute


@pytest.mark.parametrize(("a", "b"), [
    ("HTTP://Example.COM:80", "http://example.com/"),
    ("https://example.com:443/a", "https://example.com/a"),
    ("https://example.com/caf%c3%a9", "https://example.com/café"),
    ("https://Bücher.example/x", "https://xn--bcher-kva.example/x"),
    ("https://example.com/a/%7Eb", "https://example.com/a/~b"),
    ("https://example.com/a/../b", "https://example.com/b"),
    ("https://example.com/a#part", "https://example.com/a"),
])
def test_urls_that_name_the_same_resource_compare_equal(a, b):
    assert normalise_url(a) == normalise_url(b)


@pytest.mark.parametrize(("a", "b"), [
    ("https://example.com/a", "https://example.com/A"),
    ("https://example.com/a", "http://example.com/a"),
    ("https://example.com:8443/a", "https://example.com/a"),
    ("https://example.com/a?x=1", "https://example.com/a?x=2"),
    ("https://example.com/a/", "https://example.com/a"),  # the same request only if it matters
])
def test_urls_that_may_differ_compare_different(a, b):
    assert normalise_url(a) != normalise_url(b)


def test_the_options_drop_the_trailing_slash_and_the_query_but_never_the_root_slash():
    assert normalise_url("https://a.example/x/?q=1", trailing_slash_matters=False,
                         query_matters=False) == "https://a.example/x"
    assert normalise_url("https://a.example/", trailing_slash_matters=False) == \
        "https://a.example/"
    assert normalise_url("https://a.example", trailing_slash_matters=False) == \
        "https://a.example/"


_PATH = st.text(alphabet="abcAZ09-._~!$&'()*+,;=:@/%", max_size=12)


@settings(max_examples=300, deadline=None)
@given(scheme=st.sampled_from(["http", "https", "HTTP"]),
       host=st.sampled_from(["a.example", "A.example", "xn--bcher-kva.example", "a..b", "b"]),
       port=st.sampled_from(["", ":80", ":443", ":8080", ":0"]),
       path=_PATH, query=st.one_of(st.just(""), _PATH.map(lambda q: "?" + q)),
       fragment=st.one_of(st.just(""), _PATH.map(lambda f: "#" + f)),
       slash=st.booleans(), query_matters=st.booleans())
def test_the_fast_path_agrees_with_a_full_parse(scheme, host, port, path, query, fragment,
                                                slash, query_matters):
    text = f"{scheme}://{host}{port}/{path}{query}{fragment}"
    try:
        url = URL(text)
        slow = str(url.with_fragment(None))
    except ValueError:
        return
    if not url.raw_path:
        return
    # Rebuild by hand what normalise_url must give, from yarl's own normal form.
    if not query_matters:
        slow = slow.split("?", 1)[0]
    path_end = slow.find("?") if "?" in slow else len(slow)
    path_start = slow.find("/", slow.find("://") + 3)
    if path_start < 0:
        slow = slow[:path_end] + "/" + slow[path_end:]
    elif not slash and slow[path_end - 1] == "/" and path_end - path_start > 1:
        slow = slow[:path_end - 1] + slow[path_end:]
    assert normalise_url(text, trailing_slash_matters=slash, query_matters=query_matters) \
        == slow


@pytest.mark.parametrize(("cell", "status"), [
    ("301", 301), (301, 301), (301.0, 301), (" 302 Found", 302), ("308.0", 308),
    ("", None), ("permanent", None), (True, None), (42, None), (301.5, None), ("3011", None),
])
def test_a_status_cell_is_read_from_text_or_a_spreadsheet_number(cell, status):
    assert parse_status(cell) == status


def test_the_first_answer_names_its_kind_of_redirect():
    assert [redirect_type(s) for s in (301, 308, 302, 303, 307, 200, None)] == [
        "permanent", "permanent", "temporary", "temporary", "temporary", "", ""]


# --- a real redirect map, fetched -------------------------------------------------------------


def _redirect_map_app() -> web.Application:
    def to(path: str, status: int = 301):
        async def handler(request: web.Request) -> web.Response:
            raise {301: web.HTTPMovedPermanently, 302: web.HTTPFound,
                   308: web.HTTPPermanentRedirect}[status](path)
        return handler

    async def page(request: web.Request) -> web.Response:
        return web.Response(text="<title>page</title>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/old/blue", to("/new/blue"))
    app.router.add_get("/old/red", to("/new/red", 302))
    app.router.add_get("/old/green", to("/hop/green"))
    app.router.add_get("/hop/green", to("/new/green/"))
    app.router.add_get("/old/home", to("/new/home"))
    app.router.add_get("/old/gone", to("/new/gone"))
    app.router.add_get("/old/loop", to("/old/loop"))
    app.router.add_get("/kept", page)
    for path in ("/new/blue", "/new/red", "/new/green/", "/new/home"):
        app.router.add_get(path, page)
    return app


def test_a_redirect_map_fetched_from_a_server_grades_every_row(start_server):
    server = start_server(_redirect_map_app())
    rows = [  # (path, expected, expected status, verdict, code)
        ("/old/blue", "/new/blue", 301, "pass", "ok"),
        ("/old/red", "/new/red", 301, "fail", "wrong_status"),
        ("/old/green", "/new/green", None, "pass", "ok"),
        ("/old/green", "/new/green/", 301, "fail", "chain"),
        ("/old/home", "/new/blue", None, "fail", "wrong_target"),
        ("/old/gone", server.url("/new/gone"), 301, "fail", "target_status"),
        ("/old/loop", "/new/loop", 301, "fail", "broken_chain"),
        ("/kept", "/kept", 200, "pass", "ok"),
        ("/kept", "/new/kept", None, "fail", "no_redirect"),
    ]
    results = fetch_all([server.url(path) for path, *_ in rows], max_redirects=5)
    graded = [check_result(r, expected, status) for r, (_, expected, status, *_) in
              zip(results, rows, strict=True)]
    assert [(g.verdict, g.code) if g else None for g in graded] == [
        (verdict, code) for *_, verdict, code in rows], [g.reason for g in graded if g]
    assert graded[4] is not None and graded[4].reason == (
        f"ended at {server.url('/new/home')}, expected {server.url('/new/blue')}")


def test_a_row_whose_host_refuses_has_no_answer(refused_port):
    (result,) = fetch_all([refused_port.url("/old")])
    graded = check_result(result, "/new", 301)
    assert graded is not None
    assert (graded.verdict, graded.code, graded.reason) == (
        "fail", "no_answer", "no answer: connection refused")
    assert check_result(result, None, None) is None


def test_a_redirect_whose_target_refuses_is_a_broken_chain_not_an_unfollowed_redirect():
    # Fetchdeck follows redirects itself: a failed hop keeps the answers before it (status is
    # the last 3xx), which a check must not read as "redirects not followed".
    from aiohttp import web

    from tests.core.runs import fetch_all
    from tests.servers import ReservedPort, ThreadedServer

    with ReservedPort() as closed:
        async def moved(request: web.Request) -> web.StreamResponse:
            raise web.HTTPMovedPermanently(closed.url("/new"))

        app = web.Application()
        app.router.add_get("/old", moved)
        with ThreadedServer(app) as server:
            (result,) = fetch_all([server.url("/old")])
    assert result.status == 301 and result.error_kind == "refused"
    for expected, status in (("/new", None), (None, 301)):
        verdict = check_result(result, expected, status, CheckOptions())
        assert verdict is not None
        assert (verdict.verdict, verdict.code) == ("fail", "broken_chain")
        assert "answered 301, then no answer" in verdict.reason
