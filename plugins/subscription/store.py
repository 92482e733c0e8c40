"""A subscription's state in Redis, under its service's hash tag.

- ``active``: sorted set of the subscribers (all scores 0: paged in the order of their numbers);
- ``joined``: hash subscriber -> when they joined (ms), to tell a STOPP sent after it (which ends it) from one
  sent before (which START took back);
- ``counts``: hash subscriber -> messages sent since they joined or last confirmed;
- ``waiting``: sorted set subscriber -> when they were asked to confirm: they get nothing until they do.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import redis

from kodeord.commit.effects import Write
from kodeord.commit.keys import Keys

PLUGIN = "subscription"


@dataclass(frozen=True)
class SubscriptionKeys:
    """Key names of one subscription service (``tenant/service``)."""

    key: str

    @cached_property
    def keys(self) -> Keys:
        return Keys.for_service(self.key).plugin(PLUGIN)

    @cached_property
    def scope(self) -> Keys:
        """The service's scope (outbox, statuses)."""
        return Keys.for_service(self.key)

    @property
    def active(self) -> str:
        return self.keys.key_for("active")

    @property
    def joined(self) -> str:
        return self.keys.key_for("joined")

    @property
    def counts(self) -> str:
        return self.keys.key_for("counts")

    @property
    def waiting(self) -> str:
        return self.keys.key_for("waiting")


def ended(keys: SubscriptionKeys, member: str) -> list[Write]:
    """The writes that end ``member``'s subscription."""
    return [
        Write("ZREM", keys.active, (member,)),
        Write("HDEL", keys.joined, (member,)),
        Write("HDEL", keys.counts, (member,)),
        Write("ZREM", keys.waiting, (member,)),
    ]


def standing(client: redis.Redis, keys: SubscriptionKeys, member: str) -> tuple[bool, bool]:
    """Whether ``member`` subscribes, and whether they were asked to confirm (one round trip)."""
    pipe = client.pipeline(transaction=False)
    pipe.zscore(keys.active, member)
    pipe.zscore(keys.waiting, member)
    active, waiting = pipe.execute()
    return active is not None, waiting is not None


def counts(client: redis.Redis, keys: SubscriptionKeys) -> dict[str, int]:
    """How many subscribe, and how many of them were asked to confirm and have not."""
    pipe = client.pipeline(transaction=False)
    pipe.zcard(keys.active)
    pipe.zcard(keys.waiting)
    active, waiting = pipe.execute()
    return {"subscribers": int(active), "waiting": int(waiting)}
