"""Every hook a Kodeord plugin can implement.

Hook names carry the ``kodeord_`` prefix. Each docstring says what the hook
receives, what to return, and what returning ``None`` means. Hooks that
decide or veto are ``firstresult``: the first non-``None`` answer wins.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

import pluggy

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

PROJECT = "kodeord"
_hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@_hookspec
def kodeord_register_actions(register: Callable[[ActionSpec], None]) -> None:
    """Declare the actions rule files may name in ``do:``.

    Call ``register(ActionSpec(...))`` once per action; names are
    ``plugin.verb`` (``addressbook.join``). Rule files naming an unknown
    action, or giving an action parameters it does not declare, are refused
    at load time. Return nothing.
    """


@_hookspec
def kodeord_check_service(check: ServiceCheck) -> None:
    """Check a whole service when rule files load (``kodeord rules check`` and every reload).

    ``check.service`` is the service, with ``check.tenant``, ``check.number`` and ``check.config`` (everything
    the files declare) and ``check.actions``. Report each fault with ``check.problem(message, *path)`` at a
    path inside the service's declaration (``"marketing", 0, "text"``) or ``check.tenant_problem(message,
    *path)`` inside its tenant's (``"company", "hours"``): the files are refused, each fault printed as
    ``FILE:LINE:COL: message``. Every plugin is asked. Return nothing.
    """


@_hookspec(firstresult=True)
def kodeord_run_action(call: ActionCall) -> Effects | None:
    """The older way to run an action, for one declared without ``ActionSpec(run=...)``; it warns.

    Return ``Effects`` when ``call.action`` is yours and ``None`` when it is not; better, declare the
    action with the function that runs it (``ActionSpec(..., run=f)``, where ``f(call)`` returns the
    ``Effects``), so that no plugin compares action names by hand, and drop this hook.
    """


@_hookspec(firstresult=True)
def kodeord_sender_role(service: Service, sender: str, redis: redis.Redis) -> str | None:
    """The sender's role in ``service``: member, writer, functionary or stranger.

    Return ``None`` when you do not know this service's members; the core's
    default then answers ``stranger``.
    """


@_hookspec(firstresult=True)
def kodeord_vet_outgoing(message: Outbound, redis: redis.Redis, host: PluginHost) -> Veto | None:
    """Refuse an outgoing message, checked when it is queued and again right before it is handed to a gateway.

    ``host`` is the running platform (its services, settings, tenants); take only the arguments you use.

    Return ``Veto(reason)`` to stop it (it is recorded, not sent). Return
    ``None`` to let it pass to the next plugin's check. A change that makes
    you refuse messages to an address holds from its acknowledgement on if
    you commit it and then call ``kodeord.commit.handover.settle`` for the address
    before acknowledging it (an action sets ``Effects.settle`` instead).
    """


@_hookspec
def kodeord_vet_outgoing_batch(
    messages: Sequence[Outbound], redis: redis.Redis, host: PluginHost
) -> Mapping[int, Veto] | None:
    """Refuse some of ``messages`` at once, checked when they are queued and again when they are sent.

    The batch form of ``kodeord_vet_outgoing``, for checks that read Redis: one pipelined round trip for a
    whole batch of a broadcast instead of one per message. Return ``{index: Veto(reason)}`` for the messages
    you refuse (indexes into ``messages``), or ``None``/``{}`` to let them all pass. Every plugin is asked;
    a message is stopped by the first veto. At send time ``messages`` is a small group about to be handed
    over; see ``kodeord_vet_outgoing`` for making a change to what you refuse hold from its acknowledgement.
    """


@_hookspec
def kodeord_marketing_consent(messages: Sequence[Outbound], redis: redis.Redis) -> Mapping[int, bool] | None:
    """Say which recipients of marketing ``messages`` agreed beforehand to get them (Swedish law: marketing by
    SMS or email needs prior consent), as your records show it.

    Return ``{index: True}`` for a message whose recipient has a recorded consent you keep (a list member who
    joined or was added with a note), ``{index: False}`` for one you know has none, and leave out the messages
    that are not yours; ``None``/``{}`` when none is. Every plugin is asked; a message any plugin answers True
    for has consent. The erb plugin stops marketing that none does.
    """


@_hookspec
def kodeord_register_fanout_sources(register: Callable[[FanoutSource], None]) -> None:
    """Declare where your broadcasts find their recipients: ``register(FanoutSource(name, page))``.

    A ``Fanout`` you start with ``source=name`` is paged by ``page(fanout, after, limit, redis, links)``:
    return ``FanoutPage(recipients, after)``, at most ``limit`` recipients that come after the cursor
    ``after`` ("" at the start) in a stable order, and the cursor to continue from, or ``None`` as cursor
    when this was the last page. ``links`` makes signed links (a leave link for each recipient's message).
    A name registered twice is an error. Return nothing.
    """


@_hookspec(firstresult=True)
def kodeord_fanout_page(fanout: Fanout, after: str, limit: int, redis: redis.Redis, links: Links) -> FanoutPage | None:
    """The older way to page a broadcast, for a ``fanout.source`` no ``FanoutSource`` names; it warns.

    Return the page as a source's ``page`` would when the fan-out is yours, and ``None`` when it is not;
    better, register a ``FanoutSource`` (``kodeord_register_fanout_sources``) and drop this hook.
    """


@_hookspec(firstresult=True)
def kodeord_prepare_outgoing(message: Outbound) -> Outbound | None:
    """Change an outgoing message before it is queued (e.g. add a footer).

    Return a changed copy (``message.with_text(...)``) to replace it, or
    ``None`` to leave it as it is. The first plugin to return a message wins.
    """


@_hookspec
def kodeord_register_gateway_types(register: Callable[[GatewayType], None]) -> None:
    """Declare kinds of SMS gateway the gateways file may configure: ``register(GatewayType(...))``.

    A type has a name (``type:`` in the file), its options as a schema record, a ``build`` function
    that makes a gateway from checked options, and its webhook endpoints, served at
    ``/gateways/<gateway id>/<sub-path>``. Return nothing.
    """


@_hookspec
def kodeord_register_routes(register: Callable[[BaseRoute], None]) -> None:
    """Add web routes (webhooks, console pages, API endpoints): ``register(Route(...))``.

    Put every route under ``/<plugin name>/`` or ``/api/<plugin name>/``.
    Return nothing.
    """


@_hookspec
def kodeord_register_console_sections(register: Callable[[ConsoleSection], None]) -> None:
    """Add pages to the customer console: ``register(ConsoleSection(name, title, routes, package, shown))``.

    The routes are served under ``/console/<name>`` and the menu shows ``title`` to the tenants for whom
    ``shown(host, tenant)`` is true; the pages' templates are ``<package>/templates/`` (named
    ``<name>/<file>``, extending ``base.html``) and their English ``<package>/locale/en.po``. Every handler
    checks the session (``kodeord.web.console.pages.signed_in``) and shows only its tenant's data.
    See ``kodeord.web.console.sections``. Return nothing.
    """


@_hookspec
def kodeord_register_reports(register: Callable[[Report], None]) -> None:
    """Add reports to the console and the API: ``register(Report(name, title, columns, rows, ...))``.

    A report is a table of a tenant's data over a date range, shown at ``/console/reports/<name>`` and at
    ``/api/reports/<name>``, and downloaded as xlsx, CSV or JSON. See ``kodeord.web.reports``.
    Return nothing.
    """


@_hookspec
def kodeord_live_series(platform: PluginHost, service: Service) -> Sequence[LiveSeries] | None:
    """What the console's live graph of ``service`` draws besides its traffic: ``LiveSeries(metric, label,
    total)``, one per line (a poll's options: metric ``vote:<code>``, counted per second in the commit with
    ``kodeord.watch.live.At.writes``), each with its total read now from the plugin's own result, so the
    totals beside the graph are the result. Return None for a service that is not yours. Called about
    once a second while someone watches: keep it to one round trip.
    """


@_hookspec
def kodeord_register_commands(cli: click.Group) -> None:
    """Add ``kodeord`` sub-commands: decorate functions with ``@cli.command()``. Return nothing."""


@_hookspec
def kodeord_register_settings(register: Callable[[Setting], None]) -> None:
    """Declare your settings: ``register(Setting(name, type, default, description))``.

    Each is read from the environment as ``KODEORD_<NAME>`` (upper case) and
    shown by ``kodeord settings``. Return nothing.
    """


@_hookspec
def kodeord_startup(platform: PluginHost) -> None:
    """Called once when a platform has loaded its plugins and rules (``platform``: what a plugin may use of
    it, see ``kodeord.PluginHost``). Return nothing."""


@_hookspec
def kodeord_housekeeping(platform: PluginHost) -> None:
    """Periodic checks over recent state, such as a poll's burst alerts. Return nothing.

    Called by every sender worker's dispatcher about every 10 seconds (so several workers may run it at
    once: make it idempotent, e.g. raise alerts through ``platform.raise_alert``, which sends each cause
    at most once per interval), and by ``Platform.housekeeping()``. Keep it to a few round trips: it runs
    beside the sending.
    """
