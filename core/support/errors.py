"""Exceptions that carry data, and the one place they map to exit codes and HTTP statuses."""

from __future__ import annotations

from dataclasses import dataclass


class KodeordError(Exception):
    """Base class: every error a customer or partner can cause."""

    http_status = 400
    exit_code = 1


class RequestError(KodeordError):
    """Something asked of the API or a command that cannot be done; ``http_status`` says how the API answers."""

    def __init__(self, message: str, http_status: int = 400) -> None:
        super().__init__(message)
        self.http_status = http_status


class InvalidNumber(KodeordError):
    """A phone number that cannot be parsed or is not valid."""

    def __init__(self, raw: str, reason: str) -> None:
        super().__init__(f"invalid phone number {raw!r}: {reason}")
        self.raw = raw
        self.reason = reason


class InvalidMessage(KodeordError):
    """An inbound event that is missing something or has a malformed field."""


# Line breaks a problem's message may quote from a file, written as escapes so that each problem is one line.
_ONE_LINE = str.maketrans(
    {"\r": "\\r", "\n": "\\n", "\v": "\\v", "\f": "\\f", "\x85": "\\x85", "\u2028": "\\u2028", "\u2029": "\\u2029"}
)


@dataclass(frozen=True)
class Problem:
    """One fault in one rule file, located for a human."""

    file: str
    line: int  # 1-based
    column: int  # 1-based
    message: str
    path: str = ""

    def __str__(self) -> str:
        """``FILE:LINE:COL: message (at path)``, on one line whatever the message quotes of the file."""
        where = f" (at {self.path})" if self.path else ""
        message = self.message.translate(_ONE_LINE)
        return f"{self.file}:{self.line}:{self.column}: {message}{where}"


class RuleFileError(KodeordError):
    """One or more problems found while loading rule files."""

    http_status = 422

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class TemplateError(KodeordError):
    """A customer template failed to compile or render."""


class PluginError(KodeordError):
    """A plugin broke a hook's contract."""

    http_status = 500
