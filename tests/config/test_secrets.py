"""Secrets: the signing key and the Redis password live in owner-only files, never in Redis or an error message."""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from kodeord.config.settings import Settings
from kodeord.outbound import gatewayconfig
from kodeord.platform import LEGACY_SECRET_KEY, Platform
from kodeord.support.errors import RuleFileError
from kodeord.support.manager import Hooks, make_manager
from kodeord.support.redis_client import is_cluster
from kodeord.support.redis_server import EmbeddedRedis, connect, running_url, shared_secret
from kodeord.web.links import Links

SECRET = "Hunter2-s3cret"  # upper case: normalised (lowered) names must not give it away either


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def closed_to_others(path: Path) -> bool:
    return mode(path) & 0o077 == 0


def everything_in(client: redis.Redis) -> bytes:
    """Every key and every value in the database, as one blob to search."""
    found = []
    for key in client.scan_iter(count=1000):
        found.append(key)
        kind = client.type(key).decode()
        if kind == "string":
            found.append(client.get(key) or b"")
        elif kind == "hash":
            found.extend(b for pair in client.hgetall(key).items() for b in pair)
        elif kind == "list":
            found.extend(client.lrange(key, 0, -1))
        elif kind == "set":
            found.extend(client.smembers(key))
        elif kind == "zset":
            found.extend(client.zrange(key, 0, -1))
        elif kind == "stream":
            found.extend(b for _id, fields in client.xrange(key) for pair in fields.items() for b in pair)
        else:
            raise AssertionError(f"{key!r}: a {kind} this test cannot read")
    return b"\n".join(found)


def wait_for_aof_rewrite(client: redis.Redis, within: float = 10.0) -> None:
    deadline = time.monotonic() + within
    nodes = [node.redis_connection for node in client.get_nodes()] if is_cluster(client) else [client]  # type: ignore[attr-defined]
    while time.monotonic() < deadline:
        infos = [node.info("persistence") for node in nodes]
        if not any(info["aof_rewrite_in_progress"] or info["aof_rewrite_scheduled"] for info in infos):
            return
        time.sleep(0.05)
    raise AssertionError("the append-only file was not rewritten in time")


@pytest.fixture
def own_platform(tmp_path: Path) -> Iterator[Platform]:
    """A platform that starts its own embedded Redis in ``tmp_path/var``, as a deployment without a Redis URL does."""
    with Platform(Settings(environ={}, data_dir=tmp_path / "var"), rule_paths=()) as platform:
        yield platform


# The signing key


def test_no_key_in_redis_or_its_append_only_file_after_a_link_is_signed(own_platform: Platform, tmp_path: Path) -> None:
    link = own_platform.links.url("/join", "join", {"number": "+46701234567"})
    key = own_platform.secret_key()
    assert link and len(key) == 64
    assert own_platform.links.load("join", link.rsplit("/", 1)[1]) == {"number": "+46701234567"}
    assert key.encode() not in everything_in(own_platform.redis)
    own_platform.close()  # SHUTDOWN flushes the append-only file
    assert key.encode() not in (tmp_path / "var" / "appendonly.aof").read_bytes()


def test_the_key_file_is_for_its_owner_only_and_platforms_on_one_data_dir_share_it(
    kodeord_redis: redis.Redis, kodeord_redis_url: str, tmp_path: Path
) -> None:
    def platform() -> Platform:
        return Platform(Settings(environ={}, redis_url=kodeord_redis_url, data_dir=tmp_path / "var"), rule_paths=())

    with platform() as first, platform() as second:
        key = first.secret_key()
        assert second.secret_key() == key
    path = tmp_path / "var" / "secret.key"
    assert path.read_text().strip() == key
    assert mode(path) == 0o600
    assert mode(tmp_path / "var") == 0o700
    assert key.encode() not in everything_in(kodeord_redis)


def test_the_environment_key_wins_and_makes_no_file(
    kodeord_redis: redis.Redis, kodeord_redis_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        environ={"KODEORD_SECRET_KEY": "from-env"}, redis_url=kodeord_redis_url, data_dir=tmp_path / "var"
    )
    with Platform(settings, rule_paths=()) as platform:
        assert platform.secret_key() == "from-env"
    assert not (tmp_path / "var" / "secret.key").exists()


def test_processes_starting_at_once_agree_on_one_key(
    kodeord_redis: redis.Redis, kodeord_redis_url: str, tmp_path: Path
) -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from pathlib import Path
        from kodeord.platform import Platform
        from kodeord.config.settings import Settings
        sys.stdin.readline()  # all start together
        settings = Settings(environ={{}}, redis_url={kodeord_redis_url!r}, data_dir=Path({str(tmp_path / "var")!r}))
        with Platform(settings, rule_paths=()) as platform:
            print(platform.secret_key())
        """
    )
    env = os.environ | {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    children = [
        subprocess.Popen(
            [sys.executable, "-c", script], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
        )
        for _ in range(3)
    ]
    time.sleep(1.0)  # let them import
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
        child.stdin.flush()
    keys = set()
    for child in children:
        assert child.stdin is not None and child.stdout is not None
        keys.add(child.stdout.read().strip())
        child.stdin.close()
        child.stdout.close()
        assert child.wait(60) == 0
    assert len(keys) == 1 and len(keys.pop()) == 64
    assert not [p for p in (tmp_path / "var").iterdir() if p.name.startswith(".")]  # no temporary file left


def test_threads_making_a_secret_at_once_agree_on_the_first(tmp_path: Path) -> None:
    start = threading.Barrier(8)
    found: list[str] = []

    def make(n: int) -> None:
        start.wait()
        found.append(shared_secret(tmp_path / "secret", lambda: f"candidate-{n}"))

    threads = [threading.Thread(target=make, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(set(found)) == 1 and found[0].startswith("candidate-")
    assert mode(tmp_path / "secret") == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret"]


def test_a_key_an_earlier_version_kept_in_redis_moves_to_the_file(own_platform: Platform, tmp_path: Path) -> None:
    old = "0123456789abcdef" * 4
    own_platform.redis.set(LEGACY_SECRET_KEY, old)
    signed_before = Links(own_platform.settings.public_url, lambda: old)  # as the earlier version signed links
    token = signed_before.token("join", {"number": "+46701234567"})
    assert own_platform.secret_key() == old
    assert own_platform.links.load("join", token) == {"number": "+46701234567"}  # old links keep working
    path = tmp_path / "var" / "secret.key"
    assert path.read_text().strip() == old and mode(path) == 0o600
    assert own_platform.redis.exists(LEGACY_SECRET_KEY) == 0
    assert old.encode() not in everything_in(own_platform.redis)
    wait_for_aof_rewrite(own_platform.redis)
    own_platform.close()
    assert old.encode() not in (tmp_path / "var" / "appendonly.aof").read_bytes()
    with Platform(Settings(environ={}, data_dir=tmp_path / "var"), rule_paths=()) as again:  # and after a restart
        assert again.secret_key() == old


def test_a_stale_key_in_redis_is_deleted_when_the_file_has_one(
    kodeord_redis: redis.Redis, kodeord_redis_url: str, tmp_path: Path
) -> None:
    (tmp_path / "var").mkdir(mode=0o700)
    (tmp_path / "var" / "secret.key").write_text("from-the-file\n")
    kodeord_redis.set(LEGACY_SECRET_KEY, "stale")
    settings = Settings(environ={}, redis_url=kodeord_redis_url, data_dir=tmp_path / "var")
    with Platform(settings, rule_paths=()) as platform:
        assert platform.secret_key() == "from-the-file"
    assert kodeord_redis.exists(LEGACY_SECRET_KEY) == 0
    assert mode(tmp_path / "var" / "secret.key") == 0o600  # tightened
    wait_for_aof_rewrite(kodeord_redis)


# The data dir and the embedded Redis


def test_the_data_dir_and_everything_redis_writes_there_are_closed_to_others(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    with EmbeddedRedis(data_dir) as server:
        client = redis.Redis.from_url(server.url)
        client.set("vote", "42")
        client.bgrewriteaof()
        wait_for_aof_rewrite(client)
        client.close()
        assert mode(data_dir) == 0o700
        names = {p.name for p in data_dir.iterdir()}
        assert {"appendonly.aof", "redis.log", "redis.pid", "redis.url", "redis.password", "redis.lock"} <= names
        assert [p.name for p in data_dir.iterdir() if not closed_to_others(p)] == []


def test_files_an_earlier_version_left_open_are_closed(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    with EmbeddedRedis(data_dir) as server:
        redis.Redis.from_url(server.url).set("vote", "42")
    data_dir.chmod(0o755)
    for path in data_dir.iterdir():
        path.chmod(0o644)
    (data_dir / "appendonlydir").mkdir(mode=0o755)
    (data_dir / "appendonlydir" / "appendonly.aof.1.base.rdb").write_bytes(b"")
    (data_dir / "appendonlydir" / "appendonly.aof.1.base.rdb").chmod(0o644)
    (data_dir / "notes.txt").write_text("not ours to change")
    (data_dir / "notes.txt").chmod(0o644)
    with EmbeddedRedis(data_dir) as server:
        assert redis.Redis.from_url(server.url).get("vote") == b"42"
    assert mode(data_dir) == 0o700
    for name in (
        "appendonly.aof",
        "redis.log",
        "redis.lock",
        "redis.password",
        "appendonlydir",
        "appendonlydir/appendonly.aof.1.base.rdb",
    ):
        assert closed_to_others(data_dir / name), name
    assert mode(data_dir / "notes.txt") == 0o644


def test_the_embedded_redis_wants_its_password_which_no_command_line_shows(tmp_path: Path) -> None:
    data_dir = tmp_path / "var"
    with EmbeddedRedis(data_dir) as server:
        assert server.password and len(server.password) == 64
        assert (data_dir / "redis.password").read_text().strip() == server.password
        assert mode(data_dir / "redis.password") == 0o600
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as anonymous:
            anonymous.sendall(b"SET k v\r\n")
            assert anonymous.recv(100).startswith(b"-NOAUTH ")
        with redis.Redis(host="127.0.0.1", port=server.port) as client_without_password:
            with pytest.raises(redis.AuthenticationError):
                client_without_password.ping()
        with redis.Redis(host="127.0.0.1", port=server.port, password="guess") as guessing:
            with pytest.raises(redis.AuthenticationError):
                guessing.ping()
        assert server.pid is not None
        assert server.password.encode() not in Path(f"/proc/{server.pid}/cmdline").read_bytes()
        assert server.password not in (data_dir / "redis.url").read_text()
        with redis.Redis.from_url(server.url) as client:
            assert client.ping()
            assert client.config_get("bind") == {"bind": "127.0.0.1"}
        url = running_url(data_dir)  # how other processes (web workers, CLI commands) find it
        assert url == server.url
        shared, started = connect(None, data_dir)
        assert started is None and shared.ping()
        shared.close()
        password = server.password
    with EmbeddedRedis(data_dir) as again:  # the password is made once and kept
        assert again.password == password


# The gateways file


@pytest.mark.parametrize(
    ("yaml", "message"),
    [
        (
            "gateways:\n  k1:\n    type: kannel\n    sendsms_url: http://kannel/\n    username: u\n    password: p\n"
            "    timeout: ${SECRET}\n",
            "7:14: expected seconds, got the text '${SECRET}' (at gateways.k1.timeout)",
        ),
        (
            "gateways:\n  e1:\n    type: elks\n    api_url: ${SECRET}\n    api_user: u\n    api_password: p\n",
            "4:14: expected a URL such as https://api.46elks.com/a1, got the text '${SECRET}' (at gateways.e1.api_url)",
        ),
        (
            "gateways:\n  e1:\n    type: elks\n    api_url: https://${SECRET}@example.com /a1\n    api_user: u\n"
            "    api_password: p\n",
            "4:14: expected a URL such as https://api.46elks.com/a1, got the text 'https://${SECRET}@example.com /a1'"
            " (at gateways.e1.api_url)",
        ),
        (
            "gateways:\n  x:\n    type: ${SECRET}\n",
            "3:5: unknown gateway type '${SECRET}'; known: elks, json, kannel (at gateways.x)",
        ),
        (
            "gateways:\n  k1:\n    type: kannel\n    sendsms_url: http://kannel/\n    username: u\n"
            "    passwrd: ${SECRET}\n",
            "3:5: missing required key 'password' (at gateways.k1)",
        ),
        (
            "routing:\n  routes:\n    default:\n      - gateway: ${SECRET}\n        price: 0\n",
            "4:9: route to unknown gateway '${SECRET}' (at routing.routes.default[0])",
        ),
        (
            "routing:\n  operators:\n    '+4670': ${SECRET}\n  routes:\n"
            "    telia:\n      - {gateway: console, price: 0}\n",
            "1:1: operator '${SECRET}' (prefix '+4670') has no routes, and there are no 'default' routes (at routing)",
        ),
        (
            "routing:\n  default_operator: ' ${SECRET}'\n  routes:\n    telia:\n      - {gateway: console, price: 0}\n",
            "1:1: operator ' ${SECRET}' (the default operator) has no routes, "
            "and there are no 'default' routes (at routing)",
        ),
        ("alerts:\n  email: ${SECRET}\n", "1:1: alerts: emails '${SECRET}' is not an email address (at alerts)"),
        (
            "alerts:\n  webhook:\n    url: ${SECRET}\n    secret: x\n",
            "1:1: alerts: webhook_url must be an http:// or https:// URL, got '${SECRET}' (at alerts)",
        ),
    ],
)
def test_a_misplaced_secret_is_reported_by_its_name_not_its_value(tmp_path: Path, yaml: str, message: str) -> None:
    path = tmp_path / "gateways.yaml"
    path.write_text(yaml, encoding="utf-8")
    with pytest.raises(RuleFileError) as caught:
        gatewayconfig.load(path, Hooks(make_manager()).gateway_types(), {"SECRET": SECRET})
    text = str(caught.value)
    assert SECRET not in text and SECRET.lower() not in text
    assert f"{path}:{message}" in text.splitlines()


def test_substituted_values_still_work_and_hide_in_reprs(tmp_path: Path) -> None:
    path = tmp_path / "gateways.yaml"
    path.write_text(
        "gateways:\n  k1:\n    type: kannel\n    sendsms_url: http://${HOST}/send\n"
        "    username: u\n    password: ${SECRET}\n",
        encoding="utf-8",
    )
    config = gatewayconfig.load(path, Hooks(make_manager()).gateway_types(), {"SECRET": SECRET, "HOST": "kannel:13013"})
    options = config.gateways[0].options
    assert options["password"] == SECRET and f"{options['password']}" == SECRET and str(options["password"]) == SECRET
    assert options["sendsms_url"] == "http://kannel:13013/send"
    assert SECRET not in repr(config)
    assert "'${SECRET}'" in repr(config)


def test_a_host_of_a_cluster_without_a_shared_signing_key_is_warned(
    kodeord_redis: redis.Redis, kodeord_redis_url: str, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = Settings(environ={}, redis_url=kodeord_redis_url, data_dir=tmp_path / "var")
    with Platform(settings, rule_paths=()) as platform:
        platform.secret_key()
    warned = [r.getMessage() for r in caplog.records if "KODEORD_SECRET_KEY" in r.getMessage()]
    assert len(warned) == (1 if is_cluster(kodeord_redis) else 0), warned  # one host, one Redis: its own key is fine
    with Platform(Settings(environ={}, redis_url=kodeord_redis_url, secret_key="shared"), rule_paths=()) as shared:
        caplog.clear()
        assert shared.secret_key() == "shared"
    assert not [r for r in caplog.records if "KODEORD_SECRET_KEY" in r.getMessage()]
