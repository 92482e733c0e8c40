"""Where donations are counted in Redis, and reading the counts back.

Every key is in the donation service's scope (one hash tag), so a donation's counts are committed with
its thank-you reply and the message's dedupe mark (a gateway's retry counts once):

- ``totals``: hash; for each day (in the tenant's time zone), campaign, price, payout share and operator,
  two fields: ``n|DAY|CAMPAIGN|PRICE|PAYOUT|OPERATOR`` -> donations, and ``ore|...`` -> their sum in öre.
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

from kodeord.keys import Keys

PLUGIN = "donation"
COUNT, AMOUNT = "n", "ore"


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

    def field(self, kind: str) -> str:
        """The hash field of this slot's count (``COUNT``) or sum in öre (``AMOUNT``)."""
        return "|".join((kind, self.day, self.campaign, str(self.price_ore), str(self.payout_bp), self.operator))

    @classmethod
    def parse(cls, field: str) -> tuple[str, Slot] | None:
        """(kind, slot) of a hash field; None for a field this version does not know."""
        parts = field.split("|", 5)
        if len(parts) != 6 or parts[0] not in (COUNT, AMOUNT) or not (parts[3].isdigit() and parts[4].isdigit()):
            return None
        kind, day, campaign, price, payout, operator = parts
        return kind, cls(day, campaign, int(price), int(payout), operator)


@dataclass(frozen=True)
class Tally:
    """Donations counted in one slot and their sum in öre."""

    count: int = 0
    ore: int = 0


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _tallies(raw: Mapping[Any, Any]) -> dict[Slot, Tally]:
    counts: dict[Slot, list[int]] = {}
    for field, value in raw.items():
        parsed = Slot.parse(_text(field))
        if parsed is None:
            continue
        kind, slot = parsed
        counts.setdefault(slot, [0, 0])[1 if kind == AMOUNT else 0] += int(value)
    return {slot: Tally(count, ore) for slot, (count, ore) in counts.items()}


def read(client: redis.Redis, services: Iterable[str]) -> tuple[dict[str, dict[Slot, Tally]], set[str]]:
    """Each service's tallies, and every campaign id they counted, read in one round trip."""
    names = list(services)
    pipe = client.pipeline(transaction=False)
    for name in names:
        keys = DonationKeys(name)
        pipe.hgetall(keys.totals)
        pipe.smembers(keys.campaigns)
    replies = pipe.execute()
    tallies = {name: _tallies(replies[2 * n]) for n, name in enumerate(names)}
    seen = {_text(c) for n in range(len(names)) for c in replies[2 * n + 1]}
    return tallies, seen
