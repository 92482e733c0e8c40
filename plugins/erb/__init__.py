"""The ERB's rules for premium services (MA-9, CARD-4): vetted before anything goes out.

Rule files are checked as they load (:mod:`.services`): the company's details behind a premium service, its
marketing texts (prices next to premium numbers, the company named, a subscription's terms), STOPP, and a
subscription's texts and reconfirmation. ``kodeord erb check`` checks ads outside the rule files, including the
size of the price against the number in HTML and SVG. The rules and their ids are :mod:`.rules`; docs/erb.md
explains each.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING

from kodeord.hookspecs import hookimpl

if TYPE_CHECKING:
    import click
    from starlette.routing import BaseRoute

    from kodeord.config.servicecheck import ServiceCheck
    from kodeord.decide.actions import Veto
    from kodeord.inbound.messages import Outbound
    from kodeord.platform import PluginHost
    from kodeord.web.console.sections import ConsoleSection


@hookimpl
def kodeord_register_commands(cli: click.Group) -> None:
    """``kodeord erb check`` and ``kodeord erb report``."""
    from .cli import erb

    cli.add_command(erb)


@hookimpl
def kodeord_register_routes(register: Callable[[BaseRoute], None]) -> None:
    """``GET /api/erb/report``."""
    from . import api

    for route in api.routes():
        register(route)


@hookimpl
def kodeord_register_console_sections(register: Callable[[ConsoleSection], None]) -> None:
    """ERB-regler at /console/erb: where each service stands, and what the rules stopped."""
    from kodeord.web.console.i18n import N_
    from kodeord.web.console.sections import ConsoleSection

    from . import console

    register(ConsoleSection("erb", N_("ERB-regler"), console.routes(), package=__package__))


@hookimpl
def kodeord_check_service(check: ServiceCheck) -> None:
    """Refuse a service that breaks an ERB rule a machine can check."""
    from .services import check_service

    check_service(check)


@hookimpl
def kodeord_vet_outgoing_batch(messages: Sequence[Outbound], host: PluginHost) -> Mapping[int, Veto] | None:
    """Stop marketing that breaks a rule or goes to someone who did not agree to it."""
    from . import veto

    return veto.vet(messages, host)
