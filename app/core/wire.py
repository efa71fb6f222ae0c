"""What a run's processes say to each other (:mod:`app.core.pool`, :mod:`app.core.helper`):
framed messages on a pipe, and results as plain tuples.

A frame is a 4-byte big-endian length, a 1-byte kind and a ``marshal`` payload. ``marshal`` is
Python's fastest serialiser for plain values (tuples, str, int, float, bytes, None) and these
pipes only ever join a Fetchdeck process to a helper it started, with the same interpreter: it
is never used on anything that came from outside. Results cross as tuples of those values and
are rebuilt on the other side as the same :class:`~app.core.result.Result` a run in the
process would have made (the same failure, response, timings and details).
"""

from __future__ import annotations

import marshal
import struct
from collections.abc import Generator, Sequence
from typing import Any

from app.core.errors import Failure, Kind
from app.core.result import NO_RESPONSE, Details, Hop, Outcome, Response, Result, Timings
from app.core.targets import Target

__all__ = ["HEADER", "FrameReader", "decode_result", "decode_targets", "encode_result",
           "encode_targets", "frame"]

HEADER = struct.Struct(">IB")
MAX_FRAME = 256 * 1024 * 1024  # a frame longer than this is a broken pipe, not a message

# Message kinds. Parent to helper:
SETTINGS = 1  # (settings dict, concurrency, keep_details, (db, run, cap, resumed) | None)
TARGETS = 2  # [(index, line, text, host, exact), ...]
END = 3  # no more targets will come: finish when those held are done
CANCEL = 4  # stop now: every unfinished row comes back cancelled
TAIL = 5  # from now on, send every ok row's details (the run's last rows keep theirs)
# Both ways:
COOKIES = 10  # (Set-Cookie header values, response URL): a response set cookies
PAUSE = 11  # (host, seconds): a Retry-After paused this host
# Helper to parent:
READY = 20  # the helper has started and waits for targets
RESULTS = 21  # [encoded result, ...]
PROBLEM = 22  # (message, exception type, traceback text): something failed in the helper
DONE = 23  # every target it was given has its result (sent after the last RESULTS)
KEPT = 24  # [encoded result, ...], as RESULTS, already committed to the run history here
UNKEPT = 25  # (reason): the helper's run history writer stopped (a full disk); RESULTS follow


def frame(kind: int, payload: Any) -> bytes:
    body = marshal.dumps(payload)
    return HEADER.pack(len(body), kind) + body


class FrameReader:
    """Turns bytes read from a pipe into (kind, payload) messages, however they were split."""

    __slots__ = ("_buffer",)

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> Generator[tuple[int, Any], None, None]:
        """The whole messages ``data`` completes; close the generator to stop early (what
        was not yet taken stays for the next call)."""
        buffer = self._buffer
        buffer += data
        start = 0
        size = HEADER.size
        end = len(buffer)
        try:
            while end - start >= size:
                length, kind = HEADER.unpack_from(buffer, start)
                if length > MAX_FRAME:
                    raise ValueError(f"a message of {length:,} bytes: the pipe is out of step")
                if end - start - size < length:
                    break
                body = bytes(buffer[start + size:start + size + length])
                start += size + length
                yield kind, marshal.loads(body)
        finally:
            del buffer[:start]

    @property
    def has_frame(self) -> bool:
        """A whole message waits in the buffer."""
        buffer = self._buffer
        if len(buffer) < HEADER.size:
            return False
        length: int = HEADER.unpack_from(buffer, 0)[0]
        return len(buffer) - HEADER.size >= length

    @property
    def pending(self) -> int:
        """Bytes of a message not complete yet."""
        return len(self._buffer)


# --- targets ------------------------------------------------------------------------------


def encode_targets(targets: Sequence[Target]) -> list[tuple[Any, ...]]:
    """Fetchable targets (no ``failure``) as tuples."""
    return [(t.index, t.line, t.text, t.host, t.exact) for t in targets]


def decode_targets(rows: Sequence[Sequence[Any]]) -> list[Target]:
    return [Target(index, line, text, None, host, exact)
            for index, line, text, host, exact in rows]


# --- results ------------------------------------------------------------------------------

_OUTCOMES = {outcome.value: outcome for outcome in Outcome}
_KINDS = {kind.value: kind for kind in Kind}


def encode_result(r: Result, details: bool) -> tuple[Any, ...]:
    """``r`` as plain values; its details only when ``details`` (they are most of a row's
    bytes, and a long run keeps few of them: :mod:`app.core.details`)."""
    failure = r.failure
    wire_failure = None if failure is None else (
        failure.kind._value_, failure.message, failure.exception_type, failure.chain,
        failure.traceback_text, failure.stack)
    p = r.response
    if p is NO_RESPONSE:
        wire_response = None
    else:
        kept = p.details if details else None
        # Header names are multidict's ``istr``: marshal takes exact str only.
        wire_details = None if kept is None else (
            tuple((str(name), str(value)) for name, value in kept.request_headers),
            tuple((str(name), str(value)) for name, value in kept.response_headers),
            bytes(kept.preview))
        wire_response = (
            p.status, p.reason, p.final_url, p.redirects,
            tuple((hop.status, hop.url) for hop in p.chain) if p.chain else (),
            p.content_type, p.bytes, p.content_length, p.elapsed_ms, p.title, p.sha256,
            p.server, tuple(p.timings), p.note, wire_details, p.attempts, p.first_status)
    return (r.index, r.line, r.url, r.outcome._value_, wire_failure, wire_response, r.check,
            r.check_reason, r.check_code)


_failures: dict[tuple[Any, ...], Failure] = {}


def _failure(wire: tuple[Any, ...]) -> Failure:
    # Failures repeat (every 404 says the same): one object for each, as in the run itself.
    known = _failures.get(wire)
    if known is None:
        kind, message, exception_type, chain, traceback_text, stack = wire
        known = Failure(_KINDS[kind], message, exception_type, tuple(chain), traceback_text,
                        tuple((relation, tuple(tuple(f) for f in frames), only)
                              for relation, frames, only in stack))
        if len(_failures) < 4096:
            _failures[wire] = known
    return known


def decode_result(wire: Sequence[Any]) -> Result:
    index, line, url, outcome, wire_failure, wire_response, check, reason, code = wire
    failure = None if wire_failure is None else _failure(wire_failure)
    if wire_response is None:
        response = NO_RESPONSE
    else:
        response = Response.__new__(Response)
        (response.status, response.reason, response.final_url, response.redirects, chain,
         response.content_type, response.bytes, response.content_length, response.elapsed_ms,
         response.title, response.sha256, response.server, timings, response.note,
         wire_details, response.attempts, response.first_status) = wire_response
        response.chain = tuple(Hop(status, hop_url) for status, hop_url in chain) if chain \
            else ()
        response.timings = Timings(*timings)
        response.details = None if wire_details is None else Details(
            tuple(map(tuple, wire_details[0])), tuple(map(tuple, wire_details[1])),
            wire_details[2])
    return Result(index, line, url, _OUTCOMES[outcome], failure, response, check, reason, code)
