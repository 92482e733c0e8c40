"""``kodeord polls ...``: results, closing, opening again and the hot button from the command line (as the API does).

Polls are named ``TENANT/POLL`` (the poll's service id).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import click

from kodeord.cli import host

if TYPE_CHECKING:
    from kodeord.platform import PluginHost


@contextmanager
def platform_for(name: str) -> Iterator[tuple[PluginHost, str, str]]:
    """A platform, the tenant and the id from ``TENANT/ID``; errors end the command with a message."""
    tenant, item = host.tenant_and_id(name, "name it as TENANT/ID")
    with host.platform() as platform:
        yield platform, tenant, item


def show(value: Any) -> None:
    """Print ``value`` as indented JSON."""
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


@click.group()
def polls() -> None:
    """Polls: live results, closing (freezes the result), opening again and the hot button."""


@polls.command("ls")
@click.argument("tenant")
def list_polls(tenant: str) -> None:
    """Every poll of TENANT with its state and total."""
    from . import store
    from .admin import all_polls

    with platform_for(f"{tenant}/-") as (platform, _, _):
        for poll_id, poll in all_polls(platform, tenant).items():
            result = store.result(platform.redis, poll)
            click.echo(f"{poll_id}\t{result['state']}\ttotal={result['total']}\t{poll.title}")


@polls.command("result")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="the whole result, with votes per minute, as JSON")
def result(name: str, as_json: bool) -> None:
    """Votes per option of TENANT/POLL (frozen once the poll is closed)."""
    from . import store
    from .admin import find_poll

    with platform_for(name) as (platform, tenant, poll_id):
        found = store.result(platform.redis, find_poll(platform, tenant, poll_id))
    if as_json:
        show(found)
        return
    click.echo(f"{found['title']} ({found['state']}), {found['total']} votes")
    for option in sorted(found["options"], key=lambda o: -o["votes"]):
        click.echo(
            f"{option['code']:>6}  {option['votes']:>9}  (sms {option['sms']}, calls {option['calls']})  "
            f"{option['name']}"
        )


@polls.command("close")
@click.argument("name")
def close(name: str) -> None:
    """Close TENANT/POLL now: no vote counts after this and the result is frozen."""
    from . import store
    from .admin import find_poll

    with platform_for(name) as (platform, tenant, poll_id):
        poll = find_poll(platform, tenant, poll_id)
        newly = store.close(platform, poll, "cli")
        found = store.result(platform.redis, poll)
    click.echo(f"{'closed' if newly else 'already closed'} at {found['closed_at']}; {found['total']} votes")


@polls.command("open")
@click.argument("name")
def reopen(name: str) -> None:
    """Open TENANT/POLL again after it was closed by hand: votes count from now on (until its closing time)."""
    from . import store
    from .admin import find_poll

    with platform_for(name) as (platform, tenant, poll_id):
        poll = find_poll(platform, tenant, poll_id)
        opened = store.reopen(platform, poll, "cli")
        found = store.result(platform.redis, poll)
    click.echo(f"{'opened again' if opened else 'was not closed'}; {found['state']}; {found['total']} votes")


@polls.command("hot-button")
@click.argument("name")
@click.option("--seconds", default=60, show_default=True, help="pick among callers of the last N seconds")
def hot_button(name: str, seconds: int) -> None:
    """Connect a random recent caller of TENANT/POLL to the studio."""
    from . import hotbutton
    from .admin import find_poll

    with platform_for(name) as (platform, tenant, poll_id):
        show(hotbutton.press(platform, find_poll(platform, tenant, poll_id), seconds, "cli"))


@click.group()
def competitions() -> None:
    """Competitions: entries, winner draws and the entry lists draws were made from."""


@competitions.command("show")
@click.argument("name")
def show_competition(name: str) -> None:
    """Entries, right answers, winners and draws of TENANT/COMPETITION (JSON)."""
    from . import competition, draw

    with platform_for(name) as (platform, tenant, item):
        show(draw.summary(platform.redis, competition.find(platform, tenant, item)))


@competitions.command("draw")
@click.argument("name")
@click.option("--winners", default=1, show_default=True, help="how many winners to draw")
def make_draw(name: str, winners: int) -> None:
    """Draw winners of TENANT/COMPETITION among the right answers, never an earlier winner (JSON record)."""
    from . import competition, draw

    with platform_for(name) as (platform, tenant, item):
        show(draw.draw(platform.redis, competition.find(platform, tenant, item), winners, "cli"))


@competitions.command("draws")
@click.argument("name")
def list_draws(name: str) -> None:
    """Every draw record of TENANT/COMPETITION (JSON)."""
    from . import competition, draw

    with platform_for(name) as (platform, tenant, item):
        show(draw.draws(platform.redis, competition.find(platform, tenant, item)))


@competitions.command("entries")
@click.argument("name")
@click.argument("draw_number", type=int)
def entries(name: str, draw_number: int) -> None:
    """Print the entry list draw DRAW_NUMBER was made from: its SHA-256 is the record's sha256."""
    from . import competition, draw

    with platform_for(name) as (platform, tenant, item):
        listing = draw.listing(platform.redis, competition.find(platform, tenant, item), draw_number)
    click.echo(listing.decode(), nl=False)
