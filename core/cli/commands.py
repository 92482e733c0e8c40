"""The ``kodeord`` command."""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from kodeord.cli import host
from kodeord.cli.gateways import gateways, refuse_lossy
from kodeord.cli.messages import messages
from kodeord.cli.users import users
from kodeord.config.settings import Settings, parse_flag
from kodeord.inbound.messages import Inbound
from kodeord.support.errors import KodeordError, RuleFileError
from kodeord.support.manager import Hooks, make_manager

if TYPE_CHECKING:
    import redis

log = logging.getLogger("kodeord")


def _settings() -> Settings:
    settings = Settings()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return settings


@contextmanager
def _redis(settings: Settings) -> Iterator[redis.Redis]:
    """A client for the settings' Redis (the embedded one started if need be, and stopped after)."""
    from kodeord.support.redis_server import connect

    client, server = connect(settings.redis_url, Path(settings.data_dir))
    try:
        yield client
    finally:
        client.close()
        if server is not None:
            server.stop()


@click.group()
@click.version_option(package_name="kodeord")
def cli() -> None:
    """Kodeord: SMS keyword platform. Settings come from KODEORD_* environment variables."""


@cli.group()
def rules() -> None:
    """Check and try rule files."""


@rules.command("check")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def rules_check(paths: tuple[Path, ...]) -> None:
    """Check rule files; print FILE:LINE:COL: message per problem; exit 1 if any."""
    from kodeord.config.catalog import Catalog

    settings = Settings()
    hooks = Hooks(make_manager(blocked=settings.disable_plugins))
    try:
        catalog = Catalog(paths, hooks.actions, settings.timezone, tuple(settings.regions), hooks.check_service)
    except RuleFileError as exc:
        for problem in exc.problems:
            click.echo(str(problem))
        click.echo(f"{len(exc.problems)} problem(s) found", err=True)
        sys.exit(1)
    config = catalog.config
    words = sum(len(s.keywords) for s in config.services.values())
    click.echo(
        f"ok: {len(config.files)} file(s), {len(config.tenants)} tenant(s), "
        f"{len(config.services)} service(s), {words} keyword(s)"
    )


@rules.command("try")
@click.option("--to", "to", required=True, help="The number the message is sent to.")
@click.option("--from", "sender", required=True, help="The sender's phone number.")
@click.option("--channel", default="sms", type=click.Choice(["sms", "call", "email"]))
@click.option(
    "--rules", "rule_paths", multiple=True, type=click.Path(path_type=Path), help="Rule files (default: KODEORD_RULES)."
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.argument("text", nargs=-1)
def rules_try(
    to: str, sender: str, channel: str, rule_paths: tuple[Path, ...], as_json: bool, text: tuple[str, ...]
) -> None:
    """Show which service, rule and action a message selects and the replies, changing nothing."""
    from kodeord.platform import Platform

    settings = _settings()
    try:
        with Platform(settings, rule_paths=rule_paths or None) as platform:
            inbound = Inbound.create(
                sender=sender,
                recipient=to,
                text=" ".join(text),
                channel=channel,
                gateway="try",
                message_id=uuid.uuid4().hex,
                regions=settings.regions,
            )
            outcome = platform.handle(inbound, dry_run=True)
    except RuleFileError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    except KodeordError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
    replies = [{"to": r["to"], "text": r["text"]} for r in outcome.replies]
    if as_json:
        click.echo(
            json.dumps(
                {
                    "service": outcome.service,
                    "rule": outcome.rule,
                    "action": outcome.action,
                    "replies": replies,
                    "status": outcome.status,
                    "vetoed": outcome.vetoed,
                    "errors": outcome.errors,
                    "broadcasts": outcome.fanouts,
                },
                ensure_ascii=False,
            )
        )
        return
    click.echo(f"status:  {outcome.status}")
    click.echo(f"service: {outcome.service or '-'}")
    click.echo(f"rule:    {outcome.rule or '-'}")
    click.echo(f"action:  {outcome.action or '-'}")
    for reply in outcome.replies:
        click.echo(f"reply to {reply['to']} ({reply['segments']} SMS, {reply['encoding']}): {reply['text']}")
    for fanout in outcome.fanouts:
        click.echo(f"broadcast ({fanout['source']}): {fanout['text']}")
    for veto in outcome.vetoed:
        click.echo(f"vetoed to {veto['to']}: {veto['reason']}")
    for error in outcome.errors:
        click.echo(f"error:   {error}")


@cli.group()
def routing() -> None:
    """Operator routing: the number-portability table."""


@routing.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def routing_import(path: Path) -> None:
    """Replace the portability table with a CSV file of number,operator rows."""
    from kodeord.cli import progress
    from kodeord.outbound.operators import PortabilityError, import_portability

    settings = _settings()
    try:
        with _redis(settings) as client, progress.bar(f"importing {path.name}", progress.lines(path)) as bar:
            count = import_portability(client, path, tuple(settings.regions), bar.update)
            bar.update(bar.length - bar.pos)  # the lines that held no number (a header, comments)
    except PortabilityError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"imported {count} number(s) from {path}")


@cli.group()
def apikey() -> None:
    """API keys of the JSON API: each belongs to one tenant (see docs/api.md)."""


@apikey.command("create")
@click.argument("tenant")
@click.option("--name", default="", help="Tells the tenant's keys apart (default: key-1, key-2, ...).")
def apikey_create(tenant: str, name: str) -> None:
    """Make a key for TENANT (a tenant of the rule files) and print it; it is shown only this once."""
    from kodeord.platform import Platform
    from kodeord.web import apikeys

    try:
        with Platform(_settings()) as platform:
            known = sorted(platform.catalog.config.tenants)
            if tenant not in known:
                listed = ", ".join(known) or "none"
                click.echo(f"error: no tenant {tenant!r} in the rule files; known tenants: {listed}", err=True)
                sys.exit(1)
            key = apikeys.create(platform.redis, tenant, name)
    except RuleFileError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    except KodeordError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    click.echo(key)
    click.echo(f"API key for tenant {tenant!r}; it is shown only this once, so store it now.", err=True)


@apikey.command("list")
@click.argument("tenant")
def apikey_list(tenant: str) -> None:
    """Show TENANT's keys: prefix, name, when made and last used (never the keys themselves)."""
    from kodeord.web import apikeys

    try:
        with _redis(_settings()) as client:
            rows = apikeys.list_keys(client, tenant)
    except KodeordError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    if not rows:
        click.echo(f"no API keys for tenant {tenant!r}", err=True)
        return
    table = [("PREFIX", "NAME", "CREATED", "LAST USED")]
    table += [(r["prefix"], r["name"], r["created"], r["last_used"] or "never") for r in rows]
    host.echo_table(table)


@apikey.command("revoke")
@click.argument("tenant")
@click.argument("prefix_or_name")
def apikey_revoke(tenant: str, prefix_or_name: str) -> None:
    """Revoke TENANT's key with this prefix or name (see `kodeord apikey list`), at once."""
    from kodeord.web import apikeys

    try:
        with _redis(_settings()) as client:
            revoked = apikeys.revoke(client, tenant, prefix_or_name)
    except KodeordError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(exc.exit_code)
    if not revoked:
        click.echo(
            f"error: tenant {tenant!r} has no API key with prefix or name {prefix_or_name!r}"
            f" (see: kodeord apikey list {tenant})",
            err=True,
        )
        sys.exit(1)
    click.echo(f"revoked API key {prefix_or_name!r} of tenant {tenant!r}")


@cli.command("settings")
def settings_command() -> None:
    """Every setting, the core's and the plugins': its variable, whether it is set here, its default, what it
    does. Values are not shown (some are secrets)."""
    from kodeord.cli.host import echo_table
    from kodeord.support.manager import Hooks, make_manager

    settings = Settings()
    blocked = settings.disable_plugins
    settings.declare(Hooks(make_manager(blocked=blocked)).settings())
    rows = [["variable", "here", "default", "what"]]
    for setting in sorted(settings.declared, key=lambda s: s.env):
        shown = "" if setting.default in (None, (), "") else str(setting.default)
        rows.append([setting.env, "set" if setting.env in os.environ else "-", shown[:30], setting.description])
    echo_table(rows)


@cli.command()
@click.option("--host", default=None, help="Default: KODEORD_HOST (127.0.0.1).")
@click.option("--port", default=None, type=int, help="Default: KODEORD_PORT (8000).")
@click.option("--workers", default=1, show_default=True, help="Web worker processes.")
def serve(host: str | None, port: int | None, workers: int) -> None:
    """Run the web app (webhooks, console, API) with uvicorn; the phone simulator too with KODEORD_SIMULATOR=1."""
    settings = _settings()
    refuse_lossy(settings)
    simulator = parse_flag(os.environ.get("KODEORD_SIMULATOR", ""))
    if simulator:
        click.echo(
            "the phone simulator is on (KODEORD_SIMULATOR=1): anyone who reaches this server can send as any phone"
        )
    _run_web(settings, host or settings.host, port or settings.port, workers, simulator=simulator)


@cli.command()
@click.option("--burst", is_flag=True, help="Send what is queued, then exit.")
@click.option(
    "--threads",
    default=8,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Outboxes sent at once; a slow gateway holds only the thread sending through it.",
)
def worker(burst: bool, threads: int) -> None:
    """Send queued messages through the configured gateways (RQ workers in threads, plus a dispatcher)."""
    from kodeord.outbound import jobs
    from kodeord.platform import Platform
    from kodeord.support.redis_client import for_rq

    settings = _settings()
    refuse_lossy(settings)
    with Platform(settings) as platform:
        click.echo(
            f"worker sending through {', '.join(sorted(platform.gateways))}" + ("" if burst else "; Ctrl-C stops")
        )
        if burst:
            jobs.use_platform(platform)
            dispatcher = jobs.Dispatcher(platform)
            rq_worker = jobs.SendWorker([dispatcher.queue], connection=for_rq(platform.redis))
            while dispatcher.dispatch_once() or len(dispatcher.queue):
                rq_worker.work(burst=True, logging_level=settings.log_level)
            return
        jobs.work(platform, settings.log_level, threads)


@cli.command()
@click.option("--port", default=None, type=int, help="Default: KODEORD_PORT (8000).")
def demo(port: int | None) -> None:
    """Everything on one machine: embedded Redis, demo rules, console gateway, phone simulator."""
    settings = _settings()
    _run_web(settings, settings.host, port or settings.port, 1, simulator=True, sender=True, prepare=_demo_accounts)


# The demo's console accounts: (tenant, address, role); each start gives them new passwords, printed.
DEMO_ACCOUNTS = (
    ("demo-tv", "producent@demo.kodeord.se", "owner"),
    ("demo-forening", "sekreterare@demo.kodeord.se", "owner"),
)


def _demo_accounts(url: str) -> None:
    """Make (or give new passwords to) the demo's console accounts, and say how to log in."""
    import secrets

    import redis

    from kodeord.web.console import accounts
    from kodeord.web.console.accounts import Role

    client = redis.Redis.from_url(url)
    try:
        for tenant, email, role in DEMO_ACCOUNTS:
            password = secrets.token_urlsafe(9)
            try:
                if accounts.get(client, email) is None:
                    accounts.create(client, tenant, email, password, Role(role))
                else:
                    accounts.set_password(client, tenant, email, password)
            except accounts.AccountError as exc:  # e.g. the address taken by another tenant: no demo login
                click.echo(f"no console login for {tenant}: {exc}", err=True)
                continue
            click.echo(f"console login for {tenant}: {email} / {password}")
    finally:
        client.close()


def _run_web(
    settings: Settings,
    host: str,
    port: int,
    workers: int,
    *,
    simulator: bool,
    sender: bool = False,
    prepare: Callable[[str], None] | None = None,
) -> None:
    from kodeord.support.redis_server import EmbeddedRedis, running_url

    server: EmbeddedRedis | None = None
    if not settings.redis_url:
        # Web workers are separate processes: they share one Redis, started here unless one runs.
        url = running_url(Path(settings.data_dir))
        if url is None:
            server = EmbeddedRedis(Path(settings.data_dir)).start()
            url = server.url
        os.environ["KODEORD_REDIS_URL"] = url
    os.environ["KODEORD_SIMULATOR"] = "1" if simulator else ""
    stop = threading.Event()
    try:
        if prepare is not None:
            prepare(os.environ["KODEORD_REDIS_URL"])
        if sender:
            threading.Thread(target=_send_forever, args=(stop,), daemon=True, name="sender").start()
        click.echo(f"Kodeord on http://{host}:{port}/" + ("  (phone simulator)" if simulator else ""))
        if prepare is not None:
            click.echo(f"console on http://{host}:{port}/console")
        from kodeord.web.workers import run as run_web

        run_web(
            "kodeord.web.app:create_app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            log_level=settings.log_level.lower(),
            access_log=False,
        )
    finally:
        stop.set()
        if server is not None:
            server.stop()


cli.add_command(messages)
cli.add_command(users)
cli.add_command(gateways)


def _send_forever(stop: threading.Event) -> None:
    from kodeord.outbound.sender import Sender
    from kodeord.platform import Platform

    with Platform(Settings()) as platform:
        Sender(platform).run(stop)


def main() -> None:
    """Entry point: the CLI with plugin commands added."""
    try:
        Hooks(make_manager(blocked=Settings().disable_plugins)).register_commands(cli)
    except KodeordError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    cli()
