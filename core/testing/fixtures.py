"""Pytest fixtures for testing Kodeord plugins (installed as a pytest plugin).

Fixtures, all on a real Redis (an embedded redis-server started once per test
session, emptied before each test; set ``KODEORD_TEST_REDIS_URL`` to use
another, which is then flushed too, a cluster's ``redis+cluster://`` URL included;
set ``KODEORD_TEST_CLUSTER=1`` to run on a Redis Cluster of 3 primaries and 3
replicas started for the session from the embedded redis-server):

- ``kodeord_redis``: a Redis client;
- ``make_platform``: ``make_platform(rules_yaml_or_paths, plugins=[...])`` builds a
  ``Platform`` with your plugin registered and closes it after the test;
- ``make_inbound``: builds an ``Inbound`` with sensible defaults and a fresh id;
- ``recording_gateway``: a gateway that keeps what it was asked to send;
- ``deliver``: ``deliver(platform)`` drains the outbox into ``recording_gateway``
  and returns the messages sent.
"""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import redis

from kodeord.config.settings import Settings
from kodeord.inbound.messages import Inbound, Outbound
from kodeord.outbound.gateway import RecordingGateway
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.support.redis_client import client_for
from kodeord.support.redis_cluster import EmbeddedCluster
from kodeord.support.redis_server import EmbeddedRedis


@pytest.fixture(scope="session")
def kodeord_redis_url() -> Iterator[str]:
    """URL of the Redis the tests use (embedded unless KODEORD_TEST_REDIS_URL is set).

    The embedded one asks for a password, which the URL carries: pass the URL on (``redis.Redis.from_url``,
    ``KODEORD_REDIS_URL``) rather than building one from a host and port.
    """
    external = os.environ.get("KODEORD_TEST_REDIS_URL")
    if external:
        yield external
        return
    with tempfile.TemporaryDirectory(prefix="kodeord-test-redis-") as tmp:
        if os.environ.get("KODEORD_TEST_CLUSTER", "") not in ("", "0"):
            with EmbeddedCluster(Path(tmp)).start() as cluster:
                yield cluster.url
            return
        server = EmbeddedRedis(Path(tmp)).start()
        try:
            yield server.url
        finally:
            server.stop()


@pytest.fixture
def kodeord_redis(kodeord_redis_url: str) -> Iterator[redis.Redis]:
    """A client for an empty Redis."""
    client = client_for(kodeord_redis_url)
    client.flushdb()  # on a cluster: every primary
    yield client
    client.close()


@pytest.fixture
def make_platform(
    kodeord_redis: redis.Redis, tmp_path: Path, kodeord_redis_url: str
) -> Iterator[Callable[..., Platform]]:
    """Factory: ``make_platform(rules, plugins=(), environ=None, **settings)`` -> a started ``Platform``.

    ``rules`` is YAML text (written to a file for you), a path, or a list of paths. Settings come from
    ``environ`` (``KODEORD_*`` variables; the process environment is not read) and ``settings`` overrides.
    """
    made: list[Platform] = []
    counter = itertools.count()

    def factory(
        rules: str | Path | Iterable[Path] = (),
        plugins: Iterable[object] = (),
        environ: Mapping[str, str] | None = None,
        **overrides: Any,
    ) -> Platform:
        if isinstance(rules, str):
            path = tmp_path / f"rules-{next(counter)}.yaml"
            path.write_text(rules, encoding="utf-8")
            paths: tuple[Path, ...] = (path,)
        elif isinstance(rules, Path):
            paths = (rules,)
        else:
            paths = tuple(rules)
        settings = Settings(environ=environ or {}, redis_url=kodeord_redis_url, data_dir=tmp_path / "var", **overrides)
        platform = Platform(settings, plugins=plugins, redis_client=kodeord_redis, rule_paths=paths)
        made.append(platform)
        return platform

    yield factory
    for platform in made:
        platform.close()


@pytest.fixture
def make_inbound() -> Callable[..., Inbound]:
    """Factory: ``make_inbound(text, to=..., sender=..., **fields)`` with a fresh message id."""
    ids = itertools.count(1)

    def factory(text: str, to: str = "72500", sender: str = "+46701234567", **fields: Any) -> Inbound:
        fields.setdefault("gateway", "test")
        fields.setdefault("message_id", f"test-{next(ids)}")
        return Inbound.create(sender=sender, recipient=to, text=text, **fields)

    return factory


@pytest.fixture
def recording_gateway() -> RecordingGateway:
    """A gateway that records every message it is asked to send."""
    return RecordingGateway()


@pytest.fixture
def deliver(recording_gateway: RecordingGateway) -> Callable[[Platform], list[Outbound]]:
    """``deliver(platform)``: send everything queued through ``recording_gateway``; return what was sent."""

    def run(platform: Platform) -> list[Outbound]:
        before = len(recording_gateway.sent)
        sender = Sender(platform, gateway=recording_gateway)
        while sender.run_once():
            pass
        return recording_gateway.sent[before:]

    return run
