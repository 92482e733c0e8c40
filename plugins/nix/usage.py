"""Checked numbers counted per tenant and month (NIX-8: the register's checks are priced per checked number).

Every number a tenant checks counts, whatever the answer: a single check counts one, a wash of 1,000 rows
counts 1,000 (its business rows are not checked and do not count). Months are the tenant's own (its time
zone). One hash per tenant, month to count. :func:`monthly` prices the months at the ``nix_price_ore`` setting
(öre per checked number): the price now, for every month shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from kodeord.commit.keys import Keys

if TYPE_CHECKING:
    from kodeord.platform import PluginHost

PLUGIN = "nix"


def usage_key(tenant: str) -> str:
    """Hash of ``tenant``'s checked numbers by month ("2025-03"): ``kodeord:{t:<tenant>}:nix:usage``."""
    return Keys(f"t:{tenant}", PLUGIN).key_for("usage")


def month_of(host: PluginHost, tenant: str, moment: datetime | None = None) -> str:
    """The month ("2025-03") ``moment`` (now when None) falls in for ``tenant``."""
    known = host.tenant(tenant)
    zone = ZoneInfo(known.timezone if known is not None else host.settings.timezone)
    return (moment or datetime.now(UTC)).astimezone(zone).strftime("%Y-%m")


def count_usage(host: PluginHost, tenant: str, n: int, moment: datetime | None = None) -> None:
    """Count ``n`` numbers checked by ``tenant`` in the month of ``moment`` (now when None)."""
    if n < 0:
        raise ValueError(f"cannot count {n} checked numbers")
    if n:
        host.redis.hincrby(usage_key(tenant), month_of(host, tenant, moment), n)


def usage(host: PluginHost, tenant: str) -> dict[str, int]:
    """``tenant``'s checked numbers by month, oldest month first."""
    found = host.redis.hgetall(usage_key(tenant))
    months = {(k.decode() if isinstance(k, bytes) else str(k)): int(v) for k, v in found.items()}
    return dict(sorted(months.items()))


@dataclass(frozen=True)
class Month:
    """A month's usage: ``month`` ("2025-03"), the numbers ``checked``, the price of one in öre and the cost."""

    month: str
    checked: int
    price_ore: int

    @property
    def cost(self) -> Decimal:
        """What the month's checks cost, in kronor (SEK), to the öre."""
        return (Decimal(self.checked * self.price_ore) / 100).quantize(Decimal("0.01"))

    def to_dict(self) -> dict[str, str | int]:
        """The month as JSON-ready data (the cost as a string, exact)."""
        return {"month": self.month, "checked": self.checked, "price_ore": self.price_ore, "cost_sek": str(self.cost)}


def monthly(host: PluginHost, tenant: str, first: str = "", last: str = "") -> list[Month]:
    """``tenant``'s months with checks from ``first`` to ``last`` ("YYYY-MM", both included; "" for no
    bound), oldest first, priced at the ``nix_price_ore`` setting."""
    price = int(host.settings.nix_price_ore)
    return [
        Month(month, checked, price)
        for month, checked in usage(host, tenant).items()
        if (not first or month >= first) and (not last or month <= last)
    ]
