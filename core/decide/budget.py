"""The budget a customer template runs under: limits, what is left of them, and checks of format strings.

Every check raises :class:`BudgetExceeded` before the costly work is done; :mod:`kodeord.decide.sandbox` calls them.
"""

from __future__ import annotations

import re
import string
import time
from collections.abc import Iterator, Mapping, Sized
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from kodeord.support.errors import TemplateError


class BudgetExceeded(TemplateError):
    """A template asked for more time, work or memory than its budget allows."""


@dataclass(frozen=True)
class Limits:
    """What one template may cost, at compile and at render."""

    ms: float = 50.0  # wall-clock time of one render
    chars: int = 1_000_000  # characters and items produced in one render (a few MB at most)
    steps: int = 100_000  # loop iterations, calls, filters and operators in one render
    output: int = 20_000  # characters of output; also the largest width or count a filter or method accepts
    source: int = 20_000  # characters of template source
    tokens: int = 500  # tags, names, operators and text runs in the source (compile time grows with them)
    int_bits: int = 4096  # largest integer an operator may produce (about 1,200 digits)


class Budget:
    """What one render has left; read through :data:`CURRENT` by the checks below."""

    __slots__ = ("limits", "deadline", "steps", "chars")

    def __init__(self, limits: Limits, ms: float | None = None) -> None:
        self.limits = limits
        self.deadline = time.perf_counter() + (limits.ms if ms is None else ms) / 1000
        self.steps = limits.steps
        self.chars = limits.chars

    def step(self) -> None:
        """Count one step and look at the clock."""
        self.steps -= 1
        if self.steps < 0:
            raise BudgetExceeded(f"template took more than {self.limits.steps} steps (loops, calls, filters)")
        if time.perf_counter() > self.deadline:
            raise BudgetExceeded(f"template took longer than {self.limits.ms:g} ms")

    def charge(self, size: int) -> None:
        """Charge ``size`` characters or items, before they are made."""
        self.chars -= size
        if self.chars < 0:
            raise BudgetExceeded(f"template would produce more than {self.limits.chars} characters in all")

    def width(self, value: Any, what: str) -> None:
        """Refuse an integer argument (a width, a count) larger than the output may be."""
        if isinstance(value, int) and not isinstance(value, bool) and value > self.limits.output:
            raise BudgetExceeded(f"{what}: {value} is larger than the {self.limits.output} a template may ask for")


CURRENT: ContextVar[Budget | None] = ContextVar("kodeord_template_budget", default=None)
LIMITS = Limits()


@contextmanager
def scope(ms: float | None = None) -> Iterator[Budget]:
    """Run the block on a fresh budget of :data:`LIMITS` (one render, or one compile with its constant
    folding); ``ms`` instead of their time."""
    spent = Budget(LIMITS, ms)
    token = CURRENT.set(spent)
    try:
        yield spent
    finally:
        CURRENT.reset(token)


def budget() -> Budget:
    """The running render's budget; outside a render (constant folding at compile) a fresh one."""
    return CURRENT.get() or Budget(LIMITS)


def size_of(value: Any) -> int:
    """Characters or items in ``value`` (0 for scalars)."""
    return len(value) if isinstance(value, Sized) and not isinstance(value, range) else 0


# Format strings: %-style (the % operator, the format filter), str.format and strftime.
_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_STRFTIME_SPEC = re.compile(r"%[-_0^#]*(\d+)")


def _longest(values: Any) -> int:
    """Length of the longest text among ``values`` (a tuple, a mapping or one value)."""
    items = values.values() if isinstance(values, Mapping) else values if isinstance(values, tuple) else (values,)
    return max((len(str(item)) for item in items), default=0)


def percent_format_size(fmt: str, values: Any) -> int:
    """Largest result of ``fmt % values``; refuses widths over the limit and widths taken from the values."""
    specs = _PERCENT_SPEC.findall(fmt)
    for width, precision in specs:
        for number in (width, precision):
            if number == "*":
                raise BudgetExceeded("format: a width or precision taken from the arguments (*) is not allowed")
            if number:
                budget().width(int(number), "format width")
    return len(fmt) + len(specs) * _longest(values)


def brace_format_fields(fmt: str) -> int:
    """Number of fields of a str.format string; refuses specs that nest fields or ask for a width over the limit."""
    try:
        fields = [spec for _literal, name, spec, _conversion in string.Formatter().parse(fmt) if name is not None]
    except ValueError as exc:
        raise TemplateError(f"format string is not valid: {exc}") from None
    for spec in fields:
        if spec and "{" in spec:
            raise BudgetExceeded("format: a field inside a format spec is not allowed")
        for number in re.findall(r"\d+", spec or ""):
            budget().width(int(number), "format width")
    return len(fields)


def brace_format_size(fmt: str, fields: int, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> int:
    """Largest result of ``fmt.format(*args, **kwargs)`` with ``fields`` fields."""
    return len(fmt) + fields * max(_longest(args), _longest(kwargs))


def check_strftime(fmt: str) -> None:
    """Refuse a strftime format with a padding width over the limit."""
    for number in _STRFTIME_SPEC.findall(fmt):
        budget().width(int(number), "strftime width")
