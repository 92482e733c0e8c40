"""Customer-authored templates: a budgeted Jinja2 sandbox with strict undefined variables.

A template costs at most its budget (:class:`kodeord.decide.budget.Limits`: time, steps, characters produced,
output) when it compiles and when it renders, wherever that happens: the router, a plugin, the sender.
:func:`check` refuses at load a template that does not compile, names an unknown variable, reaches for
what the sandbox forbids, or goes over its budget on a trial render with sample values.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta, nodes
from jinja2.sandbox import SecurityError

from kodeord.decide import budget as budgets
from kodeord.decide.budget import BudgetExceeded, Limits
from kodeord.decide.sandbox import BudgetedSandbox
from kodeord.support.errors import TemplateError

_ENV = BudgetedSandbox()

# Variables every reply template may use; actions add their own (ActionSpec.provides).
BASE_VARIABLES = frozenset(
    {"sender", "number", "text", "keyword", "args", "role", "channel", "service", "tenant", "now"}
)
# What a trial render at load fills variables with: the longest values a real message may bring.
SAMPLES: dict[str, Any] = {
    "sender": "+46701234567",
    "number": "72500",
    "text": "x" * 1600,
    "keyword": "KEYWORD",
    "args": "x" * 1600,
    "role": "member",
    "channel": "sms",
    "service": "service",
    "tenant": "tenant",
    "now": datetime(2026, 1, 1, 12, tzinfo=UTC),
}
TRIAL_SLACK = 2  # a trial render may take this many times the time budget before it is refused (a busy machine)


class Forbidden(TemplateError):
    """A template reached for something the sandbox forbids."""


def configure(limits: Limits) -> None:
    """Use ``limits`` for every template compiled and rendered from now on, in this process."""
    if limits == budgets.LIMITS:
        return
    budgets.LIMITS = limits
    _compiled.cache_clear()
    _parsed.cache_clear()
    variables.cache_clear()


def limits() -> Limits:
    """The limits in force."""
    return budgets.LIMITS


def compile_template(source: str) -> jinja2.Template:
    """Compile ``source`` once, within the budget; raise :class:`TemplateError` with the reason."""
    compiled = _compiled(source)
    if isinstance(compiled, TemplateError):
        raise compiled
    return compiled


@lru_cache(maxsize=4096)
def _compiled(source: str) -> jinja2.Template | TemplateError:
    """The template, or why it cannot be compiled (kept too: a failed compile is not tried again and again)."""
    try:
        return _compile(source)
    except TemplateError as exc:
        return exc


def _compile(source: str) -> jinja2.Template:
    if len(source) > limits().source:
        raise BudgetExceeded(f"template is {len(source)} characters long; at most {limits().source} are allowed")
    try:
        with budgets.scope():
            return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on line {exc.lineno}: {exc.message}") from None
    except TemplateError:
        raise
    except RecursionError:
        raise TemplateError("template is nested too deeply") from None
    except (MemoryError, SyntaxError, ValueError, OverflowError) as exc:
        raise TemplateError(f"template cannot be compiled: {exc}") from None


@lru_cache(maxsize=4096)
def _parsed(source: str) -> nodes.Template:
    """The syntax tree of ``source``, for reading only (it must compile)."""
    compile_template(source)  # within the limits, so parsing again is safe
    return _ENV.parse(source)


_LOOPS = (nodes.For, nodes.Macro, nodes.CallBlock)


@lru_cache(maxsize=4096)
def may_loop(source: str) -> bool:
    """Whether ``source`` has a loop or a macro (which may take up to the render budget); False for a
    template that does not compile (it never renders)."""
    try:
        return any(True for _ in _parsed(source).find_all(_LOOPS))
    except TemplateError:
        return False


@lru_cache(maxsize=4096)
def variables(source: str) -> frozenset[str]:
    """The variables ``source`` uses (it must compile)."""
    return frozenset(meta.find_undeclared_variables(_parsed(source)))


def _forbidden_reach(source: str) -> str | None:
    """The first attribute or key ``source`` names that the sandbox forbids (``__class__`` and the like)."""
    for node in _parsed(source).find_all((nodes.Getattr, nodes.Getitem)):
        name = node.attr if isinstance(node, nodes.Getattr) else getattr(getattr(node, "arg", None), "value", None)
        if isinstance(name, str) and name.startswith("_"):
            return f"line {node.lineno}: {name!r}"
    return None


def check(source: str, known: frozenset[str] = BASE_VARIABLES) -> None:
    """Raise :class:`TemplateError` if ``source`` does not compile, uses a variable not in ``known``, reaches for
    what the sandbox forbids, or would go over its budget (tried with the longest values a message may bring)."""
    used = variables(source)
    unknown = sorted(used - known)
    if unknown:
        raise TemplateError(f"template uses unknown variable {unknown[0]!r}; known are: {', '.join(sorted(known))}")
    if (reach := _forbidden_reach(source)) is not None:
        raise TemplateError(f"template reaches for {reach}, which templates may not use")
    trial = {name: SAMPLES.get(name, "0") for name in used}
    try:
        _render(source, trial, limits().ms * TRIAL_SLACK)
    except BudgetExceeded as exc:
        raise TemplateError(f"template would go over its budget: {exc}") from None
    except Forbidden:
        raise
    except TemplateError:
        pass  # may come from the sample values; the real ones are checked when it renders


_spent = threading.local()


def rendering_steps() -> int:
    """Steps (loop iterations, calls, filters) this thread's renders took since :func:`reset_rendering_steps`: a
    measure of their cost that, unlike a clock, no pause of the process (a garbage collection) disturbs."""
    return int(getattr(_spent, "steps", 0))


def reset_rendering_steps() -> None:
    """Start counting :func:`rendering_steps` again."""
    _spent.steps = 0


def _render(source: str, context: Mapping[str, Any], ms: float | None = None) -> str:
    template = compile_template(source)
    spent = None
    try:
        with budgets.scope(ms=ms) as spent:
            # Everything it writes is charged as it goes, so the joined text is within the budget's characters.
            text = "".join(template.root_render_func(template.new_context(dict(context))))
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template uses an unknown variable: {exc.message}") from None
    except SecurityError as exc:
        raise Forbidden(f"template tried something not allowed: {exc}") from None
    except TemplateError:
        raise
    except RecursionError:
        raise BudgetExceeded("template calls itself too deeply") from None
    except MemoryError:
        raise BudgetExceeded("template failed: out of memory") from None
    except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError, AttributeError) as exc:
        raise TemplateError(f"template failed: {exc}") from None
    finally:
        if spent is not None:
            _spent.steps = rendering_steps() + spent.limits.steps - spent.steps
    if len(text) > limits().output:
        raise BudgetExceeded(f"template produced more than {limits().output} characters")
    return text.strip()


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render ``source`` in the sandbox, within the budget; any failure is a :class:`TemplateError`."""
    return _render(source, context)
