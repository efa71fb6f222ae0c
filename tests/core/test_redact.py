"""The one masking rule: URL passwords (typed with "@", "#", "?" and "/" in them) and headers
whose names say they carry a credential."""

from __future__ import annotations

import pytest

from app.core.redact import Redactor, is_secret_header, mask_url


@pytest.mark.parametrize(("text", "masked"), [
    ("https://user:secret@host/", "https://user:***@host/"),
    ("https://user:p@ss@host/path", "https://user:***@host/path"),
    ("https://user:p#ss@host/", "https://user:***@host/"),
    ("https://user:p?ss@host/", "https://user:***@host/"),
    ("https://user:pa/ss@host:8080/x?y=1", "https://user:***@host:8080/x?y=1"),
    ("http://frank:pw@host:99999/", "http://frank:***@host:99999/"),
    ("see http://a:b@h1/ and http://c:d@h2/ now", "see http://a:***@h1/ and http://c:***@h2/ now"),
    ("https://user@host/", "https://user@host/"),
    ("https://host/a@b", "https://host/a@b"),
    ("https://host/?mail=a@b.c", "https://host/?mail=a@b.c"),
    ("mailto:someone@example.com", "mailto:someone@example.com"),
])
def test_passwords_are_masked_whatever_they_contain(text, masked):
    assert mask_url(text) == masked


@pytest.mark.parametrize("name", ["Authorization", "proxy-authorization", "Cookie", "X-Api-Key",
                                  "X-Auth-Token", "Client-Secret", "X-Session-Id", "apikey"])
def test_credential_headers_are_secret(name):
    assert is_secret_header(name)
    assert Redactor().header(name, "Basic dXNlcjpwdw==") in ("Basic ***", "***")
    assert "dXNlcjpwdw" not in Redactor().header(name, "Basic dXNlcjpwdw==")


@pytest.mark.parametrize("name", ["Accept", "User-Agent", "Location", "Content-Type"])
def test_ordinary_headers_are_shown(name):
    assert not is_secret_header(name)
    assert Redactor().header(name, "text/html") == "text/html"


def test_a_disabled_redactor_shows_everything():
    assert Redactor(enabled=False).header("Cookie", "sid=1") == "sid=1"


@pytest.mark.parametrize(("url", "kept"), [
    ("http://pat:pw@proxy:3128", "http://pat@proxy:3128"),
    ("http://pat:p@ss@proxy:3128/", "http://pat@proxy:3128/"),
    ("http://:pw@proxy:3128", "http://proxy:3128"),
    ("http://pat@proxy:3128", "http://pat@proxy:3128"),
    ("http://proxy:3128", "http://proxy:3128"),
])
def test_a_password_is_dropped_from_what_is_written_down(url, kept):
    from app.core.redact import without_password

    assert without_password(url) == kept
