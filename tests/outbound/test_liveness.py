"""Senders' heartbeats on a real Redis: a sender holding work is alive, one that stopped beating is dead, one
that ended cleanly or never beat is unknown."""

from __future__ import annotations

import time

import redis

from kodeord.outbound import liveness
from kodeord.outbound.liveness import ALIVE, DEAD_AFTER_MS, Heart


def test_a_sender_beats_while_it_holds_work_and_is_forgotten_when_it_ends_cleanly(kodeord_redis: redis.Redis) -> None:
    heart = Heart(kodeord_redis, "s1")
    with heart.beating():
        first = kodeord_redis.zscore(ALIVE, "s1")
        assert first is not None  # alive before it takes anything
        with heart.beating():  # nested: one heart
            time.sleep(liveness.BEAT_S * 3)
        later = kodeord_redis.zscore(ALIVE, "s1")
        assert later is not None and later > first
        assert liveness.dead(kodeord_redis, ["s1"]) == set()
    assert kodeord_redis.zscore(ALIVE, "s1") is None
    assert liveness.dead(kodeord_redis, ["s1"]) == set()  # gone, not dead


def test_a_sender_whose_beats_stopped_is_dead_and_one_never_seen_is_not(kodeord_redis: redis.Redis) -> None:
    now = int(time.time() * 1000)
    kodeord_redis.zadd(ALIVE, {"killed": now - DEAD_AFTER_MS - 1, "slow": now - DEAD_AFTER_MS // 2})
    assert liveness.dead(kodeord_redis, ["killed", "slow", "unknown"]) == {"killed"}
    assert liveness.dead(kodeord_redis, []) == set()


def test_a_beat_drops_senders_dead_for_a_day(kodeord_redis: redis.Redis) -> None:
    now = int(time.time() * 1000)
    kodeord_redis.zadd(ALIVE, {"long gone": now - liveness.FORGET_AFTER_MS - 1000, "recent": now - 5000})
    Heart(kodeord_redis, "s2").beat()
    assert {m.decode() for m in kodeord_redis.zrange(ALIVE, 0, -1)} == {"recent", "s2"}
