"""A Redis client for a URL: one Redis (``redis://``, ``rediss://``, ``unix://``) or a Redis Cluster.

A cluster's URL names the nodes a client starts from, comma-separated; the client learns the rest from them::

    redis+cluster://[[USER]:PASSWORD@]HOST:PORT[,HOST:PORT...]
    rediss+cluster://...                      (the same over TLS)

On a cluster, Kodeord's client is a :class:`ClusterClient`, typed as ``redis.Redis`` throughout: it answers the
same commands. A pipeline without ``transaction=`` is a MULTI/EXEC transaction on a single Redis and not on a
cluster, so Kodeord always says which it wants (a test holds it to that): a transaction whose keys are in two
slots then fails with a CROSSSLOT error instead of quietly running as several. Every transaction and script of
Kodeord keeps its keys under one hash tag (see :mod:`kodeord.commit.keys`). RQ, which leaves ``transaction=``
out, gets a client of its own whose pipelines are transactions (:func:`for_rq`).
"""

from __future__ import annotations

from typing import Any, cast
from urllib.parse import unquote

import redis
from redis.cluster import ClusterNode, ClusterPipeline, RedisCluster
from redis.commands.core import CoreCommands

CLUSTER_SCHEMES = ("redis+cluster", "rediss+cluster")

# What a client raises when Redis cannot answer now, and a later try may do: a lost connection, a timeout, or a
# cluster between a primary's loss and its replica's taking over (a slot not served, CLUSTERDOWN, TRYAGAIN, slots
# that kept moving, or no node reachable). redis-py raises some of the cluster's errors outside
# ``redis.RedisError``, and its CROSSSLOT refusals among them: Kodeord's own keep to one slot by design (and tests).
UNAVAILABLE: tuple[type[Exception], ...] = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.exceptions.ClusterError,
    redis.exceptions.TryAgainError,
    redis.exceptions.RedisClusterException,
)
# A cluster client's timeouts: a node whose host is gone answers nothing, not even a refusal, and a request must
# not wait for the system's TCP timeouts (minutes) before it is answered 503 and the next try finds the new primary.
CLUSTER_TIMEOUTS = {"socket_connect_timeout": 1.0, "socket_timeout": 5.0}
RQ_SOCKET_TIMEOUT_S = 10.0  # RQ's cluster client: above its worker's wait for a job
# Anything a client raises about Redis.
REDIS_ERRORS: tuple[type[Exception], ...] = (redis.RedisError, redis.exceptions.RedisClusterException)


class _Pipeline(ClusterPipeline):
    """redis-py's cluster pipeline with the two attributes RQ reads from a single Redis's pipeline, and the
    commands on several keys back (:data:`_SEVERAL_KEYS`): redis-py refuses them in every cluster pipeline, but
    in a transaction, whose keys are all in one slot, they are as safe as any."""

    @property
    def watching(self) -> bool:
        return bool(self._execution_strategy._watching)  # type: ignore[attr-defined]

    @property
    def explicit_transaction(self) -> bool:
        return bool(self._execution_strategy._explicit_transaction)  # type: ignore[attr-defined]


_SEVERAL_KEYS = ("rename", "renamenx", "mget", "sdiff", "sinter", "sunion", "sunionstore", "smove", "pfcount")
for _name in _SEVERAL_KEYS:
    setattr(_Pipeline, _name, getattr(CoreCommands, _name))


class ClusterClient(RedisCluster):
    """redis-py's cluster client, which remembers how it was made (for RQ's copy of it, :func:`for_rq`)."""

    transactions = False  # what pipeline() makes when not told: redis-py's own multi-slot commands need False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._made_with = kwargs

    def pipeline(self, transaction: bool | None = None, shard_hint: Any = None) -> ClusterPipeline:
        transaction = self.transactions if transaction is None else transaction
        pipe = super().pipeline(transaction=transaction, shard_hint=shard_hint)
        pipe.__class__ = _Pipeline
        return pipe

    def keys(self, pattern: Any = "*", **kwargs: Any) -> Any:
        """The keys matching ``pattern`` in the whole cluster (redis-py asks one node), as on a single Redis."""
        return super().keys(pattern, **{"target_nodes": self.PRIMARIES, **kwargs})

    def dbsize(self, **kwargs: Any) -> Any:
        """The keys in the whole cluster (redis-py asks one node), as on a single Redis."""
        return super().dbsize(**{"target_nodes": self.PRIMARIES, **kwargs})


class _RQClusterClient(ClusterClient):
    """A cluster client for RQ, which counts on ``pipeline()`` being a transaction as a single Redis's is."""

    transactions = True


def is_cluster(client: object) -> bool:
    """Whether ``client`` talks to a Redis Cluster."""
    return isinstance(client, RedisCluster)


def cluster_nodes(url: str) -> tuple[list[tuple[str, int]], str | None, str | None]:
    """The ``(host, port)`` nodes, user and password of a ``redis+cluster://`` URL; ``ValueError`` saying what is
    wrong with one that is not."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme not in CLUSTER_SCHEMES:
        raise ValueError(f"not a cluster URL (redis+cluster://HOST:PORT,...): {scheme}://...")
    if "?" in rest or "#" in rest:
        raise ValueError("a redis+cluster:// URL takes no options after the nodes")
    credentials, at, hosts = rest.rpartition("@")
    user = password = None
    if at:
        name, colon, secret = credentials.partition(":")
        user = unquote(name) or None
        password = unquote(secret) if colon else None
    nodes = []
    for part in hosts.rstrip("/").split(","):
        host, colon, port = part.strip().rpartition(":")
        if not colon or not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ValueError(f"a cluster node must be HOST:PORT, not {part.strip()!r}")
        nodes.append((host.strip("[]"), int(port)))
    return nodes, user, password


def client_for(url: str, **options: Any) -> redis.Redis:
    """A client for ``url``: a :class:`ClusterClient` for ``redis+cluster://`` and ``rediss+cluster://``, else
    ``redis.Redis.from_url``. ``options`` go to the client (``decode_responses=True``, timeouts)."""
    if url.partition("://")[0] not in CLUSTER_SCHEMES:
        return redis.Redis.from_url(url, **options)
    nodes, user, password = cluster_nodes(url)
    client = ClusterClient(
        startup_nodes=[ClusterNode(host, port) for host, port in nodes],
        username=user,
        password=password,
        ssl=url.startswith("rediss+"),
        **{**CLUSTER_TIMEOUTS, **options},
    )
    return cast(redis.Redis, client)


def for_rq(client: redis.Redis) -> redis.Redis:
    """A client for RQ on ``client``'s Redis, with connections of its own. RQ's worker raises a single Redis's
    socket timeout above its wait for jobs, and the sender's commands keep theirs; a cluster client's is set
    here, above the worker's wait of a second at a time, and its pipelines are transactions, as RQ counts on."""
    if isinstance(client, ClusterClient):
        return cast(redis.Redis, _RQClusterClient(**{**client._made_with, "socket_timeout": RQ_SOCKET_TIMEOUT_S}))
    pool = client.connection_pool
    return redis.Redis(
        connection_pool=redis.ConnectionPool(connection_class=pool.connection_class, **pool.connection_kwargs)
    )
