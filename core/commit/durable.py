"""Commits that wait for replicas: a message is acknowledged only once ``KODEORD_REDIS_WAIT_REPLICAS`` replicas
of its primary have its commit (Redis ``WAIT``), so losing the primary loses nothing acknowledged.

Redis replicates asynchronously: a primary that dies may take with it the last writes it answered, and the replica
that takes over never had them. ``WAIT n ms`` blocks until ``n`` replicas have every write the same connection
made, or ``ms`` pass. So the commit's script, a small write marking the slot (which makes ``WAIT`` cover every
earlier write to that primary too, a commit that was already stored by an earlier try included: replication is
one stream in order) and ``WAIT`` go over one connection to the primary of the commit's slot, in one round trip.
When fewer replicas confirm in time, :class:`NotReplicated` is raised: the webhook answers 503, the gateway sends
the message again, and the commit stored the first time answers it as a duplicate (once replicated).

With ``KODEORD_REDIS_WAIT_REPLICAS=0`` (the default) a commit is one script call, as on a Redis without replicas.
"""

from __future__ import annotations

from typing import Any

import redis
from redis.cluster import RedisCluster

from kodeord.support.luascript import LuaScript, hash_tag
from kodeord.support.redis_client import UNAVAILABLE

MARK_MS = 60_000  # how long the slot's marker lives (any write would do; this one expires)


class NotReplicated(redis.RedisError):
    """A commit that fewer replicas than asked confirmed in time; it is stored on the primary, not acknowledged."""


class Replicated:
    """Runs commit scripts on ``client`` and, with ``replicas`` > 0, waits up to ``timeout_ms`` for them."""

    def __init__(self, client: redis.Redis, replicas: int = 0, timeout_ms: int = 500) -> None:
        if replicas < 0 or timeout_ms < 0:
            raise ValueError("replicas and timeout_ms must be 0 or more")
        self.client = client
        self.replicas = replicas
        self.timeout_ms = timeout_ms

    def run(self, script: LuaScript, keys: list[Any], args: list[Any]) -> Any:
        """``script(keys, args)``'s result, once ``replicas`` replicas have it."""
        if not self.replicas:
            return script(self.client, keys, args)
        script.check(keys, args)
        cluster = self.client if isinstance(self.client, RedisCluster) else None
        for _attempt in range(3):
            primary = self.client if cluster is None else _primary(cluster, keys[0])
            try:
                return self._run_on(primary, script, keys, args)
            except redis.exceptions.AskError:  # MovedError too: the slot has another primary now
                assert cluster is not None
                cluster.nodes_manager.initialize()
            except UNAVAILABLE:
                if cluster is not None:  # the primary may be gone: learn who serves the slot before the next try
                    cluster.nodes_manager.initialize()
                raise
        raise redis.exceptions.ClusterDownError(f"the slot of {keys[0]!r} kept moving")

    def _run_on(self, primary: redis.Redis, script: LuaScript, keys: list[Any], args: list[Any]) -> Any:
        mark = f"kodeord:{{{_text(hash_tag(keys[0]))}}}:replicated"
        for _attempt in range(2):
            pipe = primary.pipeline(transaction=False)
            pipe.evalsha(script.sha, len(keys), *keys, *args)
            pipe.set(mark, "", px=MARK_MS)
            pipe.execute_command("WAIT", self.replicas, self.timeout_ms)
            result, _, confirmed = pipe.execute(raise_on_error=False)
            if isinstance(result, redis.exceptions.NoScriptError):  # a replica that took over has no scripts yet
                primary.script_load(script.text)
                continue
            if isinstance(result, Exception):
                raise result
            if isinstance(confirmed, Exception):
                raise confirmed
            if int(confirmed) < self.replicas:
                raise NotReplicated(
                    f"{confirmed} of {self.replicas} replica(s) confirmed the commit within {self.timeout_ms} ms"
                )
            return result
        raise redis.exceptions.NoScriptError(f"{script.name} could not be loaded")


def _primary(cluster: RedisCluster, key: str) -> redis.Redis:
    """A client for the node that serves ``key``'s slot now (as far as ``cluster`` knows)."""
    node = cluster.get_node_from_key(key)
    if node is None:
        raise redis.exceptions.ClusterDownError(f"no node serves the slot of {key!r} now")
    return cluster.get_redis_connection(node)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
