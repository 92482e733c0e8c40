"""A live televote on a Redis Cluster that loses the primary holding the poll: its replica takes over, webhooks
that cannot commit answer 503 meanwhile (the gateway retries them), every vote answered 200 counts once, and
the replies are sent, the sender going on by itself. With the documented safe setting (docs/scaling.md):
KODEORD_REDIS_WAIT_REPLICAS=1 and two replicas per primary, so that the replica taking over still has one."""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis

from kodeord.config.settings import Settings
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.plugins.voting.store import PollKeys
from kodeord.support.redis_cluster import EmbeddedCluster
from kodeord.testing.fakekannel import running
from kodeord.web.app import create_app

from ..conftest import free_port
from ..televote_rig import GATEWAYS, poll_rules

VOTERS, VOTES_EACH, KILL_AFTER = 4, 60, 80


def test_a_televote_loses_no_acknowledged_vote_when_its_primary_dies(tmp_path: Path, serve: Callable[..., str]) -> None:
    now = datetime.now(UTC)
    rules, gateways = tmp_path / "tv.yaml", tmp_path / "gateways.yaml"
    rules.write_text(poll_rules(now - timedelta(hours=1), now + timedelta(hours=1)), encoding="utf-8")
    with EmbeddedCluster(tmp_path / "cluster", replicas=2).start() as cluster, running() as kannel:
        gateways.write_text(GATEWAYS.format(sendsms=kannel.url, api="http://127.0.0.1:9", alerts=""))
        port = free_port()
        settings = Settings(
            environ={}, redis_url=cluster.url, data_dir=tmp_path / "var", gateways=gateways,
            public_url=f"http://127.0.0.1:{port}", secret_key="test-key", redis_wait_replicas=1, redis_wait_ms=1000,
        )  # fmt: skip
        with Platform(settings, rule_paths=[rules]) as platform:
            url = serve(create_app(platform), port)
            stop = threading.Event()
            sending = threading.Thread(target=Sender(platform).run, args=(stop,))
            sending.start()
            answered: Counter[int] = Counter()
            acknowledged: list[str] = []
            lock = threading.Lock()

            def voter(v: int) -> None:
                with httpx.Client(timeout=10) as http:
                    for n in range(VOTES_EACH):
                        sender = f"+4670{v}{n:06d}"
                        params = {
                            "from": sender,
                            "to": "72500",
                            "text": "MELLO 01",
                            "id": f"{v}-{n}",
                            "secret": "s3cret",
                        }
                        deadline = time.monotonic() + 60
                        while True:  # as a gateway does: the same message again until it is taken
                            try:
                                status = http.get(f"{url}/gateways/k1/kannel", params=params).status_code
                            except httpx.TransportError:
                                status = 0
                            with lock:
                                answered[status] += 1
                                if status == 200:
                                    acknowledged.append(sender)
                            if status == 200:
                                break
                            assert status == 503, status  # never 500: a refused vote is one to retry
                            assert time.monotonic() < deadline, "no primary took over"
                            time.sleep(0.05)

            voters = [threading.Thread(target=voter, args=(v,)) for v in range(VOTERS)]
            for thread in voters:
                thread.start()
            while len(acknowledged) < KILL_AFTER:
                time.sleep(0.01)
            cluster.kill_primary_of(PollKeys("tv/mello").counts)
            for thread in voters:
                thread.join(120)
            counted = int(platform.redis.hget(PollKeys("tv/mello").counts, "01:sms") or 0)
            deadline = time.monotonic() + 60
            while len({m["to"] for m in kannel.accepted}) < VOTERS * VOTES_EACH and time.monotonic() < deadline:
                time.sleep(0.1)
            stop.set()
            sending.join(30)
    assert len(acknowledged) == len(set(acknowledged)) == VOTERS * VOTES_EACH
    assert counted == VOTERS * VOTES_EACH, (counted, answered)  # none lost, none twice
    assert answered[503] > 0, answered  # the failover was seen, and refused rather than acknowledged
    assert {m["to"] for m in kannel.accepted} == set(acknowledged)  # every voter's reply went out


def test_a_commit_that_waits_for_replicas_follows_a_slot_being_moved(tmp_path: Path) -> None:
    from kodeord.commit.durable import Replicated
    from kodeord.web.console.accounts import _COUNT_ATTEMPT  # a one-key script that writes

    with EmbeddedCluster(tmp_path / "cluster", primaries=3, replicas=1).start() as cluster:
        client = cluster.client()
        key = "kodeord:{s:tv/mello}:attempts"
        slot = client.keyslot(key)  # type: ignore[attr-defined]
        nodes = client.get_primaries()  # type: ignore[attr-defined]
        source = client.get_node_from_key(key)  # type: ignore[attr-defined]
        target = next(n for n in nodes if n.name != source.name)
        into, out_of = client.get_redis_connection(target), client.get_redis_connection(source)  # type: ignore[attr-defined]
        into.execute_command("CLUSTER", "SETSLOT", slot, "IMPORTING", out_of.execute_command("CLUSTER", "MYID"))
        out_of.execute_command("CLUSTER", "SETSLOT", slot, "MIGRATING", into.execute_command("CLUSTER", "MYID"))
        replicated = Replicated(client, replicas=1, timeout_ms=1000)
        assert replicated.run(_COUNT_ATTEMPT, [key], [60]) == 1  # not on the source: asked for on the target
        assert replicated.run(_COUNT_ATTEMPT, [key], [60]) == 2
        pipe = into.pipeline(transaction=False)
        pipe.execute_command("ASKING")
        pipe.get(key)
        assert pipe.execute()[1] == b"2"  # it lives on the node the slot moves to
        with pytest.raises(redis.exceptions.AskError):  # the source has it not, and sends a client to the target
            out_of.get(key)
        client.close()
