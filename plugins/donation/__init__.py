"""Premium-SMS donations (MA-7).

A donation is one SMS to a keyword on a short code, or to a dedicated number, whose rule names
``donation.give``. The amount is the rule's ``price:``, a premium price within 0.80-9.90 SEK on a Swedish
number, charged on the thank-you reply (the rule's ``reply:``). Each donation is counted per day (in the
tenant's time zone), campaign, operator and price, with the payout share in force, in the service's own
keys and in the same commit as the reply, so a gateway's retry counts once. Totals and a settlement report
(CSV or JSON) come from ``GET /api/donation/...`` and ``kodeord donations ...``, and as the reports
``donation.totals`` and ``donation.settlement`` in the console and ``/api/reports/``. See docs/televoting.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from kodeord.decide.actions import ActionSpec
from kodeord.hookspecs import hookimpl

from . import campaign
from .give import give

if TYPE_CHECKING:
    import click
    from starlette.routing import BaseRoute

    from kodeord.web.reports import Report

GIVE = ActionSpec(
    campaign.ACTION,
    "A donation of the rule's price: the thank-you reply is charged at it, and it is counted",
    campaign.PARAMS,
    provides=tuple(sorted(campaign.VARIABLES)),
    check_rule=campaign.check_rule,
    run=give,
)


@hookimpl
def kodeord_register_actions(register: Callable[[ActionSpec], None]) -> None:
    """``donation.give``."""
    register(GIVE)


@hookimpl
def kodeord_register_routes(register: Callable[[BaseRoute], None]) -> None:
    """The JSON API under /api/donation/."""
    from . import api

    for route in api.routes():
        register(route)


@hookimpl
def kodeord_register_reports(register: Callable[[Report], None]) -> None:
    """``donation.totals`` and ``donation.settlement`` (their titles' English in ``locale/en.po``)."""
    from kodeord.web.console import i18n

    from .reports import SETTLEMENT, TOTALS

    i18n.add_package(__package__)
    register(TOTALS)
    register(SETTLEMENT)


@hookimpl
def kodeord_register_commands(cli: click.Group) -> None:
    """``kodeord donations ...``."""
    from .cli import donations

    cli.add_command(donations)
