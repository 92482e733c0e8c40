"""``kodeord lists ...``: address books from the command line (the same operations as the API).

Lists are named ``TENANT/LIST``. Consent records of changes made here say ``cli`` as who and how.
"""

from __future__ import annotations

import csv
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import click

from kodeord.cli import host, progress

from . import memberfile
from .admin import ListAdmin, ListError
from .store import CONSENT_FIELDS

T = TypeVar("T")


@contextmanager
def _admin(name: str) -> Iterator[tuple[ListAdmin, str]]:
    """A platform's admin view of TENANT and the list id, from ``TENANT/LIST``; errors end the command."""
    tenant, list_id = host.tenant_and_id(name, "name a list as TENANT/LIST", id_required=False)
    with host.platform() as platform:
        yield ListAdmin(platform, tenant, by="cli", channel="cli"), list_id


def _show(value: Any) -> None:
    click.echo(json.dumps(value, ensure_ascii=False, indent=2))


def _option(pairs: tuple[str, ...]) -> dict[str, Any]:
    """``name=value`` pairs; a value that parses as JSON is taken as JSON (lists, objects, null)."""
    found: dict[str, Any] = {}
    for pair in pairs:
        name, eq, raw = pair.partition("=")
        if not eq:
            raise ListError(f"expected name=value, got {pair!r}")
        try:
            found[name] = json.loads(raw)
        except ValueError:
            found[name] = raw
    return found


@click.group()
def lists() -> None:
    """Address books: lists, options, writers, functionaries, members and consent."""


@lists.command("ls")
@click.argument("tenant")
def list_all(tenant: str) -> None:
    """Every list of TENANT with its counts."""
    with _admin(f"{tenant}/-") as (admin, _):
        for list_id in admin.ids():
            counts = admin.show(list_id)["counts"]
            click.echo(f"{list_id}\t" + "\t".join(f"{k}={v}" for k, v in counts.items()))


@lists.command("show")
@click.argument("name")
def show(name: str) -> None:
    """A list's number, effective options, counts, writers and functionaries (JSON)."""
    with _admin(name) as (admin, list_id):
        _show(admin.show(list_id))


@lists.command("create")
@click.argument("name")
@click.argument("options", nargs=-1)
def create(name: str, options: tuple[str, ...]) -> None:
    """Create TENANT/LIST with options such as approval=manual senders=members."""
    with _admin(name) as (admin, list_id):
        _show(admin.create(list_id, _option(options)))


@lists.command("set")
@click.argument("name")
@click.argument("options", nargs=-1, required=True)
def set_options(name: str, options: tuple[str, ...]) -> None:
    """Override options (name=value; name=null removes the override)."""
    with _admin(name) as (admin, list_id):
        _show(admin.set_options(list_id, _option(options))["options"])


def _role_group(role: str) -> click.Group:
    group = click.Group(role, help=f"Add or remove {role} (phone numbers or email addresses).")

    @group.command("add")
    @click.argument("name")
    @click.argument("address")
    def add(name: str, address: str) -> None:
        with _admin(name) as (admin, list_id):
            click.echo("\n".join(admin.set_role(list_id, role, address, True)))

    @group.command("remove")
    @click.argument("name")
    @click.argument("address")
    def remove(name: str, address: str) -> None:
        with _admin(name) as (admin, list_id):
            click.echo("\n".join(admin.set_role(list_id, role, address, False)))

    return group


lists.add_command(_role_group("writers"))
lists.add_command(_role_group("functionaries"))


@lists.command("members")
@click.argument("name")
@click.option("--state", default="members", type=click.Choice(["members", "pending", "unsubscribed"]))
def members(name: str, state: str) -> None:
    """Print every member (or pending joiner, or unsubscribed number), one per line."""
    with _admin(name) as (admin, list_id):
        after = ""
        while True:
            page = admin.members(list_id, state, after, 1000)
            for row in page["items"]:
                click.echo("\t".join(str(row.get(k, "")) for k in ("id", "email", "name")).rstrip())
            if not page["next"]:
                break
            after = page["next"]


@lists.command("add")
@click.argument("name")
@click.option("--phone", default="", help="Mobile number.")
@click.option("--email", default="", help="Email address.")
@click.option("--member-name", "member_name", default="", help="The member's name.")
@click.option("--note", default="", help="Why (kept in the consent record), e.g. 'signed form 2026-11-01'.")
def add(name: str, phone: str, email: str, member_name: str, note: str) -> None:
    """Add a member by hand (refused if the person unsubscribed)."""
    with _admin(name) as (admin, list_id):
        _show(admin.add_member(list_id, phone, email, member_name, note))


@lists.command("import")
@click.argument("name")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--note", default="", help="Kept in every consent record (default: the file name).")
def import_members(name: str, path: Path, note: str) -> None:
    """Add members from a CSV or XLSX file with a header row of phone, email and (optional) name columns
    (in English or Swedish: telefon, mobil, e-post, namn, ...).

    Every row is checked first: one bad row stops the import with FILE:LINE and adds nobody.
    """
    with _admin(name) as (admin, list_id):
        rows = []
        try:  # comma or semicolon, UTF-8 (with or without BOM) or Windows-1252; or the first sheet of an XLSX
            table = list(memberfile.read(path))
        except memberfile.FileError as exc:
            raise ListError(f"{path}:{exc.line or 1}: {exc}") from None
        with progress.bar(f"checking {path.name}", len(table)) as bar:
            for entry in table:
                try:
                    rows.append(admin.member_row(entry.phone, entry.email, entry.name))
                except ListError as exc:
                    raise ListError(f"{path}:{entry.line}: {exc}") from None
                bar.update(1)
        with progress.bar(f"importing into {name}", len(rows)) as bar:
            skipped = admin.import_members(list_id, rows, note or f"imported from {path.name}", bar.update)
        for member in skipped:
            click.echo(f"skipped {member}: unsubscribed (only they can join again)", err=True)
        click.echo(f"imported {len(rows) - len(skipped)} member(s) into {name}")


def _each(name: str, action: Callable[[ListAdmin, str], T]) -> T:
    with _admin(name) as (admin, list_id):
        return action(admin, list_id)


@lists.command("remove")
@click.argument("name")
@click.argument("member")
def remove(name: str, member: str) -> None:
    """Take a member or pending joiner off the list (they may join again)."""
    _each(name, lambda admin, list_id: admin.remove_member(list_id, member))
    click.echo(f"removed {member}")


def _decision(approve: bool) -> click.Command:
    verb = "approve" if approve else "reject"

    @click.command(verb, help=f"{verb.capitalize()} a pending joiner; they are told by SMS.")
    @click.argument("name")
    @click.argument("member")
    def decide(name: str, member: str) -> None:
        _each(name, lambda admin, list_id: admin.decide(list_id, member, approve))
        click.echo(f"{verb}d {member}")

    return decide


lists.add_command(_decision(True))
lists.add_command(_decision(False))


@lists.command("consent")
@click.argument("name")
@click.argument("member")
@click.option("--csv", "as_csv", is_flag=True, help="CSV instead of JSON.")
def consent(name: str, member: str, as_csv: bool) -> None:
    """A member's consent records: every join, leave, approval and manual add, oldest first."""
    records = _each(name, lambda admin, list_id: admin.consent(list_id, member))
    if not as_csv:
        _show(records)
        return
    writer = csv.DictWriter(sys.stdout, fieldnames=CONSENT_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(records)


@lists.command("broadcast")
@click.argument("name")
@click.argument("text")
@click.option("--follow", is_flag=True, help="Show its progress until every message is out and reported on.")
@click.option(
    "--reports-timeout",
    default=60.0,
    show_default=True,
    help="With --follow: seconds to wait for delivery reports once every message is out.",
)
@click.option("--marketing", is_flag=True, help="It promotes something: each message is vetted as marketing (ERB).")
def start_broadcast(name: str, text: str, follow: bool, reports_timeout: float, marketing: bool) -> None:
    """Send TEXT to every member (by SMS, and by email to members with an address)."""
    with _admin(name) as (admin, list_id):
        started = admin.broadcast(list_id, text, marketing=marketing)
        _show(started)
        if follow:
            _show(_follow(admin, list_id, started["id"], reports_timeout))


def _follow(admin: ListAdmin, list_id: str, broadcast: str, reports_timeout: float, every: float = 0.5) -> Any:
    """Show a broadcast's progress on standard error until every message is sent or failed and every sent one
    is reported on (or ``reports_timeout`` passed since the last was sent); return its final progress."""
    from kodeord.outbound import fanout

    scope = admin.keys(list_id).scope
    terminal = sys.stderr.isatty()
    reports_until: float | None = None
    last_line = ""
    try:
        while True:
            now = fanout.read_progress(admin.redis, scope, broadcast) or {}
            n = {k: int(now.get(k, 0)) for k in ("queued", "sent", "failed", "delivered", "undelivered")}
            done = now.get("state") == "done" and n["sent"] + n["failed"] >= n["queued"]
            line = (
                f"broadcast {broadcast}: {n['queued']} queued{'' if now.get('state') == 'done' else ' so far'}, "
                f"{n['sent']} sent, {n['failed']} failed, {n['delivered']} delivered, "
                f"{n['undelivered']} not delivered"
            )
            if line != last_line:
                click.echo(("\r" + line) if terminal else line, err=True, nl=not terminal)
                last_line = line
            if done:
                reports_until = reports_until or time.monotonic() + reports_timeout
                if n["delivered"] + n["undelivered"] >= n["sent"] or time.monotonic() >= reports_until:
                    break
            time.sleep(every)
    except KeyboardInterrupt:
        click.echo("\nstopped following; the broadcast goes on", err=True)
    if terminal:
        click.echo("", err=True)
    return {"id": broadcast, **(fanout.read_progress(admin.redis, scope, broadcast) or {})}


@click.command()
@click.option("--host", "address", default=None, help="Address to listen on (default: KODEORD_MAIL_HOST).")
@click.option("--port", type=int, default=None, help="Port to listen on (default: KODEORD_MAIL_PORT).")
def mail(address: str | None, port: int | None) -> None:
    """Take mail for the lists' addresses and turn writers' mail into broadcasts (until Ctrl-C)."""
    import logging
    import threading

    from kodeord.config.settings import Settings

    from .mailrunner import serve

    logging.basicConfig(level=Settings().log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    with host.platform() as platform:
        settings = platform.settings
        try:
            serve(platform, address or settings.mail_host, port or settings.mail_port, stop)
        except KeyboardInterrupt:
            stop.set()
