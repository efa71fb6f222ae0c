"""The built-in demo server: each sample URL shows the outcome its comment promises."""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import pytest

from app.core.demo import DemoServer
from app.core.errors import Kind
from app.core.settings import Settings
from app.core.targets import parse_text
from tests.core.runs import fetch_all, run_fresh

CAP = Settings().max_body  # the demo's big bodies must be over the default cap
ROOT = Path(__file__).resolve().parents[2]

# What a plain aiohttp client sees for each sample, in sample order. The slow page is fetched
# with a 0.5 s read timeout, so that proving it slow takes half a second rather than three.
RAW_OUTCOMES = [
    "200 Fetchdeck demo",
    "200 Demo news",
    "200 About the demo",
    "404",
    "500",
    "503",
    "200 OK after 3 redirects",
    "TooManyRedirects",
    "NonHttpUrlRedirectClientError file:///etc/passwd",
    "SocketTimeoutError",
    "ClientOSError errno 104",
    "ClientPayloadError",
    "ClientResponseError",
    "200 over the cap",
    "200 over the cap gzip",
    "ClientConnectorError errno 111",
]

# What Fetchdeck reports for each sample with default settings.
KINDS = [None, None, None, Kind.HTTP_4XX, Kind.HTTP_5XX, Kind.HTTP_5XX, None,
         Kind.TOO_MANY_REDIRECTS, Kind.UNSAFE_REDIRECT, None, Kind.RESET, Kind.TRUNCATED,
         Kind.PROTOCOL, Kind.BODY_TOO_LARGE, Kind.BODY_TOO_LARGE, Kind.REFUSED]


@pytest.fixture(scope="module")
def demo() -> Iterator[DemoServer]:
    with DemoServer() as server:
        yield server


async def _outcome(session: aiohttp.ClientSession, url: str) -> str:
    # Only the slow page gets the short read timeout: on a loaded machine, compressing the gzip
    # bomb or streaming 12 MiB can pause longer than 0.5 s without anything being wrong.
    timeout = aiohttp.ClientTimeout(total=10, sock_read=0.5 if "/slow" in url else 10)
    try:
        async with session.get(url, timeout=timeout) as resp:
            body = b""
            async for chunk in resp.content.iter_chunked(256 * 1024):
                body += chunk
                if len(body) > CAP:
                    gzip = " gzip" if resp.headers.get("Content-Encoding") == "gzip" else ""
                    return f"{resp.status} over the cap{gzip}"
            title = re.search(rb"<title>(.*)</title>", body)
            hops = f" after {len(resp.history)} redirects" if resp.history else ""
            return f"{resp.status}{' ' + title[1].decode() if title else ''}{hops}"
    except aiohttp.NonHttpUrlRedirectClientError as exc:
        return f"{type(exc).__name__} {exc}"
    except aiohttp.ClientOSError as exc:
        return f"{type(exc).__name__} errno {exc.errno}"
    except aiohttp.ClientError as exc:
        return type(exc).__name__


async def _outcomes(urls: list[str]) -> list[str]:
    async with aiohttp.ClientSession() as session:
        return list(await asyncio.gather(*(_outcome(session, url) for url in urls)))


def test_each_sample_url_misbehaves_as_promised(demo):
    assert run_fresh(_outcomes(demo.sample_urls())) == RAW_OUTCOMES


def test_the_slow_sample_takes_about_three_seconds(demo):
    (slow,) = [url for url in demo.sample_urls() if "/slow" in url]
    assert slow.endswith("/slow?seconds=3")


def test_sample_text_is_the_sample_urls_under_comments(demo):
    text = demo.sample_text()
    targets = parse_text(text)
    assert [t.text for t in targets] == demo.sample_urls()
    assert all(t.url is not None for t in targets), "every sample must be fetchable"
    groups = text.strip().split("\n\n")
    assert len(groups) == 8  # the introduction and seven groups
    for group in groups:
        assert group.startswith("# "), group
    assert demo.base_url in groups[0]


def test_samples_live_on_loopback(demo):
    assert demo.base_url.startswith("http://127.0.0.1:")
    assert all(url.startswith("http://127.0.0.1:") for url in demo.sample_urls())


def test_stop_closes_everything_and_start_is_quick():
    started = time.monotonic()
    server = DemoServer()
    server.start()
    try:
        assert time.monotonic() - started < 2
        urls = server.sample_urls()
    finally:
        server.stop()
    server.stop()  # twice is harmless
    with pytest.raises(RuntimeError):
        server.sample_urls()
    refused = run_fresh(_outcomes([urls[0]]))
    assert refused == ["ClientConnectorError errno 111"]


def test_the_demo_needs_neither_qt_nor_the_tests():
    code = ("import sys, app.core.demo; print(sorted({m.split('.')[0] for m in sys.modules} "
            "& {'tests', 'PySide6', 'shiboken6', 'qasync'}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, check=True).stdout
    assert out.strip() == "[]"


@pytest.mark.slow
def test_fetchdeck_reports_each_sample_as_intended_within_a_minute(demo):
    started = time.monotonic()
    results = fetch_all(demo.sample_urls(), Settings())
    assert time.monotonic() - started < 60
    assert [r.failure.kind if r.failure else None for r in results] == KINDS
    assert [r.title for r in results[:3]] == ["Fetchdeck demo", "Demo news", "About the demo"]
