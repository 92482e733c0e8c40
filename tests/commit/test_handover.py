"""Hand-over marks on a real Redis: what ``settle`` waits for, and what it does not."""

from __future__ import annotations

import threading
import time

import redis

from kodeord.commit import handover


def settle_seconds(client: redis.Redis, addresses: list[str]) -> float:
    started = time.monotonic()
    handover.settle(client, addresses)
    return time.monotonic() - started


def test_settle_returns_at_once_when_nothing_is_in_flight(kodeord_redis: redis.Redis) -> None:
    assert settle_seconds(kodeord_redis, ["+46701234567"]) < 0.5
    assert settle_seconds(kodeord_redis, []) < 0.5
    assert not handover.in_flight(kodeord_redis, ["+46701234567"])


def test_settle_waits_for_the_group_that_holds_the_address_and_only_that_one(kodeord_redis: redis.Redis) -> None:
    marks = handover.Handovers(kodeord_redis, "sender-a")
    group = marks.begin(["+46701111111", "+46702222222", "anna@example.org"])
    handover.Handovers(kodeord_redis, "sender-b").begin(["+46703333333"])
    assert group.open()
    assert handover.in_flight(kodeord_redis, ["+46709999999", "anna@example.org"])
    assert not handover.in_flight(kodeord_redis, ["+46709999999"])

    ended = threading.Event()

    def finish() -> None:
        time.sleep(0.3)
        ended.set()
        marks.end(group)

    threading.Thread(target=finish).start()
    assert settle_seconds(kodeord_redis, ["+46702222222"]) >= 0.25
    assert ended.is_set()
    assert handover.in_flight(kodeord_redis, ["+46703333333"])  # the other sender's group is still there
    assert settle_seconds(kodeord_redis, ["+46701111111"]) < 0.2
    assert kodeord_redis.zcard(handover.INDEX) == 1


def test_a_group_kept_while_the_gateway_takes_longer_than_the_lease_holds_settle(kodeord_redis: redis.Redis) -> None:
    marks = handover.Handovers(kodeord_redis, "slow")
    group = marks.begin(["+46701111111"])
    waited: list[float] = []
    settler = threading.Thread(target=lambda: waited.append(settle_seconds(kodeord_redis, ["+46701111111"])))
    marks.keep(group)
    settler.start()
    time.sleep(handover.LEASE_MS / 1000 * 1.5)
    assert handover.in_flight(kodeord_redis, ["+46701111111"])  # renewed past its first lease
    marks.end(group)
    settler.join()
    assert waited[0] >= handover.LEASE_MS / 1000 * 1.4


def test_a_dead_senders_group_lapses_within_the_lease_and_leaves_the_index(kodeord_redis: redis.Redis) -> None:
    handover.Handovers(kodeord_redis, "dead").begin(["+46701111111"])  # never ended, never renewed
    assert settle_seconds(kodeord_redis, ["+46701111111"]) <= handover.LEASE_MS / 1000 + 0.5
    assert kodeord_redis.zcard(handover.INDEX) == 1  # its key has gone; the index entry is pruned later
    stale = int(time.time() * 1000) - 2 * 60_000
    kodeord_redis.zadd(handover.INDEX, {next(iter(kodeord_redis.zrange(handover.INDEX, 0, -1))): stale})
    live = handover.Handovers(kodeord_redis, "alive").begin(["+46702222222"])
    assert kodeord_redis.zrange(handover.INDEX, 0, -1) == [live.key.encode()]
