"""``kodeord subscriptions show|send TENANT/SERVICE``."""

from __future__ import annotations

import json

import click

from kodeord.cli import host


@click.group()
def subscriptions() -> None:
    """Premium subscriptions: their subscribers, and sending them a message."""


@subscriptions.command("show")
@click.argument("name")
def show(name: str) -> None:
    """How many subscribe to TENANT/SERVICE, and how many were asked to confirm and have not."""
    from .store import SubscriptionKeys, counts

    tenant, service_id = host.tenant_and_id(name, "name a subscription as TENANT/SERVICE")
    with host.platform() as platform:
        service = platform.service(f"{tenant}/{service_id}")
        if service is None or service.subscription is None:
            click.echo(f"error: no subscription {name!r}", err=True)
            raise SystemExit(1)
        click.echo(json.dumps({"service": service.key, **counts(platform.redis, SubscriptionKeys(service.key))}))


@subscriptions.command("send")
@click.argument("name")
@click.argument("text")
def send(name: str, text: str) -> None:
    """Send TEXT (with the subscription's footer, charged its price) to every subscriber of TENANT/SERVICE."""
    from .sending import send as start

    tenant, service_id = host.tenant_and_id(name, "name a subscription as TENANT/SERVICE")
    with host.platform() as platform:
        click.echo(json.dumps(start(platform, f"{tenant}/{service_id}", text, "cli")))
