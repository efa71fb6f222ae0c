"""A real stored run of a few thousand lines for the reopen tests: fetched from a loopback site
whose answers vary by page (statuses, redirects, titles that sort and filter differently,
slow and fast pages), with refused connections and invalid lines among them, and recorded in
a real store file by the real writer."""

from __future__ import annotations

import asyncio
from pathlib import Path

from aiohttp import web

from app.core.result import Result
from app.core.settings import Settings
from app.core.store import RunStore
from app.core.targets import TargetList
from tests.core.runs import fetch_all
from tests.servers import ReservedPort, ThreadedServer

TITLES = ["Alpha", "beta", "Ünïcode", "a, comma", "", "Zed", "=formula", "delta"]


def varied_site() -> ThreadedServer:
    """``/page/N``: 404 for some N, 500 or a redirect for others, a title by N, and a
    response a few milliseconds slower for every seventh page (times that sort apart)."""

    async def page(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n % 7 == 3:
            await asyncio.sleep(0.003)
        if n % 29 == 11:
            raise web.HTTPFound(f"/page/{n + 1}")
        status = 404 if n % 13 == 4 else 500 if n % 41 == 9 else 200
        return web.Response(status=status, text=f"<title>{TITLES[n % len(TITLES)]} {n}</title>",
                            content_type="text/html" if n % 3 else "text/plain",
                            charset=None if n % 3 else "utf-8")

    app = web.Application()
    app.router.add_get("/page/{n}", page)
    return ThreadedServer(app)


def varied_urls(site: ThreadedServer, refused: ReservedPort, count: int) -> list[str]:
    urls = []
    for n in range(count):
        if n % 37 == 5:
            urls.append(refused.url(f"/gone/{n}"))
        elif n % 97 == 50:
            urls.append(f"ftp://nope{n}.example/")
        elif n % 5 == 1:
            urls.append(site.url(f"/page/{n}").replace("127.0.0.1", "localhost"))
        else:
            urls.append(site.url(f"/page/{n}"))
    return urls


def record_fetched(db: Path, urls: list[str]) -> tuple[int, list[Result], TargetList]:
    """Fetch ``urls`` with the real engine and record them as one run in the store at ``db``:
    the run's id, its results in input order, and its list."""
    targets = TargetList.from_text("\n".join(urls))
    results = fetch_all(urls, Settings(retries=0, concurrency=50, per_host=0))
    db.parent.mkdir(parents=True, exist_ok=True)
    with RunStore.open(db) as store:
        writer = store.start_run(source="reopen test", settings=Settings(), inputs=targets)
        for result in results:
            writer.add(result)
        writer.close()
        assert writer.join(30) and writer.error is None
        return writer.run_id, results, targets
