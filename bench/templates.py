"""What a customer template can cost: hostile templates against an ordinary reply, in one process.

For each hostile template of ``tests/decide/test_budget.py`` (constant bombs, huge powers, widths, nested
loops, recursion, string doubling, deep nesting) it measures the wall time of ``templating.check`` (compile,
trial render, as ``rules check`` and the API do at load) and of ``templating.render`` (as the router and the
sender do), and the peak memory either allocates (tracemalloc). The baseline is an ordinary reply template,
compiled and rendered in the same run; the budget in force is printed first.

    .venv/bin/python bench/templates.py

Last line: worst_check_ms=N worst_render_ms=N worst_peak_mb=N ordinary_render_us=N plain_sandbox_us=N budget_ms=N
"""

from __future__ import annotations

import argparse
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import jinja2
from jinja2.sandbox import ImmutableSandboxedEnvironment

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from kodeord.decide import templating  # noqa: E402
from kodeord.support.errors import TemplateError  # noqa: E402
from tests.decide.test_budget import FORBIDDEN, HOSTILE  # noqa: E402

ORDINARY = "Tack för din röst på {{ args }}, {{ sender }}! Resultatet {{ now.strftime('%H:%M') }}."


def attempt(source: str) -> tuple[float, float, str]:
    """Milliseconds of a first check (compile and trial render) and of a render, and how the check ended."""
    templating.configure(templating.limits())  # forget compiled templates: the check compiles afresh
    started = time.perf_counter()
    try:
        templating.check(source)
        verdict = "accepted"
    except TemplateError as exc:
        verdict = str(exc)
    checked = time.perf_counter()
    try:
        templating.render(source, templating.SAMPLES)
    except TemplateError:
        pass
    return (checked - started) * 1000, (time.perf_counter() - checked) * 1000, verdict


def measure(source: str) -> tuple[float, float, float, str]:
    """Milliseconds of check and of render, peak MB of both (a second run, under tracemalloc), and the verdict."""
    check_ms, render_ms, verdict = attempt(source)
    tracemalloc.start()
    attempt(source)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return check_ms, render_ms, peak / 2**20, verdict


def per_render_us(render: Callable[[], object], rounds: int = 20_000) -> float:
    """Microseconds per call of ``render``."""
    render()
    started = time.perf_counter()
    for _ in range(rounds):
        render()
    return (time.perf_counter() - started) / rounds * 1e6


def plain_sandbox() -> Callable[[], object]:
    """The ordinary reply in Jinja's own immutable sandbox, without a budget: the baseline."""
    environment = ImmutableSandboxedEnvironment(undefined=jinja2.StrictUndefined, autoescape=False)
    template = environment.from_string(ORDINARY)
    return lambda: template.render(templating.SAMPLES).strip()


def main() -> None:
    argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    limits = templating.limits()
    print(f"budget: {limits}")
    baseline = per_render_us(plain_sandbox())
    budgeted = per_render_us(lambda: templating.render(ORDINARY, templating.SAMPLES))
    print(f"ordinary reply: {budgeted:.1f} us per render on the budget, {baseline:.1f} us in the plain sandbox")
    worst = [0.0, 0.0, 0.0]
    for source, _message in HOSTILE + FORBIDDEN:
        check_ms, render_ms, peak_mb, verdict = measure(source)
        worst = [max(worst[0], check_ms), max(worst[1], render_ms), max(worst[2], peak_mb)]
        shown = source if len(source) <= 60 else source[:57] + "..."
        print(f"{check_ms:8.1f} ms {render_ms:8.1f} ms {peak_mb:6.1f} MB  {shown!r}: {verdict[:70]}")
    print(
        f"worst_check_ms={worst[0]:.1f} worst_render_ms={worst[1]:.1f} worst_peak_mb={worst[2]:.1f}"
        f" ordinary_render_us={budgeted:.1f} plain_sandbox_us={baseline:.1f} budget_ms={limits.ms:g}"
    )


if __name__ == "__main__":
    main()
