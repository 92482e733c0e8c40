"""``kodeord messages``: show one message and search the message log (see docs/operations.md)."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click

from kodeord.config.settings import Settings


@contextmanager
def _log(settings: Settings) -> Iterator[Any]:
    from kodeord.commit.records import Retention
    from kodeord.support.redis_server import connect
    from kodeord.watch.messagelog import MessageLog

    client, server = connect(settings.redis_url, Path(settings.data_dir))
    try:
        yield MessageLog.every_scope(client, Retention(settings.dedupe_hours * 3600, settings.status_hours * 3600))
    finally:
        client.close()
        if server is not None:
            server.stop()


@click.group()
def messages() -> None:
    """Look up messages: what came in, what went out, and what became of it."""


@messages.command("show")
@click.argument("message_id")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
def messages_show(message_id: str, as_json: bool) -> None:
    """Show message MESSAGE_ID (an id as search prints it, or a reference SCOPE|ID); exit 1 if unknown."""
    with _log(Settings()) as log:
        found = log.show(message_id)
    if found is None:
        click.echo(f"error: no message {message_id!r} (unknown, or older than its retention)", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(found, ensure_ascii=False, indent=2))
        return
    _print_message(found)
    for reply in found.get("replies", []) if found["direction"] == "in" else []:
        click.echo("")
        _print_message(reply, indent="  ")


def _print_message(m: dict[str, Any], indent: str = "") -> None:
    if "direction" not in m:
        click.echo(f"{indent}{m['id']}: its record is no longer kept")
        return
    arrow = "in " if m["direction"] == "in" else "out"
    click.echo(f"{indent}{m['id']}  {arrow}  {m['service'] or m['scope']}  {m['time']}")
    click.echo(f"{indent}  from {m['from']} to {m['to']}: {m['text']!r}")
    if m["direction"] == "in":
        outcome = m["outcome"]
        rule = f", rule {outcome['rule']}" if outcome.get("rule") else ""
        click.echo(f"{indent}  outcome: {m['status']}{rule}; {len(m['replies'])} reply(ies)")
        for error in outcome.get("errors", []):
            click.echo(f"{indent}  error: {error}")
        return
    route = m["route"]
    if route:
        click.echo(f"{indent}  route: " + ", ".join(f"{k} {v}" for k, v in route.items()))
    if m["price"]:
        click.echo(f"{indent}  price: {m['price']}")
    for step in m["history"]:
        words = step.get("report") or step.get("reason") or ""
        click.echo(f"{indent}  {step['time']}  {step['status']}" + (f": {words}" if words else ""))
    if m.get("reason") and m["status"] != "failed":
        click.echo(f"{indent}  last try ({m['attempts']}): {m['reason']}; next at {m.get('next_try', '?')}")


@messages.command("search")
@click.option("--to", "to", default=None, help="Sent to this number or address.")
@click.option("--from", "sender", default=None, help="Sent from this number or address.")
@click.option("--service", default=None, help="Of this service (tenant/service).")
@click.option("--status", default=None, help="queued, sent, delivered, failed (outgoing) or an inbound outcome.")
@click.option("--since", default=None, help="Newer than this: 15m, 2h, 3d or a time (2026-11-30T18:00, UTC).")
@click.option("--limit", default=50, show_default=True, help="Messages per page (at most 500).")
@click.option("--cursor", default="", help="Where to go on: the cursor the last page printed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object: messages and the next cursor.")
def messages_search(
    to: str | None,
    sender: str | None,
    service: str | None,
    status: str | None,
    since: str | None,
    limit: int,
    cursor: str,
    as_json: bool,
) -> None:
    """Search the message log, newest first; one line per message."""
    from kodeord.watch.messagelog import Query, QueryError

    settings = Settings()
    try:
        query = Query.parse(settings.regions, to=to, sender=sender, service=service, status=status, since=since)
        with _log(settings) as log:
            found, following = log.search(query, limit, cursor)
    except QueryError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    if as_json:
        click.echo(json.dumps({"messages": found, "cursor": following}, ensure_ascii=False, indent=2))
        return
    for m in found:
        arrow = "in " if m["direction"] == "in" else "out"
        text = m["text"] if len(m["text"]) <= 40 else m["text"][:37] + "..."
        click.echo(
            f"{m['time']}  {m['id']}  {arrow}  {m['service'] or m['scope']}  {m['from']} -> {m['to']}  "
            f"{m['status']}  {text!r}"
        )
    if following:
        click.echo(f"more: add --cursor {following}", err=True)
    elif not found:
        click.echo("no messages found", err=True)
