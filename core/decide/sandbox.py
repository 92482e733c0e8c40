"""The Jinja2 environment customer templates run in: the immutable sandbox, on a budget.

Jinja's sandbox keeps templates away from Python's internals but not from costing a lot: it folds constant
expressions when it compiles (``{{ 'a' * 1000000000 }}``), and nothing limits integers (``{{ 10 ** 100000 }}``),
widths (``'x'.center(300000000)``), loops or recursion. Here:

- binary operators are intercepted, so never folded at compile time, and refuse results over the limits;
- filters, string methods and globals are allow-lists, each checked before it runs (widths, counts,
  estimated sizes), and what they produce is charged to the budget;
- every loop iteration, call, filter and operator is a step that counts and looks at the clock, and the
  literal text a loop or macro repeats, and every ``{{ value }}`` written, is charged too;
- ``include``, ``import``, ``extends`` and recursive loops are not available (a customer template stands
  alone).

See :mod:`kodeord.decide.budget` for the limits.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterable, Iterator
from datetime import date
from typing import Any

import jinja2
from jinja2 import nodes
from jinja2.defaults import DEFAULT_FILTERS
from jinja2.filters import make_attrgetter
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import pass_context, pass_environment
from jinja2.visitor import NodeTransformer

from kodeord.decide.budget import (
    BudgetExceeded,
    brace_format_fields,
    brace_format_size,
    budget,
    check_strftime,
    percent_format_size,
    size_of,
)
from kodeord.support.errors import TemplateError

# Filters whose result is no larger than their input, or small; FILTER_CHECKS checks the others first.
PLAIN_FILTERS = (
    "abs attr batch capitalize count d default dictsort e escape first float groupby int items last length list "
    "lower map max min random reject rejectattr reverse round safe select selectattr sort string striptags "
    "title trim truncate unique upper urlencode wordcount"
).split()
STR_METHODS = frozenset(
    "capitalize casefold center count endswith find format format_map index isalnum isalpha isascii isdecimal "
    "isdigit islower isnumeric isspace istitle isupper join ljust lower lstrip partition removeprefix removesuffix "
    "replace rfind rindex rjust rpartition rsplit rstrip split splitlines startswith strip swapcase title upper "
    "zfill".split()
)
MAX_DEPTH = 50  # brackets and blocks inside each other (the parser recurses about 12 frames a level)
BINOPS: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
    "//": operator.floordiv,
    "%": operator.mod,
    "**": operator.pow,
}


def _replaced_size(text: Any, old: Any, new: Any, count: Any = None) -> int:
    text, old, new = str(text), str(old), str(new)
    times = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        times = min(times, count)
    return len(text) + times * max(0, len(new) - len(old))


def _check_replace(value: Any, old: Any = "", new: Any = "", count: Any = None) -> None:
    budget().charge(_replaced_size(value, old, new, count))


def _check_center(value: Any, width: Any = 80) -> None:
    budget().width(width, "center")


def _check_slice(value: Any, slices: Any = 1, fill_with: Any = None) -> None:
    budget().width(slices, "slice")


def _check_format(value: Any, *args: Any, **kwargs: Any) -> None:
    budget().charge(percent_format_size(str(value), kwargs or args))


def _check_sum(iterable: Any, attribute: Any = None, start: Any = 0) -> None:
    if not isinstance(start, int | float):
        raise BudgetExceeded("sum: start must be a number in templates (adding up lists costs too much)")


FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "replace": _check_replace,
    "center": _check_center,
    "slice": _check_slice,
    "format": _check_format,
    "sum": _check_sum,
}


@pass_environment
def _join(environment: jinja2.Environment, items: Iterable[Any], d: Any = "", attribute: Any = None) -> str:
    """The join filter, each item charged as it is turned into text."""
    if attribute is not None:
        items = map(make_attrgetter(environment, attribute), items)
    spent, separator, texts = budget(), str(d), []
    for item in items:
        texts.append(str(item))
        spent.charge(len(texts[-1]) + len(separator))
    return separator.join(texts)


def _checked_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` counted as a step, checked by :data:`FILTER_CHECKS` before it runs, its result charged."""
    passed = getattr(func, "jinja_pass_arg", None)
    leading = 1 if passed is not None else 0
    check = FILTER_CHECKS.get(name)

    def checked(*args: Any, **kwargs: Any) -> Any:
        spent = budget()
        spent.step()
        if check is not None:
            check(*args[leading:], **kwargs)
        result = func(*args, **kwargs)
        spent.charge(size_of(result))
        return result

    if passed is not None:
        checked.jinja_pass_arg = passed  # type: ignore[attr-defined]
    checked.__name__ = checked.__qualname__ = name
    return checked


def _range(*args: int) -> range:
    numbers = range(*args)
    budget().charge(len(numbers))
    return numbers


@pass_context
def _iterate(context: Context, iterable: Iterable[Any], body_chars: int) -> Iterator[Any]:
    """A loop's items: a step and the literal text of the loop's body charged per item."""
    spent = budget()
    for item in iterable:
        spent.step()
        spent.charge(body_chars)
        yield item


@pass_context
def _charge(context: Context, value: Any, chars: int) -> Any:
    """Charge the literal text of a macro's body each time it is called."""
    budget().charge(chars)
    return value


@pass_context
def _written(context: Context, value: Any) -> str:
    """A ``{{ value }}``: its text charged (a loop may write it into a buffer many times)."""
    text = str(value)
    budget().charge(len(text))
    return text


@pass_context
def _concat(context: Context, parts: list[Any]) -> str:
    """The ``~`` operator, charged part by part."""
    spent, texts = budget(), []
    for part in parts:
        texts.append(str(part))
        spent.charge(len(texts[-1]))
    return "".join(texts)


INTERNAL_FILTERS = {
    "_kodeord_iterate": _iterate,
    "_kodeord_charge": _charge,
    "_kodeord_written": _written,
    "_kodeord_concat": _concat,
}


def _binop_size(op: str, left: Any, right: Any, int_bits: int) -> int:
    """Size of ``left op right`` before it is computed: characters or items for sequences, 0 for numbers."""
    ints = isinstance(left, int) and isinstance(right, int)
    if op == "**" and ints and right > 0 and max(1, left.bit_length()) * right > int_bits:
        raise BudgetExceeded(f"a power larger than {int_bits} bits is more than a template may compute")
    if op == "*":
        if ints and left.bit_length() + right.bit_length() > int_bits:
            raise BudgetExceeded(f"a product larger than {int_bits} bits is more than a template may compute")
        if isinstance(right, int) and size_of(left):
            return size_of(left) * max(0, right)
        if isinstance(left, int) and size_of(right):
            return size_of(right) * max(0, left)
    if op == "+" and not ints:
        return size_of(left) + size_of(right)
    if op == "%" and isinstance(left, str):
        return percent_format_size(left, right)
    return 0


def _literal_chars(node: nodes.Node) -> int:
    return sum(len(data.data) for data in node.find_all(nodes.TemplateData))


OPENING_TAGS = frozenset({"if", "for", "macro", "call", "filter", "with", "block", "autoescape"})


def check_shape(environment: jinja2.Environment, source: str, max_tokens: int) -> None:
    """Refuse ``source`` if it has more than ``max_tokens`` tokens or nests brackets and blocks deeper than
    :data:`MAX_DEPTH`, read from its tokens before the (recursive) parser sees it, stopping at the first fault."""
    if len(source) <= max_tokens and sum(map(source.count, "([{")) <= MAX_DEPTH:
        return  # fewer characters than tokens allowed, fewer openings than levels: no need to read the tokens
    depth = tokens = 0
    after_block_begin = False
    for _line, kind, value in environment.lex(source):
        if kind == "whitespace":
            continue
        tokens += 1
        if tokens > max_tokens:
            raise BudgetExceeded(f"template has more than {max_tokens} tags, names and operators")
        if (kind == "operator" and value in "([{") or (after_block_begin and value in OPENING_TAGS):
            depth += 1
            if depth > MAX_DEPTH:
                raise BudgetExceeded(f"template nests brackets or blocks more than {MAX_DEPTH} deep")
        elif (kind == "operator" and value in ")]}") or (after_block_begin and value.startswith("end")):
            depth -= 1
        after_block_begin = kind == "block_begin"


def _filter(name: str, node: nodes.Expr, *args: nodes.Expr) -> nodes.Filter:
    return nodes.Filter(node, name, list(args), [], None, None, lineno=node.lineno)


class _Budgeter(NodeTransformer):
    """Routes loops, macros, writes and ``~`` through :data:`INTERNAL_FILTERS`; refuses what has no place here."""

    def refuse(self, node: nodes.Node, what: str) -> None:
        raise TemplateError(f"template syntax error on line {node.lineno}: {what} is not available in templates")

    def visit_Include(self, node: nodes.Include) -> None:
        self.refuse(node, "include")

    def visit_Import(self, node: nodes.Import) -> None:
        self.refuse(node, "import")

    def visit_FromImport(self, node: nodes.FromImport) -> None:
        self.refuse(node, "import")

    def visit_Extends(self, node: nodes.Extends) -> None:
        self.refuse(node, "extends")

    def visit_For(self, node: nodes.For) -> nodes.Node:
        if node.recursive:
            self.refuse(node, "a recursive loop")
        chars = _literal_chars(node)
        self.generic_visit(node)
        node.iter = _filter("_kodeord_iterate", node.iter, nodes.Const(chars))  # type: ignore[arg-type]
        return node

    def visit_Macro(self, node: nodes.Macro | nodes.CallBlock) -> nodes.Node:
        chars = _literal_chars(node)
        self.generic_visit(node)
        node.body.insert(0, nodes.Output([_filter("_kodeord_charge", nodes.Const(""), nodes.Const(chars))]))
        return node

    visit_CallBlock = visit_Macro

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [n if isinstance(n, nodes.TemplateData) else _filter("_kodeord_written", n) for n in node.nodes]
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _filter("_kodeord_concat", nodes.List(node.nodes, lineno=node.lineno))


class BudgetedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox, on a budget: see the module docstring."""

    intercepted_binops = frozenset(BINOPS)

    def __init__(self) -> None:
        super().__init__(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)
        self.filters = {name: _checked_filter(name, DEFAULT_FILTERS[name]) for name in PLAIN_FILTERS}
        self.filters.update({name: _checked_filter(name, DEFAULT_FILTERS[name]) for name in FILTER_CHECKS})
        self.filters["join"] = _checked_filter("join", _join)
        self.filters.update(INTERNAL_FILTERS)
        self.globals = {
            "range": _range,
            "dict": dict,
            "namespace": jinja2.utils.Namespace,
            "cycler": jinja2.utils.Cycler,
            "joiner": jinja2.utils.Joiner,
        }

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        check_shape(self, source, budget().limits.tokens)
        return super()._parse(source, name, filename)

    def _generate(
        self, source: nodes.Template, name: str | None, filename: str | None, defer_init: bool = False
    ) -> str:
        return super()._generate(_Budgeter().visit(source), name, filename, defer_init=defer_init)

    def call_binop(self, context: Context, operator_: str, left: Any, right: Any) -> Any:
        """Count the operator, refuse a result over the limits, charge its size."""
        spent = budget()
        spent.step()
        spent.charge(_binop_size(operator_, left, right, spent.limits.int_bits))
        return BINOPS[operator_](left, right)

    def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
        """The sandbox's rule, and of a string's methods only those in :data:`STR_METHODS`."""
        if isinstance(obj, str) and callable(value) and attr not in STR_METHODS:
            return False
        return bool(super().is_safe_attribute(obj, attr, value))

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        """``str.format``: the sandbox's, with the format string's widths checked and its result charged."""
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt: str = value.__self__
        fields = brace_format_fields(fmt)
        mapping = value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            values = args[0] if mapping and args else kwargs
            budget().charge(brace_format_size(fmt, fields, () if mapping else args, values))
            return wrapped(*args, **kwargs)

        return checked

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805
        """Count the call; check string methods' widths and sizes, and strftime formats, before they run."""
        spent = budget()
        spent.step()
        owner, name = getattr(__obj, "__self__", None), getattr(__obj, "__name__", "")
        if isinstance(owner, str):
            _check_str_method(owner, name, args, kwargs)
        elif isinstance(owner, date) and name == "strftime" and args:
            check_strftime(str(args[0]))
        result = super().call(__context, __obj, *args, **kwargs)
        spent.charge(size_of(result))
        return result


def _check_str_method(text: str, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    spent = budget()
    if name in ("center", "ljust", "rjust", "zfill"):
        for value in (*args[:1], *kwargs.values()):
            spent.width(value, name)
    elif name == "replace" and len(args) >= 2:
        spent.charge(_replaced_size(text, *args[:3]))
    elif name == "join" and args:
        if not isinstance(args[0], list | tuple):
            raise TemplateError("join() takes a list in templates; use the join filter for other values")
        spent.charge(sum(len(str(item)) + len(text) for item in args[0]))
