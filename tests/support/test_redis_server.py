"""The embedded Redis: real redis-server processes, persistence, restart, and never a process left behind."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import redis

from kodeord.support.redis_server import EmbeddedRedis, RedisStartError, connect


def gone(pid: int, within: float = 5.0) -> bool:
    """Whether no process ``pid`` exists (reaping it if it is our zombie child) within ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass
        time.sleep(0.05)
    return False


@pytest.fixture
def make_server() -> Iterator[Callable[..., EmbeddedRedis]]:
    """``make_server(data_dir, port=0)``: an EmbeddedRedis that is stopped after the test whatever happens."""
    made: list[EmbeddedRedis] = []

    def make(data_dir: Path, port: int = 0) -> EmbeddedRedis:
        made.append(EmbeddedRedis(data_dir, port))
        return made[-1]

    yield make
    for server in made:
        server.stop()


def test_a_data_dir_too_deep_for_a_socket_gets_tcp_only(
    tmp_path: Path, make_server: Callable[..., EmbeddedRedis]
) -> None:
    server = make_server(tmp_path / ("d" * 100))
    server.start()
    assert server.socket is None and not (server.data_dir / "redis.sock").exists()
    assert server.url == f"redis://:{server.password}@127.0.0.1:{server.port}/0"
    assert redis.Redis.from_url(server.url).ping()


def test_start_ping_stop(tmp_path: Path, make_server: Callable[..., EmbeddedRedis]) -> None:
    server = make_server(tmp_path / "var")
    assert server.start() is server
    pid = server.pid
    assert pid is not None
    assert server.start().pid == pid  # start is idempotent
    assert server.socket is not None and server.socket.is_socket() and server.port > 0
    assert server.address == f"unix://{server.socket}?db=0"
    assert server.url == f"unix://:{server.password}@{server.socket}?db=0" and server.password
    assert server.socket.stat().st_mode & 0o777 == 0o700
    client = redis.Redis.from_url(server.url)
    assert client.ping()
    with redis.Redis(host="127.0.0.1", port=server.port, password=server.password) as over_tcp:
        assert over_tcp.ping()  # TCP stays, for clients that cannot reach the socket
    assert client.config_get("appendonly") == {"appendonly": "yes"}
    assert client.config_get("save") == {"save": ""}
    assert client.config_get("bind") == {"bind": "127.0.0.1"}
    assert int((tmp_path / "var" / "redis.pid").read_text()) == pid
    client.close()
    server.stop()
    assert server.pid is None
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert not (tmp_path / "var" / "redis.pid").exists()
    server.stop()  # stop is idempotent


def test_data_survives_stop_and_start(tmp_path: Path, make_server: Callable[..., EmbeddedRedis]) -> None:
    server = make_server(tmp_path).start()
    client = redis.Redis.from_url(server.url)
    client.set("vote", "42")
    client.close()
    server.stop()
    assert b"vote" in (tmp_path / "appendonly.aof").read_bytes()
    with EmbeddedRedis(tmp_path) as again:  # a new object, maybe another port: only the directory is shared
        assert redis.Redis.from_url(again.url).get("vote") == b"42"


def test_restart_keeps_the_port(tmp_path: Path, make_server: Callable[..., EmbeddedRedis]) -> None:
    server = make_server(tmp_path).start()
    url, pid = server.url, server.pid
    client = redis.Redis.from_url(url)
    client.set("k", "v")
    server.restart()
    assert server.url == url and server.pid != pid
    assert client.get("k") == b"v"  # the same client reconnects to the same address
    client.close()


def test_second_server_on_the_same_dir_is_refused(tmp_path: Path, make_server: Callable[..., EmbeddedRedis]) -> None:
    make_server(tmp_path).start()
    with pytest.raises(RedisStartError, match="already uses"):
        make_server(tmp_path).start()


def test_stale_pid_file_is_ignored(tmp_path: Path, make_server: Callable[..., EmbeddedRedis]) -> None:
    (tmp_path / "redis.pid").write_text(f"{os.getpid()}\n")  # alive, but not a Redis working in tmp_path
    assert make_server(tmp_path).start().pid is not None


def test_a_taken_port_fails_with_the_log(tmp_path: Path, make_server: Callable[..., EmbeddedRedis]) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        with pytest.raises(RedisStartError, match="Address already in use"):
            make_server(tmp_path, taken.getsockname()[1]).start()


def test_server_dies_with_a_killed_parent(tmp_path: Path) -> None:
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        from kodeord.support.redis_server import EmbeddedRedis
        server = EmbeddedRedis(Path({str(tmp_path)!r})).start()
        print(server.pid, flush=True)
        time.sleep(60)
        """
    )
    env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True, env=env)
    assert child.stdout is not None
    pid = int(child.stdout.readline())
    try:
        child.kill()  # SIGKILL: no atexit, no finally; only the kernel's parent-death signal is left
        child.wait()
        assert gone(pid)
    finally:
        child.stdout.close()
        if not gone(pid, 0.1):  # the assertion failed: still never leave a server behind
            os.kill(pid, signal.SIGKILL)


def test_connect_with_url_starts_nothing(tmp_path: Path, make_server: Callable[..., EmbeddedRedis]) -> None:
    server = make_server(tmp_path / "elsewhere").start()
    client, started = connect(server.url, tmp_path / "var")
    assert started is None and client.ping()
    assert not (tmp_path / "var").exists()
    client.close()


def test_connect_without_url_starts_or_shares(tmp_path: Path, make_server: Callable[..., EmbeddedRedis]) -> None:
    client, started = connect(None, tmp_path)
    assert started is not None
    try:
        client.set("shared", "1")
        other, none = connect(None, tmp_path)  # another process would find the running server the same way
        assert none is None and other.get("shared") == b"1"
        other.close()
    finally:
        client.close()
        started.stop()
