"""A customer template costs at most its budget, at compile and at render, and is refused at load if it would not."""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Callable, Iterator
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kodeord.decide import templating
from kodeord.decide.budget import BudgetExceeded, Limits
from kodeord.inbound.messages import Inbound
from kodeord.platform import Platform
from kodeord.support.errors import RuleFileError, TemplateError

# Each of these stalled a process for seconds to minutes, took gigabytes, or crashed it, before the budget.
HOSTILE = [
    ("{{ 'a' * 1000000000 }}", "more than 1000000 characters"),
    ("{{ (10 ** 100000000) % 7 }}", "a power larger than 4096 bits"),
    ("{{ 10 ** 100000 }}", "a power larger than 4096 bits"),
    ("{% set x = 7 %}{{ x * x * x * (x ** 4000) }}", "a power larger than 4096 bits"),
    ("{% for a in text * 100000 %}{% for b in text * 100000 %}x{% endfor %}{% endfor %}", "characters|took longer"),
    (
        "{% for i in range(100000) %}{% for j in range(100000) %}{{ i }}{% endfor %}{% endfor %}",
        "characters|took longer",
    ),
    ("{% for i in range(99999) %}{% for j in range(99999) %}{% endfor %}{% endfor %}", "steps|took longer"),
    ("{{ text.ljust(300000000) }}", "ljust: 300000000 is larger than the 20000"),
    ("{{ 'x'.center(300000000) }}", "center: 300000000 is larger than the 20000"),
    ("{{ 'x'.zfill(300000000) }}", "zfill: 300000000"),
    ("{{ 'x'|center(300000000) }}", "center: 300000000"),
    ("{{ '%300000000s' % 'x' }}", "format width: 300000000"),
    ("{{ '%*s' % (300000000, 'x') }}", r"width or precision taken from the arguments \(\*\)"),
    ("{{ '{:300000000}'.format('x') }}", "format width: 300000000"),
    ("{{ '{:{w}}'.format('x', w=300000000) }}", "a field inside a format spec"),
    ("{{ '%300000000d'|format(1) }}", "format width: 300000000"),
    ("{{ now.strftime('%1000000000Y') }}", "strftime width: 1000000000"),
    ("{% macro f(n) %}{{ f(n + 1) }}{% endmacro %}{{ f(0) }}", "calls itself too deeply|took longer"),
    (
        "{% macro f(n) %}{% if n > 0 %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(40) }}",
        "took longer|steps",
    ),
    (
        "{% set ns = namespace(s='ab') %}{% for i in range(60) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
        "characters|took longer",
    ),
    ("{{ ('a' * 10000)|replace('a', 'a' * 10000) }}", "characters"),
    ("{{ text.replace('', text * 600) }}", "characters"),
    ("{{ range(10 ** 9)|list }}", "characters"),
    ("{{ [1] * 1000000000 }}", "characters"),
    ("{{ text|join(text) }}", "characters"),
    ("{{ '{0}{0}{0}{0}{0}{0}{0}{0}{0}{0}'.format(text * 600) }}", "characters"),
    (
        "{% set x %}{% for i in range(100000) %}" + "y" * 10_000 + "{% endfor %}{% endset %}{{ x|length }}",
        "characters|took longer",
    ),
    (
        "{% for i in range(20) %}{% for j in range(100000) %}{{ text }}{% endfor %}{% endfor %}",
        "characters|took longer",
    ),
    ("{{ ([[1] * 1000] * 1000)|sum(start=[]) }}", "sum: start must be a number"),
    ("{{ '" + "x" * 25_000 + "' }}", "template is 25008 characters long; at most 20000 are allowed"),
    ("{{ " + "(" * 5000 + "1" + ")" * 5000 + " }}", "nests brackets or blocks more than 50 deep"),
    ("{% if 1 %}" * 300 + "x" + "{% endif %}" * 300, "nests brackets or blocks more than 50 deep"),
    ("{{ " + " + ".join(["1"] * 900) + " }}", "more than 500 tags, names and operators"),
    ("{{ 9" + "9" * 5000 + " }}", "cannot be compiled: Exceeds the limit"),
]
FORBIDDEN = [
    ("{{ ''.__class__.__mro__ }}", "reaches for line 1: '__mro__'"),
    ("{{ text['__class__'] }}", "reaches for line 1: '__class__'"),
    ("{{ 'a\tb'.expandtabs(1000000000) }}", "access to attribute 'expandtabs' of 'str' object is unsafe"),
    ("{{ 'a'|indent(1000000000) }}", "No filter named 'indent'"),
    ("{{ 'a'|wordwrap(1) }}", "No filter named 'wordwrap'"),
    ("{{ lipsum(100000) }}", "unknown variable 'lipsum'"),
    ("{% include 'x' %}", "include is not available in templates"),
    ("{% extends 'x' %}", "extends is not available in templates"),
    ("{% import 'x' as y %}", "import is not available in templates"),
    ("{% for x in [1] recursive %}{{ loop([]) }}{% endfor %}", "a recursive loop is not available"),
]
SAMPLE = {**templating.SAMPLES}


@pytest.fixture
def small_limits() -> Iterator[Limits]:
    before = templating.limits()
    limits = Limits(ms=10_000, chars=5_000, steps=200, output=300)
    templating.configure(limits)
    yield limits
    templating.configure(before)


@pytest.mark.parametrize(("source", "message"), HOSTILE)
def test_a_template_over_its_budget_is_refused_at_load_and_fails_at_render_without_the_work(
    source: str, message: str
) -> None:
    tracemalloc.start()
    try:
        with pytest.raises(TemplateError, match="budget|nest|long|tags|compiled") as refused:
            templating.check(source)
        assert re.search(message, str(refused.value))
        with pytest.raises(TemplateError) as failed:
            templating.render(source, SAMPLE)
        assert re.search(message, str(failed.value))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 64 * 1024 * 1024  # never the gigabytes the template asked for


@pytest.mark.parametrize(("source", "message"), FORBIDDEN)
def test_a_template_reaching_for_what_the_sandbox_forbids_is_refused_at_load(source: str, message: str) -> None:
    with pytest.raises(TemplateError) as refused:
        templating.check(source, templating.BASE_VARIABLES | {"x"})
    assert message in str(refused.value)


def test_compiling_does_not_fold_costly_constants() -> None:
    code = templating._ENV.compile("{{ 'a' * 1000000000 }}{{ 'a' ~ 'b' * 100000 }}", raw=True)
    assert len(code) < 10_000  # the product is computed (and refused) at render, not written into the code


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Tack {{ text|upper }}! {{ 2 ** 10 }} {{ '%05.1f'|format(3.14159) }}", "Tack X! 1024 003.1"),
        ("{% for o in ['a', 'b'] %}{{ loop.index }}={{ o|upper }}{{ ', ' if not loop.last }}{% endfor %}", "1=A, 2=B"),
        ("{% macro g(n) %}<{{ n }}>{% endmacro %}{{ g(1) }}{{ g(2) }}", "<1><2>"),
        ("[{{ '{:>5}|{}'.format(text, 7) }}] {{ text.center(5, '*') }} {{ [1, 2, 3]|sum }}", "[    x|7] **x** 6"),
        (
            "{{ ', '.join(['a', 'b']) }} {{ ['a', 'b']|join('-') }} {{ text ~ text }} {{ now.strftime('%Y') }}",
            "a, b a-b xx 2026",
        ),
        ("{{ text|replace('x', 'yy') }} {{ (text * 3)|length }} {{ range(3)|list }}", "yy 3 [0, 1, 2]"),
    ],
)
def test_ordinary_templates_render_as_before(source: str, expected: str) -> None:
    templating.check(source)
    assert templating.render(source, {**SAMPLE, "text": "x"}) == expected


def test_limits_come_from_settings_and_are_each_enforced(small_limits: Limits) -> None:
    with pytest.raises(BudgetExceeded, match="more than 200 steps"):
        templating.render("{% for i in range(150) %}{% for j in range(2) %}{% endfor %}{% endfor %}", {})
    with pytest.raises(BudgetExceeded, match="more than 5000 characters in all"):
        templating.render("{% set x %}{% for i in range(100) %}{{ text }}{% endfor %}{% endset %}", {"text": "x" * 60})
    with pytest.raises(BudgetExceeded, match="produced more than 300 characters"):
        templating.render("{% for i in range(100) %}{{ text }}{% endfor %}", {"text": "x" * 4})
    with pytest.raises(BudgetExceeded, match="ljust: 301 is larger than the 300"):
        templating.render("{{ 'x'.ljust(301) }}", {})
    assert templating.render("{{ 'x'.ljust(300)|length }}", {}) == "300"
    templating.configure(replace(small_limits, ms=0.0))
    with pytest.raises(BudgetExceeded, match="took longer than 0 ms"):
        templating.render("{% for i in range(2) %}{% endfor %}", {})


def test_a_platform_takes_its_limits_from_its_settings(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., Inbound]
) -> None:
    before = templating.limits()
    try:
        with pytest.raises(RuleFileError, match=r"rules-0.yaml:9:9: .* produced more than 40 characters"):
            make_platform(RULES, template_output=40)  # an echo of a long message would not fit
        assert templating.limits().output == 40
        platform = make_platform(RULES, template_output=2000)
        outcome = platform.handle(make_inbound("EKO " + "x" * 1999), dry_run=True)
        assert outcome.errors == ["template produced more than 2000 characters"]
        assert platform.handle(make_inbound("EKO kort"), dry_run=True).replies[0]["text"] == "Eko: kort"
    finally:
        templating.configure(before)


RULES = """\
tenant: {id: t1}
numbers: [{number: "72500"}]
services:
  - id: eko
    number: "72500"
    keyword: EKO
    rules:
      - name: echo
        reply: "Eko: {{ args }}"
"""

_PIECES = st.sampled_from(
    [
        "text",
        "args",
        "1",
        "7",
        "10 ** 5",
        "100000",
        "300000000",
        "'ab'",
        "(text * 50)",
        "[1, 2]",
        "range(1000)",
        "text|length",
        "text|center(30000)",
        "text.ljust(99999)",
        "'%9999999s' % 1",
        "text|replace('x', text)",
    ]
)
_OPS = st.sampled_from([" * ", " ** ", " + ", " ~ ", " % ", " // "])


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(_PIECES, _OPS), min_size=1, max_size=6), st.booleans())
def test_any_combination_of_costly_pieces_stays_within_the_budget(parts: list[tuple[str, str]], loop: bool) -> None:
    expression = "".join(piece + op for piece, op in parts) + "1"
    source = (
        f"{{% for i in range(100000) %}}{{{{ {expression} }}}}{{% endfor %}}" if loop else f"{{{{ {expression} }}}}"
    )
    tracemalloc.start()
    try:
        try:
            text = templating.render(source, SAMPLE)
        except TemplateError:
            text = ""
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(text) <= templating.limits().output
    assert peak < 64 * 1024 * 1024
