"""One running Kodeord: settings, plugins, Redis, rules, engine and router together.

Each ``Platform`` has its own plugin manager, so tests and embedders can run
several side by side.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Protocol

import redis
from redis.cluster import RedisCluster

from kodeord.commit.committer import Committer
from kodeord.commit.durable import Replicated
from kodeord.commit.effects import Effects
from kodeord.commit.keys import Keys, platform_key
from kodeord.commit.records import Retention
from kodeord.config.catalog import Catalog, Destination
from kodeord.config.model import Config, Rule, Service, Tenant
from kodeord.config.settings import Settings
from kodeord.decide import templating
from kodeord.decide.budget import Limits
from kodeord.decide.engine import Engine
from kodeord.decide.lanes import Lanes
from kodeord.decide.router import Outcome, Router
from kodeord.inbound.messages import Inbound
from kodeord.outbound import gatewayconfig, mailer
from kodeord.outbound.gateway import ConsoleCaller, ConsoleGateway, Endpoint, Gateway, GatewayContext
from kodeord.outbound.gatewayconfig import GatewaysConfig
from kodeord.outbound.operators import RoutingTable
from kodeord.support.manager import Hooks, make_manager
from kodeord.support.redis_client import REDIS_ERRORS, is_cluster
from kodeord.support.redis_server import EmbeddedRedis, connect, private_dir, shared_secret
from kodeord.watch.alerts import Alert, AlertConfig, Monitor, raise_alert
from kodeord.watch.metrics import Metrics
from kodeord.web.links import Links

if TYPE_CHECKING:
    from kodeord.web.reports import Report

log = logging.getLogger(__name__)
SECRET_KEY_FILE = "secret.key"  # in the data dir, 0600
LEGACY_SECRET_KEY = platform_key("secret-key")  # where versions before the key file kept it: moved to the file


def demo_rules() -> tuple[Path, ...]:
    """The example rule files shipped with Kodeord (``rules/`` in the repository)."""
    return (Path(str(files("kodeord.rules"))),)


class PluginHost(Protocol):
    """What a plugin may use of the running platform: its hooks, pages and commands receive one (a
    :class:`Platform` is one). Changes to state go through :meth:`apply` as ``Effects``; ``redis`` is for
    reading (and for a plugin's own records that no message races, such as an audit log)."""

    redis: redis.Redis
    settings: Settings
    hooks: Hooks  # the plugins' hooks: ask other plugins through them (plugins never import each other)
    links: Links  # signed links (a leave link, a join link)
    retention: Retention  # how long message records are kept (to read a message's status)
    gateways: dict[str, Gateway]  # by id, the console's included

    def services(self, tenant: str, action: str) -> list[tuple[Service, list[Rule]]]:
        """The tenant's services with rules that name ``action`` (a plugin's polls, lists, campaigns), in the
        order the rule files declare them, each with those rules."""
        ...

    def service(self, key: str) -> Service | None:
        """The service ``tenant/id``, or None."""
        ...

    def tenants(self) -> list[str]:
        """Every tenant of the rule files, sorted."""
        ...

    def tenant(self, tenant: str) -> Tenant | None:
        """Tenant ``tenant`` (its name and time zone), or None."""
        ...

    def services_of(self, tenant: str) -> list[Service]:
        """Every service of ``tenant``, in the order the rule files declare them."""
        ...

    @property
    def config(self) -> Config:
        """Everything the rule files declare, as loaded now (a reload gives a new one)."""
        ...

    @property
    def reports(self) -> Mapping[str, Report]:
        """The reports of the core and the plugins, by name (see :mod:`kodeord.web.reports`)."""
        ...

    def apply(self, scope: Keys, effects: Effects, origin: str, by: str) -> Outcome:
        """Commit a change no message caused (an administrator's), as a message's effects are committed."""
        ...

    def raise_alert(self, cause: str, message: str, value: float, threshold: float) -> bool:
        """Alert the operators, at most once per cause per alert interval; whether this one was new."""
        ...


class Platform:
    """Everything needed to route messages, created from settings."""

    def __init__(
        self,
        settings: Settings | None = None,
        *,
        plugins: Iterable[object] = (),
        redis_client: redis.Redis | None = None,
        rule_paths: Iterable[Path] | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self.pm = make_manager(plugins, blocked=self.settings.disable_plugins)
        self.hooks = Hooks(self.pm)
        self.settings.declare(self.hooks.settings())
        self.server: EmbeddedRedis | None = None
        self._heavy: dict[str, tuple[object, bool]] = {}  # tenant -> (the rules read, whether a template may loop)
        self._secret_key: str | None = None
        if redis_client is None:
            redis_client, self.server = connect(self.settings.redis_url, Path(self.settings.data_dir))
        self.redis = redis_client
        try:
            self.metrics = Metrics(self.redis)
            s = self.settings
            templating.configure(Limits(ms=s.template_ms, chars=s.template_chars, output=s.template_output))
            self.engine = Engine(self.settings.engine_cache)
            paths = tuple(rule_paths) if rule_paths is not None else (self.settings.rules or demo_rules())
            self.hooks.prepare()  # two plugins naming one action or fan-out source fail here
            self.catalog = Catalog(
                paths,
                self.hooks.actions,
                self.settings.timezone,
                tuple(self.settings.regions),
                self.hooks.check_service,
            )
            self.retention = Retention(self.settings.dedupe_hours * 3600, self.settings.status_hours * 3600)
            replicated = Replicated(self.redis, self.settings.redis_wait_replicas, self.settings.redis_wait_ms)
            self.committer = Committer(self.redis, self.retention, replicated)
            self.links = Links(self.settings.public_url, self.secret_key)
            self.router = Router(self)
            self._load_gateways()
            self.hooks.startup(self)
        except BaseException:
            self.close()
            raise

    def _load_gateways(self) -> None:
        """Gateways, routing and alerts from the gateways file (console only without one)."""
        self.gateway_types = self.hooks.gateway_types()
        path = self.settings.gateways
        self.gateway_config = gatewayconfig.load(path, self.gateway_types) if path else GatewaysConfig()
        key = self.secret_key() if self.gateway_config.gateways else ""  # a dry run makes no key file
        context = GatewayContext(self.settings.public_url.rstrip("/"), key)
        # Without other gateways (the demo) the console gateway places calls too, so the hot button can be tried.
        console = ConsoleCaller if not self.gateway_config.gateways else ConsoleGateway
        self.gateways: dict[str, Gateway] = {"console": console(self.redis)}
        self.endpoints: dict[str, Mapping[str, Endpoint]] = {}
        for spec in self.gateway_config.gateways:
            gateway_type = self.gateway_types[spec.type]
            gateway = gateway_type.build(spec.id, spec.options, context)
            self.gateways[spec.id] = gateway
            self.endpoints[spec.id] = gateway_type.endpoints(gateway)
        self.mailer: Gateway | None = mailer.from_settings(self.settings)
        self.routing: RoutingTable = self.gateway_config.routing
        alerts = self.gateway_config.alerts
        self.monitor: Monitor | None = Monitor(self.redis, alerts) if alerts is not None else None

    def secret_key(self) -> str:
        """``KODEORD_SECRET_KEY``, or else the key in ``secret.key`` in the data dir (made once, 0600).

        Every process sharing the data dir signs with the same key; it is never stored in Redis. A key that
        an earlier version kept in Redis is moved to the file (so links it signed keep working) and deleted there.
        """
        if self._secret_key is None:
            legacy = self.redis.get(LEGACY_SECRET_KEY)
            old = legacy.decode() if isinstance(legacy, bytes) else legacy
            if self.settings.secret_key:
                key, where = str(self.settings.secret_key), "KODEORD_SECRET_KEY"
            else:
                path = private_dir(Path(self.settings.data_dir)) / SECRET_KEY_FILE
                key, where = shared_secret(path, lambda: old or secrets.token_hex(32)), str(path)
                if is_cluster(self.redis):  # many hosts, each its own data dir: each would sign alike only by luck
                    log.warning(
                        "signing with %s, this host's own key: on a cluster set KODEORD_SECRET_KEY, the same on every "
                        "host, or a console login and a delivery report's link signed here fail on the others",
                        path,
                    )
            if old is not None:  # only now that the file holds the key: a crash before this loses nothing
                self._forget_legacy_key(moved_to=where if old == key else None)
            self._secret_key = key
        return self._secret_key

    def _forget_legacy_key(self, moved_to: str | None) -> None:
        """Delete the key an earlier version kept in Redis, and have Redis rewrite its append-only file without it."""
        self.redis.delete(LEGACY_SECRET_KEY)
        if moved_to is not None:
            log.info("moved the signing key from Redis (%s) to %s", LEGACY_SECRET_KEY, moved_to)
        else:
            log.warning("deleted an unused signing key from Redis (%s)", LEGACY_SECRET_KEY)
        try:
            if is_cluster(self.redis):  # every node that held it: its primary and the replicas
                self.redis.bgrewriteaof(target_nodes=RedisCluster.ALL_NODES)  # type: ignore[call-arg]
            else:
                self.redis.bgrewriteaof()
        except REDIS_ERRORS as exc:  # e.g. a managed Redis that refuses the command, or a rewrite under way
            log.warning("Redis did not rewrite its append-only file (%s): the old key stays there until it does", exc)

    def raise_alert(self, cause: str, message: str, value: float, threshold: float) -> bool:
        """Alert the operators, at most once per cause per alert interval; return whether this one was new.

        See :func:`kodeord.watch.alerts.raise_alert`. Without an ``alerts`` section it is only logged.
        """
        alert = Alert(cause, message, value, threshold, datetime.now(UTC))
        config = self.monitor.config if self.monitor is not None else AlertConfig()
        return raise_alert(self.redis, alert, config.interval_s, send=self.monitor is not None)

    def housekeeping(self) -> None:
        """Run the plugins' periodic checks (``kodeord_housekeeping``); sender workers do, every few seconds."""
        self.hooks.housekeeping(self)

    def handle(self, inbound: Inbound, *, dry_run: bool = False, route: Destination | None = None) -> Outcome:
        """Route one inbound message (see :class:`kodeord.decide.router.Router`); ``route``: its route, if known."""
        return self.router.handle(inbound, dry_run=dry_run, route=route)

    def apply(self, scope: Keys, effects: Effects, origin: str, by: str) -> Outcome:
        """Commit a change no inbound message caused (see :meth:`kodeord.decide.router.Router.apply`)."""
        return self.router.apply(scope, effects, origin, by)

    def services(self, tenant: str, action: str) -> list[tuple[Service, list[Rule]]]:
        """The tenant's services that use ``action`` (see :meth:`kodeord.config.catalog.Catalog.using`)."""
        return self.catalog.using(tenant, action)

    def service(self, key: str) -> Service | None:
        """The service ``tenant/id``, or None."""
        return self.catalog.config.services.get(key)

    def tenants(self) -> list[str]:
        """Every tenant of the rule files, sorted."""
        return sorted(self.catalog.config.tenants)

    def tenant(self, tenant: str) -> Tenant | None:
        """Tenant ``tenant``, or None."""
        return self.catalog.config.tenants.get(tenant)

    def services_of(self, tenant: str) -> list[Service]:
        """Every service of ``tenant``, in the order the rule files declare them."""
        return self.catalog.config.of_tenant(tenant)

    @property
    def config(self) -> Config:
        """Everything the rule files declare, as loaded now."""
        return self.catalog.config

    @cached_property
    def reports(self) -> Mapping[str, Report]:
        """The reports of the core and the plugins, by name."""
        from kodeord.web.reports import CORE_REPORTS

        return self.hooks.reports(CORE_REPORTS)

    @cached_property
    def lanes(self) -> Lanes:
        """The routing threads of this process's web app (made on first use)."""
        return Lanes(self.settings.routing_threads)

    def heavy(self, tenant: str) -> bool:
        """Whether one of ``tenant``'s templates may loop (and so take long): it is routed in lanes."""
        catalog = self.catalog.config
        known = self._heavy.get(tenant)
        if known is None or known[0] is not catalog:
            sources = [t for s in catalog.of_tenant(tenant) for t in (s.fallback, *(r.reply for r in s.rules)) if t]
            known = self._heavy[tenant] = (catalog, any(templating.may_loop(t) for t in sources))
        return known[1]

    def route_of(self, inbound: Inbound) -> tuple[Destination, str]:
        """Where ``inbound`` goes, and the tenant whose service takes it (its number, when no service does): its
        routing lane."""
        route = self.catalog.index.route(inbound.recipient, inbound.text)
        return route, route.service.tenant if route.service is not None else f"number:{inbound.recipient}"

    def reload_rules(self, paths: Iterable[Path] | None = None) -> None:
        """Reload rule files; on error the working configuration stays (and the error is raised)."""
        self.catalog.reload(paths)
        log.info("rules reloaded: %d services", len(self.catalog.config.services))

    def close(self) -> None:
        """Free the engine, close gateways (those with a ``close()``) and stop the embedded Redis if started here."""
        engine = getattr(self, "engine", None)
        if engine is not None:
            engine.close()
        for gateway in getattr(self, "gateways", {}).values():
            close = getattr(gateway, "close", None)
            if close is not None:
                close()
        if "lanes" in self.__dict__:
            self.lanes.close()
        metrics = getattr(self, "metrics", None)
        if metrics is not None:
            metrics.close()
        if self.server is not None:
            self.redis.close()
            self.server.stop()
            self.server = None

    def __enter__(self) -> Platform:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
