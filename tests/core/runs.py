"""Run core fetches from synchronous tests, without Qt: each call gets its own asyncio loop."""

from __future__ import annotations

import asyncio
from collections.abc import Iterable

from app.core.details import DetailPolicy
from app.core.engine import Engine
from app.core.result import Result
from app.core.settings import Settings
from app.core.tally import Progress
from app.core.targets import TargetList


def fetch_all(urls: Iterable[str], settings: Settings | None = None,
              **changes: object) -> list[Result]:
    """Fetch ``urls`` with a real engine; the results in input order."""
    results, _ = fetch_with_progress(urls, settings, **changes)
    return results


def fetch_with_progress(urls: Iterable[str], settings: Settings | None = None,
                        **changes: object) -> tuple[list[Result], Progress]:
    settings = (settings or Settings(retries=0)).replace(**changes)
    results: list[Result] = []

    async def go() -> Progress:
        targets = TargetList.from_text("\n".join(urls))
        engine = Engine(targets, settings, [results.append],
                        details=DetailPolicy.keep_everything())
        await engine.start()
        return engine.progress()

    progress = asyncio.run(go())
    return sorted(results, key=lambda r: r.index), progress


def fetch_one(url: str, settings: Settings | None = None, **changes: object) -> Result:
    (result,) = fetch_all([url], settings, **changes)
    return result
