"""Where donations are counted in Redis, and reading the counts back.

Every key is in the donation service's scope (one hash tag), so a donation's counts are committed with
its thank-you reply and the message's dedupe mark (a gateway's retry counts once):

- ``totals``: hash; for each day (in the tenant's time zone), campaign, price, payout share and operator,
  ``DAY|CAMPAIGN|PRICE|PAYOUT|OPERATOR`` -> donations (their sum is the count times the price).
  PRICE is in öre (``990``), PAYOUT in hundredths of a percent (``8500`` is 85 %), the share in force when
  the donation came in. The operator (Kannel's smsc-id, else the gateway id) is last because it is the
  one free text; campaign ids have no ``|``.
- ``campaigns``: set of the campaign ids the service has counted donations for.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import redis

from kodeord.commit.keys import Keys

PLUGIN = "donation"


@dataclass(frozen=True)
class DonationKeys:
    """Key names of one donation service (its service scope, the plugin's sub-prefix)."""

    service: str  # tenant/service

    @property
    def base(self) -> Keys:
        """The service's donation key prefix."""
        return Keys.for_service(self.service).plugin(PLUGIN)

    @property
    def totals(self) -> str:
        """Donations and their sums per day, campaign, price, payout share and operator."""
        return self.base.key_for("totals")

    @property
    def campaigns(self) -> str:
        """Campaign ids counted in this service."""
        return self.base.key_for("campaigns")


@dataclass(frozen=True)
class Slot:
    """What one pair of counters is kept for."""

    day: str  # ISO date in the tenant's time zone
    campaign: str
    price_ore: int
    payout_bp: int  # hundredths of a percent
    operator: str

    def field(self) -> str:
        """The hash field of this slot's count."""
        return "|".join((self.day, self.campaign, str(self.price_ore), str(self.payout_bp), self.operator))

    @classmethod
    def parse(cls, field: str) -> Slot | None:
        """The slot of a hash field; None for a field this version does not know."""
        parts = field.split("|", 4)
        if len(parts) != 5 or not (parts[2].isdigit() and parts[3].isdigit()):
            return None
        day, campaign, price, payout, operator = parts
        return cls(day, campaign, int(price), int(payout), operator)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _counts(raw: Mapping[Any, Any]) -> dict[Slot, int]:
    counts: dict[Slot, int] = {}
    for field, value in raw.items():
        slot = Slot.parse(_text(field))
        if slot is not None:
            counts[slot] = counts.get(slot, 0) + int(value)
    return counts


def read(client: redis.Redis, services: Iterable[str]) -> tuple[dict[str, dict[Slot, int]], set[str]]:
    """Each service's donations per slot, and every campaign id they counted, read in one round trip."""
    names = list(services)
    pipe = client.pipeline(transaction=False)
    for name in names:
        keys = DonationKeys(name)
        pipe.hgetall(keys.totals)
        pipe.smembers(keys.campaigns)
    replies = pipe.execute()
    tallies = {name: _counts(replies[2 * n]) for n, name in enumerate(names)}
    seen = {_text(c) for n in range(len(names)) for c in replies[2 * n + 1]}
    return tallies, seen
