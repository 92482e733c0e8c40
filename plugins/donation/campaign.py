"""A donation rule's settings: the ``with:`` of ``donation.give``, checked at load.

The amount is not a parameter: it is the rule's ``price:``, the premium price the thank-you reply
(the rule's ``reply:``) is charged at, so what is counted is exactly what the donor pays.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from kodeord.config.model import Rule, Service
from kodeord.decide.actions import Param
from kodeord.support.errors import RequestError

ACTION = "donation.give"
CAMPAIGN_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Variables the rule's reply (the thank-you) may use.
VARIABLES = frozenset({"amount", "campaign"})
HUNDREDTH = Decimal("0.01")


class DonationError(RequestError):
    """A report that cannot be made as asked (a bad date, say); ``http_status`` says how the API answers."""


def _campaign_id(value: str) -> str | None:
    if CAMPAIGN_ID.fullmatch(value):
        return None
    return f"a campaign id is 1-64 letters, digits, '-' and '_', got {value!r}"


def percent(value: float | int) -> Decimal:
    """A rule's ``payout_percent`` as an exact Decimal (``62.5`` is 62.5, not its binary neighbour)."""
    return Decimal(str(value))


def _payout(value: float) -> str | None:
    share = percent(value)
    if not share.is_finite() or not 0 <= share <= 100:
        return f"the payout is a percent from 0 to 100, got {value!r}"
    if share != share.quantize(HUNDREDTH):
        return f"the payout is given in hundredths of a percent at most, got {value!r}"
    return None


PAYOUT_DOC = (
    "the share of the gross owed to the customer, after the operators' and aggregator's fees agreed outside "
    "Kodeord (0-100, default 100)"
)
PARAMS = (
    Param("campaign", str, doc="the campaign donations count for (default: the service id)", validate=_campaign_id),
    Param("name", str, doc="the campaign's name in reports (default: the campaign id)"),
    Param("payout_percent", float, default=100, doc=PAYOUT_DOC, validate=_payout),
)


@dataclass(frozen=True)
class Campaign:
    """What one ``donation.give`` rule counts donations for."""

    id: str
    name: str
    payout_percent: Decimal  # e.g. Decimal("85"), Decimal("62.5")


def of(service: Service, params: Mapping[str, Any]) -> Campaign:
    """The campaign of a ``donation.give`` rule of ``service`` (from its checked parameters)."""
    campaign_id = params.get("campaign") or service.id
    payout = params.get("payout_percent")
    return Campaign(
        id=campaign_id,
        name=params.get("name") or campaign_id,
        payout_percent=percent(100 if payout is None else payout),
    )


def donation_rules(service: Service) -> list[Rule]:
    """The rules of ``service`` that take donations."""
    return [rule for rule in service.rules if rule.action == ACTION]


def check_rule(rule: Rule, service: Service) -> list[str]:
    """A price (the amount) and a reply (the charged thank-you); SMS only; one campaign, one payout."""
    problems: list[str] = []
    if rule.price is None:
        problems.append("donation.give needs price: (the amount, 0.80-9.90 SEK on a Swedish number)")
    if rule.reply is None:
        problems.append("donation.give needs reply: (the thank-you message, which carries the charge)")
    if service.calls or "@" in service.number:
        problems.append("donation.give takes SMS only; a donation service cannot have calls: or an email address")
    if problems:
        return problems
    rules = donation_rules(service)
    earlier = rules[: rules.index(rule)] if rule in rules else []
    try:
        mine = of(service, rule.params)
        theirs = [(other.name, of(service, other.params)) for other in earlier]
    except (ArithmeticError, TypeError, ValueError):
        return problems  # a bad parameter, reported by its own check
    for other_name, other in theirs:
        if other.id == mine.id and (other.name, other.payout_percent) != (mine.name, mine.payout_percent):
            problems.append(
                f"campaign {mine.id!r} has another name or payout_percent in rule {other_name!r}; give them the same"
            )
            break
    return problems
