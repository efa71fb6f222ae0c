"""The detail policy: which rows keep their headers and body previews, fed results as a run
delivers them, without Qt."""

from __future__ import annotations

from app.core import details
from app.core.details import DetailPolicy
from app.core.errors import Failure, Kind
from app.core.result import Details, Outcome, Result


def _result(i: int) -> Result:
    if i % 5 == 0:  # every fifth row an HTTP error, with the error page's headers and body
        return Result.of(i, i + 1, f"https://h.example/{i}", Outcome.HTTP_ERROR, status=500,
                         failure=Failure(Kind.HTTP_5XX, "HTTP 500"),
                         details=Details(preview=b"oops"))
    return Result.of(i, i + 1, f"https://h.example/{i}", Outcome.OK, status=200,
                     details=Details(preview=b"x" * 100))


def test_a_long_list_keeps_details_for_recent_failures_and_the_runs_last_rows(monkeypatch):
    monkeypatch.setattr(details, "KEEP_ALL", 399)
    monkeypatch.setattr(details, "KEEP_FAILED", 30)
    monkeypatch.setattr(details, "KEEP_RECENT", 20)
    policy = DetailPolicy(400)
    policy.begin_run(400)
    results = [_result(i) for i in range(400)]
    for result in results:
        policy.admit(result)
    kept = {r.index for r in results if r.details is not None}
    failures = [i for i in range(400) if i % 5 == 0]
    others = [i for i in range(400) if i % 5]
    assert kept == set(failures[-30:]) | set(others[-16:])  # of the last 20 rows, 16 are ok
    assert all(r.status is not None for r in results)  # only details go


def test_a_short_list_keeps_everything(monkeypatch):
    monkeypatch.setattr(details, "KEEP_RECENT", 0)
    policy = DetailPolicy(10)
    policy.begin_run(10)
    results = [_result(i) for i in range(10)]
    for result in results:
        policy.admit(result)
    assert all(r.details is not None for r in results)


def test_forgotten_rows_are_let_go(monkeypatch):
    monkeypatch.setattr(details, "KEEP_ALL", 0)
    policy = DetailPolicy(10)
    policy.begin_run(10)
    results = [_result(i) for i in range(10)]
    for result in results:
        policy.admit(result)
    policy.forget([0, 5, 9])
    assert {r.index for r in policy._failed} == set()
    assert 9 not in {r.index for r in policy._recent}
