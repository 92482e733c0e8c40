"""The plugin system: every hook documented and exercised, blocking, entry points, the partner kit."""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import click
import httpx
import pytest
import redis
from click.testing import CliRunner
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import BaseRoute, Route

from kodeord import (
    ActionCall,
    ActionSpec,
    Effects,
    FanoutSource,
    Outbound,
    PluginHost,
    Veto,
    Write,
    hookimpl,
    hookspecs,
)
from kodeord.commit.keys import Keys
from kodeord.config.model import Service
from kodeord.config.schema import Record
from kodeord.config.servicecheck import ServiceCheck
from kodeord.config.settings import Setting, Settings
from kodeord.inbound.messages import Inbound, Kind
from kodeord.outbound.fanout import Fanout, FanoutPage, Recipient
from kodeord.outbound.gateway import GatewayType, Outgoing, RecordingGateway, Report, Sent
from kodeord.outbound.jobs import Dispatcher
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.support.errors import PluginError, RuleFileError
from kodeord.support.manager import Hooks, make_manager
from kodeord.watch.live import LiveSeries
from kodeord.web import apikeys
from kodeord.web.app import create_app
from kodeord.web.console.sections import ConsoleSection
from kodeord.web.links import Links
from kodeord.web.reports import Report as TableReport
from kodeord.web.tables import Column
from kodeord.web.tables import Kind as ColumnKind

from .conftest import TV_RULES

HOOKS = sorted(name for name, _ in inspect.getmembers(hookspecs, inspect.isfunction) if name.startswith("kodeord_"))
DOCS = Path(__file__).parents[1] / "docs" / "plugins.md"
OLDER = {"kodeord_run_action", "kodeord_fanout_page"}  # still run, with a warning that says what replaces them


class NullGateway:
    id = "null"
    charging = False
    rate = 0.0

    def send(self, batch: Sequence[Outgoing], report: Report) -> None:
        for item in batch:
            report(Sent.ok(item.id))


NULL_TYPE = GatewayType("null", Record("null gateway options", {}), lambda gid, options, context: NullGateway())


def friends(fanout: Fanout, after: str, limit: int, redis: redis.Redis, links: Links) -> FanoutPage:
    """Three friends, ``limit`` at a time."""
    everyone = ["+46701111111", "+46707777777", "+46702222222"]
    start = everyone.index(after) + 1 if after else 0
    page = everyone[start : start + limit]
    return FanoutPage([Recipient(n) for n in page], page[-1] if start + limit < len(everyone) else None)


class EveryHook:
    """Implements every hook but the two older ones (``OLDER``), so each one is shown to take effect."""

    def __init__(self) -> None:
        self.started: list[PluginHost] = []
        self.housekept: list[PluginHost] = []

    @staticmethod
    def echo(call: ActionCall) -> Effects:
        extra = Outbound(to="+46709999999", sender=call.inbound.recipient, text="secret", kind=Kind.NOTICE)
        to_all = Outbound(to="", sender=call.inbound.recipient, text="to all", kind=Kind.BROADCAST)
        fanout = Fanout(f"every:{call.inbound.message_id}", "every", {"who": "friends"}, to_all)
        return Effects(vars={"echo": call.args}, replies=[extra], fanouts=[fanout])

    @hookimpl
    def kodeord_register_actions(self, register: Callable[[ActionSpec], None]) -> None:
        register(ActionSpec("every.echo", "echo", provides=("echo",), run=self.echo))

    @hookimpl
    def kodeord_sender_role(self, service: Service, sender: str, redis: redis.Redis) -> str | None:
        return "functionary" if sender == "+46708888888" else None

    @hookimpl
    def kodeord_vet_outgoing(self, message: Outbound, redis: redis.Redis) -> Veto | None:
        return Veto("no secrets", "every") if message.text == "secret" else None

    @hookimpl
    def kodeord_vet_outgoing_batch(self, messages: Sequence[Outbound], redis: redis.Redis) -> dict[int, Veto] | None:
        return {i: Veto("not to foes", "every") for i, m in enumerate(messages) if m.to == "+46707777777"}

    @hookimpl
    def kodeord_register_fanout_sources(self, register: Callable[[FanoutSource], None]) -> None:
        register(FanoutSource("every", friends))

    @hookimpl
    def kodeord_check_service(self, check: ServiceCheck) -> None:
        if check.service.id == "forbidden":
            check.problem("every: no service may be called forbidden", "id")

    @hookimpl
    def kodeord_marketing_consent(self, messages: Sequence[Outbound], redis: redis.Redis) -> dict[int, bool]:
        return {i: m.to == "+46701111111" for i, m in enumerate(messages) if m.kind is Kind.MARKETING}

    @hookimpl
    def kodeord_prepare_outgoing(self, message: Outbound) -> Outbound | None:
        return message.with_text(message.text + " /Every") if message.kind is Kind.REPLY else None

    @hookimpl
    def kodeord_register_gateway_types(self, register: Callable[[GatewayType], None]) -> None:
        register(NULL_TYPE)

    @hookimpl
    def kodeord_register_routes(self, register: Callable[[BaseRoute], None]) -> None:
        async def hello(request: Request) -> Response:
            return PlainTextResponse("hello from every")

        register(Route("/every/hello", hello))

    @hookimpl
    def kodeord_register_console_sections(self, register: Callable[[ConsoleSection], None]) -> None:
        async def page(request: Request) -> Response:
            return PlainTextResponse("every's console page")

        register(ConsoleSection("every", "Allt", [Route("/", page)]))

    @hookimpl
    def kodeord_register_reports(self, register: Callable[[TableReport], None]) -> None:
        columns = [Column("who", "Vem", ColumnKind.PHONE)]
        register(TableReport("every.friends", "Vänner", columns, lambda host, tenant, period: [("+46701111111",)]))

    @hookimpl
    def kodeord_live_series(self, platform: PluginHost, service: Service) -> list[LiveSeries] | None:
        return [LiveSeries("every:hits", "Träffar", 7)] if service.key == "tv/mello" else None

    @hookimpl
    def kodeord_register_commands(self, cli: click.Group) -> None:
        @cli.command("every-hello")
        def every_hello() -> None:
            click.echo("hello from every")

    @hookimpl
    def kodeord_register_settings(self, register: Callable[[Setting], None]) -> None:
        register(Setting("every_level", int, 3, "how much"))

    @hookimpl
    def kodeord_startup(self, platform: PluginHost) -> None:
        self.started.append(platform)

    @hookimpl
    def kodeord_housekeeping(self, platform: PluginHost) -> None:
        self.housekept.append(platform)


EVERY_RULES = TV_RULES.replace(
    "      - name: writers\n        when: {role: writer}",
    '      - name: echo\n        when: {role: functionary}\n        do: every.echo\n        reply: "eko {{ echo }}"\n'
    "      - name: writers\n        when: {role: writer}",
)


def test_every_hook_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    assert [h for h in HOOKS if f"### {h}" not in text] == []


def test_every_hook_has_a_docstring_saying_what_none_means() -> None:
    for name in HOOKS:
        doc = getattr(hookspecs, name).__doc__ or ""
        assert "Return" in doc, name


def test_every_hook_takes_effect(
    make_platform: Callable[..., Platform],
    make_inbound: Callable[..., Inbound],
    serve: Callable[[Any], str],
) -> None:
    plugin = EveryHook()
    assert sorted(n for n in dir(plugin) if n.startswith("kodeord_")) == sorted(set(HOOKS) - OLDER)
    platform = make_platform(EVERY_RULES, plugins=[plugin], environ={"KODEORD_EVERY_LEVEL": "7"})
    assert plugin.started == [platform]  # startup
    assert platform.settings.every_level == 7  # register_settings
    assert platform.gateway_types["null"] is NULL_TYPE  # register_gateway_types
    outcome = platform.handle(make_inbound("MELLO hej", sender="+46708888888"))  # sender_role
    assert (outcome.rule, outcome.action) == ("echo", "every.echo")  # register_actions, run by its ActionSpec
    assert [r["text"] for r in outcome.replies] == ["eko hej /Every"]  # prepare_outgoing
    assert outcome.vetoed == [{"to": "+46709999999", "reason": "no secrets", "plugin": "every"}]  # vet_outgoing
    gateway = RecordingGateway()
    sender = Sender(platform, gateway=gateway)
    sender.page = 2  # two pages of friends
    while sender.run_once():
        pass
    to_all = sorted(m.to for m in gateway.sent if m.text == "to all")  # register_fanout_sources
    assert to_all == ["+46701111111", "+46702222222"]  # vet_outgoing_batch stopped the foe
    url = serve(create_app(platform))
    assert httpx.get(f"{url}/every/hello").text == "hello from every"  # register_routes
    assert httpx.get(f"{url}/console/every/").text == "every's console page"  # register_console_sections
    key = apikeys.create(platform.redis, "tv", "every")
    friends = httpx.get(f"{url}/api/reports/every.friends", headers={"Authorization": f"Bearer {key}"})
    assert friends.json() == [{"who": "+46701111111"}]  # register_reports
    service = platform.service("tv/mello")
    assert service is not None
    assert platform.hooks.live_series(platform, service) == [LiveSeries("every:hits", "Träffar", 7)]  # live_series
    cli = click.Group()
    platform.hooks.register_commands(cli)  # register_commands
    assert CliRunner().invoke(cli, ["every-hello"]).output == "hello from every\n"
    Dispatcher(platform).check_alerts()  # what each sender worker does every 10 seconds
    assert plugin.housekept == [platform]  # housekeeping
    offer = [Outbound(to, "72500", "Erbjudande", kind=Kind.MARKETING) for to in ("+46701111111", "+46702222222")]
    assert platform.hooks.marketing_consent(offer, platform.redis) == {0: True, 1: False}  # marketing_consent
    forbidden = EVERY_RULES.replace("  - id: mello\n", "  - id: forbidden\n")
    with pytest.raises(RuleFileError, match="every: no service may be called forbidden"):  # check_service
        make_platform(forbidden, plugins=[EveryHook()])


def test_action_named_by_two_plugins_is_an_error() -> None:
    class Twin:
        @hookimpl
        def kodeord_register_actions(self, register: Callable[[ActionSpec], None]) -> None:
            register(ActionSpec("core.reply", "again", run=lambda call: Effects()))

    with pytest.raises(PluginError, match="'core.reply' is declared by two plugins"):
        Hooks(make_manager([Twin()])).actions()


def test_plugin_writing_outside_its_keys_is_refused(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., Inbound]
) -> None:
    def write_elsewhere(call: ActionCall) -> Effects:
        return Effects(writes=[Write("SET", Keys.for_service("other/svc").key_for("x"), ("1",))])

    class Rogue:
        @hookimpl
        def kodeord_register_actions(self, register: Callable[[ActionSpec], None]) -> None:
            register(ActionSpec("rogue.write", "write elsewhere", run=write_elsewhere))

    rules = TV_RULES.replace('reply: "Tack för rösten på {{ args }}"', "do: rogue.write")
    platform = make_platform(rules, plugins=[Rogue()])
    with pytest.raises(PluginError, match="wrote outside its service's keys"):
        platform.handle(make_inbound("MELLO 03"))
    assert platform.redis.dbsize() == 0


class OlderStyle:
    """A plugin written to the guide before actions were declared with their function: it matches names."""

    @hookimpl
    def kodeord_register_actions(self, register: Callable[[ActionSpec], None]) -> None:
        register(ActionSpec("older.echo", "echo", provides=("echo",)))

    @hookimpl
    def kodeord_run_action(self, call: ActionCall) -> Effects | None:
        if call.action != "older.echo":
            return None
        to_all = Outbound(to="", sender=call.inbound.recipient, text="to all", kind=Kind.BROADCAST)
        fanout = Fanout(f"older:{call.inbound.message_id}", "older", {}, to_all)
        return Effects(vars={"echo": call.args}, fanouts=[fanout])

    @hookimpl
    def kodeord_fanout_page(
        self, fanout: Fanout, after: str, limit: int, redis: redis.Redis, links: Links
    ) -> FanoutPage | None:
        return friends(fanout, after, limit, redis, links) if fanout.source == "older" else None


def test_a_plugin_written_to_the_older_guide_still_runs_and_is_told_what_to_change(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., Inbound]
) -> None:
    rules = EVERY_RULES.replace("do: every.echo", "do: older.echo")
    with pytest.warns(
        DeprecationWarning, match=r"'older.echo' .* declare it as ActionSpec\(\.\.\., run=<your function>\)"
    ):
        platform = make_platform(rules, plugins=[OlderStyle(), EveryHook()])
    outcome = platform.handle(make_inbound("MELLO hej", sender="+46708888888"))
    assert (outcome.action, outcome.replies[0]["text"]) == ("older.echo", "eko hej /Every")
    gateway = RecordingGateway()
    sender = Sender(platform, gateway=gateway)
    with pytest.warns(DeprecationWarning, match=r"'older' .* register FanoutSource\(name, page\)"):
        while sender.run_once():
            pass
    assert sorted(m.to for m in gateway.sent if m.text == "to all") == ["+46701111111", "+46702222222"]


def test_a_gateway_type_named_by_two_plugins_is_an_error() -> None:
    class Twin:
        @hookimpl
        def kodeord_register_gateway_types(self, register: Callable[[GatewayType], None]) -> None:
            register(GatewayType("kannel", NULL_TYPE.options, NULL_TYPE.build))

    with pytest.raises(PluginError, match="gateway type 'kannel' is registered by two plugins"):
        Hooks(make_manager([Twin()])).gateway_types()


def test_a_fanout_source_named_by_two_plugins_is_an_error(kodeord_redis: redis.Redis) -> None:
    class Twin:
        @hookimpl
        def kodeord_register_fanout_sources(self, register: Callable[[FanoutSource], None]) -> None:
            register(FanoutSource("addressbook", friends))

    with pytest.raises(PluginError, match="fan-out source 'addressbook' is registered by two plugins"):
        Hooks(make_manager([Twin()])).prepare()
    with pytest.raises(PluginError, match="fan-out source 'addressbook' is registered by two plugins"):
        Platform(plugins=[Twin()], redis_client=kodeord_redis, rule_paths=())  # at start-up, not at a broadcast


def test_blocked_plugins_are_not_loaded() -> None:
    settings = Settings(environ={"KODEORD_DISABLE_PLUGINS": "voting, coupon"})
    names = Hooks(make_manager(blocked=settings.disable_plugins)).plugin_names()
    assert "voting" not in names and "coupon" not in names
    assert {"core", "donation", "addressbook", "nix", "erb"} <= set(names)


def test_core_cannot_be_blocked() -> None:
    assert "core" in Hooks(make_manager(blocked=["core"])).plugin_names()


def test_builtin_plugins_are_registered() -> None:
    names = Hooks(make_manager()).plugin_names()
    assert {"core", "voting", "donation", "addressbook", "nix", "erb"} <= set(names)
    for name in ("voting", "donation", "addressbook", "nix", "erb"):
        module = __import__(f"kodeord.plugins.{name}", fromlist=["x"])
        assert module.__doc__ and len(module.__doc__) > 80


def test_partner_plugin_is_found_through_its_entry_point() -> None:
    hooks = Hooks(make_manager())
    assert "coupon" in hooks.plugin_names()
    assert "coupon.claim" in hooks.actions()


def test_partner_action_with_missing_parameter_is_refused_at_load(make_platform: Callable[..., Platform]) -> None:
    rules = TV_RULES.replace('reply: "Tack för rösten på {{ args }}"', "do: coupon.claim")
    with pytest.raises(Exception, match=re.escape("action 'coupon.claim' needs parameter 'prefix'")):
        make_platform(rules)


class BrokenHousekeeping:
    @hookimpl
    def kodeord_housekeeping(self, platform: PluginHost) -> None:
        raise RuntimeError("broken plugin")


def test_a_failing_housekeeping_is_logged_and_does_not_stop_the_dispatcher(
    make_platform: Callable[..., Platform], caplog: pytest.LogCaptureFixture
) -> None:
    platform = make_platform(TV_RULES, plugins=[BrokenHousekeeping()])
    Dispatcher(platform).check_alerts()
    assert "a plugin's housekeeping failed" in caplog.text and "broken plugin" in caplog.text


def test_the_plugin_guide_shows_the_partner_plugin_as_it_is() -> None:
    root = Path(__file__).parents[1]
    guide = (root / "docs" / "plugins.md").read_text(encoding="utf-8")
    example = root / "examples" / "partner-plugin"
    blocks = re.findall(r"```(?:toml|python)\n(.*?)```", guide, flags=re.S)
    assert (example / "pyproject.toml").read_text(encoding="utf-8") in blocks
    test_source = (example / "tests" / "test_coupon.py").read_text(encoding="utf-8")
    [shown] = [b for b in blocks if "def test_each_number_gets_one_stable_code" in b]
    assert shown.strip() in test_source
