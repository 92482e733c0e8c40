"""An alert when a register's newest version is too old: checks against it may let through numbers registered
since, and a clear answer holds only until the version's date plus the register's months.

Run from the housekeeping of every sender worker (about every 10 seconds): one round trip for all registers,
and ``raise_alert`` sends each cause at most once per alert interval. A register never imported raises nothing:
its checks fail outright instead.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from .register import RegisterKeys
from .spec import registers

if TYPE_CHECKING:
    from kodeord.platform import PluginHost


def cause(code: str) -> str:
    """The alert cause of register ``code`` being stale."""
    return f"nix-stale:{code}"


def check(host: PluginHost, today: date | None = None) -> list[str]:
    """Raise an alert for each register whose current version is older than ``nix_stale_days``; return the causes
    of those raised now (not those alerted on within the alert interval)."""
    today = today or datetime.now(ZoneInfo(host.settings.timezone)).date()
    limit: int = host.settings.nix_stale_days
    specs = list(registers(host.settings).values())
    pipe = host.redis.pipeline(transaction=False)
    for spec in specs:
        pipe.get(RegisterKeys(spec.code).current)
    raised = []
    for spec, current in zip(specs, pipe.execute(), strict=True):
        if current is None:
            continue
        version = date.fromisoformat((current.decode() if isinstance(current, bytes) else current).partition(".")[0])
        age = (today - version).days
        if age > limit:
            message = (
                f"{spec.name} ({spec.code}): the newest version is of {version}, {age} days old (the limit is "
                f"{limit}); import a new one with kodeord nix import"
            )
            if host.raise_alert(cause(spec.code), message, age, limit):
                raised.append(cause(spec.code))
    return raised
