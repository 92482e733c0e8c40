"""Clients for a URL: a single Redis or a cluster (``redis+cluster://``), whose URL is read strictly and whose
pipelines and scripts keep to one slot. On the session's Redis: a cluster under ``make test-cluster``."""

from __future__ import annotations

from pathlib import Path

import pytest
import redis
from hypothesis import given
from hypothesis import strategies as st

from kodeord.support.luascript import ScriptCallError, hash_tag
from kodeord.support.redis_client import (
    REDIS_ERRORS,
    UNAVAILABLE,
    client_for,
    cluster_nodes,
    for_rq,
    is_cluster,
)
from kodeord.support.redis_server import connect


def test_a_cluster_url_names_its_nodes_and_credentials() -> None:
    nodes, user, password = cluster_nodes("redis+cluster://kodeord:p%40ss%3Aw@10.0.0.1:7000,[::1]:7001,host-c:7002/")
    assert nodes == [("10.0.0.1", 7000), ("::1", 7001), ("host-c", 7002)]
    assert (user, password) == ("kodeord", "p@ss:w")
    assert cluster_nodes("redis+cluster://:secret@h:1") == ([("h", 1)], None, "secret")
    assert cluster_nodes("rediss+cluster://h:6379") == ([("h", 6379)], None, None)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("redis://h:1", "not a cluster URL"),
        ("redis+cluster://h", "must be HOST:PORT, not 'h'"),
        ("redis+cluster://h:1,h:x", "must be HOST:PORT, not 'h:x'"),
        ("redis+cluster://h:0", "must be HOST:PORT"),
        ("redis+cluster://h:70000", "must be HOST:PORT"),
        ("redis+cluster://h:1,,h:2", "must be HOST:PORT, not ''"),
        ("redis+cluster://h:1?ssl=true", "takes no options"),
    ],
)
def test_a_bad_cluster_url_says_what_is_wrong(url: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem.replace("(", r"\(")):
        client_for(url) if url.startswith("redis+") else cluster_nodes(url)


@given(st.text(max_size=60))
def test_any_text_after_the_scheme_is_read_or_refused_with_a_value_error(rest: str) -> None:
    try:
        nodes, _, _ = cluster_nodes("redis+cluster://" + rest)
    except ValueError:
        return
    assert nodes and all(0 < port < 65536 for _, port in nodes)


def test_hash_tags_are_found_as_a_cluster_finds_them() -> None:
    assert hash_tag("kodeord:{s:tv/mello}:outbox") == "s:tv/mello"
    assert hash_tag(b"a{b}c{d}") == b"b"
    assert hash_tag("a{}b{c}") == "a{}b{c}"  # an empty first tag: the whole key
    assert hash_tag("kodeord:portability") == "kodeord:portability"
    assert hash_tag("{kodeord:portability}:import:1") == "kodeord:portability"  # the same slot as the table


def test_a_script_called_with_keys_under_two_hash_tags_is_refused_before_redis(kodeord_redis: redis.Redis) -> None:
    from kodeord.outbound.outbox import _MOVE_DUE

    with pytest.raises(ScriptCallError, match="one hash tag"):
        _MOVE_DUE(kodeord_redis, ["kodeord:{s:a/b}:retry", "kodeord:{s:c/d}:outbox"], [0, 10])


def test_the_url_connects_and_rqs_client_keeps_to_the_same_redis(kodeord_redis_url: str, tmp_path: Path) -> None:
    client, server = connect(kodeord_redis_url, tmp_path)
    assert server is None
    client.set("kodeord:{t}:a", "1")
    rqs = for_rq(client)
    assert rqs.get("kodeord:{t}:a") == b"1" and is_cluster(rqs) == is_cluster(client)
    assert client_for(kodeord_redis_url, decode_responses=True).get("kodeord:{t}:a") == "1"


def test_rqs_pipelines_are_transactions_and_ours_say_so(kodeord_redis: redis.Redis) -> None:
    pipe = for_rq(kodeord_redis).pipeline()
    pipe.watch("kodeord:{t}:a")  # RQ watches before MULTI: only a transaction may
    assert pipe.watching
    pipe.multi()
    assert pipe.explicit_transaction
    pipe.set("kodeord:{t}:a", "2")
    pipe.execute()
    assert kodeord_redis.get("kodeord:{t}:a") == b"2"


def test_a_transaction_over_two_slots_fails_on_a_cluster_and_not_quietly(kodeord_redis: redis.Redis) -> None:
    if not is_cluster(kodeord_redis):
        pytest.skip("a single Redis has no slots (make test-cluster runs this)")
    pipe = kodeord_redis.pipeline(transaction=True)
    pipe.set("kodeord:{a}:x", 1)
    pipe.set("kodeord:{b}:x", 1)
    with pytest.raises(REDIS_ERRORS):
        pipe.execute()
    assert kodeord_redis.exists("kodeord:{a}:x") == kodeord_redis.exists("kodeord:{b}:x") == 0
    assert sorted(kodeord_redis.keys("*")) == []
    kodeord_redis.set("kodeord:{a}:x", 1)
    kodeord_redis.set("kodeord:{b}:x", 1)
    assert sorted(kodeord_redis.keys("kodeord:*")) == [b"kodeord:{a}:x", b"kodeord:{b}:x"]  # from every primary
    assert kodeord_redis.dbsize() == 2


def test_a_cluster_between_primaries_counts_as_unavailable() -> None:
    for error in (
        redis.exceptions.ClusterDownError,
        redis.exceptions.ClusterError,
        redis.exceptions.SlotNotCoveredError,
    ):
        assert issubclass(error, UNAVAILABLE) and issubclass(error, REDIS_ERRORS)
