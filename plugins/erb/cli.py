"""``kodeord erb ...``: check ads against the ERB's rules, and report where a tenant's services stand.

``erb check FILE...`` prints ``FILE:LINE:COL: ERB <rule>: <what is wrong>`` for each fault and exits 1, as
``rules check`` does, or prints ``ok: ...`` and exits 0. With ``--tenant`` the ads are checked against that
tenant's services as the rule files declare them: the company's details, and the prices charged at its
premium numbers. ``erb report TENANT`` lists each service: compliant, or each rule it breaks and where; it exits
1 when any service breaks a rule.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from kodeord.config.model import Config, Tenant
from kodeord.config.settings import Settings
from kodeord.support.errors import KodeordError, Problem, RuleFileError

RULES = click.option(
    "--rules",
    "rule_paths",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    help="Rule files or folders (default: KODEORD_RULES).",
)


@click.group()
def erb() -> None:
    """The ERB's rules for premium services: check ads, report on services."""


def _load(rule_paths: tuple[Path, ...]) -> tuple[Config, dict[str, list[Problem]]]:
    """The rule files (``--rules`` or the settings'), with the ERB's faults by service; ends the command with
    the files' own faults."""
    from kodeord.support.manager import Hooks, make_manager

    from .report import load_reported

    settings = Settings()
    paths = rule_paths or tuple(settings.rules)
    if not paths:
        click.echo("error: no rule files: give --rules or set KODEORD_RULES", err=True)
        sys.exit(2)
    hooks = Hooks(make_manager(blocked=settings.disable_plugins))
    try:
        return load_reported(paths, hooks.actions(), settings.timezone, tuple(settings.regions))
    except RuleFileError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        click.echo(f"{len(exc.problems)} problem(s) found in the rule files", err=True)
        sys.exit(1)


def _tenant(config: Config, tenant: str) -> Tenant:
    known = config.tenants.get(tenant)
    if known is None:
        click.echo(f"error: no tenant {tenant!r} in the rule files", err=True)
        sys.exit(2)
    return known


@erb.command("check")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--tenant", default=None, help="Check against this tenant's company and prices (rule files needed).")
@RULES
def check(files: tuple[Path, ...], tenant: str | None, rule_paths: tuple[Path, ...]) -> None:
    """Check ads (plain text, HTML, SVG): prices next to premium numbers, their size, the company's details."""
    from .ads import AdError, check_ad
    from .services import config_context
    from .texts import Context

    context = Context()
    if tenant is not None or rule_paths:
        config, _ = _load(rule_paths)
        company = None
        if tenant is not None:
            company = _tenant(config, tenant).company
            if company is None:
                click.echo(f"error: tenant {tenant!r} declares no company: add company: to its rule file", err=True)
                sys.exit(2)
        context = config_context(config, company)
    problems = 0
    for path in files:
        try:
            found = check_ad(path, context)
        except AdError as exc:
            click.echo(str(exc))
            problems += 1
            continue
        for problem in found:
            click.echo(str(problem))
        problems += len(found)
    if problems:
        click.echo(f"{problems} problem(s) found", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(files)} file(s)")


@erb.command("report")
@click.argument("tenant")
@RULES
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def report(tenant: str, rule_paths: tuple[Path, ...], as_json: bool) -> None:
    """Each of TENANT's services: compliant, or each ERB rule it breaks and where; messages the rules stopped."""
    from .report import statuses
    from .rules import RULES as KNOWN

    config, found = _load(rule_paths)
    _tenant(config, tenant)
    result = statuses(config, tenant, found, _stopped(config, tenant, tuple(KNOWN)))
    if as_json:
        services = [s.as_json(full_paths=True) for s in result]
        click.echo(json.dumps({"tenant": tenant, "services": services}, ensure_ascii=False))
    else:
        for status in result:
            kind = "premium" if status.premium else "not premium"
            rules = ", ".join(status.rules) or "none"
            broken = {p.message.split(":")[0] for p in status.problems}
            faults = len(status.problems)
            verdict = "compliant" if status.compliant else f"breaks {len(broken)} rule(s), {faults} fault(s)"
            click.echo(f"{status.service}  {kind}  rules: {rules}  {verdict}")
            for problem in status.problems:
                click.echo(f"  {problem}")
            for code, count in sorted(status.stopped.items()):
                click.echo(f"  stopped when sending, ERB {code}: {count} message(s)")
    if any(not s.compliant for s in result):
        sys.exit(1)


def _stopped(config: Config, tenant: str, codes: tuple[str, ...]) -> dict[str, dict[str, int]]:
    """Messages of each of the tenant's services the rules stopped when sending, by rule; {} without Redis."""
    from kodeord.outbound import status
    from kodeord.support.redis_server import connect

    settings = Settings()
    try:
        client, server = connect(settings.redis_url, Path(settings.data_dir))
    except (KodeordError, OSError):
        return {}
    try:
        found = {}
        for service in config.of_tenant(tenant):
            counted = status.vetoed(client, service.key, "erb", (*codes, "error"))
            found[service.key] = {code: sum(days.values()) for code, days in counted.items()}
        return found
    finally:
        client.close()
        if server is not None:
            server.stop()
