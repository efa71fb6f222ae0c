"""Run core fetches from synchronous tests, without Qt: each call gets its own asyncio loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from app.core.result import Result
from app.core.run import Progress, Run
from app.core.settings import Settings
from app.core.targets import parse_text


def fetch_all(urls: Iterable[str], settings: Settings | None = None,
              **changes: object) -> list[Result]:
    """Fetch ``urls`` with a real Run; the results in input order."""
    results, _ = fetch_with_progress(urls, settings, **changes)
    return results


def fetch_with_progress(urls: Iterable[str], settings: Settings | None = None,
                        **changes: object) -> tuple[list[Result], Progress]:
    settings = (settings or Settings(retries=0)).replace(**changes)
    results: list[Result] = []

    async def go() -> Progress:
        run = Run(parse_text("\n".join(urls)), settings, results.append)
        await run.start()
        return run.progress()

    progress = asyncio.run(go())
    return sorted(results, key=lambda r: r.index), progress


def fetch_one(url: str, settings: Settings | None = None, **changes: object) -> Result:
    (result,) = fetch_all([url], settings, **changes)
    return result
