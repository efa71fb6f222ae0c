"""The form's text becomes targets: every non-blank, non-comment line is kept, with a reason
when it cannot be fetched."""

from __future__ import annotations

import pytest

from app.core.errors import Kind
from app.core.redact import mask_url as mask_password
from app.core.sources import parse_text as parse_source_text
from app.core.targets import TargetList, parse_text, read_list, summarize


def test_blank_and_comment_lines_are_skipped_and_the_rest_keep_their_line_numbers():
    targets = parse_text("\n# a comment\nhttps://a.example/\n\n   \nhttp://b.example/x\n")
    assert [(t.index, t.line, t.text) for t in targets] == [
        (0, 3, "https://a.example/"),
        (1, 6, "http://b.example/x"),
    ]
    assert all(t.url is not None and t.failure is None for t in targets)


@pytest.mark.parametrize(
    ("line", "kind", "words"),
    [
        ("javascript:alert(1)", Kind.UNSUPPORTED_SCHEME, "`javascript:` is not an http(s) URL"),
        ("ftp://files.example/a", Kind.UNSUPPORTED_SCHEME, "`ftp:` is not an http(s) URL"),
        ("mailto:someone@example.com", Kind.UNSUPPORTED_SCHEME, "`mailto:`"),
        ("example.com/page", Kind.INVALID_URL, "did you mean https://example.com/page?"),
        ("example.com:8080/x", Kind.INVALID_URL, "no scheme"),
        ("http://", Kind.INVALID_URL, "no host"),
        ("http://exa mple.com/", Kind.INVALID_URL, "spaces"),
        ("http://example.com:99999/", Kind.INVALID_URL, "ort"),
        ("http://" + "a" * 9000 + ".com/", Kind.INVALID_URL, "limit"),
    ],
)
def test_unfetchable_lines_say_why_in_plain_words(line, kind, words):
    (target,) = parse_text(line)
    assert target.url is None
    assert target.failure is not None
    assert target.failure.kind is kind
    assert words in target.failure.message


def test_duplicates_are_kept_as_separate_rows():
    targets = parse_text("https://a.example/\nhttps://a.example/\n")
    assert [t.index for t in targets] == [0, 1]


def test_international_and_ipv6_hosts_are_accepted():
    targets = parse_text("https://bücher.example/\nhttp://[::1]:8080/\nHTTP://UPPER.EXAMPLE/")
    assert all(t.url is not None for t in targets)
    assert targets[0].url.raw_host == "xn--bcher-kva.example"


def test_summary_counts_fetchable_and_rejected():
    summary = summarize(parse_text("https://a.example/\nnope\nftp://x/\nhttps://b.example/"))
    assert summary.fetchable == 2
    assert [t.line for t in summary.rejected] == [2, 3]
    assert summary.total == 4


@pytest.mark.parametrize("newline", [b"\n", b"\r\n"])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_url_files_are_read_with_or_without_bom_and_crlf(tmp_path, newline, bom):
    path = tmp_path / "urls.txt"
    path.write_bytes(bom + newline.join([b"https://a.example/", b"# c", b"https://b.example/"]))
    targets = list(read_list(path))
    assert [t.text for t in targets] == ["https://a.example/", "https://b.example/"]
    assert all(t.url is not None for t in targets)


def test_undecodable_bytes_do_not_stop_the_import(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_bytes(b"https://a.example/\nhttps://b\xff.example/\n")
    targets = list(read_list(path))
    assert len(targets) == 2
    assert targets[0].url is not None


def test_passwords_are_masked_but_user_names_kept():
    assert mask_password("https://ann:s3cret@host.example/p?q=1") == \
        "https://ann:***@host.example/p?q=1"
    assert mask_password("https://host.example/") == "https://host.example/"
    assert mask_password("https://ann@host.example/") == "https://ann@host.example/"


def test_a_password_in_a_line_without_scheme_is_not_echoed():
    (target,) = parse_text("//bob:hunter2@intranet.example/report")
    assert "hunter2" not in target.failure.message
    assert "did you mean https://bob:***@intranet.example/report?" in target.failure.message


# Pieces of URLs that are, or are nearly, in yarl's normal form: the fast path must take the
# first kind and leave the second to the full parse, and either way the URL must be the same.
_HOSTS = ["a.com", "127.0.0.1", "xn--e1afmkfd.xn--p1ai", "h-1.example", "A.com", "a.com.",
          "a..b", "localhost", "[::1]", "-a.com", "a-.b", "a.-b", ".a.com", "1.2.3", "0x7f.1",
          "xn--", "a.xn--", "xn---", "xn--e1afmkfd-"]
_PORTS = ["", ":8080", ":80", ":443", ":080", ":65535", ":1"]
_PATH_BITS = ["", "/", "/x", "/x/", "/.", "/..", "/./", "/../", "/.x", "/..x", "/x.y", "/~u",
              "/a(b)", "/'q'", "/a;b=c", "/%7e", "/%aa", "/%20", "/é", "/a b", "/a|b", "/a:b@c",
              "//", "/x*y+z,w$!&"]
_QUERIES = ["", "?", "?q=1", "?a=b&c=d", "?q=a+b", "?q=%20", "?q=/x?y", "?q='()*!$,;:@",
            "?q=é", "?q=[1]", "?q=a|b"]
_FRAGMENTS = ["", "#", "#f"]


def test_lines_already_in_normal_form_make_the_same_url_without_re_encoding():
    import random

    from yarl import URL

    from app.core.targets import make_target

    rng = random.Random(5)
    exact = 0
    for _ in range(20_000):
        path = "".join(rng.choice(_PATH_BITS) for _ in range(rng.randint(0, 3)))
        text = (rng.choice(["http://", "https://", "HTTP://"]) + rng.choice(_HOSTS)
                + rng.choice(_PORTS) + path + rng.choice(_QUERIES) + rng.choice(_FRAGMENTS))
        target = make_target(0, 1, text)
        if target.failure is not None:
            continue
        url = target.url
        full = URL(text)
        assert url == full, text
        assert str(url) == str(full), text
        assert url.raw_path_qs == full.raw_path_qs, text
        assert url.host_port_subcomponent == full.host_port_subcomponent, text
        assert target.host == (full.raw_host or "").lower(), text
        exact += target.exact
    assert exact > 500  # the fast path was taken often enough to mean something


@pytest.mark.parametrize(("line", "exact"), [
    ("https://example.com/a/b.html?x=1&y=2", True),
    ("http://127.0.0.1:8080/page?n=3", True),
    ("https://example.com", True),
    ("https://Example.com/", False),  # yarl lowercases the host
    ("https://example.com/a/../b", False),  # and removes dot segments
    ("https://example.com/a/./b", False),
    ("https://example.com/a/..", False),
    ("https://example.com/.well-known/x", False),  # not a dot segment, but told apart cheaply
    ("https://example.com/%7e", False),  # and normalizes escapes
    ("https://example.com/é", False),  # and quotes non-ASCII
    ("https://example.com/#top", False),
])
def test_the_fast_path_takes_only_lines_yarl_would_not_change(line, exact):
    from yarl import URL

    from app.core.targets import make_target

    target = make_target(0, 1, line)
    assert target.exact is exact
    assert target.url == URL(line)


@pytest.mark.parametrize("line", ["http://xn--/", "http://a.xn--/x", "https://xn---/",
                                  "http://xn--e1afmkfd-/"])
def test_a_host_with_invalid_punycode_is_rejected_before_the_run(line):
    (target,) = parse_text(line)
    assert target.failure is not None and target.failure.kind is Kind.INVALID_URL


@pytest.mark.parametrize("line", [
    "http://a..example.com/", "http://.example.com/", "https://example..com:8443/x?q=1",
    "http://" + "a" * 64 + ".example.com/", "HTTP://Example.COM../",
    "http://bü" + "c" * 62 + ".de/",  # 64 characters once encoded: xn--b-...
])
def test_a_host_part_empty_or_over_63_characters_is_rejected_before_the_run(line):
    (target,) = parse_text(line)
    assert target.url is None
    assert target.failure is not None and target.failure.kind is Kind.INVALID_URL
    assert target.failure.message == ("the host name cannot be used: a part of it between "
                                      "dots is empty or longer than 63 characters")


def test_a_host_name_over_253_characters_is_rejected_before_the_run():
    name = ".".join(["a" * 60] * 4) + ".example.com"  # 255 characters, every label fits
    (target,) = parse_text(f"https://{name}/")
    assert target.failure is not None and target.failure.kind is Kind.INVALID_URL
    assert target.failure.message == "the host name is 255 characters long; DNS allows 253"
    (fits,) = parse_text("https://" + ".".join(["a" * 60] * 4) + ".ex/")  # 246 characters
    assert fits.failure is None


@pytest.mark.parametrize("line", ["http://xn--.com/", "HTTP://XN--.COM/", "http://xn--.com/%41"])
def test_a_punycode_host_always_takes_the_checked_path(line):
    (target,) = parse_text(line)
    assert target.failure is not None and target.failure.kind is Kind.INVALID_URL


@pytest.mark.parametrize("line", ["http://example.com./", "http://" + "b" * 63 + ".example.com/",
                                  "http://[::1]:8080/", "http://127.0.0.1/"])
def test_hosts_whose_parts_fit_are_fetched(line):
    (target,) = parse_text(line)
    assert target.failure is None and target.url is not None


def test_pasted_text_cannot_forge_the_over_long_line_marker():
    """Found by the fuzz test: a pasted NUL (no decoded file holds one) spelled the marker
    that stands for an over-long line, and reading it raised."""
    targets = TargetList.from_text("\x00too long:\n\x00too long:123\nhttp://a.example/")
    rows = list(targets)
    assert [t.text for t in rows] == ["\ufffdtoo long:", "\ufffdtoo long:123",
                                      "http://a.example/"]
    assert all(t.failure is not None and "characters long" not in t.failure.message
               for t in rows[:2])
    assert rows[2].failure is None
    # The window's editor reads its text with parse_text, as the form does: the same.
    imported = parse_source_text("\x00too long:5\n")
    assert list(imported.texts) == ["\ufffdtoo long:5"] and not imported.failures
