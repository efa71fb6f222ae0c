"""Copy as curl: the command, read back by a shell, repeats Fetchdeck's request. Checked by
parsing it and by running the real curl against the loopback servers, which record what arrived."""

from __future__ import annotations

import json
import os
import shlex
import shutil
import subprocess
from dataclasses import replace

import pytest

from app.core.curl import curl_command
from app.core.settings import Settings
from tests.servers import BASIC_AUTH, ThreadedServer

CURL = shutil.which("curl") or "/usr/bin/curl"
needs_curl = pytest.mark.skipif(not os.path.exists(CURL), reason="curl is not installed")

# A header value a careless quoter would hand to the shell as code.
NASTY = """it's $HOME `id` "q"; echo pwned > /tmp/fetchdeck-pwned \\ & | < > * ?"""


def run_curl(command: str, password: str | None = None) -> subprocess.CompletedProcess[str]:
    """Run the command through /bin/sh, as a user pasting it would. Without a terminal, curl
    reads a password it has to ask for from stdin."""
    env = {k: v for k, v in os.environ.items() if "proxy" not in k.lower()}
    return subprocess.run(
        ["/bin/sh", "-c", command.replace("curl", CURL, 1) + " --silent --show-error"],
        input=f"{password}\n" if password is not None else "", capture_output=True, text=True,
        env=env, timeout=30, start_new_session=True, check=False,
    )


def test_every_setting_becomes_its_curl_option():
    settings = Settings(
        method="head", max_redirects=4, timeout=7.5, connect_timeout=3, user_agent="Agent/1",
        headers=(("X-One", "1"), ("Accept-Language", "fr")), auth="bob:pw", proxy="http://p:3128",
        verify_tls=False, mask_passwords=False)
    args = shlex.split(curl_command("https://example.org/a?b=c&d=e", settings))
    assert args[0] == "curl"
    assert args[-1] == "https://example.org/a?b=c&d=e"
    assert "-I" in args and "-L" in args and "--compressed" in args and "-k" in args
    pairs = {(a, b) for a, b in zip(args, args[1:], strict=False)}
    assert {("--max-redirs", "4"), ("--max-time", "7.5"), ("--connect-timeout", "3"),
            ("-A", "Agent/1"), ("-H", "X-One: 1"), ("-H", "Accept-Language: fr"),
            ("--user", "bob:pw"), ("--proxy", "http://p:3128")} <= pairs


def test_defaults_get_with_redirects_and_no_extras():
    args = shlex.split(curl_command("http://example.org/", Settings()))
    assert "-I" not in args and "-X" not in args  # GET is curl's default
    assert "-k" not in args and "--user" not in args and "--proxy" not in args
    assert args[args.index("--max-redirs") + 1] == "10"


def test_head_then_get_reproduces_the_get_and_no_redirects_means_no_location():
    args = shlex.split(curl_command("http://example.org/",
                                    Settings(method="head-then-get", follow_redirects=False)))
    assert "-I" not in args and "-L" not in args and "--max-redirs" not in args


def test_ca_file_is_cacert_and_insecure_wins_over_it():
    args = shlex.split(curl_command("https://h/", Settings(ca_file="/etc/my ca.pem")))
    assert args[args.index("--cacert") + 1] == "/etc/my ca.pem"
    args = shlex.split(curl_command("https://h/", Settings(ca_file="/x.pem", verify_tls=False)))
    assert "-k" in args and "--cacert" not in args


def test_a_user_agent_header_wins_over_the_user_agent_setting():
    args = shlex.split(curl_command("http://h/", Settings(headers=(("user-agent", "Mine"),))))
    assert "-A" not in args and ("user-agent: Mine") in args


def test_masked_command_holds_no_password_anywhere():
    settings = Settings(auth="alice:hunter22", proxy="http://pu:proxypass@proxy:3128")
    for url in ("http://h/x", "http://carol:urlsecret@h/x?a[]=1"):
        command = curl_command(url, settings)
        for secret in ("hunter22", "proxypass", "urlsecret"):
            assert secret not in command
    args = shlex.split(curl_command("http://carol:urlsecret@h/x?a[]=1", settings))
    # URL credentials win over settings.auth, as in the fetch; curl will ask for the password.
    assert args[args.index("--user") + 1] == "carol"
    assert args[-1] == "http://h/x?a[]=1"  # the rest of the URL byte for byte
    assert "-g" in args  # curl would read [] as a range otherwise
    assert args[args.index("--proxy") + 1] == "http://proxy:3128"
    assert args[args.index("--proxy-user") + 1] == "pu"


def test_masked_command_hides_secret_headers_and_passwords_no_parser_reads():
    settings = Settings(headers=(("X-Api-Key", "k3y-value"), ("Cookie", "sid=abc123"),
                                 ("Accept", "text/html")))
    args = shlex.split(curl_command("http://u:pa/ss@h/x", settings))
    assert "X-Api-Key: ***" in args and "Cookie: ***" in args and "Accept: text/html" in args
    # "pa/ss" ends the authority at "/" for every parser: the password cannot move to --user.
    assert args[-1] == "http://u:***@h/x"
    unmasked = shlex.split(curl_command("http://h/", replace(settings, mask_passwords=False)))
    assert "X-Api-Key: k3y-value" in unmasked and "Cookie: sid=abc123" in unmasked


def test_unmasked_command_keeps_url_credentials_in_the_url():
    command = curl_command("http://carol:urlsecret@h/x", Settings(mask_passwords=False))
    assert shlex.split(command)[-1] == "http://carol:urlsecret@h/x"


@needs_curl
def test_curl_sends_the_same_headers_and_user_agent(http_server: ThreadedServer):
    settings = Settings(user_agent="Fetchdeck-test/1 (+curl)", headers=(
        ("X-Nasty", NASTY), ("X-Empty", ""), ("Accept", "application/json")))
    done = run_curl(curl_command(http_server.url("/headers"), settings))
    assert done.returncode == 0, done.stderr
    echoed = json.loads(done.stdout)
    assert echoed["User-Agent"] == "Fetchdeck-test/1 (+curl)"
    assert echoed["X-Nasty"] == NASTY  # reached the server as data, not run by the shell
    assert echoed["X-Empty"] == ""
    assert echoed["Accept"] == "application/json"
    assert "gzip" in echoed["Accept-Encoding"]
    assert not os.path.exists("/tmp/fetchdeck-pwned")


@needs_curl
def test_curl_authenticates_with_the_password_written_out_when_not_masked(
        http_server: ThreadedServer):
    user, password = BASIC_AUTH  # the password has a colon in it
    settings = Settings(auth=f"{user}:{password}", mask_passwords=False)
    done = run_curl(curl_command(http_server.url("/basic-auth"), settings))
    assert done.returncode == 0, done.stderr
    assert f"hello {user}" in done.stdout
    seen = http_server.seen.requests("/basic-auth")[-1]
    assert seen.header("Authorization") is not None


@needs_curl
def test_masked_curl_asks_for_the_password_and_then_authenticates(http_server: ThreadedServer):
    user, password = BASIC_AUTH
    command = curl_command(http_server.url("/basic-auth"),
                           Settings(auth=f"{user}:{password}", mask_passwords=True))
    assert password not in command
    done = run_curl(command, password=password)
    assert f"Enter host password for user '{user}'" in done.stderr
    assert f"hello {user}" in done.stdout
    wrong = run_curl(command, password="not it")
    assert "who are you?" in wrong.stdout  # the server's 401 body: the password really counts


@needs_curl
def test_masked_url_credentials_are_asked_for_too(http_server: ThreadedServer):
    user, password = BASIC_AUTH
    url = http_server.url("/basic-auth").replace("://", f"://{user}:deck%3As3cret@")
    command = curl_command(url, Settings())
    assert "s3cret" not in command
    done = run_curl(command, password=password)
    assert f"hello {user}" in done.stdout, done.stderr


@needs_curl
def test_curl_follows_redirects_only_when_fetchdeck_would(http_server: ThreadedServer):
    url = http_server.url("/redirect/2")
    followed = run_curl(curl_command(url, Settings()) + " -o /dev/null -w '%{http_code}'")
    assert followed.stdout == "200"
    limited = run_curl(curl_command(url, Settings(max_redirects=1)) + " -o /dev/null")
    assert limited.returncode == 47  # CURLE_TOO_MANY_REDIRECTS, Fetchdeck's too_many_redirects
    kept = run_curl(curl_command(url, Settings(follow_redirects=False))
                    + " -o /dev/null -w '%{http_code}'")
    assert kept.stdout.startswith("3")


@needs_curl
def test_head_setting_sends_head(http_server: ThreadedServer):
    done = run_curl(curl_command(http_server.url("/ok"), Settings(method="head")))
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("HTTP/1.1 200")
    assert http_server.seen.requests("/ok")[-1].method == "HEAD"


@needs_curl
def test_timeout_is_reproduced(http_server: ThreadedServer):
    done = run_curl(curl_command(http_server.url("/hang"), Settings(timeout=0.5)))
    assert done.returncode == 28  # CURLE_OPERATION_TIMEDOUT


@needs_curl
def test_brackets_in_the_url_reach_the_server_as_written(http_server: ThreadedServer):
    done = run_curl(curl_command(http_server.url("/headers?tags[]=a"), Settings()))
    assert done.returncode == 0, done.stderr
    assert http_server.seen.requests("/headers")[-1].url.endswith("/headers?tags[]=a")


@needs_curl
def test_curl_goes_through_the_proxy(http_server: ThreadedServer, proxy_server: ThreadedServer):
    target = http_server.url("/ok")
    done = run_curl(curl_command(target, Settings(proxy=proxy_server.base_url)))
    assert done.returncode == 0, done.stderr
    assert [r.url for r in proxy_server.seen.requests()] == [target]


@needs_curl
def test_cacert_and_insecure_reach_an_https_server(https_server: ThreadedServer, ca_file):
    url = https_server.url("/ok")
    assert run_curl(curl_command(url, Settings())).returncode == 60  # untrusted, as in Fetchdeck
    assert run_curl(curl_command(url, Settings(ca_file=str(ca_file)))).returncode == 0
    assert run_curl(curl_command(url, Settings(verify_tls=False))).returncode == 0
