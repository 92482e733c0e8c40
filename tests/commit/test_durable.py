"""Commits that wait for replicas (KODEORD_REDIS_WAIT_REPLICAS): a webhook answers 200 only once enough replicas
confirmed the commit, 503 (and the gateway retries) when they did not in time; the retry that finds the commit
stored answers it as a duplicate once it is replicated, and nothing counts twice.

On the session's Redis: a single Redis has no replica; a cluster (``make test-cluster``) has one per primary."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
import redis

from kodeord.commit.durable import NotReplicated, Replicated
from kodeord.platform import Platform
from kodeord.plugins.voting.store import PollKeys
from kodeord.support.luascript import ScriptCallError
from kodeord.support.redis_client import UNAVAILABLE, is_cluster
from kodeord.web.app import create_app

from ..conftest import free_port
from ..televote_rig import GATEWAYS, poll_rules


def _replicas(client: redis.Redis) -> int:
    """Replicas every primary of the session's Redis has."""
    return 1 if is_cluster(client) else 0


@pytest.fixture
def vote(
    make_platform: Callable[..., Platform], serve: Callable[..., str], tmp_path: Path
) -> Callable[..., tuple[Platform, Callable[[str], httpx.Response]]]:
    """``vote(wait_replicas)``: a platform whose commits wait for that many replicas (at most 100 ms), and a
    function sending it a Kannel vote with a given message id."""

    def build(wait_replicas: int) -> tuple[Platform, Callable[[str], httpx.Response]]:
        now = datetime.now(UTC)
        rules = tmp_path / f"tv-{wait_replicas}.yaml"
        rules.write_text(poll_rules(now - timedelta(hours=1), now + timedelta(hours=1)), encoding="utf-8")
        gateways = tmp_path / "gateways.yaml"
        gateways.write_text(GATEWAYS.format(sendsms="http://127.0.0.1:9/", api="http://127.0.0.1:9", alerts=""))
        port = free_port()
        platform = make_platform(
            [rules], gateways=gateways, public_url=f"http://127.0.0.1:{port}", redis_wait_replicas=wait_replicas,
            redis_wait_ms=100,
        )  # fmt: skip
        url = serve(create_app(platform), port)

        def send(message_id: str) -> httpx.Response:
            params = {"from": "+46701234567", "to": "72500", "text": "MELLO 01", "id": message_id, "secret": "s3cret"}
            return httpx.get(f"{url}/gateways/k1/kannel", params=params)

        return platform, send

    return build


def _count(client: redis.Redis) -> int:
    return int(client.hget(PollKeys("tv/mello").counts, "01:sms") or 0)


def test_a_commit_more_replicas_than_there_are_confirm_answers_503_and_is_not_counted_twice(
    vote: Callable[..., tuple[Platform, Callable[[str], httpx.Response]]], kodeord_redis: redis.Redis
) -> None:
    there_are = _replicas(kodeord_redis)
    platform, send = vote(there_are)
    assert send("v-0").status_code == 200  # the outbox registered, with the replicas there are
    platform.committer.replicated = Replicated(platform.redis, there_are + 1, 100)
    first = send("v-1")
    assert first.status_code == 503, first.text  # stored on the primary, not acknowledged: the gateway retries
    assert first.headers["Retry-After"] == "1"
    assert _count(kodeord_redis) == 2
    assert send("v-1").status_code == 503  # its retry: found stored, still not replicated enough
    platform.committer.replicated = Replicated(platform.redis, there_are, 100)
    again = send("v-1")  # once enough replicas confirm: a duplicate, acknowledged
    assert again.status_code == 200 and again.headers["X-Kodeord-Status"] == "duplicate"
    assert _count(kodeord_redis) == 2  # v-1 once


def test_a_new_outbox_is_registered_only_once_replicated(
    vote: Callable[..., tuple[Platform, Callable[[str], httpx.Response]]], kodeord_redis: redis.Redis
) -> None:
    _, send = vote(_replicas(kodeord_redis) + 1)
    assert send("v-1").status_code == 503  # its replies would wait in an outbox no sender might know of
    assert _count(kodeord_redis) == 0


def test_a_commit_the_replicas_confirm_answers_200_and_its_retry_is_a_duplicate(
    vote: Callable[..., tuple[Platform, Callable[[str], httpx.Response]]], kodeord_redis: redis.Redis
) -> None:
    _, send = vote(_replicas(kodeord_redis))
    assert send("v-1").status_code == 200
    again = send("v-1")
    assert again.status_code == 200 and again.headers["X-Kodeord-Status"] == "duplicate"
    assert _count(kodeord_redis) == 1


def test_a_replicated_commit_keeps_the_scripts_checks(kodeord_redis: redis.Redis) -> None:
    from kodeord.commit.committer import _COMMIT

    with pytest.raises(ScriptCallError):
        Replicated(kodeord_redis, replicas=1).run(_COMMIT, ["a"], [])
    with pytest.raises(ValueError, match="0 or more"):
        Replicated(kodeord_redis, replicas=-1)
    assert issubclass(NotReplicated, UNAVAILABLE)  # what the webhooks answer 503 to, and senders wait out
