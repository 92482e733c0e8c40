"""Traffic counts per service, per second and per hour, written in the same commit as what they count.

A message's commit adds 1 to ``in:<channel>`` (``in:sms``, ``in:call``, ``in:email``); recording that a gateway
took a message adds to ``sent`` (or ``failed``), a delivery report to ``delivered`` (or ``failed``); a counted
vote adds ``vote:<code>``. So the live graph, the reports and the results can never disagree: each count moves
in the same Redis script as the thing it counts.

Keys (in the service's hash tag, so a cluster keeps them in the commit's slot):

- ``kodeord:{s:tenant/service}:live:<minute>``: hash ``<second>|<metric>`` -> count, for the minute since the
  epoch; kept for ``SECONDS_KEPT_S`` (the live graph's history);
- ``kodeord:{s:tenant/service}:traffic:<YYYY-MM-DD>``: hash ``<HH>|<metric>`` -> count, the UTC day and hour;
  kept (the reports' source).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis

from kodeord.commit.effects import Write
from kodeord.commit.keys import Keys

SECONDS_KEPT_S = 3600  # per-second counts are for the live graph; the hourly ones are kept
TRAFFIC = ("in:sms", "in:call", "in:email", "sent", "delivered", "failed")  # what every service counts


@dataclass(frozen=True)
class LiveSeries:
    """A line of a service's live graph besides its traffic: ``metric`` (counted per second with
    :meth:`At.writes`, e.g. ``vote:01``), its ``label`` and its ``total`` now (the result it adds up to)."""

    metric: str
    label: str
    total: int


def minute_key(keys: Keys, minute: int) -> str:
    """Hash ``<second>|<metric>`` -> count of ``keys``'s scope in ``minute`` (minutes since the epoch)."""
    return keys.key_for("live", str(minute))


def day_key(keys: Keys, day: str) -> str:
    """Hash ``<HH>|<metric>`` -> count of ``keys``'s scope in the UTC day ``day`` (``YYYY-MM-DD``)."""
    return keys.key_for("traffic", day)


class At:
    """Where counts made at ``now`` (seconds since the epoch) go: the keys and fields of that second and hour."""

    def __init__(self, keys: Keys, now: float) -> None:
        minute, second = divmod(int(now), 60)
        moment = datetime.fromtimestamp(int(now), UTC)
        self.minute_key = minute_key(keys, minute)
        self.day_key = day_key(keys, moment.date().isoformat())
        self.second = str(second)
        self.hour = f"{moment.hour:02d}"

    def script_keys(self) -> list[str]:
        """The two keys, as a script that counts takes them."""
        return [self.minute_key, self.day_key]

    def script_args(self) -> list[Any]:
        """The second, the hour and how long the second's counts are kept, as a script that counts takes them."""
        return [self.second, self.hour, SECONDS_KEPT_S]

    def writes(self, metric: str, by: int = 1, hourly: bool = True) -> list[Write]:
        """Writes that count ``by`` of ``metric`` (for an action's effects or the core's own)."""
        found = [
            Write("HINCRBY", self.minute_key, (f"{self.second}|{metric}", by)),
            Write("EXPIRE", self.minute_key, (SECONDS_KEPT_S,)),
        ]
        if hourly:
            found.append(Write("HINCRBY", self.day_key, (f"{self.hour}|{metric}", by)))
        return found


def seconds(client: redis.Redis, services: Sequence[str], first: int, last: int) -> dict[int, dict[str, int]]:
    """Per second from ``first`` to ``last`` (seconds since the epoch, both included) the counts of ``services``
    added together: ``{second: {metric: count}}``, seconds without traffic left out."""
    minutes = range(first // 60, last // 60 + 1)
    pipe = client.pipeline(transaction=False)
    for service in services:
        for minute in minutes:
            pipe.hgetall(minute_key(Keys.for_service(service), minute))
    found: dict[int, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for n, raw in enumerate(pipe.execute()):
        minute = minutes[n % len(minutes)]
        for name, count in raw.items():
            second, _, metric = name.decode().partition("|")
            at = minute * 60 + int(second)
            if first <= at <= last:
                found[at][metric] += int(count)
    return {at: dict(counts) for at, counts in found.items()}


def days(client: redis.Redis, services: Iterable[str], day_list: Sequence[str]) -> dict[str, dict[str, int]]:
    """Per service the hourly counts of the UTC days ``day_list``: ``{service: {"<YYYY-MM-DD>T<HH>|<metric>":
    count}}``."""
    wanted = list(services)
    pipe = client.pipeline(transaction=False)
    for service in wanted:
        for day in day_list:
            pipe.hgetall(day_key(Keys.for_service(service), day))
    results = iter(pipe.execute())
    found: dict[str, dict[str, int]] = {}
    for service in wanted:
        counts: dict[str, int] = {}
        for day in day_list:
            for name, count in next(results).items():
                counts[f"{day}T{name.decode()}"] = int(count)
        found[service] = counts
    return found
