"""A run fetched by several processes (app.core.pool, app.core.helper), with real helper
processes against real servers: the same rows as one process gives, exactly one each; cookies
and Retry-After pauses shared; Ctrl+C and a helper that dies leave every row accounted for."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from app.core import wire
from app.core.details import DetailPolicy
from app.core.engine import AUTO_MIN_TARGETS, Engine, cpu_count, processes_for
from app.core.errors import Kind
from app.core.pool import HelperFailed, Pool
from app.core.result import Outcome, Result
from app.core.settings import Settings
from app.core.targets import TargetList
from tests.core.runs import run_fresh

pytestmark = pytest.mark.timeout(90)


def helpers_alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.append(pid)
    return alive


def pooled(urls: list[str], settings: Settings, *, cancel_after: float | None = None,
           kill_helper_after: int | None = None,
           ) -> tuple[list[Result], Engine, BaseException | None]:
    """Run ``urls`` through an engine; the results in input order, the engine, and what its
    task raised."""
    results: list[Result] = []

    async def go() -> BaseException | None:
        targets = TargetList.from_text("\n".join(urls))
        engine = Engine(targets, settings, [results.append],
                        details=DetailPolicy.keep_everything())
        task = engine.start()
        if kill_helper_after is not None:
            run = engine.run
            assert isinstance(run, Pool)
            while run.by_helpers < kill_helper_after:
                await asyncio.sleep(0.01)
            os.kill(run.helper_pids[0], signal.SIGKILL)
        if cancel_after is not None:
            await asyncio.sleep(cancel_after)
            activity = engine.run.activity
            working.extend(i for i in range(len(urls)) if i in activity)
            working.append(len(activity))
            engine.cancel()
        await asyncio.wait([task])
        holder.append(engine)
        return None if task.cancelled() else task.exception()

    holder: list[Engine] = []
    working.clear()
    raised = run_fresh(go())
    return sorted(results, key=lambda r: r.index), holder[0], raised


working: list[int] = []  # the rows a cancelled run was working on, then how many


def mixed_list(server, refused) -> list[str]:
    # Slow rows first keep this process busy while the helpers start, so they fetch the rest.
    urls = [server.url(f"/slow?seconds=0.6&n={i}") for i in range(4)]
    for i in range(30):
        urls += [server.url(f"/ok?n={i}"), server.url(f"/status/404?n={i}"),
                 server.url(f"/redirect/2?n={i}"), refused.url(f"/?n={i}"), "not a url",
                 server.url(f"/headers?n={i}")]
    return urls


def essentials(result: Result) -> tuple[object, ...]:
    failure = result.failure
    return (result.index, result.line, result.url, result.outcome, result.status,
            result.reason, result.final_url.split("?")[0], result.redirects,
            tuple(hop.status for hop in result.chain), result.title, result.content_type,
            result.bytes, result.attempts, result.first_status,
            None if failure is None else (failure.kind, failure.message,
                                          failure.exception_type, failure.chain))


def test_a_pooled_run_gives_every_line_the_row_one_process_gives(http_server, refused_port):
    urls = mixed_list(http_server, refused_port)
    alone, _, raised = pooled(urls, Settings(retries=0, per_host=0, concurrency=6,
                                             processes=1))
    assert raised is None
    together, engine, raised = pooled(urls, Settings(retries=0, per_host=0, concurrency=6,
                                                     processes=3))
    assert raised is None
    run = engine.run
    assert isinstance(run, Pool)
    assert run.by_helpers > len(urls) // 2, "the helpers fetched little: the test shows nothing"
    assert [r.index for r in together] == list(range(len(urls)))
    assert [essentials(r) for r in together] == [essentials(r) for r in alone]
    # What the error panel shows survives the trip: the traceback and the details.
    refused = [r for r in together if r.failure is not None and r.failure.kind is Kind.REFUSED]
    assert len(refused) == 30
    assert all("Traceback (most recent call last)" in r.failure.traceback for r in refused)
    echoed = [r for r in together if "/headers" in r.url]
    assert all(r.details is not None and b"User-Agent" in r.details.preview for r in echoed)
    assert all(dict(r.details.request_headers) for r in echoed)
    progress = engine.progress()
    assert (progress.done, progress.ok, progress.invalid) == (len(urls), 4 + 90, 30)
    assert not helpers_alive(run.helper_pids) or _gone_soon(run.helper_pids)


def _gone_soon(pids: list[int]) -> bool:
    deadline = time.monotonic() + 5
    while helpers_alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not helpers_alive(pids)


def test_cookies_a_response_sets_reach_every_process(http_server):
    server = http_server
    urls = [server.url("/cookie-set?flavour=oat")]
    urls += [server.url(f"/slow?seconds=0.8&n={i}") for i in range(2)]
    urls += [server.url(f"/cookie-echo?n={i}") for i in range(40)]
    results, engine, raised = pooled(urls, Settings(retries=0, per_host=0, concurrency=2,
                                                    processes=2))
    assert raised is None and all(r.outcome is Outcome.OK for r in results)
    assert engine.run.by_helpers > 0
    echoes = server.seen.requests("/cookie-echo")
    assert len(echoes) == 40
    assert [r.header("Cookie") for r in echoes] == ["flavour=oat"] * 40


def test_cancelling_a_pooled_run_accounts_for_every_row(http_server):
    urls = [http_server.url(f"/slow?seconds=0.3&n={i}") for i in range(8)]
    urls += [http_server.url(f"/hang?n={i}") for i in range(300)]
    started = time.monotonic()
    results, engine, raised = pooled(urls, Settings(retries=0, per_host=0, concurrency=10,
                                                    processes=2), cancel_after=1.5)
    took = time.monotonic() - started
    assert raised is None
    assert [r.index for r in results] == list(range(len(urls)))
    assert {r.outcome for r in results[8:]} == {Outcome.CANCELLED}
    assert all(r.outcome is Outcome.OK for r in results[:8])
    assert engine.run.by_helpers > 0 and engine.run.cancelled
    # The table showed rows in a helper's hands as fetching, as it shows this process's.
    *rows, count = working
    assert count == len(rows) >= 10
    assert all(row >= 8 for row in rows)
    assert took < 10, took
    assert _gone_soon(engine.run.helper_pids)


def test_a_helper_that_dies_fails_its_rows_and_the_run_says_fetchdeck_broke(http_server):
    urls = [http_server.url(f"/slow?seconds=0.05&n={i}") for i in range(600)]
    results, engine, raised = pooled(urls, Settings(retries=0, per_host=0, concurrency=8,
                                                    processes=2), kill_helper_after=20)
    assert isinstance(raised, HelperFailed)
    assert "killed by signal 9" in str(raised)
    assert [r.index for r in results] == list(range(len(urls)))
    lost = [r for r in results if r.outcome is Outcome.FAILED]
    assert lost and all(r.failure.kind is Kind.INTERNAL for r in lost)
    assert all("helper process" in r.failure.message for r in lost)
    assert sum(r.outcome is Outcome.OK for r in results) + len(lost) == len(urls)


def test_when_a_run_uses_helpers():
    many = AUTO_MIN_TARGETS
    assert processes_for(Settings(per_host=0), many)[0] == min(4, cpu_count())
    assert processes_for(Settings(per_host=0), many - 1) == (1, "")
    assert processes_for(Settings(), many) == (1, "")  # a per-host limit: one process
    count, notice = processes_for(Settings(processes=3), 10)
    assert count == 1 and "per-host limit" in notice
    assert processes_for(Settings(processes=3, per_host=0), 10) == (3, "")
    assert processes_for(Settings(processes=3, per_host=0, concurrency=2), 10) == (2, "")
    assert processes_for(Settings(processes=3, per_host=0, rate=5), 10)[0] == 1
    assert processes_for(Settings(processes=1, per_host=0), many) == (1, "")


def test_frames_survive_any_split():
    frames = wire.frame(wire.TARGETS, [(1, 2, "http://x/", "x", True)]) + wire.frame(
        wire.END, None)
    reader = wire.FrameReader()
    got = []
    for i in range(len(frames)):
        got += list(reader.feed(frames[i:i + 1]))
    assert got == [(wire.TARGETS, [(1, 2, "http://x/", "x", True)]), (wire.END, None)]
    assert reader.pending == 0
    with pytest.raises(ValueError, match="out of step"):
        list(wire.FrameReader().feed(b"\xff\xff\xff\xff\x01"))


def test_a_retry_after_pause_holds_the_host_in_every_process(http_server):
    server = http_server
    urls = [server.url("/retry-after?seconds=1")]
    urls += [server.url(f"/ok?n={i}") for i in range(300)]
    results, engine, raised = pooled(urls, Settings(retries=1, per_host=0, concurrency=4,
                                                    processes=2))
    assert raised is None
    assert engine.run.by_helpers > 0
    assert "Retry-After" in results[0].note
    (first, retried) = [r.started for r in server.seen.requests("/retry-after")]
    assert retried - first >= 0.9
    # Nothing else started while the host said to wait, in this process or the helper.
    ok_starts = sorted(r.started for r in server.seen.requests("/ok"))
    waited = [start for start in ok_starts if first + 0.1 < start < first + 0.9]
    assert waited == []
    assert all(r.outcome is Outcome.OK for r in results[1:])


def test_a_pooled_run_cancelled_as_it_starts_cancels_every_row_at_once(http_server):
    urls = [http_server.url(f"/ok?n={i}") for i in range(400)]
    results: list[Result] = []

    async def go():
        engine = Engine(TargetList.from_text("\n".join(urls)),
                        Settings(retries=0, per_host=0, concurrency=10, processes=2),
                        [results.append], details=DetailPolicy.keep_everything())
        task = engine.start()
        engine.cancel()  # before the pool's task has taken a step
        started = time.monotonic()
        await asyncio.wait([task])
        return task.exception(), time.monotonic() - started

    raised, took = run_fresh(go())
    assert raised is None
    assert sorted(r.index for r in results) == list(range(400))
    assert {r.outcome for r in results} == {Outcome.CANCELLED}
    assert took < 2.5, took  # not the helpers' grace time


def test_no_helper_can_start_and_the_run_goes_on_in_one_process(http_server, monkeypatch):
    monkeypatch.setattr("sys.executable", "/nonexistent/python3")
    urls = [http_server.url(f"/ok?n={i}") for i in range(50)]
    problems: list[dict] = []

    async def go():
        asyncio.get_running_loop().set_exception_handler(lambda _, ctx: problems.append(ctx))
        engine = Engine(TargetList.from_text("\n".join(urls)),
                        Settings(retries=0, per_host=0, concurrency=4, processes=2),
                        [results.append], details=DetailPolicy.keep_everything())
        await engine.start()
        return engine

    results: list[Result] = []
    engine = run_fresh(go())
    assert sorted(r.index for r in results) == list(range(50))
    assert all(r.outcome is Outcome.OK for r in results)
    assert engine.run.helper_pids == [] and engine.run.local.settings.concurrency == 4
    (problem,) = problems
    assert "could not start a helper process" in problem["message"]
    assert isinstance(problem["exception"], FileNotFoundError)


def test_a_helper_that_cannot_use_its_settings_fails_its_rows_and_says_why(http_server,
                                                                         monkeypatch):
    real = Settings.to_dict
    # What the helper is sent no longer checks out (as a bug in either end would make it):
    # it must refuse to fetch with other settings than the run's, and say so.
    monkeypatch.setattr(Settings, "to_dict",
                        lambda self: {**real(self), "timeout": "soon"})
    urls = [http_server.url(f"/slow?seconds=0.5&n={i}") for i in range(3)]
    urls += [http_server.url(f"/ok?n={i}") for i in range(300)]
    results, engine, raised = pooled(urls, Settings(retries=0, per_host=0, concurrency=2,
                                                    processes=2))
    assert [r.index for r in results] == list(range(len(urls)))
    assert isinstance(raised, HelperFailed)
    assert "did not reach the helper whole" in str(raised) and "timeout" in str(raised)
    # Nothing was fetched by it: every row is the parent's, or failed for the helper.
    assert all(r.outcome is Outcome.OK or r.failure.kind is Kind.INTERNAL for r in results)
