"""Helpers shared by the benchmarks in ``bench/``: an embedded Redis that is always stopped, memory and CPU readings.

Not a benchmark itself; ``rules_load.py`` and ``inbound.py`` import it (they run with ``bench/`` on ``sys.path``).
"""

from __future__ import annotations

import ctypes
import os
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

import httpx

from kodeord.support.redis_server import EmbeddedRedis

PR_SET_PDEATHSIG = 1
_prctl = getattr(ctypes.CDLL(None, use_errno=True), "prctl", None)  # looked up before fork, not in the child


def _terminated(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


@contextmanager
def embedded_redis(prefix: str) -> Iterator[tuple[EmbeddedRedis, Path]]:
    """A fresh embedded Redis in a temporary directory; stopped on exit, error, Ctrl-C or SIGTERM.

    Yields the server and the temporary directory (for rule files and the like).
    """
    previous = signal.signal(signal.SIGTERM, _terminated)  # SIGTERM unwinds like Ctrl-C, so `finally` runs
    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as tmp:
            server = EmbeddedRedis(Path(tmp) / "redis")
            try:
                server.start()
                yield server, Path(tmp)
            finally:
                server.stop()
    finally:
        signal.signal(signal.SIGTERM, previous)


def die_with_parent() -> None:
    """``preexec_fn`` for child servers: the kernel sends SIGTERM if the benchmark dies without cleaning up."""
    if _prctl is not None:
        _prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (ru_maxrss is KiB on Linux)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def cpu_seconds(pid: int | None = None) -> float:
    """User + system CPU time of ``pid`` (this process when None), from /proc; 0.0 if unreadable."""
    if pid is None:
        times = os.times()
        return times.user + times.system
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def wait_http(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    """Wait until ``url`` gives any HTTP answer; stop ``process`` and exit if it dies or ``timeout`` passes first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and process.poll() is None:
        try:
            httpx.get(url, timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    stop_process(process)
    raise SystemExit(f"{url} did not answer (server exit code {process.returncode})")


def stop_process(process: subprocess.Popen[bytes], grace: float = 10.0) -> None:
    """SIGTERM, then SIGKILL after ``grace`` seconds; wait for it either way."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(grace)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def fake_kannel(processes: list[subprocess.Popen[bytes]]) -> int:
    """Start the fake Kannel sendsms (``python -m kodeord.testing.fakekannel``) in a process of its own, added to
    ``processes`` (the caller stops them); its port."""
    fake = subprocess.Popen(
        [sys.executable, "-m", "kodeord.testing.fakekannel"], stdout=subprocess.PIPE, preexec_fn=die_with_parent
    )
    processes.append(fake)
    assert fake.stdout is not None
    return int(fake.stdout.readline())


def kannel_gateways(sendsms: str, *, secret: str | None = None, charging: bool = False, connections: int = 8) -> str:
    """A gateways file with one Kannel gateway ``kannel`` (sending to ``sendsms``) routing every number."""
    lines = [
        "gateways:",
        "  kannel:",
        "    type: kannel",
        f"    sendsms_url: {sendsms}",
        "    username: kodeord",
        "    password: bench",
        f"    connections: {connections}",
        *([f"    inbound_secret: {secret}"] if secret else []),
        *(["    charging: true"] if charging else []),
        "routing:",
        "  routes:",
        "    default:",
        "      - {gateway: kannel, price: 0.05}",
    ]
    return "\n".join(lines) + "\n"
