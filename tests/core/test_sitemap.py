"""A sitemap index expanded from a loopback server: gzipped children read, every child that
fails becomes a row of its own saying why, with the run's own limits."""

from __future__ import annotations

import asyncio
import gzip

import pytest
from aiohttp import web

from app.core.errors import Kind
from app.core.settings import Settings
from app.core.sitemap import (
    SitemapFetchError,
    SitemapProgress,
    expand_sitemap,
    parse_sitemap,
)
from app.core.sources import SourceError

NS = "http://www.sitemaps.org/schemas/sitemap/0.9"


def urlset(*urls: str) -> bytes:
    entries = "".join(f"<url>\n<loc>{u}</loc>\n<lastmod>2024-01-0{i % 9 + 1}</lastmod></url>\n"
                      for i, u in enumerate(urls))
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<urlset xmlns="{NS}">\n{entries}</urlset>'\
        .encode()


def index(*locs: str) -> bytes:
    entries = "".join(f"<sitemap><loc>{loc}</loc></sitemap>\n" for loc in locs)
    return f'<?xml version="1.0"?>\n<sitemapindex xmlns="{NS}">\n{entries}</sitemapindex>'\
        .encode()


def sitemap_app(base: list[str]) -> web.Application:
    """``base[0]`` is filled with the server's URL once it listens."""

    def url(path: str) -> str:
        return base[0] + path

    async def serve(request: web.Request) -> web.StreamResponse:
        path = request.path
        if path == "/index.xml":
            body = index(url("/pages-1.xml.gz"), url("/missing.xml.gz"), url("/pages-2.xml"),
                         url("/not-xml.xml"), url("/nested.xml"), url("/big.xml"),
                         url("/pages-1.xml.gz"), url("/hang.xml"))
            return web.Response(body=body, content_type="application/xml")
        if path == "/pages-1.xml.gz":  # a .gz file, served as such
            return web.Response(body=gzip.compress(urlset(url("/a"), url("/b"))),
                                content_type="application/gzip")
        if path == "/pages-2.xml":  # compressed in transit only
            return web.Response(body=gzip.compress(urlset(url("/c"))),
                                headers={"Content-Encoding": "gzip",
                                         "Content-Type": "application/xml"})
        if path == "/not-xml.xml":
            return web.Response(text="<html><title>Oops</title></html>",
                                content_type="text/html")
        if path == "/nested.xml":
            return web.Response(body=index(url("/pages-3.xml")), content_type="application/xml")
        if path == "/pages-3.xml":
            return web.Response(body=urlset(url("/d"), url("/e")),
                                content_type="application/xml")
        if path == "/big.xml":
            return web.Response(body=urlset(*(url(f"/big/{i}") for i in range(3000))),
                                content_type="application/xml")
        if path == "/blog/atom.xml":  # a feed whose links are relative to it
            return web.Response(body=b'<feed xmlns="http://www.w3.org/2005/Atom"><entry>'
                                     b'<link href="posts/1"/></entry><entry>'
                                     b'<link href="/about"/></entry></feed>',
                                content_type="application/atom+xml")
        if path == "/hang.xml":
            await asyncio.sleep(60)
        raise web.HTTPNotFound()

    app = web.Application()
    app.router.add_get("/{tail:.*}", serve)
    return app


@pytest.fixture
def sitemaps(start_server):
    base: list[str] = []
    server = start_server(sitemap_app(base))
    base.append(server.base_url)
    return server


SETTINGS = Settings(retries=0, timeout=2.0, connect_timeout=2.0)


def test_an_index_expands_to_every_page_and_every_failed_sitemap_is_a_row(sitemaps):
    seen: list[SitemapProgress] = []
    imported = asyncio.run(expand_sitemap(sitemaps.url("/index.xml"), SETTINGS,
                                          progress=seen.append, max_bytes=100_000))
    u = sitemaps.url
    assert imported.kind == "sitemap"
    assert imported.texts == [u("/a"), u("/b"), u("/missing.xml.gz"), u("/c"),
                              u("/not-xml.xml"), u("/d"), u("/e"), u("/big.xml"),
                              u("/hang.xml")]
    failures = {imported.texts[i]: f for i, f in imported.failures.items()}
    assert set(failures) == {u("/missing.xml.gz"), u("/not-xml.xml"), u("/big.xml"),
                             u("/hang.xml")}
    missing = failures[u("/missing.xml.gz")]
    assert (missing.kind, missing.message) == (
        Kind.HTTP_4XX, "Client error (4xx): the sitemap answered 404 Not Found")
    assert failures[u("/not-xml.xml")].kind is Kind.PROTOCOL
    assert failures[u("/not-xml.xml")].message == (
        "not a sitemap: this XML file is not a sitemap or a feed: its root element is <html>")
    assert failures[u("/big.xml")].kind is Kind.BODY_TOO_LARGE
    assert failures[u("/hang.xml")].kind is Kind.TIMEOUT
    # Each row says which sitemap it came from; a failed one, the index that named it.
    assert imported.columns == ("sitemap", "lastmod")
    assert imported.extra is not None
    assert imported.extra[0] == (u("/pages-1.xml.gz"), "2024-01-01")
    assert imported.extra[2] == (u("/index.xml"), "")
    assert imported.extra[5] == (u("/pages-3.xml"), "2024-01-01")
    assert list(imported.lines)[:3] == [4, 7, 4]  # the <loc> in its own file
    assert seen[-1] == SitemapProgress(sitemaps_done=8, sitemaps_total=8, urls=5)
    assert [p.sitemaps_done for p in seen] == sorted(p.sitemaps_done for p in seen)
    assert any("named twice, read once" in n for n in imported.notices)
    assert any("3 sitemaps read, 4 could not be read (each is a failed row); 5 URLs" in n
               for n in imported.notices), imported.notices
    # Every sitemap was asked for once, the repeated one included.
    assert sorted(r.path for r in sitemaps.seen.requests()) == sorted([
        "/index.xml", "/pages-1.xml.gz", "/missing.xml.gz", "/pages-2.xml", "/not-xml.xml",
        "/nested.xml", "/pages-3.xml", "/big.xml", "/hang.xml"])


def test_an_index_given_as_bytes_fetches_its_children(sitemaps):
    data = gzip.compress(index(sitemaps.url("/pages-2.xml"), sitemaps.url("/gone.xml")))
    imported = asyncio.run(expand_sitemap(data, SETTINGS))
    assert imported.texts == [sitemaps.url("/c"), sitemaps.url("/gone.xml")]
    assert set(imported.failures) == {1}


def test_a_plain_sitemap_url_is_read_without_expansion(sitemaps):
    imported = asyncio.run(expand_sitemap(sitemaps.url("/pages-1.xml.gz"), SETTINGS))
    assert imported.texts == [sitemaps.url("/a"), sitemaps.url("/b")]
    assert imported.failures == {}
    assert imported.columns == ("sitemap", "lastmod")


def test_a_sitemap_that_cannot_be_fetched_is_an_error_not_an_empty_list(sitemaps):
    with pytest.raises(SitemapFetchError) as caught:
        asyncio.run(expand_sitemap(sitemaps.url("/nothing.xml"), SETTINGS))
    assert caught.value.failure.kind is Kind.HTTP_4XX
    assert "404 Not Found" in str(caught.value)
    with pytest.raises(SourceError, match="root element is <html>"):
        asyncio.run(expand_sitemap(sitemaps.url("/not-xml.xml"), SETTINGS))


def test_a_refused_sitemap_names_the_connection_failure(refused_port):
    with pytest.raises(SitemapFetchError) as caught:
        asyncio.run(expand_sitemap(refused_port.url("/sitemap.xml"), SETTINGS))
    assert caught.value.failure.kind is Kind.REFUSED


def test_past_the_url_limit_the_remaining_sitemaps_are_rows_that_say_so(sitemaps):
    data = index(*(sitemaps.url(f"/pages-{n}.xml{'.gz' if n == 1 else ''}") for n in (1, 2, 3)))
    imported = asyncio.run(expand_sitemap(data, SETTINGS, max_urls=2, concurrency=1))
    assert imported.texts == [sitemaps.url("/a"), sitemaps.url("/b"),
                              sitemaps.url("/pages-2.xml"), sitemaps.url("/pages-3.xml")]
    assert {i: f.kind for i, f in imported.failures.items()} == {2: Kind.CONFIG, 3: Kind.CONFIG}
    assert "the most a sitemap import takes (2)" in imported.failures[2].message


def test_cancelling_an_expansion_stops_it(sitemaps):
    async def go() -> None:
        started = asyncio.Event()
        task = asyncio.create_task(expand_sitemap(
            index(sitemaps.url("/hang.xml"), sitemaps.url("/pages-2.xml")),
            Settings(retries=0, timeout=60), progress=lambda _: started.set()))
        await started.wait()  # the index is read and its children asked for
        while not any(r.path == "/hang.xml" for r in sitemaps.seen.requests()):
            await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(go())


def test_parse_sitemap_keeps_only_the_pages_of_the_sitemaps_own_namespace():
    data = (f'<urlset xmlns="{NS}" xmlns:x="urn:other"><url><loc>https://a.example/</loc>'
            "<x:loc>https://other.example/</x:loc></url>"
            "<x:url><loc>https://b.example/</loc></x:url></urlset>").encode()
    doc = parse_sitemap(data)
    assert doc.urls == ["https://a.example/"] and not doc.is_index


def test_a_urlset_that_also_lists_sitemaps_reads_its_pages_and_says_so():
    doc = parse_sitemap(b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
                        b"<url><loc>https://a.example/page</loc></url>"
                        b"<sitemap><loc>https://a.example/more.xml</loc></sitemap></urlset>")
    assert doc.urls == ["https://a.example/page"] and not doc.is_index
    assert doc.notices == ("this sitemap lists 1 sitemaps besides its pages; only the pages "
                           "are read",)


def test_a_urlset_of_sitemaps_is_an_index_and_an_index_of_pages_gives_its_pages():
    index = parse_sitemap(b"<urlset><sitemap><loc>https://a.example/1.xml</loc></sitemap>"
                          b"</urlset>")
    assert index.is_index and index.child_sitemaps == ["https://a.example/1.xml"]
    pages = parse_sitemap(b"<sitemapindex><url><loc>https://a.example/p</loc></url>"
                          b"</sitemapindex>")
    assert pages.urls == ["https://a.example/p"] and not pages.is_index


def test_atom_links_are_resolved_against_xml_base_and_the_full_alternate_rel_counts():
    doc = parse_sitemap(
        b'<feed xmlns="http://www.w3.org/2005/Atom" xml:base="https://blog.example/posts/">'
        b'<entry><link href="one"/></entry>'
        b'<entry xml:base="/archive/"><link href="two"/></entry>'
        b'<entry><link rel="http://www.iana.org/assignments/relation/alternate" '
        b'href="https://blog.example/three"/></entry>'
        b'<entry><link href=" "/><link href="/four"/></entry>'
        b"</feed>")
    assert doc.urls == ["https://blog.example/posts/one", "https://blog.example/archive/two",
                        "https://blog.example/three", "https://blog.example/four"]


def test_an_rss_item_with_two_links_gives_its_first():
    doc = parse_sitemap(b'<rss version="2.0"><channel><item><link>https://a.example/1</link>'
                        b"<link>https://a.example/other</link></item></channel></rss>")
    assert doc.urls == ["https://a.example/1"]


def test_a_fetched_atom_feeds_relative_links_are_relative_to_where_it_came_from():
    data = (b'<feed xmlns="http://www.w3.org/2005/Atom"><entry><link href="/posts/1"/></entry>'
            b'<entry><link href="2"/></entry></feed>')
    doc = parse_sitemap(data, base="https://blog.example/feeds/atom.xml")
    assert doc.urls == ["https://blog.example/posts/1", "https://blog.example/feeds/2"]
    assert parse_sitemap(data).urls == ["/posts/1", "2"]  # a file: nothing to resolve against


def test_a_feed_read_from_a_url_gives_its_links_resolved_against_it(sitemaps):
    imported = asyncio.run(expand_sitemap(sitemaps.url("/blog/atom.xml"), SETTINGS))
    assert imported.texts == [sitemaps.url("/blog/posts/1"), sitemaps.url("/about")]
