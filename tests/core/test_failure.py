"""A failure keeps the whole story of its exception compactly: the same text Python would print,
from frames shared between failures of the same code path."""

from __future__ import annotations

import traceback

from app.core.errors import Failure, FetchError, Kind


def _raise_chain():
    try:
        try:
            {}["missing"]
        except KeyError as inner:
            raise ValueError("bad value") from inner
    except ValueError:
        raise FetchError(Kind.PROTOCOL, "broken") from None


def _raise_with_context():
    try:
        raise KeyError("first")
    except KeyError:
        raise OSError(5, "second")  # noqa: B904 - the implicit context is what is tested


def caught(function):
    try:
        function()
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("did not raise")


def _without_carets(text: str) -> str:
    # Python 3.11+ underlines the failing expression; the compact stack keeps no columns.
    return "\n".join(line for line in text.splitlines() if set(line.strip()) - set("^~"))


def test_traceback_text_matches_what_python_prints():
    for function in (_raise_with_context, _raise_chain):
        exc = caught(function)
        expected = "".join(traceback.format_exception(exc))
        assert _without_carets(Failure.from_exception(exc).traceback) == _without_carets(expected)


def test_suppressed_context_is_not_shown():
    failure = Failure.from_exception(caught(_raise_chain))
    assert failure.chain == ("app.core.errors.FetchError: broken",)


def test_cause_chain_is_listed_outermost_first():
    exc = caught(_raise_with_context)
    failure = Failure.from_exception(exc)
    assert failure.exception_type == "OSError"
    assert failure.chain == ("OSError: [Errno 5] second", "KeyError: 'first'")
    assert "During handling of the above exception" in failure.traceback


def test_failures_from_the_same_code_path_share_their_frames():
    first = Failure.from_exception(caught(_raise_with_context))
    second = Failure.from_exception(caught(_raise_with_context))
    assert first.stack[0][1] is second.stack[0][1]


def test_text_given_directly_is_kept():
    failure = Failure(Kind.INTERNAL, "boom", traceback_text="Traceback ...\nboom\n")
    assert failure.traceback == "Traceback ...\nboom\n"
