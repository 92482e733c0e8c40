"""``kodeord gateways check``, and the same check before ``serve`` and ``worker`` start (see
:mod:`kodeord.outbound.gatewaycheck`)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import click

from kodeord.config.settings import Settings
from kodeord.support.errors import RuleFileError


def _load(path: Path, settings: Settings) -> object:
    from kodeord.outbound.gatewayconfig import load
    from kodeord.support.manager import Hooks, make_manager

    return load(path, Hooks(make_manager(blocked=settings.disable_plugins)).gateway_types())


@click.group()
def gateways() -> None:
    """Check the gateways file (and Kannel's configuration) before going live."""


@gateways.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--kannel-conf",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Kannel's kannel.conf, checked against the file's kannel gateways.",
)
def gateways_check(path: Path, kannel_conf: Path | None) -> None:
    """Check a gateways file: print FILE:LINE:COL: per problem (warnings say so); exit 1 on any error."""
    from kodeord.outbound import gatewaycheck
    from kodeord.outbound.gatewayconfig import GatewaysConfig

    settings = Settings()
    try:
        config = _load(path, settings)
    except RuleFileError as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        click.echo(f"{len(exc.problems)} problem(s) found", err=True)
        sys.exit(1)
    assert isinstance(config, GatewaysConfig)
    found = gatewaycheck.check(config, os.environ)
    if kannel_conf is not None:
        found += gatewaycheck.kannel_conf(kannel_conf, config)
    for finding in found:
        click.echo(str(finding))
    errors = sum(f.error for f in found)
    if errors:
        click.echo(f"{errors} problem(s) found", err=True)
        sys.exit(1)
    click.echo(f"ok: {len(config.gateways)} gateway(s)" + (f", {len(found)} warning(s)" if found else ""))


def refuse_lossy(settings: Settings) -> None:
    """Stop (exit 1) with the findings if the gateways file would lose replies or delivery reports; warn of the
    rest, and of no gateways file at all."""
    from kodeord.outbound import gatewaycheck
    from kodeord.outbound.gatewayconfig import GatewaysConfig

    path = settings.gateways
    if not path:
        click.echo(
            "warning: no KODEORD_GATEWAYS: replies go to the console gateway (the demo's); no SMS leaves", err=True
        )
        return
    try:
        config = _load(Path(path), settings)
    except RuleFileError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    assert isinstance(config, GatewaysConfig)
    found = gatewaycheck.check(config, os.environ)
    for finding in found:
        click.echo(str(finding), err=True)
    if any(f.error for f in found):
        click.echo(
            "not starting: this configuration would lose replies or delivery reports "
            "(kodeord gateways check tells the same)",
            err=True,
        )
        sys.exit(1)
