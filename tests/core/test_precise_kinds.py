"""Failures that used to get a vague or wrong kind, each provoked for real: host names the
resolver cannot encode, a name server that never answers, a server that speaks only old TLS,
https to a plain-HTTP port, a process out of file descriptors."""

from __future__ import annotations

import os
import random
import shutil
import ssl
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from app.core.errors import KIND_INFO, Kind
from app.core.result import Outcome
from tests.core.runs import fetch_one
from tests.servers import HOSTILE_BEHAVIOURS, TLS, RawServers, ThreadedServer

pytestmark = pytest.mark.timeout(60)

ROOT = Path(__file__).resolve().parents[2]


def assert_kind(result, kind, *words):
    assert result.outcome is Outcome.FAILED, (result.outcome, result.error)
    assert result.failure.kind is kind, (result.failure.kind, result.error)
    assert result.error.startswith(KIND_INFO[kind].title), result.error
    for word in words:
        assert word in result.error, result.error


@pytest.mark.parametrize("url", [
    "http://" + "a" * 64 + ".example/",  # a label over 63 characters
    "http://a..b/",  # an empty label
    "http://.a/",
])
def test_a_host_name_the_resolver_cannot_encode_is_an_invalid_url(url):
    # In the list: refused before the run, as an invalid row.
    listed = fetch_one(url)
    assert listed.outcome is Outcome.INVALID, (listed.outcome, listed.error)
    assert listed.failure.kind is Kind.INVALID_URL
    assert "longer than 63 characters" in listed.error
    # Where a server redirects: met only when fetched, and named as precisely.
    with ThreadedServer() as server:
        redirected = fetch_one(f"http://127.0.0.1:{server.port}/redirect-to?url={url}")
    assert_kind(redirected, Kind.INVALID_URL, "longer than 63 characters")
    assert redirected.redirects == 1


def test_https_to_a_plain_http_port_says_so():
    with ThreadedServer() as server:
        result = fetch_one(f"https://127.0.0.1:{server.port}/ok")
    assert_kind(result, Kind.TLS, "the server does not speak TLS on this port")
    assert "Operation not permitted" not in result.error


def test_a_server_that_answers_with_a_protocol_version_alert_is_a_tls_version_mismatch():
    with RawServers(behaviours={"tls-alert": HOSTILE_BEHAVIOURS["tls-alert"]}) as raw:
        result = fetch_one(raw.url("tls-alert").replace("http://", "https://"))
    assert_kind(result, Kind.TLS, "share no TLS version", "protocol version")


def test_a_tls_1_0_only_server_is_a_tls_version_mismatch(tmp_path):
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    TLS(tmp_path).ca.issue_cert("127.0.0.1").configure_cert(context)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # TLSVersion.TLSv1 itself
        try:
            context.maximum_version = ssl.TLSVersion.TLSv1
            context.minimum_version = ssl.TLSVersion.TLSv1
            context.set_ciphers("DEFAULT:@SECLEVEL=0")
        except (ValueError, ssl.SSLError) as exc:
            pytest.skip(f"this OpenSSL cannot serve TLS 1.0: {exc}")
    with ThreadedServer(ssl_context=context) as server:
        result = fetch_one(server.url("/ok"))
    # OpenSSL either answers with a protocol_version alert or hangs up: both name the mismatch.
    assert_kind(result, Kind.TLS, "TLS version")


EMFILE_CHILD = """
import os, resource, sys
url = sys.argv[1]
from tests.core.runs import fetch_all
resource.setrlimit(resource.RLIMIT_NOFILE, (100, 100))
assert fetch_all([url])[0].outcome.value == "ok"  # every lazy import done, with files to spare
held = []
try:
    while True:
        held.append(os.open(os.devnull, os.O_RDONLY))
except OSError:
    pass
for fd in held[-3:]:  # the loop's own: epoll and its self-pipe
    os.close(fd)
for result in fetch_all([url] * 3, concurrency=3):
    print(result.outcome.value, result.error_kind, result.error, sep="|")
"""


@pytest.mark.skipif(sys.platform == "win32", reason="RLIMIT_NOFILE is POSIX")
def test_out_of_file_descriptors_is_connect_too_many_open_files():
    with ThreadedServer() as server:
        done = subprocess.run([sys.executable, "-c", EMFILE_CHILD, server.url("/ok")],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = [line.split("|") for line in done.stdout.splitlines()]
    assert len(rows) == 3
    for outcome, kind, error in rows:
        assert (outcome, kind) == ("failed", "connect")
        assert error.startswith(KIND_INFO[Kind.CONNECT].title)
        assert "Too many open files" in error
        assert "ulimit -n" in error


SILENT_NAME_SERVER_CHILD = """
import socket, sys
silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
silent.bind((sys.argv[1], 53))  # takes every query, never answers
from tests.core.runs import fetch_one
result = fetch_one("http://fetchdeck-silent-name-server.test/", connect_timeout=0.5, timeout=5)
print(result.outcome.value, result.error_kind, result.error, sep="|")
"""


def test_a_name_server_that_never_answers_is_dns_not_a_connect_timeout(tmp_path):
    """A real resolver timing out: this process's /etc/resolv.conf replaced, in a mount
    namespace of its own, by one naming a loopback address where a socket takes the queries
    and never answers. Needs root (or CAP_SYS_ADMIN) for unshare and port 53."""
    unshare = shutil.which("unshare")
    if unshare is None or os.geteuid() != 0:
        pytest.skip("needs unshare and root to give a process its own resolv.conf")
    address = f"127.53.{random.randrange(1, 255)}.{random.randrange(1, 255)}"
    resolv = tmp_path / "resolv.conf"
    resolv.write_text(f"nameserver {address}\noptions timeout:1 attempts:1\n")
    script = 'mount --bind "$1" /etc/resolv.conf && shift && exec "$@"'
    done = subprocess.run(
        [unshare, "-m", "sh", "-c", script, "sh", str(resolv), sys.executable, "-c",
         SILENT_NAME_SERVER_CHILD, address],
        cwd=ROOT, capture_output=True, text=True, timeout=60)
    if done.returncode != 0 and ("mount" in done.stderr or "unshare" in done.stderr):
        pytest.skip(f"cannot give a process its own resolv.conf here: {done.stderr.strip()}")
    assert done.returncode == 0, done.stderr
    outcome, kind, error = done.stdout.strip().split("|")
    assert (outcome, kind) == ("failed", "dns"), error
    assert error == (f"{KIND_INFO[Kind.DNS].title}: the name server did not answer "
                     "within 0.5 s")
