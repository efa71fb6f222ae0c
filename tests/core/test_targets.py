"""The form's text becomes targets: every non-blank, non-comment line is kept, with a reason
when it cannot be fetched."""

from __future__ import annotations

import pytest

from app.core.errors import Kind
from app.core.targets import mask_password, parse_text, read_url_file, summarize


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
    targets = parse_text(read_url_file(path))
    assert [t.text for t in targets] == ["https://a.example/", "https://b.example/"]
    assert all(t.url is not None for t in targets)


def test_undecodable_bytes_do_not_stop_the_import(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_bytes(b"https://a.example/\nhttps://b\xff.example/\n")
    targets = parse_text(read_url_file(path))
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
