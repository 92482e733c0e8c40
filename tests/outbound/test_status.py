"""Status records: a delivery report's verdict is never undone by the sender's later writes."""

from __future__ import annotations

import redis

from kodeord.commit import records
from kodeord.commit.keys import Keys
from kodeord.commit.records import Reader, Retention, Status
from kodeord.inbound.messages import Outbound
from kodeord.outbound import status

KEPT = Retention(48 * 3600, 72 * 3600)


def _queue(client: redis.Redis, keys: Keys, message_id: str) -> None:
    new = status.NewRecord(Outbound(to="+46701234567", sender="72500", text="Tack!"), 1_000)
    status.update(client, KEPT, keys, {message_id: {}}, {message_id: new})


def test_an_early_delivery_report_survives_the_senders_sent_and_retry_writes(kodeord_redis: redis.Redis) -> None:
    keys = Keys("s:tv/mello")
    _queue(kodeord_redis, keys, "m1")
    assert status.apply_report(kodeord_redis, KEPT, "s:tv/mello|m1", Status.DELIVERED, "dlr 1", 1) == status.Reported(
        True, None
    )  # not sent yet: no latency
    status.update(kodeord_redis, KEPT, keys, {"m1": {"status": "sent", "gateway": "k1", "cost": "0.05"}})
    pipe = kodeord_redis.pipeline(transaction=True)
    status.update(pipe, KEPT, keys, {"m1": {"status": "queued", "attempts": 1}})
    pipe.execute()
    record = status.read(kodeord_redis, "s:tv/mello|m1", KEPT)
    assert record is not None
    assert (record["status"], record["gateway"], record["cost"], record["attempts"]) == ("delivered", "k1", "0.05", "1")
    assert (record["report"], record["to"], record["from"], record["text"]) == (
        "dlr 1",
        "+46701234567",
        "72500",
        "Tack!",
    )
    assert status.apply_report(kodeord_redis, KEPT, "s:tv/mello|m1", Status.FAILED, "late", 2) == status.Reported(
        False, None
    )
    assert status.read(kodeord_redis, "s:tv/mello|m1", KEPT)["report"] == "dlr 1"  # type: ignore[index]


def test_a_reported_failure_is_not_undone_by_sent_but_a_failure_may_refine_it(kodeord_redis: redis.Redis) -> None:
    keys = Keys("n:72500")
    _queue(kodeord_redis, keys, "m2")
    status.apply_report(kodeord_redis, KEPT, "n:72500|m2", Status.FAILED, "dlr 2", 1)
    status.update(kodeord_redis, KEPT, keys, {"m2": {"status": "sent"}})
    assert status.read(kodeord_redis, "n:72500|m2", KEPT)["status"] == "failed"  # type: ignore[index]
    status.update(kodeord_redis, KEPT, keys, {"m2": {"status": "failed", "reason": "gave up"}})
    assert status.read(kodeord_redis, "n:72500|m2", KEPT)["reason"] == "gave up"  # type: ignore[index]
    assert status.apply_report(kodeord_redis, KEPT, "n:72500|m2", Status.DELIVERED, "dlr 3", 2) is not None
    assert status.read(kodeord_redis, "n:72500|m2", KEPT)["status"] == "delivered"  # type: ignore[index]


def test_an_update_of_an_unknown_message_is_dropped_and_a_report_says_unknown(kodeord_redis: redis.Redis) -> None:
    status.update(kodeord_redis, KEPT, Keys("n:72500"), {"nobody": {"status": "sent"}})
    assert status.read(kodeord_redis, "n:72500|nobody", KEPT) is None
    assert status.apply_report(kodeord_redis, KEPT, "n:72500|nobody", Status.DELIVERED, "dlr", 1) is None


def test_an_update_goes_where_its_record_was_found_or_looks_for_it_again(kodeord_redis: redis.Redis) -> None:
    keys = Keys("s:tv/mello")
    _queue(kodeord_redis, keys, "m4")
    found = Reader(kodeord_redis, KEPT).find(keys, KEPT.outbound, [records.field("m4")])[0]
    assert found is not None
    status.update(kodeord_redis, KEPT, keys, {"m4": {"status": "sent", "gateway": "k1"}}, at={"m4": found.at})
    assert status.read(kodeord_redis, "s:tv/mello|m4", KEPT)["status"] == "sent"  # type: ignore[index]
    stale = records.At(found.at.key + "0", found.at.base)  # where the record is not (it may have expired)
    status.update(kodeord_redis, KEPT, keys, {"m4": {"status": "failed", "reason": "r"}}, at={"m4": stale})
    assert status.read(kodeord_redis, "s:tv/mello|m4", KEPT)["reason"] == "r"  # type: ignore[index]
    assert not kodeord_redis.exists(stale.key)  # nothing written where the record was not
    status.update(kodeord_redis, KEPT, keys, {"nobody": {"status": "sent"}}, at={"nobody": found.at})
    assert status.read(kodeord_redis, "s:tv/mello|nobody", KEPT) is None
    assert kodeord_redis.hlen(found.at.key) == 1


def test_a_report_tells_how_long_after_sending_it_came(kodeord_redis: redis.Redis) -> None:
    keys = Keys("s:tv/mello")
    _queue(kodeord_redis, keys, "m3")
    status.update(kodeord_redis, KEPT, keys, {"m3": {"status": "sent", "sent_at": 10_000_000}})
    assert status.apply_report(
        kodeord_redis, KEPT, "s:tv/mello|m3", Status.DELIVERED, "ok", 10_002_500
    ) == status.Reported(True, 2.5)
