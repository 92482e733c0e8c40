"""The message-record store on a real Redis: compact shards whatever the volume, every record found, kept for
its retention and no longer, and outbound records that read back as written."""

from __future__ import annotations

import time
from collections import Counter

import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.commit import records
from kodeord.commit.committer import Branch, Committer, Earlier
from kodeord.commit.keys import Keys
from kodeord.commit.records import Reader, Retention
from kodeord.inbound.messages import Inbound, Kind, Outbound
from kodeord.outbound import status
from kodeord.outbound.outbox import Single

SCOPE = Keys.for_service("tv/mello")
KEPT = Retention(48 * 3600, 72 * 3600)


def _queue(client: redis.Redis, ids: list[str], kept: Retention = KEPT) -> None:
    message = Outbound(to="+46701234567", sender="72500", text="Tack för din röst!")
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        status.update(client, kept, SCOPE, {i: {} for i in chunk}, {i: status.NewRecord(message, 1) for i in chunk})


def test_a_busy_bucket_grows_generations_of_small_shards_and_finds_every_record(kodeord_redis: redis.Redis) -> None:
    ids = [f"m{n}" for n in range(25_000)]  # generation 0 holds 2,048, 1 the next 16,384, 2 the rest
    _queue(kodeord_redis, ids)
    prefix = KEPT.outbound.prefix(SCOPE)
    shards = [k.decode() for k in kodeord_redis.scan_iter(match=prefix + ":*:*:*", count=10_000)]
    sizes = {key: kodeord_redis.hlen(key) for key in shards}
    assert sum(sizes.values()) == len(ids)
    assert max(sizes.values()) <= 128  # within Redis's compact-hash limit ...
    assert {kodeord_redis.object("encoding", key) for key in shards} <= {b"ziplist", b"listpack"}  # ... and compact
    per_generation = Counter(int(key.split(":")[-2]) for key in shards)
    assert (per_generation[0], per_generation[1], set(per_generation)) == (64, 512, {0, 1, 2})
    assert per_generation[2] <= 4096  # 6,568 records over generation 2's shards
    assert records.generation(len(ids)) == 2
    [counter] = [k for k in kodeord_redis.scan_iter(match=prefix + ":*:n")]
    assert int(kodeord_redis.get(counter)) == len(ids)  # type: ignore[arg-type]
    found = Reader(kodeord_redis, KEPT).find(SCOPE, KEPT.outbound, [records.field(i) for i in ids])
    assert all(f is not None for f in found)
    assert Reader(kodeord_redis, KEPT).find(SCOPE, KEPT.outbound, [records.field("never")]) == [None]


def test_a_buckets_keys_expire_one_retention_after_it_ends(kodeord_redis: redis.Redis) -> None:
    _queue(kodeord_redis, ["m1"])
    store = KEPT.outbound
    for key in kodeord_redis.scan_iter(match=store.prefix(SCOPE) + ":*"):
        left = kodeord_redis.pttl(key)
        assert store.keep_ms < left <= store.keep_ms + store.span_ms  # kept 1 to 1.5 retentions


def test_a_retry_gets_the_same_answer_for_its_retention_then_counts_as_new(kodeord_redis: redis.Redis) -> None:
    kept = Retention(2, 2)  # buckets of one second, kept two seconds after they end
    committer = Committer(kodeord_redis, kept)
    inbound = Inbound.create(sender="+46701234567", recipient="72500", text="MELLO 03", gateway="g", message_id="x")
    branches = [Branch({"status": "handled"}, own={"settled": ["+46701234567"]})]
    assert committer.commit(SCOPE, inbound, branches) == 0
    time.sleep(1.1)  # the record is now in an earlier bucket
    assert committer.commit(SCOPE, inbound, branches) == Earlier(
        {"status": "handled"}, {"settled": ["+46701234567"]}, 0
    )
    deadline = time.monotonic() + 6
    while committer.commit(SCOPE, inbound, branches) != 0:  # gone within 1.5 retentions (plus a bucket's rounding)
        assert time.monotonic() < deadline
        time.sleep(0.2)


addresses = st.one_of(
    st.from_regex(r"\+[1-9][0-9]{6,14}", fullmatch=True),
    st.from_regex(r"[0-9]{3,8}", fullmatch=True),
    st.from_regex(r"[a-z]{1,10}@[a-z]{1,10}\.se", fullmatch=True),
    st.just("+0123"),
)
words = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    to=addresses,
    sender=addresses,
    text=words,
    reason=words,
    price=st.sampled_from(["", "5.00", "10"]),
    kind=st.sampled_from(list(Kind)),
    attempts=st.integers(1, 8),
)
def test_an_outbound_record_reads_back_as_written(
    kodeord_redis: redis.Redis, to: str, sender: str, text: str, reason: str, price: str, kind: Kind, attempts: int
) -> None:
    kodeord_redis.flushdb()  # each example on its own
    message = Outbound(to=to, sender=sender, text=text, kind=kind, price=price)
    now = int(time.time() * 1000)
    fields = {"status": "failed", "reason": reason, "attempts": attempts, "failed_at": now + 5, "gateway": "k1"}
    status.update(kodeord_redis, KEPT, SCOPE, {"r1": fields}, {"r1": status.NewRecord(message, now)})
    record = status.read(kodeord_redis, f"{SCOPE.scope}|r1", KEPT)
    expected = {
        "status": "failed",
        "queued_at": str(now),
        "kind": kind.value,
        "to": to,
        "from": sender,
        "text": text,
        "price": price,
        "reason": reason,
        "attempts": str(attempts),
        "failed_at": str(now + 5),
        "gateway": "k1",
    }
    assert record == {k: v for k, v in expected.items() if v}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    to=addresses,
    sender=addresses,
    text=words,
    price=st.sampled_from(["", "5.00", "10"]),
    kind=st.sampled_from(list(Kind)),
    origin=st.sampled_from(["+46701234567", "0701234567", "+4791234567"]),
)
def test_a_record_the_commit_queues_reads_back_as_queued(
    kodeord_redis: redis.Redis, to: str, sender: str, text: str, price: str, kind: Kind, origin: str
) -> None:
    kodeord_redis.flushdb()  # each example on its own
    message = Single("q:0", Outbound(to=to, sender=sender, text=text, kind=kind, price=price))
    inbound = Inbound.create(sender=origin, recipient="72500", text=text, gateway="g", message_id="q")
    before = int(time.time() * 1000)
    assert (
        Committer(kodeord_redis, KEPT).commit(SCOPE, inbound, [Branch({"status": "handled"}, outgoing=[message])]) == 0
    )
    record = status.read(kodeord_redis, f"{SCOPE.scope}|q:0", KEPT)
    assert record is not None
    assert before <= int(record.pop("queued_at")) <= int(time.time() * 1000)
    expected = {"status": "queued", "kind": kind.value, "to": to, "from": sender, "text": text, "price": price}
    assert record == {k: v for k, v in expected.items() if v}
    stored = Reader(kodeord_redis, KEPT).inbound(SCOPE, [records.field("g:q")])[0]
    assert stored is not None
    assert (stored["from"], stored["to"], stored["text"], stored["replies"]) == (inbound.sender, "72500", text, 1)


def test_texts_are_stored_once_per_bucket(kodeord_redis: redis.Redis) -> None:
    _queue(kodeord_redis, [f"m{n}" for n in range(500)])
    stored = [k for k in kodeord_redis.scan_iter(match=KEPT.texts.prefix(SCOPE) + ":*:*:*")]
    assert sum(kodeord_redis.hlen(k) for k in stored) == 1


def test_a_text_outlives_every_record_that_names_it() -> None:
    for kept in (Retention(48 * 3600, 72 * 3600), Retention(3600, 3600), Retention(7 * 86400, 3600)):
        longest_record = max(s.keep_ms + s.span_ms for s in (kept.inbound, kept.outbound))
        assert kept.texts.keep_ms >= longest_record  # stored when a record names it: kept at least this long
