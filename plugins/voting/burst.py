"""Burst alerts: a number, or a number prefix, voting more than the poll allows a minute.

Each vote adds 1 to its number and its prefix in the minute's two sorted sets (written with the vote, in
every way the vote may end, so refused votes count as traffic too). Nothing is read while voting: the
sender workers' housekeeping (about every 10 seconds) asks Redis for the members above each poll's limits
in this minute and the last, and raises an alert for each, at most once per cause per alert interval.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from kodeord.commit.effects import Write

from .admin import services
from .poll import ACTION, Poll
from .poll import of as poll_of
from .store import RATE_TTL_S, PollKeys, keys_of, minute_of

if TYPE_CHECKING:
    from kodeord.platform import PluginHost


def writes(poll: Poll, sender: str, minute: int) -> list[Write]:
    """The rate counts of one vote from ``sender``."""
    if not sender.startswith("+"):
        return []
    keys = keys_of(poll.service)
    numbers, prefixes = keys.rate(minute, "number"), keys.rate(minute, "prefix")
    return [
        Write("ZINCRBY", numbers, (1, sender)),
        Write("EXPIRE", numbers, (RATE_TTL_S,)),
        Write("ZINCRBY", prefixes, (1, sender[1 : 1 + poll.burst_prefix])),
        Write("EXPIRE", prefixes, (RATE_TTL_S,)),
    ]


def check(platform: PluginHost, now: datetime | None = None) -> int:
    """Raise an alert for every number or prefix over its poll's limits; return how many were new."""
    minute = minute_of(now or datetime.now(UTC))
    polls = [poll_of(service, rule) for service, rule in _all_polls(platform)]
    if not polls:
        return 0
    pipe = platform.redis.pipeline(transaction=False)
    asked = []
    for poll in polls:
        keys = PollKeys(poll.service)
        for kind, limit in (("number", poll.burst_per_number), ("prefix", poll.burst_per_prefix)):
            for m in (minute - 1, minute):
                pipe.zrangebyscore(keys.rate(m, kind), f"({limit}", "+inf", withscores=True)
                asked.append((poll, kind, limit, m))
    raised = 0
    for (poll, kind, limit, m), found in zip(asked, pipe.execute(), strict=True):
        for member, score in found:
            who = member.decode() if isinstance(member, bytes) else str(member)
            who = who if kind == "number" else f"+{who}"
            count = int(score)
            cause = f"burst:{poll.service}:{kind}:{who}"
            message = f"poll {poll.service}: {count} votes in a minute from {kind} {who}; the limit is {limit} a minute"
            if platform.raise_alert(cause, message, count, limit):
                raised += 1
                at = datetime.fromtimestamp(m * 60, UTC).isoformat()
                record = {"minute": at, "kind": kind, "who": who, "count": count, "limit": limit}
                platform.redis.xadd(
                    PollKeys(poll.service).alerts, {"e": json.dumps(record)}, maxlen=1000, approximate=True
                )
    return raised


def _all_polls(platform: PluginHost) -> list[tuple[Any, Any]]:
    return [pair for tenant in platform.tenants() for pair in services(platform, tenant, ACTION).values()]
