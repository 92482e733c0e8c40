"""Status records: a delivery report's verdict is never undone by the sender's later writes."""

from __future__ import annotations

import redis

from kodeord import status
from kodeord.gateway import Status
from kodeord.keys import Keys


def test_an_early_delivery_report_survives_the_senders_sent_and_retry_writes(kodeord_redis: redis.Redis) -> None:
    key = Keys("s:tv/mello").status("m1")
    kodeord_redis.hset(key, mapping={"status": "queued"})
    assert status.apply_report(kodeord_redis, "s:tv/mello|m1", Status.DELIVERED, "dlr 1", 1)
    status.update(kodeord_redis, {key: {"status": "sent", "gateway": "k1", "cost": "0.05"}})
    pipe = kodeord_redis.pipeline(transaction=True)
    status.update(pipe, {key: {"status": "queued", "attempts": 1}})
    pipe.execute()
    record = status.read(kodeord_redis, "s:tv/mello|m1")
    assert record is not None
    assert (record["status"], record["gateway"], record["cost"], record["attempts"]) == ("delivered", "k1", "0.05", "1")


def test_a_reported_failure_is_not_undone_by_sent_but_a_failure_may_refine_it(kodeord_redis: redis.Redis) -> None:
    key = Keys("n:72500").status("m2")
    kodeord_redis.hset(key, mapping={"status": "queued"})
    status.apply_report(kodeord_redis, "n:72500|m2", Status.FAILED, "dlr 2", 1)
    status.update(kodeord_redis, {key: {"status": "sent"}})
    assert status.read(kodeord_redis, "n:72500|m2")["status"] == "failed"  # type: ignore[index]
    status.update(kodeord_redis, {key: {"status": "failed", "reason": "gave up"}})
    assert status.read(kodeord_redis, "n:72500|m2")["reason"] == "gave up"  # type: ignore[index]
