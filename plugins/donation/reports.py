"""The donation reports of the console and the API (``/api/reports/donation...``), over the period asked for.

Both are read from the settlement rows of :mod:`.report`, the same rows ``/api/donation/settlement`` gives:

- ``donation.totals``: per day and campaign, the donations, what donors paid and what is owed;
- ``donation.settlement``: the settlement rows themselves (day, campaign, operator, price, payout share).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import date
from decimal import Decimal
from itertools import groupby
from typing import TYPE_CHECKING, Any

from kodeord.web.console.i18n import N_
from kodeord.web.reports import Period, Report
from kodeord.web.tables import Column, Kind

from . import campaign, report

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

CENT = Decimal("0.01")


def has_campaigns(host: PluginHost, tenant: str) -> bool:
    """Whether ``tenant`` has a donation service."""
    return bool(host.services(tenant, campaign.ACTION))


def totals(host: PluginHost, tenant: str, period: Period) -> Iterator[Sequence[Any]]:
    """A row per day and campaign with donations in ``period``."""
    found, names = report.rows(host, tenant, period.first, period.last)  # rows come sorted by day, then campaign
    for (day, campaign_id), rows in groupby(found, key=lambda r: (r.day, r.campaign)):
        count, gross, owed = report.figures(rows)
        yield (
            date.fromisoformat(day),
            campaign_id,
            names.get(campaign_id, campaign_id),
            count,
            gross.quantize(CENT),
            owed,
        )


def settlement(host: PluginHost, tenant: str, period: Period) -> Iterator[Sequence[Any]]:
    """The settlement rows of ``period``."""
    found, names = report.rows(host, tenant, period.first, period.last)
    for row in found:
        yield (
            date.fromisoformat(row.day),
            row.campaign,
            names.get(row.campaign, row.campaign),
            row.operator,
            row.price.quantize(CENT),
            row.payout_percent,
            row.count,
            row.gross.quantize(CENT),
            row.owed,
        )


DAY = Column("day", N_("Dag"), Kind.DATE)
CAMPAIGN = Column("campaign", N_("Insamling"), Kind.TEXT, 20)
CAMPAIGN_NAME = Column("campaign_name", N_("Namn"), Kind.TEXT, 28)
COUNT = Column("count", N_("Gåvor"), Kind.INTEGER)
GROSS = Column("gross", N_("Belopp, kr"), Kind.DECIMAL)
OWED = Column("owed", N_("Att få, kr"), Kind.DECIMAL)

TOTALS = Report(
    "donation.totals",
    N_("Insamlingar: gåvor per dag"),
    (DAY, CAMPAIGN, CAMPAIGN_NAME, COUNT, GROSS, OWED),
    totals,
    N_("Gåvor och belopp per dag och insamling, och er andel enligt utbetalningsandelen."),
    has_campaigns,
)

SETTLEMENT = Report(
    "donation.settlement",
    N_("Insamlingar: avräkning"),
    (
        DAY,
        CAMPAIGN,
        CAMPAIGN_NAME,
        Column("operator", N_("Operatör"), Kind.TEXT, 14),
        Column("price", N_("Pris, kr"), Kind.DECIMAL),
        Column("payout_percent", N_("Utbetalningsandel (procent)"), Kind.DECIMAL),
        COUNT,
        GROSS,
        OWED,
    ),
    settlement,
    N_("Avräkningen att stämma av mot aggregatorn: en rad per dag, insamling, operatör, pris och utbetalningsandel."),
    has_campaigns,
)
