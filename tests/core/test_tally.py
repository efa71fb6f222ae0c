"""The tally: one count per row across retries, the one definition of a failure, the exit
status, the summary, and the status line the window shows."""

from __future__ import annotations

import pytest

from app.core.errors import Failure, Kind
from app.core.result import Outcome, Result
from app.core.tally import Progress, Tally, format_duration, status_text


def _row(index: int, outcome: Outcome, kind: Kind | None = None) -> Result:
    failure = Failure.plain(kind, "x") if kind else None
    return Result.of(index, index + 1, f"https://h.example/{index}", outcome, failure)


def test_a_retried_row_moves_from_its_old_outcome_to_its_new_one():
    tally = Tally(3)
    for row in (_row(0, Outcome.OK), _row(1, Outcome.FAILED, Kind.REFUSED),
                _row(2, Outcome.HTTP_ERROR, Kind.HTTP_5XX)):
        tally.add(row)
    assert (tally.count(Outcome.OK), tally.failures, tally.done) == (1, 2, 3)
    tally.add(_row(1, Outcome.OK))  # the retry healed it
    assert (tally.count(Outcome.OK), tally.failures, tally.done) == (2, 1, 3)
    assert tally.exit_status() == 1
    tally.add(_row(2, Outcome.OK))
    assert tally.exit_status() == 0
    assert tally.summary(1.5) == "3 URLs: 3 ok in 1.5 s"


def test_failure_is_one_definition_and_cancelled_is_not_one():
    assert {o for o in Outcome if o.is_failure} == {
        Outcome.HTTP_ERROR, Outcome.FAILED, Outcome.INVALID}
    tally = Tally(2)
    tally.add(_row(0, Outcome.CANCELLED, Kind.CANCELLED))
    tally.add(_row(1, Outcome.INVALID, Kind.INVALID_URL))
    assert tally.failures == 1 and tally.exit_status() == 1


def test_an_internal_error_is_exit_3_and_an_empty_list_is_no_success():
    tally = Tally(1)
    tally.add(_row(0, Outcome.FAILED, Kind.INTERNAL))
    assert tally.exit_status() == 3
    assert Tally(0).exit_status() == 1
    tally.add(_row(0, Outcome.OK))  # a retry that worked takes the row's bug out of the status
    assert tally.internal == 0 and tally.exit_status() == 0


def test_a_failed_check_fails_the_exit_status_until_it_passes():
    tally = Tally(1)
    tally.add(_row(0, Outcome.OK).replace(check="fail"))
    assert tally.checks_failed == 1 and tally.exit_status() == 1
    tally.add(_row(0, Outcome.OK).replace(check="pass"))
    assert tally.checks_failed == 0 and tally.exit_status() == 0


def _progress(**values: object) -> Progress:
    base = dict(total=15, done=15, ok=12, http_error=3, failed=0, invalid=0, cancelled=0,
                in_flight=0, elapsed=0.03, fetched_per_second=0.0, state="finished")
    base.update(values)
    return Progress(**base)  # type: ignore[arg-type]


def test_the_status_line_says_nothing_it_could_not_measure():
    assert status_text(_progress()) == "Finished in under 0.1 s: 15 / 15 done · 12 ok · 3 failed"
    timed = _progress(total=20_000, done=5_000, ok=5_000, http_error=0, in_flight=100,
                      elapsed=0.5, fetched_per_second=10_000.0, run_total=20_000,
                      run_done=5_000, state="running")
    assert status_text(timed) == (
        "Fetching: 5,000 / 20,000 done · 5,000 ok · 10,000.0 req/s · 1.5 s left")


def test_the_status_line_tells_a_cancel_and_a_retry_as_they_are():
    cancelled = _progress(total=5_000, done=5_000, ok=580, http_error=12, cancelled=4_408,
                          elapsed=15.2, state="cancelled")
    assert status_text(cancelled) == (
        "Cancelled after 15 s: 5,000 / 5,000 done · 580 ok · 12 failed · 4,408 cancelled")
    retrying = _progress(total=5_000, done=4_990, ok=4_900, http_error=90, run_total=100,
                         run_done=90, fetched_per_second=45.0, state="running")
    text = status_text(retrying)
    assert text.startswith("Fetching: retrying 90 / 100 · 4,990 / 5,000 done · 4,900 ok · "
                           "90 failed")


@pytest.mark.parametrize("seconds, text", [
    (0.3, "0.3 s"), (9.94, "9.9 s"), (9.96, "10 s"), (59.4, "59 s"), (61, "1 min 01 s"),
    (3_700, "1 h 01 min")])
def test_durations_read_as_people_say_them(seconds, text):
    assert format_duration(seconds) == text


def test_an_http_error_a_redirect_map_expected_does_not_fail_the_run():
    tally = Tally(2)
    tally.add(_row(0, Outcome.OK).replace(check="pass"))
    gone = _row(1, Outcome.HTTP_ERROR, Kind.HTTP_4XX).replace(status=410, check="pass")
    tally.add(gone)
    assert tally.exit_status() == 0 and tally.excused == 1
    tally.add(gone.replace(check="fail"))  # fetched again: now the check fails
    assert tally.exit_status() == 1 and tally.excused == 0 and tally.checks_failed == 1
    tally.add(_row(1, Outcome.HTTP_ERROR, Kind.HTTP_4XX))  # no expectation any more
    assert tally.exit_status() == 1 and tally.checks_failed == 0
