"""Customer templates render in Jinja2's sandbox with strict undefined variables."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kodeord.decide import templating
from kodeord.support.errors import TemplateError


def test_renders_variables_and_filters() -> None:
    assert templating.render("Tack {{ name | upper }}! {{ n + 1 }}", {"name": "anna", "n": 2}) == "Tack ANNA! 3"


def test_unknown_variable_fails_cleanly() -> None:
    with pytest.raises(TemplateError, match="unknown variable: 'nmae' is undefined"):
        templating.render("Hej {{ nmae }}", {"name": "x"})


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
        "{{ x.__class__.__base__ }}",
        "{{ x.__dict__ }}",
        "{% set _ = x.append(1) %}{{ x }}",
    ],
)
def test_python_internals_are_unreachable(source: str) -> None:
    with pytest.raises(TemplateError):
        templating.render(source, {"x": [1]})


def test_runaway_output_is_refused() -> None:
    with pytest.raises(TemplateError, match="more than"):
        templating.render("{% for i in range(30000) %}xx{% endfor %}", {})


def test_syntax_error_names_the_line() -> None:
    with pytest.raises(TemplateError, match="line 2"):
        templating.check("ok\n{{ broken")


@given(st.text(max_size=200))
def test_any_text_either_renders_or_fails_with_template_error(source: str) -> None:
    try:
        result = templating.render(source, {"args": "03"})
    except TemplateError:
        return
    assert isinstance(result, str)
