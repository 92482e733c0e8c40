"""Per-gateway throughput limits, shared by every worker through Redis."""

from __future__ import annotations

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.outbound.ratelimit import RateLimiter


def test_a_second_grants_at_most_the_rate_across_workers(kodeord_redis: redis.Redis) -> None:
    one, two = RateLimiter(kodeord_redis), RateLimiter(kodeord_redis)  # two workers
    assert one.take("k1", 30, 50, now=1000.2) == 30
    assert two.take("k1", 30, 50, now=1000.7) == 20
    assert one.take("k1", 5, 50, now=1000.9) == 0
    assert two.take("k1", 30, 50, now=1001.1) == 30  # a new second
    assert one.take("k2", 500, 50, now=1000.5) == 50  # each gateway has its own allowance
    assert one.take("k3", 500, 0, now=1000.5) == 500  # rate 0: no limit


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    wants=st.lists(st.integers(min_value=1, max_value=200), min_size=1, max_size=20),
    rate=st.integers(min_value=1, max_value=300),
)
def test_grants_within_a_second_add_up_to_the_rate_or_the_demand(
    kodeord_redis: redis.Redis, wants: list[int], rate: int
) -> None:
    kodeord_redis.flushdb()
    limiter = RateLimiter(kodeord_redis)
    grants = [limiter.take("g", want, rate, now=5000.5) for want in wants]
    assert all(0 <= g <= w for g, w in zip(grants, wants, strict=True))
    assert sum(grants) == min(sum(wants), rate)
