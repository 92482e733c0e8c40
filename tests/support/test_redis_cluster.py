"""A real Redis Cluster on loopback from the embedded redis-server: it comes up with every slot served, takes
keys of every slot, survives the loss of a primary (its replica takes over), and leaves nothing running."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
import redis

from kodeord.support.redis_cluster import EmbeddedCluster


def test_a_cluster_comes_up_survives_a_primarys_loss_and_stops_cleanly(tmp_path: Path) -> None:
    with EmbeddedCluster(tmp_path / "cluster").start() as cluster:
        assert cluster.url.startswith("redis+cluster://:") and cluster.url.count("127.0.0.1:") == 6
        client = cluster.client()
        for n in range(300):  # keys over every primary's slots
            client.set(f"k{n}", n)
        assert [int(client.get(f"k{n}")) for n in range(300)] == list(range(300))
        assert len(cluster.primary_ports()) == 3
        lost = cluster.kill_primary(0)
        lost_keys = [f"k{n}" for n in range(300) if client.keyslot(f"k{n}") in _slots(cluster, lost)]
        assert lost_keys, "the killed primary served none of the keys"
        deadline = time.monotonic() + 90  # how soon it does is bench/cluster.py's to measure
        while True:
            try:
                client.set(lost_keys[0], "after")
                break
            except (redis.RedisError, redis.exceptions.RedisClusterException):
                assert time.monotonic() < deadline, "no replica took over"
                time.sleep(0.2)
        assert client.get(lost_keys[0]) == b"after"
        assert len(cluster.primary_ports()) == 3  # the replica is a primary now
        pids = [node.pid for node in cluster.nodes if node.pid is not None]
    assert pids and all(not _alive(pid) for pid in pids)


def _slots(cluster: EmbeddedCluster, port: int) -> set[int]:
    """The slots the node on ``port`` served before it was killed (as a live node remembers them)."""
    alive = next(node for node in cluster.nodes if node.pid is not None)
    with redis.Redis(host="127.0.0.1", port=alive.port, password=cluster.password) as client:
        slots: set[int] = set()
        for start, end, primary, *_ in client.execute_command("CLUSTER", "SLOTS"):
            if int(primary[1]) == port:
                slots.update(range(int(start), int(end) + 1))
        return slots


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_local_cluster_command_prints_its_url_and_stops_every_node_at_ctrl_c(tmp_path: Path) -> None:
    import signal
    import subprocess
    import sys

    from kodeord.support.redis_client import client_for

    command = [sys.executable, "-m", "kodeord.support.redis_cluster", str(tmp_path / "c"), "--replicas", "0"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as process:
        assert process.stdout is not None
        line = process.stdout.readline().strip()
        assert line.startswith("KODEORD_REDIS_URL='redis+cluster://:") and line.endswith("'"), line
        with client_for(line.partition("=")[2].strip("'")) as client:
            client.set("kodeord:{t}:a", "1")
            assert client.get("kodeord:{t}:a") == b"1"
        pids = [int(p.read_text()) for p in (tmp_path / "c").glob("node*/redis.pid")]
        assert len(pids) == 3
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    assert not any(_alive(pid) for pid in pids)
    again = subprocess.run(command, capture_output=True, text=True, timeout=30)  # the same folder: refused
    assert again.returncode == 1 and "holds the nodes of an earlier cluster" in again.stderr
    assert "Traceback" not in again.stderr


@pytest.mark.parametrize(
    ("options", "problem"),
    [(["--primaries", "2"], "at least 3 primaries, not 2"), (["--replicas", "-1"], "0 or more, not -1")],
)
def test_the_local_cluster_command_refuses_a_cluster_redis_cannot_make(
    tmp_path: Path, options: list[str], problem: str
) -> None:
    import subprocess
    import sys

    command = [sys.executable, "-m", "kodeord.support.redis_cluster", str(tmp_path / "c"), *options]
    done = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert done.returncode == 1 and problem in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "c").exists()  # nothing made, so the folder can be used as it is
