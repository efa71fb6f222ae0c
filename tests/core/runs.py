"""Run core fetches from synchronous tests, without Qt: each call gets its own asyncio loop."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine, Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from app.core.details import DetailPolicy
from app.core.engine import Engine
from app.core.result import Result
from app.core.settings import Settings
from app.core.tally import Progress
from app.core.targets import TargetList

T = TypeVar("T")


def run_fresh(coro: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(coro)`` in a thread of its own. Core tests never share a thread with the
    GUI tests' session loop, which counts as running on the main thread once it is made, so
    no test has to step it aside through asyncio's private API."""
    with ThreadPoolExecutor(1, thread_name_prefix="core-test") as pool:
        return pool.submit(asyncio.run, coro).result()


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

    progress = run_fresh(go())
    return sorted(results, key=lambda r: r.index), progress


def fetch_one(url: str, settings: Settings | None = None, **changes: object) -> Result:
    (result,) = fetch_all([url], settings, **changes)
    return result
