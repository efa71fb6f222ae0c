"""What the error panel says about one failure (or one failed check), as plain text: the same
text is shown in the details pane and copied by Copy details, so a bug report holds exactly
what the user saw."""

from __future__ import annotations

from app.core.redact import Redactor
from app.core.result import Outcome, Result
from app.core.text import decode_text
from app.gui.check_groups import group_info
from app.gui.errors_model import Entry
from app.gui.results_model import first_answer
from app.gui.run_controller import DETAILS_KEPT

__all__ = ["failure_details"]

BODY_PREVIEW_CHARS = 2000

_LABEL_WIDTH = 13


def _field(label: str, value: str) -> str:
    return f"{label + ':':<{_LABEL_WIDTH}}{value}"


def failure_details(entry: Entry, masker: Redactor) -> str:
    """Everything known about one failure, as plain text: what the panel shows and copies."""
    if entry.failure is None:
        return _check_details(entry, masker)
    failure, result = entry.failure, entry.result
    info = group_info(entry.kind)
    raw_url = result.url if result is not None else ""
    lines: list[str] = []
    if result is not None:
        lines.append(_field("URL", entry.url))
        lines.append(_field("Row", f"{result.index + 1} (line {result.line} of the input)"))
    lines.append(_field("Kind", f"{info.title} [{entry.kind.value}]"))
    lines.append(_field("Meaning", info.explanation))
    lines.append(_field("Hint", info.hint))
    if result is not None:
        lines.extend(_result_fields(result, masker))
    lines.append(_field("Message", entry.message))
    if failure.exception_type:
        first = failure.chain[0] if failure.chain else failure.exception_type
        lines.append(_field("Exception", masker.text(first, raw_url)))
    if len(failure.chain) > 1:
        lines.append("")
        lines.append("Caused by:")
        lines.extend(f"  {masker.text(cause, raw_url)}" for cause in failure.chain[1:])
    if result is not None and result.outcome is Outcome.HTTP_ERROR:
        if result.details is not None:
            lines.extend(_response_lines(result))
        else:
            lines += ["", "Response headers and body: not kept, to save memory. "
                      + DETAILS_KEPT + " Retry the row to see them."]
    if failure.traceback:
        lines.append("")
        lines.append(masker.text(failure.traceback.rstrip(), raw_url))
    return "\n".join(lines) + "\n"


def _check_details(entry: Entry, masker: Redactor) -> str:
    """A failed check: what the row's list expected, what came, and why that fails."""
    result = entry.result
    assert result is not None
    info = group_info(entry.kind)
    lines = [_field("URL", entry.url),
             _field("Row", f"{result.index + 1} (line {result.line} of the input)"),
             _field("Check", f"failed: {info.title} [{result.check_code}]"),
             _field("Meaning", info.explanation),
             _field("Hint", info.hint),
             _field("Why", entry.message)]
    first = first_answer(result)
    if first:
        lines.append(_field("First answer", first))
    if result.redirects:
        lines.append(_field("Redirects", masker.text(result.redirect_chain_text(), result.url)))
    if result.failure is not None:
        lines.append(_field("Failure", masker.text(
            f"{result.failure.kind.value}: {result.failure.message}", result.url)))
    return "\n".join(lines) + "\n"


def _result_fields(result: Result, masker: Redactor) -> list[str]:
    lines = []
    if result.status is not None:
        lines.append(_field("HTTP status", f"{result.status} {result.reason}".rstrip()))
    if result.redirects:
        lines.append(_field("Redirects", masker.text(result.redirect_chain_text(), result.url)))
    if result.attempts:
        lines.append(_field("Attempts", str(result.attempts)))
    if result.note:
        lines.append(_field("Notes", masker.text(result.note, result.url)))
    if result.elapsed_ms is not None:
        lines.append(_field("Time", f"{result.elapsed_ms:,.0f} ms (last attempt)"))
    return lines


def _response_lines(result: Result) -> list[str]:
    details = result.details
    assert details is not None
    lines = []
    if details.response_headers:
        lines += ["", "Response headers:"]
        lines += [f"  {name}: {value}" for name, value in details.response_headers]
    if details.preview:
        charset = None
        for part in result.content_type.split(";")[1:]:
            name, _, value = part.strip().partition("=")
            if name.lower() == "charset":
                charset = value
        text, _note = decode_text(details.preview, charset)
        text = "".join(c if c.isprintable() or c in "\n\t" else "\ufffd" for c in text)
        cut = len(text) > BODY_PREVIEW_CHARS
        lines += ["", "Response body" + (f" (first {BODY_PREVIEW_CHARS:,} characters)" if cut
                                          else "") + ":"]
        lines += [f"  {line}" for line in text[:BODY_PREVIEW_CHARS].splitlines()]
    return lines
