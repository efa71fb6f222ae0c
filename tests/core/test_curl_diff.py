"""Fetchdeck and curl on the same loopback URLs: the same status, redirect count, final URL,
content type and decoded size (curl writes the decoded body to a file; its own
``size_download`` is the size on the wire, compared with Fetchdeck's ``content_length``)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from yarl import URL

from app.core.result import Result
from tests.core.runs import fetch_all
from tests.servers import ThreadedServer

pytestmark = [
    pytest.mark.timeout(120),
    pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed"),
]

PATHS = [
    "/ok",
    "/status/404",
    "/status/500",
    "/redirect/3",
    "/encoded/gzip?bytes=30000",
    "/encoded/deflate?bytes=3000",
    "/encoded/br?bytes=30000",
    "/encoded/zstd?bytes=30000",
    "/chunked",
    "/big?bytes=300000",
    "/cookie-redirect?to=/cookie-echo",
]


def curl_features() -> str:
    return subprocess.run(["curl", "--version"], capture_output=True, text=True).stdout


def curl(url: str, out: Path, *, head: bool = False) -> dict[str, object]:
    """``curl -w '%{json}'`` for one URL, following redirects, decoding what it can, keeping
    cookies within the transfer (``-b ''``) as Fetchdeck keeps them within a run."""
    args = ["curl", "-s", "-L", "--max-redirs", "10", "--compressed", "-b", "", "-o", str(out),
            "-w", "%{json}", url]
    if head:
        args.insert(1, "-I")
    done = subprocess.run(args, capture_output=True, text=True, timeout=60)
    info: dict[str, object] = json.loads(done.stdout)
    info["decoded_size"] = 0 if head or not out.exists() else out.stat().st_size
    return info


def compare(result: Result, info: dict[str, object]) -> None:
    where = result.url
    assert info["exitcode"] == 0, (where, info.get("errormsg"))
    assert result.status == info["http_code"], where
    assert result.redirects == info["num_redirects"], where
    assert result.final_url == info["url_effective"], where
    assert (result.content_type or None) == info["content_type"], where
    assert (result.bytes or 0) == info["decoded_size"], where


@pytest.fixture(scope="module")
def server():
    with ThreadedServer() as s:
        yield s


def test_get_agrees_with_curl(server, tmp_path):
    paths = list(PATHS)
    if "zstd" not in curl_features().lower():
        paths.remove("/encoded/zstd?bytes=30000")
    urls = [server.url(path) for path in paths]
    results = fetch_all(urls)
    for index, (url, result) in enumerate(zip(urls, results, strict=True)):
        info = curl(url, tmp_path / f"body-{index}")
        compare(result, info)
        if result.redirects == 0 and "chunked" not in url:
            # What the wire carried: announced by the server, counted by curl.
            assert result.content_length == info["size_download"], url


def test_a_redirect_to_a_relative_and_cross_host_location_agrees_with_curl(server, tmp_path):
    other = f"http://localhost:{server.port}/encoded/br?bytes=1234"
    url = str(URL(server.url("/redirect-to")).with_query(url=f"/redirect-to?url={other}"))
    (result,) = fetch_all([url])
    compare(result, curl(url, tmp_path / "body"))
    assert result.redirects == 2


def test_head_agrees_with_curl(server, tmp_path):
    urls = [server.url("/ok"), server.url("/status/404"), server.url("/redirect/2")]
    results = fetch_all(urls, method="head")
    for url, result in zip(urls, results, strict=True):
        info = curl(url, tmp_path / "head", head=True)
        compare(result, info)
        assert result.bytes is None
