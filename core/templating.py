"""Customer-authored templates: Jinja2's sandbox with strict undefined variables."""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

from kodeord.errors import TemplateError

_ENV = ImmutableSandboxedEnvironment(
    undefined=jinja2.StrictUndefined,
    autoescape=False,  # SMS text is plain text, not HTML
    keep_trailing_newline=False,
)
# A template is customer input: cap how much text a loop may produce.
MAX_OUTPUT = 20_000


@lru_cache(maxsize=4096)
def compile_template(source: str) -> jinja2.Template:
    """Compile ``source`` once; raise :class:`TemplateError` with the reason."""
    try:
        return _ENV.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error on line {exc.lineno}: {exc.message}") from None


# Variables every reply template may use; actions add their own (ActionSpec.provides).
BASE_VARIABLES = frozenset(
    {"sender", "number", "text", "keyword", "args", "role", "channel", "service", "tenant", "now"}
)


@lru_cache(maxsize=4096)
def variables(source: str) -> frozenset[str]:
    """The variables ``source`` uses (it must compile)."""
    compile_template(source)
    return frozenset(meta.find_undeclared_variables(_ENV.parse(source)))


def check(source: str, known: frozenset[str] = BASE_VARIABLES) -> None:
    """Raise :class:`TemplateError` if ``source`` does not compile or uses a variable not in ``known``."""
    unknown = sorted(variables(source) - known)
    if unknown:
        raise TemplateError(
            f"template uses unknown variable {unknown[0]!r}; known are: {', '.join(sorted(known))}"
        )


def render(source: str, context: Mapping[str, Any]) -> str:
    """Render ``source`` in the sandbox; any failure is a :class:`TemplateError`."""
    template = compile_template(source)
    try:
        text = template.render(context)
    except jinja2.UndefinedError as exc:
        raise TemplateError(f"template uses an unknown variable: {exc.message}") from None
    except SecurityError as exc:
        raise TemplateError(f"template tried something not allowed: {exc}") from None
    except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError) as exc:
        raise TemplateError(f"template failed: {exc}") from None
    if len(text) > MAX_OUTPUT:
        raise TemplateError(f"template produced more than {MAX_OUTPUT} characters")
    return text.strip()
