"""Failed redirect-map checks as the Errors panel groups them: one group per check code
(:mod:`app.core.checks`, which owns their titles: :data:`app.core.checks.CHECK_INFO`), kept
apart from failure kinds by a token prefix."""

from __future__ import annotations

from dataclasses import dataclass

from app.core.checks import CHECK_INFO, CHECK_ORDER, check_info
from app.core.errors import KIND_INFO, Kind, KindInfo

__all__ = ["CHECK_INFO", "CHECK_ORDER", "CheckGroup", "GroupKey", "group_from_token",
           "group_info"]

TOKEN_PREFIX = "check:"


@dataclass(frozen=True, slots=True)
class CheckGroup:
    """The group of rows whose check failed with ``code``. ``value`` is its token, as a
    failure kind's ``value`` is (kept apart from kinds by its prefix)."""

    code: str

    @property
    def value(self) -> str:
        return TOKEN_PREFIX + self.code


GroupKey = Kind | CheckGroup


def group_info(key: GroupKey) -> KindInfo:
    """A group's title, what it means and what to do."""
    if isinstance(key, CheckGroup):
        return check_info(key.code)
    return KIND_INFO[key]


def group_from_token(token: str) -> GroupKey:
    """The group a token names (a failure kind's value, or ``check:`` and a code)."""
    if token.startswith(TOKEN_PREFIX):
        return CheckGroup(token[len(TOKEN_PREFIX):])
    return Kind(token)
