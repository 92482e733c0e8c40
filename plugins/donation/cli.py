"""``kodeord donations ...``: donation totals and the settlement report from the command line (as the API)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from typing import TYPE_CHECKING, Any

import click

from kodeord.cli import host
from kodeord.support.errors import KodeordError

if TYPE_CHECKING:
    from kodeord.platform import PluginHost


@contextmanager
def platform_for(tenant: str) -> Iterator[PluginHost]:
    """A platform for reading ``tenant``'s donations; errors end the command with a message."""
    with host.platform() as platform:
        if tenant not in platform.tenants():
            known = ", ".join(platform.tenants()) or "none"
            raise KodeordError(f"no tenant {tenant!r} in the rule files (tenants: {known})")
        yield platform


def _day(name: str, value: str | None) -> date | None:
    from .report import parse_day

    try:
        return parse_day(name, value)
    except KodeordError as exc:
        raise click.BadParameter(str(exc), param_hint=f"--{name}") from None


def _line(label: str, figures: dict[str, Any]) -> str:
    return f"{label:<24} {figures['count']:>8}  {figures['gross']:>12}  {figures['owed']:>12}"


@click.group()
def donations() -> None:
    """Premium-SMS donations: totals and the settlement report."""


@donations.command("totals")
@click.argument("tenant")
@click.option("--json", "as_json", is_flag=True, help="the totals as JSON (as GET /api/donation/totals)")
def totals(tenant: str, as_json: bool) -> None:
    """Donations of TENANT per campaign, operator and day, and in all (amounts in SEK)."""
    from .report import report

    with platform_for(tenant) as platform:
        found = report(platform, tenant, with_rows=False)
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    click.echo(f"{'':<24} {'count':>8}  {'gross':>12}  {'owed':>12}")
    for heading, name in (("campaigns", "campaign"), ("operators", "operator"), ("days", "day")):
        click.echo(f"{heading}:")
        for figures in found[heading]:
            click.echo(_line(f"  {figures[name]}", figures))
    click.echo(_line("total", found["total"]))


@donations.command("settlement")
@click.argument("tenant")
@click.option("--from", "start", metavar="YYYY-MM-DD", help="first day (in the tenant's time zone)")
@click.option("--until", metavar="YYYY-MM-DD", help="last day, included")
@click.option("--csv", "as_csv", is_flag=True, help="the rows as CSV with a header row (default: JSON)")
def settlement(tenant: str, start: str | None, until: str | None, as_csv: bool) -> None:
    """The settlement of TENANT: a row per day, campaign, operator and price, with what is owed, and totals."""
    from .report import report, to_csv

    first, last = _day("from", start), _day("until", until)
    with platform_for(tenant) as platform:
        found = report(platform, tenant, first, last)
    if as_csv:
        click.echo(to_csv(found), nl=False)
    else:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
