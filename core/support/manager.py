"""Loading plugins in one place, and a typed facade over ``pm.hook``.

A new plugin manager per platform (and so per test); never a process-global one.
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

import pluggy

from kodeord import hookspecs
from kodeord.support.errors import PluginError

if TYPE_CHECKING:
    import click
    import redis
    from starlette.routing import BaseRoute

    from kodeord.commit.effects import Effects
    from kodeord.config.model import Service
    from kodeord.config.servicecheck import ServiceCheck
    from kodeord.config.settings import Setting
    from kodeord.decide.actions import ActionCall, ActionSpec, Veto
    from kodeord.inbound.messages import Outbound
    from kodeord.outbound.fanout import Fanout, FanoutPage, FanoutSource
    from kodeord.outbound.gateway import GatewayType
    from kodeord.platform import PluginHost
    from kodeord.watch.live import LiveSeries
    from kodeord.web.console.sections import ConsoleSection
    from kodeord.web.links import Links
    from kodeord.web.reports import Report

log = logging.getLogger(__name__)
ENTRY_POINT_GROUP = "kodeord"
DEFAULT_PLUGINS: tuple[str, ...] = (
    "kodeord.decide.builtins",
    "kodeord.plugins.voting",
    "kodeord.plugins.donation",
    "kodeord.plugins.addressbook",
    "kodeord.plugins.nix",
    "kodeord.plugins.erb",
    "kodeord.plugins.subscription",
    "kodeord.plugins.kannel",
    "kodeord.plugins.elks",
    "kodeord.plugins.jsonhook",
)
T = TypeVar("T")


def short_name(module_name: str) -> str:
    """``kodeord.plugins.voting`` -> ``voting`` (the name used to block a plugin)."""
    return "core" if module_name == "kodeord.decide.builtins" else module_name.rsplit(".", 1)[-1]


def make_manager(extra: Iterable[object] = (), blocked: Iterable[str] = ()) -> pluggy.PluginManager:
    """A fresh manager with the built-ins, installed entry points and ``extra`` plugins.

    ``blocked`` names plugins not to load (built-in short names such as
    ``voting``, or entry-point names); ``core`` cannot be blocked.
    """
    import importlib

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    blocked = set(blocked) - {"core"}
    for name in blocked:
        pm.set_blocked(name)
    for module_name in DEFAULT_PLUGINS:
        name = short_name(module_name)
        if name not in blocked:
            pm.register(importlib.import_module(module_name), name=name)
    pm.load_setuptools_entrypoints(ENTRY_POINT_GROUP)
    for plugin in extra:
        pm.register(plugin)
    pm.check_pending()
    return pm


def _collect(hook: Callable[..., Any], **kwargs: Any) -> list[Any]:
    items: list[Any] = []
    hook(register=items.append, **kwargs)
    return items


def _by_name(hook: Callable[..., Any], what: str) -> dict[str, Any]:
    """What plugins register through ``hook``, by name; a name registered twice is an error (``what``
    names the kind of thing and how it is made known, e.g. "action ... is declared")."""
    found: dict[str, Any] = {}
    for item in _collect(hook):
        if item.name in found:
            raise PluginError(what.replace("...", repr(item.name)) + " by two plugins")
        found[item.name] = item
    return found


class Hooks:
    """One typed method per hook, so core code is type-checked."""

    def __init__(self, pm: pluggy.PluginManager) -> None:
        self.pm = pm
        self._hook = pm.hook
        self._runs: dict[str, Callable[[ActionCall], Effects]] | None = None  # see prepare()
        self.fanout_sources: dict[str, FanoutSource] = {}

    def plugin_names(self) -> list[str]:
        """Names of the registered plugins."""
        return sorted(name for name, plugin in self.pm.list_name_plugin() if name and plugin is not None)

    def actions(self) -> dict[str, ActionSpec]:
        """Every declared action by name; a name declared twice is an error."""
        return _by_name(self._hook.kodeord_register_actions, "action ... is declared")

    def prepare(self) -> None:
        """Build the tables messages are dispatched by, once, before any message: a name two plugins declare
        fails here, at start-up, not at the first message or broadcast. An action declared without the
        function that runs it warns (a ``DeprecationWarning``, and in the log) that the older hook is going."""
        runs: dict[str, Callable[[ActionCall], Effects]] = {}
        for name, spec in self.actions().items():
            if spec.run is not None:
                runs[name] = spec.run
                continue
            message = (
                f"action {name!r} is declared without run=, so it runs through kodeord_run_action: "
                "declare it as ActionSpec(..., run=<your function>) and drop the hook (docs/plugins.md)"
            )
            warnings.warn(message, DeprecationWarning, stacklevel=3)
            log.warning("%s", message)
        self._runs = runs
        self.fanout_sources = self._fanout_sources()

    def run_action(self, call: ActionCall) -> Effects | None:
        """The effects of ``call.action`` from the function its plugin declared it with (or, for an action
        declared without one, from the older ``kodeord_run_action`` hook); None if no plugin runs it."""
        if self._runs is None:
            self.prepare()
        run = (self._runs or {}).get(call.action)
        if run is not None:
            return run(call)
        result: Effects | None = self._hook.kodeord_run_action(call=call)
        return result

    def _fanout_sources(self) -> dict[str, FanoutSource]:
        """Every registered fan-out source by name; a name registered twice is an error."""
        return _by_name(self._hook.kodeord_register_fanout_sources, "fan-out source ... is registered")

    def sender_role(self, service: Service, sender: str, redis: redis.Redis) -> str:
        """The sender's role (``stranger`` when no plugin knows better)."""
        role: str | None = self._hook.kodeord_sender_role(service=service, sender=sender, redis=redis)
        return role or "stranger"

    def vet_many(self, messages: Sequence[Outbound], redis: redis.Redis, host: PluginHost) -> list[Veto | None]:
        """The first veto of each message (batch checks first, then the per-message hook), or None; ``host`` is
        the platform the messages are sent by."""
        vetoes: list[Veto | None] = [None] * len(messages)
        for found in self._hook.kodeord_vet_outgoing_batch(messages=messages, redis=redis, host=host):
            for index, veto in (found or {}).items():
                if vetoes[index] is None:
                    vetoes[index] = veto
        if self._hook.kodeord_vet_outgoing.get_hookimpls():
            for index, message in enumerate(messages):
                if vetoes[index] is None:
                    vetoes[index] = self._hook.kodeord_vet_outgoing(message=message, redis=redis, host=host)
        return vetoes

    def marketing_consent(self, messages: Sequence[Outbound], redis: redis.Redis) -> dict[int, bool]:
        """For each message a plugin knows, whether its recipient agreed to marketing (any True wins)."""
        consent: dict[int, bool] = {}
        for found in self._hook.kodeord_marketing_consent(messages=messages, redis=redis):
            for index, agreed in (found or {}).items():
                consent[index] = consent.get(index, False) or bool(agreed)
        return consent

    def fanout_page(
        self, fanout: Fanout, after: str, limit: int, redis: redis.Redis, links: Links
    ) -> FanoutPage | None:
        """The next page of recipients from the fan-out's source, or None if no plugin owns the fan-out."""
        if self._runs is None:
            self.prepare()
        source = self.fanout_sources.get(fanout.source)
        if source is not None:
            return source.page(fanout, after, limit, redis, links)
        page: FanoutPage | None = self._hook.kodeord_fanout_page(
            fanout=fanout, after=after, limit=limit, redis=redis, links=links
        )
        if page is not None:
            warnings.warn(
                f"fan-out source {fanout.source!r} is paged through kodeord_fanout_page: register "
                "FanoutSource(name, page) with kodeord_register_fanout_sources instead (docs/plugins.md)",
                DeprecationWarning,
                stacklevel=2,
            )
        return page

    def prepare_outgoing(self, message: Outbound) -> Outbound:
        """``message`` as the first plugin that changes it leaves it."""
        if not self._hook.kodeord_prepare_outgoing.get_hookimpls():  # the usual case: spare the hook call
            return message
        changed: Outbound | None = self._hook.kodeord_prepare_outgoing(message=message)
        return changed or message

    def gateway_types(self) -> dict[str, GatewayType]:
        """Every registered gateway type by name; a name registered twice is an error."""
        return _by_name(self._hook.kodeord_register_gateway_types, "gateway type ... is registered")

    def reports(self, core: Iterable[Report]) -> dict[str, Report]:
        """The ``core`` reports and the plugins' (``kodeord_register_reports``), by name."""
        found = {r.name: r for r in core}
        for name, report in _by_name(self._hook.kodeord_register_reports, "report ... is registered").items():
            if name in found:
                raise PluginError(f"report {name!r} is the core's; name a plugin's report <plugin>.<report>")
            found[name] = report
        return found

    def console_sections(self) -> list[ConsoleSection]:
        """The plugins' console sections (``kodeord_register_console_sections``), in the order registered."""
        return list(
            _by_name(self._hook.kodeord_register_console_sections, "console section ... is registered").values()
        )

    def live_series(self, platform: PluginHost, service: Service) -> list[LiveSeries]:
        """The plugins' series of ``service`` for the live graph (``kodeord_live_series``)."""
        found: list[LiveSeries] = []
        for answer in self._hook.kodeord_live_series(platform=platform, service=service):
            found += answer or []
        return found

    def routes(self) -> list[BaseRoute]:
        """Web routes contributed by plugins."""
        return _collect(self._hook.kodeord_register_routes)

    def register_commands(self, cli: click.Group) -> None:
        """Let plugins add CLI commands."""
        self._hook.kodeord_register_commands(cli=cli)

    def settings(self) -> list[Setting]:
        """Settings declared by plugins."""
        return _collect(self._hook.kodeord_register_settings)

    def check_service(self, check: ServiceCheck) -> None:
        """Let every plugin check a service as rule files load (problems go to ``check.problems``)."""
        self._hook.kodeord_check_service(check=check)

    def startup(self, platform: PluginHost) -> None:
        """Tell plugins the platform is ready."""
        self._hook.kodeord_startup(platform=platform)

    def housekeeping(self, platform: PluginHost) -> None:
        """Let plugins run their periodic checks."""
        self._hook.kodeord_housekeeping(platform=platform)
