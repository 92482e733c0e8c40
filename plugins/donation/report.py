"""Donation totals and the settlement report of one tenant (for the API and the CLI).

Only the tenant's own services are read: those in the loaded rule files with a ``donation.give`` rule.
Amounts are exact (``Decimal``); a row's ``owed`` is its gross times the payout share in force when the
donations came in, rounded half up to whole öre, and every total is the sum of its rows' figures, so a
settlement adds up to the öre.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING, Any

from . import campaign as campaigns
from . import store
from .campaign import DonationError
from .give import BASIS, ORE

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

CURRENCY = "SEK"
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
CSV_COLUMNS = ("day", "campaign", "campaign_name", "operator", "price", "payout_percent", "count", "gross", "owed")


@dataclass(frozen=True)
class Row:
    """Donations of one day, campaign, operator, price and payout share."""

    day: str
    campaign: str
    operator: str
    price: Decimal
    payout_percent: Decimal
    count: int
    gross: Decimal

    @property
    def owed(self) -> Decimal:
        """The customer's share of the gross, rounded half up to öre."""
        return (self.gross * self.payout_percent / 100).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def parse_day(name: str, value: str | None) -> date | None:
    """The ISO date ``value`` of parameter ``name`` (None when absent); DonationError naming it otherwise."""
    if value is None or value == "":
        return None
    try:
        if DAY.fullmatch(value):
            return date.fromisoformat(value)
    except ValueError:
        pass
    raise DonationError(f"{name} must be a date such as 2026-11-23, got {value!r}")


def donation_services(platform: PluginHost, tenant: str) -> dict[str, list[campaigns.Campaign]]:
    """The tenant's services (``tenant/service``) that take donations, with their campaigns."""
    return {
        service.key: [campaigns.of(service, rule.params) for rule in rules]
        for service, rules in platform.services(tenant, campaigns.ACTION)
    }


def rows(
    platform: PluginHost, tenant: str, start: date | None = None, until: date | None = None
) -> tuple[list[Row], dict[str, str]]:
    """The tenant's donations in rows (from ``start`` to ``until``, both included), and campaign id -> name.

    The campaigns are those of the rule files and any other the services have counted, each named as in
    its first rule (else by its id).
    """
    services = donation_services(platform, tenant)
    tallies, seen = store.read(platform.redis, services)
    named: dict[str, str] = {}
    for found_campaigns in services.values():
        for campaign in found_campaigns:
            named.setdefault(campaign.id, campaign.name)
    names = {cid: named.get(cid, cid) for cid in sorted(seen | set(named))}
    low, high = (start.isoformat() if start else ""), (until.isoformat() if until else "9999")
    merged: dict[store.Slot, int] = {}
    for service_counts in tallies.values():
        for slot, count in service_counts.items():
            if low <= slot.day <= high:
                merged[slot] = merged.get(slot, 0) + count
    order = sorted(merged, key=lambda s: (s.day, s.campaign, s.operator, s.price_ore, s.payout_bp))
    found = [
        Row(
            s.day,
            s.campaign,
            s.operator,
            Decimal(s.price_ore) / ORE,
            Decimal(s.payout_bp) / BASIS,
            merged[s],
            Decimal(merged[s] * s.price_ore) / ORE,
        )
        for s in order
    ]
    return found, names


def money(value: Decimal) -> str:
    """An amount as the API shows it: ``"29.70"``."""
    return f"{value.quantize(Decimal('0.01')):f}"


def percent_text(value: Decimal) -> str:
    """A percent without trailing zeros: ``"85"``, ``"62.5"``."""
    return f"{value.normalize():f}"


def figures(found: Iterable[Row]) -> tuple[int, Decimal, Decimal]:
    """The donations, gross and owed of ``found`` added up (each row's owed already rounded)."""
    chosen = list(found)
    return (
        sum(r.count for r in chosen),
        sum((r.gross for r in chosen), Decimal(0)),
        sum((r.owed for r in chosen), Decimal(0)),
    )


def _sum(found: Iterable[Row]) -> dict[str, Any]:
    count, gross, owed = figures(found)
    return {"count": count, "gross": money(gross), "owed": money(owed)}


def _by(found: list[Row], name: str, keys: Iterable[str]) -> list[dict[str, Any]]:
    return [{name: key, **_sum(r for r in found if getattr(r, name) == key)} for key in keys]


def report(
    platform: PluginHost, tenant: str, start: date | None = None, until: date | None = None, with_rows: bool = True
) -> dict[str, Any]:
    """Totals per campaign, operator and day and in all; with ``with_rows`` the settlement rows too."""
    if start and until and start > until:
        raise DonationError(f"from ({start}) must not be after until ({until})")
    found, names = rows(platform, tenant, start, until)
    result: dict[str, Any] = {
        "tenant": tenant,
        "currency": CURRENCY,
        "from": start.isoformat() if start else None,
        "until": until.isoformat() if until else None,
        "total": _sum(found),
        "campaigns": [
            {"campaign": cid, "name": name, **_sum(r for r in found if r.campaign == cid)}
            for cid, name in names.items()
        ],
        "operators": _by(found, "operator", sorted({r.operator for r in found})),
        "days": _by(found, "day", sorted({r.day for r in found})),
    }
    if with_rows:
        result["rows"] = [row_dict(r, names) for r in found]
    return result


def row_dict(row: Row, names: dict[str, str]) -> dict[str, Any]:
    """One settlement row as JSON (amounts as strings, exact)."""
    return {
        "day": row.day,
        "campaign": row.campaign,
        "campaign_name": names.get(row.campaign, row.campaign),
        "operator": row.operator,
        "price": money(row.price),
        "payout_percent": percent_text(row.payout_percent),
        "count": row.count,
        "gross": money(row.gross),
        "owed": money(row.owed),
    }


def to_csv(result: dict[str, Any]) -> str:
    """The settlement rows as CSV with a header row (comma-separated, ``.`` decimals, CRLF line ends)."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS)
    writer.writeheader()
    writer.writerows(result["rows"])
    return out.getvalue()
