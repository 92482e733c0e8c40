"""The committer on a real Redis: the branch committed, counters moved only when every guard holds, common
writes in every branch, model checks of caps and membership guards over random inputs, and changes that no
message caused."""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kodeord.commit.committer import Branch, Committer, Earlier
from kodeord.commit.effects import Effects, Guard, Write
from kodeord.commit.keys import Keys
from kodeord.commit.records import Reader, Retention
from kodeord.inbound.messages import Inbound, Outbound
from kodeord.outbound import outbox

SCOPE = Keys.for_service("t/poll")
IDS = itertools.count()


KEPT = Retention(3600, 3600)


def message(message_id: str) -> Inbound:
    return Inbound.create(sender="+46701234567", recipient="72500", text="RÖST", gateway="g", message_id=message_id)


def nothing_recorded(client: redis.Redis) -> bool:
    return not client.keys(KEPT.inbound.prefix(SCOPE) + ":*")


def commit(committer: Committer, guards: list[Guard], common: Sequence[Write] = ()) -> int | Earlier:
    n = next(IDS)
    branches = [
        Branch({"branch": b}, [Write("HINCRBY", SCOPE.key_for("branches"), (str(b), 1))])
        for b in range(len(guards) + 1)
    ]
    return committer.commit(SCOPE, message(f"m{n}"), branches, guards, common)


def counts(client: redis.Redis, key: str) -> dict[str, int]:
    return {k.decode(): int(v) for k, v in client.hgetall(key).items()}


def test_a_failing_guard_commits_its_branch_and_moves_no_counter(kodeord_redis: redis.Redis) -> None:
    committer = Committer(kodeord_redis, KEPT)
    voters, options = SCOPE.key_for("voters"), SCOPE.key_for("options")
    guards = [
        Guard.cap("capped", voters, "+461", 3, Effects()),
        Guard.cap("capped_option", options, "+461|01", 1, Effects()),
    ]
    assert commit(committer, guards) == 0
    assert commit(committer, guards) == 2  # the second guard fails ...
    assert counts(kodeord_redis, voters) == {"+461": 1}  # ... so the first one's counter did not move
    assert counts(kodeord_redis, options) == {"+461|01": 1}
    assert counts(kodeord_redis, SCOPE.key_for("branches")) == {"0": 1, "2": 1}


def test_an_unset_guard_and_common_writes(kodeord_redis: redis.Redis) -> None:
    committer = Committer(kodeord_redis, KEPT)
    closed = SCOPE.key_for("closed")
    common = [Write("ZINCRBY", SCOPE.key_for("rate"), (1, "+461"))]
    assert commit(committer, [Guard.unset("closed", closed, Effects())], common) == 0
    kodeord_redis.set(closed, "1")
    assert commit(committer, [Guard.unset("closed", closed, Effects())], common) == 1
    assert kodeord_redis.zscore(SCOPE.key_for("rate"), "+461") == 2  # written whichever way it went


def test_a_duplicate_returns_the_earlier_outcome_and_writes_nothing(kodeord_redis: redis.Redis) -> None:
    committer = Committer(kodeord_redis, KEPT)
    voters = SCOPE.key_for("voters")
    guards = [Guard.cap("capped", voters, "+461", 1, Effects())]
    branches = [Branch({"branch": 0}, own={"settled": ["+461"]}), Branch({"branch": 1})]
    assert committer.commit(SCOPE, message("same"), branches, guards) == 0
    assert committer.commit(SCOPE, message("same"), branches, guards) == Earlier(
        {"branch": 0}, {"settled": ["+461"]}, 0
    )
    assert counts(kodeord_redis, voters) == {"+461": 1}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    most=st.integers(1, 4),
    per_option=st.integers(1, 3),
    votes=st.lists(st.tuples(st.sampled_from(["+461", "+462"]), st.sampled_from(["01", "02"])), max_size=25),
)
def test_caps_match_a_model_over_any_sequence(
    kodeord_redis: redis.Redis, most: int, per_option: int, votes: list[tuple[str, str]]
) -> None:
    kodeord_redis.flushdb()
    committer = Committer(kodeord_redis, KEPT)
    voters, options = SCOPE.key_for("voters"), SCOPE.key_for("options")
    model: dict[str, int] = {}
    for sender, code in votes:
        guards = [
            Guard.cap("capped", voters, sender, most, Effects()),
            Guard.cap("capped_option", options, f"{sender}|{code}", per_option, Effects()),
        ]
        total = sum(v for k, v in model.items() if k.startswith(sender + "|"))
        expected = 0 if total < most and model.get(f"{sender}|{code}", 0) < per_option else (1 if total >= most else 2)
        assert commit(committer, guards) == expected
        if expected == 0:
            model[f"{sender}|{code}"] = model.get(f"{sender}|{code}", 0) + 1
    assert counts(kodeord_redis, options) == {k: v for k, v in model.items() if v}
    per_sender: dict[str, int] = {}
    for key, value in model.items():
        per_sender[key.split("|")[0]] = per_sender.get(key.split("|")[0], 0) + value
    assert counts(kodeord_redis, voters) == per_sender


def test_a_counter_that_is_not_an_integer_stops_the_commit_before_anything_is_written(
    kodeord_redis: redis.Redis,
) -> None:
    committer = Committer(kodeord_redis, KEPT)
    counts = SCOPE.key_for("counts")
    for bad in ("1.5", " 7", "0x10", "1e3"):
        kodeord_redis.hset(counts, "01", bad)
        branch = Branch({"branch": 0}, [Write("SADD", SCOPE.key_for("s"), ("x",)), Write("HINCRBY", counts, ("01", 1))])
        with pytest.raises(redis.ResponseError, match="NOTINT"):
            committer.commit(SCOPE, message(f"bad-{bad}"), [branch])
        assert nothing_recorded(kodeord_redis) and not kodeord_redis.exists(SCOPE.key_for("s"))


def test_one_key_written_as_two_types_stops_the_commit(kodeord_redis: redis.Redis) -> None:
    committer = Committer(kodeord_redis, KEPT)
    key = SCOPE.key_for("k")
    branch = Branch({"branch": 0}, [Write("HSET", key, ("a", "1")), Write("SADD", key, ("b",))])
    with pytest.raises(redis.ResponseError, match="WRONGTYPE"):
        committer.commit(SCOPE, message("two-types"), [branch])
    assert nothing_recorded(kodeord_redis) and not kodeord_redis.exists(key)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    kind=st.sampled_from(["set", "zset", "none"]),
    present=st.sets(st.sampled_from("abcd")),
    asked=st.lists(st.sampled_from("abcd"), min_size=1, max_size=4),
)
def test_membership_guards_match_a_model(
    kodeord_redis: redis.Redis, kind: str, present: set[str], asked: list[str]
) -> None:
    kodeord_redis.flushdb()
    committer = Committer(kodeord_redis, KEPT)
    key = SCOPE.key_for("members")
    if kind == "set" and present:
        kodeord_redis.sadd(key, *present)
    if kind == "zset" and present:
        kodeord_redis.zadd(key, dict.fromkeys(present, 0))
    present = present if kind != "none" else set()
    within = 0 if all(a in present for a in asked) else 1
    outside = 0 if not any(a in present for a in asked) else 1
    assert commit(committer, [Guard.within("in", key, *asked)]) == within
    assert commit(committer, [Guard.outside("out", key, *asked)]) == outside


def test_a_membership_guard_on_a_key_of_another_type_stops_the_commit(kodeord_redis: redis.Redis) -> None:
    committer = Committer(kodeord_redis, KEPT)
    key = SCOPE.key_for("h")
    kodeord_redis.hset(key, "a", "1")
    with pytest.raises(redis.ResponseError, match="WRONGTYPE guard on .* which holds a hash"):
        commit(committer, [Guard.outside("out", key, "a")])
    assert nothing_recorded(kodeord_redis) and not kodeord_redis.exists(SCOPE.key_for("branches"))


def test_a_membership_guard_needs_a_member() -> None:
    with pytest.raises(ValueError, match="needs at least one member"):
        Guard.within("in", SCOPE.key_for("s"))


def test_a_change_records_nothing_is_not_deduplicated_and_queues_its_messages_with_records(
    kodeord_redis: redis.Redis,
) -> None:
    committer = Committer(kodeord_redis, KEPT)
    notice = outbox.Single("admin:approved:1", Outbound(to="+46701234567", sender="72500", text="Välkommen"))
    branches = [Branch({}, [Write("HINCRBY", SCOPE.key_for("n"), ("x", 1))], [notice]), Branch({})]
    unsubscribed = SCOPE.key_for("unsubscribed")
    guards = [Guard.outside("unsubscribed", unsubscribed, "+46701234567")]
    assert committer.change(SCOPE, branches, guards) == 0
    assert committer.change(SCOPE, branches, guards) == 0  # the same change twice: twice
    assert counts(kodeord_redis, SCOPE.key_for("n")) == {"x": 2}
    assert nothing_recorded(kodeord_redis)
    assert kodeord_redis.xlen(SCOPE.outbox) == 2
    (record,) = Reader(kodeord_redis, KEPT).outbound(SCOPE, ["admin:approved:1"])
    assert record is not None and record["status"] == "queued" and record["text"] == "Välkommen"
    kodeord_redis.zadd(unsubscribed, {"+46701234567": 1})
    assert committer.change(SCOPE, branches, guards) == 1
    assert counts(kodeord_redis, SCOPE.key_for("n")) == {"x": 2} and kodeord_redis.xlen(SCOPE.outbox) == 2
