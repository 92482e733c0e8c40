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

from collections.abc import Callable
from typing import Any

import redis
from redis.cluster import RedisCluster

from kodeord.support.luascript import LuaScript, hash_tag
from kodeord.support.redis_client import UNAVAILABLE

MARK_MS = 60_000  # how long the slot's marker lives (any write would do; this one expires)


class NotReplicated(redis.TimeoutError):
    """A commit that fewer replicas than asked confirmed in time; it is stored on the primary, not acknowledged.
    A timeout, so it counts as Redis being unavailable (:data:`~kodeord.support.redis_client.UNAVAILABLE`):
    answered 503, tried again."""


Queue = Callable[[redis.client.Pipeline], object]  # puts one write on a pipeline


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
        return self._on_primary(keys[0], lambda pipe: pipe.evalsha(script.sha, len(keys), *keys, *args), script)

    def add(self, key: str, member: str) -> None:
        """``SADD key member``, once ``replicas`` replicas have it (a registration a commit counts on)."""
        if not self.replicas:
            self.client.sadd(key, member)
            return
        self._on_primary(key, lambda pipe: pipe.sadd(key, member))

    def _on_primary(self, key: str, queue: Queue, script: LuaScript | None = None) -> Any:
        """Run what ``queue`` puts on a pipeline on the primary of ``key``'s slot, then wait for the replicas;
        what it answered. Follows a slot that moved (MOVED) or is moving (ASK)."""
        cluster = self.client if isinstance(self.client, RedisCluster) else None
        asking: tuple[str, int] | None = None
        for _attempt in range(3):
            try:
                if cluster is None:
                    return self._run_on(self.client, key, queue, script)
                if asking is not None:  # the key is moving to another node: ask it there, this once
                    return self._run_on(_node(cluster, *asking), key, queue, script, asking=True)
                return self._run_on(_node(cluster, key), key, queue, script)
            except redis.exceptions.MovedError:
                if cluster is None:
                    raise  # a single-Redis URL that names a node of a cluster: say so, as Redis did
                cluster.nodes_manager.initialize()
                asking = None
            except redis.exceptions.AskError as ask:
                if cluster is None:
                    raise
                asking = (ask.host, int(ask.port))
            except UNAVAILABLE:
                if cluster is not None:  # the primary may be gone: learn who serves the slot before the next try
                    cluster.nodes_manager.initialize()
                raise
        raise redis.exceptions.TryAgainError(f"the slot of {key!r} kept moving")

    def _run_on(
        self, primary: redis.Redis, key: str, queue: Queue, script: LuaScript | None, asking: bool = False
    ) -> Any:
        mark = f"kodeord:{{{_text(hash_tag(key))}}}:replicated"
        for _attempt in range(2):
            pipe = primary.pipeline(transaction=False)
            if asking:
                pipe.execute_command("ASKING")
            queue(pipe)
            if asking:
                pipe.execute_command("ASKING")
            pipe.set(mark, "", px=MARK_MS)
            pipe.execute_command("WAIT", self.replicas, self.timeout_ms)
            answers = pipe.execute(raise_on_error=False)
            result, confirmed = answers[1 if asking else 0], answers[-1]
            if script is not None and isinstance(result, redis.exceptions.NoScriptError):
                primary.script_load(script.text)  # a replica that took over has no scripts yet; nothing ran
                continue
            for answer in answers:
                if isinstance(answer, Exception):
                    raise answer
            if int(confirmed) < self.replicas:
                raise NotReplicated(
                    f"{confirmed} of {self.replicas} replica(s) confirmed the commit within {self.timeout_ms} ms"
                )
            return result
        raise redis.exceptions.NoScriptError(f"{script.name if script else 'the script'} could not be loaded")


def _node(cluster: RedisCluster, key_or_host: str, port: int | None = None) -> redis.Redis:
    """A client for the node serving ``key``'s slot now (as far as ``cluster`` knows), or for ``host:port``."""
    if port is None:
        node = cluster.get_node_from_key(key_or_host)
        what = f"the slot of {key_or_host!r}"
    else:
        node = cluster.get_node(host=key_or_host, port=port)
        what = f"{key_or_host}:{port}"
    if node is None:
        raise redis.exceptions.ClusterDownError(f"no node serves {what} now, as far as this client knows")
    return cluster.get_redis_connection(node)


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
