"""Where a poll keeps its counts in Redis, and reading them back as a result.

Every key is in the poll's service scope (one hash tag), so a vote's counts, its caps and its reply are
committed together:

- ``counts``: hash, ``code:sms`` / ``code:call`` -> votes for the option by that channel (an option's votes
  are their sum); ``:studio`` -> calls connected to the studio;
- ``minutes``: hash, ``<minute>:<code>`` -> votes in that minute (minutes since the epoch, UTC), for the
  live graph;
- ``voters``: hash, number -> votes counted (the ``max_votes`` cap);
- ``voter-options``: hash, ``number|code`` -> votes counted (the ``max_per_option`` cap);
- ``closed``: set once the poll is closed (by hand, or on the first reading after its closing time);
  from then on no vote can count, so the result is frozen;
- ``callers:<minute>``: sorted set of numbers that called in that minute, scored by the time in ms (for the
  hot button; expires after two hours);
- ``rate:<minute>:number`` and ``rate:<minute>:prefix``: sorted sets, number or prefix -> votes in that
  minute (burst alerts, see :mod:`.burst`);
- ``alerts``: stream of burst alerts; ``hot-button``: stream of hot-button picks.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property, lru_cache
from typing import Any

import redis

from kodeord.commit.keys import Keys

from .poll import Poll

PLUGIN = "voting"
CALLERS_TTL_S = 7200  # the hot button looks back at most an hour
RATE_TTL_S = 180


@dataclass(frozen=True)
class PollKeys:
    """Key names of one poll (its service scope, the plugin's sub-prefix)."""

    service: str  # tenant/service

    @property
    def base(self) -> Keys:
        """The poll's own key prefix."""
        return Keys.for_service(self.service).plugin(PLUGIN)

    def key(self, *parts: str) -> str:
        """A key of this poll."""
        return self.base.key_for(*parts)

    @cached_property
    def counts(self) -> str:
        """Votes per option and per option and channel."""
        return self.key("counts")

    @cached_property
    def minutes(self) -> str:
        """Votes per minute and option."""
        return self.key("minutes")

    @cached_property
    def voters(self) -> str:
        """Votes counted per number."""
        return self.key("voters")

    @cached_property
    def voter_options(self) -> str:
        """Votes counted per number and option."""
        return self.key("voter-options")

    @cached_property
    def closed(self) -> str:
        """The closing mark: its value is when (ms), and who closed."""
        return self.key("closed")

    def callers(self, minute: int) -> str:
        """Numbers that called in ``minute``."""
        return self.key("callers", str(minute))

    def rate(self, minute: int, kind: str) -> str:
        """Votes per number (``kind`` number) or per prefix (``kind`` prefix) in ``minute``."""
        return self.key("rate", str(minute), kind)

    @cached_property
    def alerts(self) -> str:
        """Burst alerts raised on this poll."""
        return self.key("alerts")

    @cached_property
    def hot_button(self) -> str:
        """The hot button's picks."""
        return self.key("hot-button")


@lru_cache(maxsize=4096)
def keys_of(service: str) -> PollKeys:
    """The (shared) key names of poll ``service``; each name is worked out once."""
    return PollKeys(service)


def minute_of(moment: datetime) -> int:
    """Minutes since the epoch (UTC) of ``moment``."""
    return int(moment.timestamp() // 60)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def close(client: redis.Redis, poll: Poll, by: str, now: datetime | None = None) -> bool:
    """Close ``poll`` now (by hand); return False if it was closed already. No vote counts after this."""
    now = now or datetime.now(UTC)
    return bool(client.set(PollKeys(poll.service).closed, f"{int(now.timestamp() * 1000)} {by}", nx=True))


def closed_at(client: redis.Redis, poll: Poll, now: datetime | None = None) -> datetime | None:
    """When the poll closed, or None while it is open. Past its closing time, the mark is set here first."""
    keys = PollKeys(poll.service)
    now = now or datetime.now(UTC)
    if poll.closes is not None and now >= poll.closes:
        client.set(keys.closed, f"{int(poll.closes.timestamp() * 1000)} schedule", nx=True)
    mark = client.get(keys.closed)
    if mark is None:
        return None
    return datetime.fromtimestamp(int(_text(mark).split(" ", 1)[0]) / 1000, UTC)


def result(client: redis.Redis, poll: Poll, now: datetime | None = None) -> dict[str, Any]:
    """The poll's votes per option (with channels), per minute, and its state.

    A closed poll's result is frozen: the closing mark is set before the counts are read, and a vote
    commits only while the mark is absent.
    """
    now = now or datetime.now(UTC)
    closed = closed_at(client, poll, now)
    keys = PollKeys(poll.service)
    pipe = client.pipeline(transaction=True)
    pipe.hgetall(keys.counts)
    pipe.hgetall(keys.minutes)
    counts_raw, minutes_raw = pipe.execute()
    counts = {_text(k): int(v) for k, v in counts_raw.items()}
    per_minute: dict[int, dict[str, int]] = {}
    for field, value in minutes_raw.items():
        minute, _, code = _text(field).partition(":")
        per_minute.setdefault(int(minute), {})[code] = int(value)
    options = [
        {
            "code": o.code,
            "name": o.name,
            "votes": counts.get(f"{o.code}:sms", 0) + counts.get(f"{o.code}:call", 0),
            "sms": counts.get(f"{o.code}:sms", 0),
            "calls": counts.get(f"{o.code}:call", 0),
        }
        for o in poll.options
    ]
    state = "closed" if closed is not None else poll.state(now)
    return {
        "poll": poll.service.split("/", 1)[1],
        "title": poll.title,
        "state": state,
        "opens": poll.opens.isoformat() if poll.opens else None,
        "closes": poll.closes.isoformat() if poll.closes else None,
        "closed_at": closed.isoformat() if closed else None,
        "total": sum(o["votes"] for o in options),
        "options": options,
        "minutes": [
            {"minute": datetime.fromtimestamp(m * 60, UTC).isoformat(), "votes": per_minute[m]}
            for m in sorted(per_minute)
        ],
    }


def recent(client: redis.Redis, poll: Poll, rows: str, limit: int = 100) -> list[dict[str, Any]]:
    """The newest entries (newest first) of one of the poll's logs: ``alerts`` or ``hot_button``."""
    stream = getattr(PollKeys(poll.service), rows)
    entries: Any = client.xrevrange(stream, count=limit)
    return [json.loads(fields[b"e"]) for _, fields in entries]


def now_ms() -> int:
    """The clock in ms (a function, so the hot button's window is easy to read)."""
    return int(time.time() * 1000)
