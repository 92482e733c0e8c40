"""A subscription's state in Redis, under its service's hash tag.

- ``active``: sorted set of the subscribers (all scores 0: paged in the order of their numbers);
- ``joined``: hash subscriber -> when they joined (ms), to tell a STOPP sent after it (which ends it) from one
  sent before (which START took back);
- ``counts``: hash subscriber -> messages sent since they joined or last confirmed;
- ``waiting``: sorted set subscriber -> when they were asked to confirm: they get nothing until they do;
- ``sending``: the id of the send under way, until its last page is queued (one send at a time).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property

import redis

from kodeord.commit.effects import Write
from kodeord.commit.keys import Keys
from kodeord.decide.actions import Veto
from kodeord.inbound.messages import Outbound

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

    @property
    def sending(self) -> str:
        """The send under way (its broadcast's id): one at a time, so no subscriber is counted by two at once."""
        return self.keys.key_for("sending")


def ended(keys: SubscriptionKeys, member: str) -> list[Write]:
    """The writes that end ``member``'s subscription."""
    return [
        Write("ZREM", keys.active, (member,)),
        Write("HDEL", keys.joined, (member,)),
        Write("HDEL", keys.counts, (member,)),
        Write("ZREM", keys.waiting, (member,)),
    ]


def stopped_since_joining(joined: bytes | str | None, stopped: bytes | str | None) -> bool:
    """Whether a STOPP to the number (at ``stopped`` ms) came after the subscriber joined (at ``joined`` ms):
    then the subscription is over, whatever START came later."""
    return stopped is not None and (joined is None or int(stopped) >= int(joined))


def standing(client: redis.Redis, keys: SubscriptionKeys, number: str, member: str) -> tuple[bool, bool]:
    """Whether ``member`` subscribes (joined, and sent no STOPP to ``number`` since), and whether they were
    asked to confirm (one round trip)."""
    pipe = client.pipeline(transaction=False)
    pipe.zscore(keys.active, member)
    pipe.zscore(keys.waiting, member)
    pipe.hget(keys.joined, member)
    pipe.hget(Keys.for_number(number).stopped_at(number), member)
    active, waiting, joined, stopped = pipe.execute()
    if active is None or stopped_since_joining(joined, stopped):
        return False, False
    return True, waiting is not None


def vet(messages: Sequence[Outbound], client: redis.Redis) -> Mapping[int, Veto] | None:
    """Stop a subscription's message (or question) to someone who is no longer a subscriber: one who sent STOPP
    after the message was queued, even if START followed (one pipelined round trip)."""
    asked = [(i, m) for i, m in enumerate(messages) if "subscription" in m.meta and "member" in m.meta]
    if not asked:
        return None
    pipe = client.pipeline(transaction=False)
    for _, message in asked:
        keys = SubscriptionKeys(message.meta["subscription"])
        pipe.zscore(keys.active, message.meta["member"])
        pipe.hget(keys.joined, message.meta["member"])
        pipe.hget(Keys.for_number(message.sender).stopped_at(message.sender), message.meta["member"])
    replies = pipe.execute()
    vetoes = {}
    for n, (index, _) in enumerate(asked):
        active, joined, stopped = replies[3 * n : 3 * n + 3]
        if active is None or stopped_since_joining(joined, stopped):
            vetoes[index] = Veto("no longer a subscriber (the subscription ended)", PLUGIN)
    return vetoes


def counts(client: redis.Redis, keys: SubscriptionKeys) -> dict[str, int]:
    """How many subscribe, and how many of them were asked to confirm and have not."""
    pipe = client.pipeline(transaction=False)
    pipe.zcard(keys.active)
    pipe.zcard(keys.waiting)
    active, waiting = pipe.execute()
    return {"subscribers": int(active), "waiting": int(waiting)}
