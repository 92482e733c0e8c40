"""The answer of a register check, and the rule it carries: a number checked clear may be called until the
date of the register version used plus the register's months (two for NIX-Telefon), counted from that date,
not from the day of the check."""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import date
from enum import StrEnum


class Status(StrEnum):
    """What a check found."""

    REGISTERED = "registered"  # in the register: not to be called for telemarketing
    CLEAR = "clear"  # not in the register: may be called until ``until``
    INVALID = "invalid"  # not a number of the register's country (``reason`` says why)


@dataclass(frozen=True, slots=True)
class Result:
    """One number checked: its status, the register version (its date) used, and for a clear number the last
    day it may be called; ``reason`` says why an invalid number is invalid ("" otherwise)."""

    status: Status
    version: date
    until: date | None = None
    reason: str = ""

    def to_dict(self) -> dict[str, str | None]:
        """The result as JSON-ready data (dates in ISO 8601)."""
        return {
            "status": self.status.value,
            "version": self.version.isoformat(),
            "until": self.until.isoformat() if self.until is not None else None,
            "reason": self.reason or None,
        }


def add_months(day: date, months: int) -> date:
    """``day`` plus calendar ``months``, the day of the month clamped to the month's last (31 Jan + 1 = 28/29 Feb)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    return date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def may_call(result: Result, today: date) -> bool:
    """Whether a number with this result may be called for telemarketing on ``today``: it was checked clear, and
    ``today`` is on or before the last day the check holds."""
    return result.status is Status.CLEAR and result.until is not None and today <= result.until
