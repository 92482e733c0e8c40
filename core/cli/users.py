"""``kodeord users ...``: the people who log in to the console, each of one tenant with a role.

Passwords are read from standard input (asked for twice on a terminal), never from an argument, so they do
not end up in the shell's history or the process list.
"""

from __future__ import annotations

import sys

import click

from kodeord.cli import host
from kodeord.web.console import accounts
from kodeord.web.console.accounts import Role


def _password() -> str:
    """The password: asked for twice on a terminal, else the first line of standard input."""
    if sys.stdin.isatty():
        entered: str = click.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
        return entered
    return sys.stdin.readline().rstrip("\r\n")


@click.group()
def users() -> None:
    """Console accounts: people of one tenant who log in at /login (see docs/console.md)."""


@users.command("create")
@click.argument("tenant")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.VIEWER.value, show_default=True)
def users_create(tenant: str, email: str, role: str) -> None:
    """Make an account for EMAIL in TENANT (a tenant of the rule files); the password from standard input."""
    with host.platform() as platform:
        if tenant not in platform.tenants():
            raise accounts.AccountError(
                f"no tenant {tenant!r} in the rule files; known tenants: {', '.join(platform.tenants()) or 'none'}"
            )
        account = accounts.create(platform.redis, tenant, email, _password(), Role(role))
    click.echo(f"created {account.email} ({account.role.value}) for tenant {tenant!r}")


@users.command("list")
@click.argument("tenant")
def users_list(tenant: str) -> None:
    """Show TENANT's accounts: address, role, created, and whether disabled."""
    with host.platform() as platform:
        found = accounts.of_tenant(platform.redis, tenant)
    if not found:
        click.echo(f"no accounts for tenant {tenant!r}", err=True)
        return
    table = [("EMAIL", "ROLE", "CREATED", "STATE")]
    table += [(a.email, a.role.value, a.created, "disabled" if a.disabled else "active") for a in found]
    host.echo_table(table)


@users.command("disable")
@click.argument("tenant")
@click.argument("email")
def users_disable(tenant: str, email: str) -> None:
    """Disable EMAIL's account in TENANT; its sessions end at their next request."""
    with host.platform() as platform:
        account = accounts.disable(platform.redis, tenant, email)
    click.echo(f"disabled {account.email}")


@users.command("passwd")
@click.argument("tenant")
@click.argument("email")
def users_passwd(tenant: str, email: str) -> None:
    """Set a new password for EMAIL in TENANT from standard input (and enable the account again); its other
    sessions end."""
    with host.platform() as platform:
        account = accounts.set_password(platform.redis, tenant, email, _password())
    click.echo(f"new password for {account.email}")
