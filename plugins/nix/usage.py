"""Checked numbers counted per tenant and month (NIX-8: the register's checks are priced per checked number).

Every number a tenant checks counts, whatever the answer: a single check counts one, a wash of 1,000 rows
counts 1,000. Months are the tenant's own (its time zone). One hash per tenant, month to count.
"""

from __future__ import annotations

from datetime import UTC, datetime
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
