"""The embedded Redis: persistence, restart, and never a process left behind."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis

from kodeord.redis_server import EmbeddedRedis, RedisStartError, connect


def gone(pid: int, within: float = 10.0) -> bool:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:  # reap it if it is our zombie child
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False


def test_data_survives_stop_and_start(tmp_path: Path) -> None:
    server = EmbeddedRedis(tmp_path).start()
    client = redis.Redis.from_url(server.url)
    client.set("vote", "42")
    pid = server.pid
    assert pid is not None
    server.stop()
    assert gone(pid)
    assert (tmp_path / "appendonly.aof").exists()
    server.start()
    assert redis.Redis.from_url(server.url).get("vote") == b"42"
    server.stop()


def test_restart_keeps_the_port(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as server:
        url = server.url
        redis.Redis.from_url(url).set("k", "v")
        server.restart()
        assert server.url == url
        assert redis.Redis.from_url(url).get("k") == b"v"


def test_second_server_on_the_same_dir_is_refused(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path):
        with pytest.raises(RedisStartError, match="is using"):
            EmbeddedRedis(tmp_path).start()


def test_server_dies_with_a_killed_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from kodeord.redis_server import EmbeddedRedis
        server = EmbeddedRedis(Path({str(tmp_path)!r})).start()
        print(server.pid, flush=True)
        time.sleep(60)
        """
    )
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert child.stdout is not None
    pid = int(child.stdout.readline())
    child.kill()
    child.wait()
    child.stdout.close()
    assert gone(pid)


def test_connect_with_url_starts_nothing(tmp_path: Path, kodeord_redis_url: str) -> None:
    client, server = connect(kodeord_redis_url, tmp_path)
    assert server is None and client.ping()
    assert not (tmp_path / "redis.pid").exists()


def test_connect_shares_a_server_already_running_in_the_data_dir(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as server:
        client, started = connect(None, tmp_path)
        assert started is None
        client.set("shared", "1")
        assert redis.Redis.from_url(server.url).get("shared") == b"1"
        client.close()
    client, started = connect(None, tmp_path)  # nobody runs it now: start our own
    assert started is not None and client.get("shared") == b"1"
    client.close()
    started.stop()
