"""Televoting and competitions (MA-1 to MA-6).

Polls with options reachable by vote code on a shared short code or by their own premium voice number,
opening and closing times, per-sender caps that hold exactly under concurrency, live counts per option and
minute, traffic distribution of calls to a studio, the "hot button", burst alerts, and competitions with
fair, verifiable winner draws. The console's section ``/console/voting`` and the reports ``voting.results``
and ``voting.draws`` show them to people. See docs/televoting.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kodeord.decide.actions import ActionSpec
from kodeord.hookspecs import hookimpl

from . import competition, poll
from .vote import Vote

if TYPE_CHECKING:
    import click
    from starlette.routing import BaseRoute

    from kodeord.config.model import Service
    from kodeord.platform import PluginHost
    from kodeord.watch.live import LiveSeries
    from kodeord.web.console.sections import ConsoleSection
    from kodeord.web.reports import Report

VOTE = ActionSpec(
    poll.ACTION,
    "A vote in a poll: the text after the keyword (or the call's number) names the option",
    poll.PARAMS,
    provides=tuple(sorted(poll.VARIABLES)),
    check_rule=poll.check_rule,
    run=lambda call: Vote(call).run(),
)

ENTER = ActionSpec(
    competition.ACTION,
    "A competition answer: the first answer of each number is its entry",
    competition.PARAMS,
    provides=tuple(sorted(competition.VARIABLES)),
    check_rule=competition.check_rule,
    run=competition.enter,
    tags=("competition",),
)


@hookimpl
def kodeord_register_actions(register: Callable[[ActionSpec], None]) -> None:
    """``voting.vote`` and ``voting.enter``."""
    register(VOTE)
    register(ENTER)


@hookimpl
def kodeord_housekeeping(platform: PluginHost) -> None:
    """Burst alerts of every poll."""
    from . import burst

    burst.check(platform)


@hookimpl
def kodeord_register_routes(register: Callable[[BaseRoute], None]) -> None:
    """The JSON API under /api/voting/."""
    from . import api

    for route in api.routes():
        register(route)


@hookimpl
def kodeord_register_console_sections(register: Callable[[ConsoleSection], None]) -> None:
    """Polls and competitions at /console/voting, for tenants that have them."""
    from kodeord.web.console.i18n import N_
    from kodeord.web.console.sections import ConsoleSection

    from . import console
    from .admin import has_voting

    register(ConsoleSection("voting", N_("Omröstningar"), console.routes(), package=__package__, shown=has_voting))


@hookimpl
def kodeord_register_reports(register: Callable[[Report], None]) -> None:
    """``voting.results`` and ``voting.draws``."""
    from .reports import DRAWS, RESULTS

    register(RESULTS)
    register(DRAWS)


@hookimpl
def kodeord_register_commands(cli: click.Group) -> None:
    """``kodeord polls ...`` and ``kodeord competitions ...``."""
    from .cli import competitions, polls

    cli.add_command(polls)
    cli.add_command(competitions)


@hookimpl
def kodeord_live_series(platform: PluginHost, service: Service) -> list[LiveSeries] | None:
    """A poll's votes per option in the console's live graph."""
    from .livegraph import series

    return series(platform, service)
