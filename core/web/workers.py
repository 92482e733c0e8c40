"""Web worker processes, each with its own listening socket, so that connections spread evenly over them.

uvicorn's ``--workers`` gives every worker one shared listening socket, and whichever worker wakes first
accepts. A gateway such as Kannel opens a fixed pool of keep-alive connections at once and keeps them, so
one worker could end up holding most of a live show's traffic while the others idle (measured: 32
connections split 32/0/0 or 23/8/1 over three workers, a quarter of the throughput lost). Here every
worker listens on a socket of its own bound with ``SO_REUSEPORT``, and the kernel hashes each new
connection to one of them. The supervisor (uvicorn's: health checks, restarts, SIGHUP) holds the sockets,
so a connection that arrives while a worker is being replaced waits in its socket's queue.
"""

from __future__ import annotations

import logging
import socket
from typing import Any

import uvicorn
from uvicorn.config import STARTUP_FAILURE
from uvicorn.supervisors.multiprocess import Multiprocess, Process

log = logging.getLogger("uvicorn.error")


def run(app: str, **options: Any) -> None:
    """``uvicorn.run(app, **options)``, with a listening socket per worker when ``workers`` is above one."""
    config = uvicorn.Config(app, **options)
    ensure_free(config.host, config.port)
    if config.workers <= 1:
        uvicorn.run(app, **options)
        return
    first = listening_socket(config.host, config.port)
    port = first.getsockname()[1]  # the port the kernel chose, if asked for any (0)
    rest = [listening_socket(config.host, port) for _ in range(config.workers - 1)]
    log.info("Listening on %s:%d with %d workers, a socket each", config.host, port, config.workers)
    Supervisor(config, [first, *rest]).run()


def listening_socket(host: str, port: int, reuse_port: bool = True) -> socket.socket:
    """A TCP socket bound to ``host:port`` (not yet listening: each worker listens on its own)."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise SystemExit(f"error: cannot listen on {host}:{port}: {exc.strerror}") from None
    sock.set_inheritable(True)
    return sock


def ensure_free(host: str, port: int) -> None:
    """Refuse a port another server already holds: sockets bound with ``SO_REUSEPORT`` would share it silently."""
    listening_socket(host, port, reuse_port=False).close()


class Supervisor(Multiprocess):
    """uvicorn's supervisor, with worker ``i`` (and each replacement of it) accepting on ``sockets[i]``."""

    def __init__(self, config: uvicorn.Config, sockets: list[socket.socket]) -> None:
        super().__init__(config, sockets=[])
        self.slots = sockets

    def start(self, slot: int) -> Process:
        process = Process(self.config, [self.slots[slot]])
        process.start()
        return process

    def init_processes(self) -> None:
        self.processes = [self.start(slot) for slot in range(len(self.slots))]

    def keep_subprocess_alive(self) -> None:
        for slot, process in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            if process.is_alive(timeout=self.config.timeout_worker_healthcheck):
                continue
            process.kill()  # dead or hung
            process.join()
            if process.exitcode == STARTUP_FAILURE:  # the app cannot start: it would fail the same way again
                log.error(f"Child process [{process.pid}] failed to start, stopping the parent process.")
                self.should_exit.set()
                return
            log.info(f"Child process [{process.pid}] died")
            self.processes[slot] = self.start(slot)

    def restart_all(self) -> None:
        """SIGHUP: replace each worker, the new one accepting on its socket before the old one stops."""
        for slot, old in enumerate(self.processes):
            if self.should_exit.is_set():
                return
            new = self.start(slot)
            if not new.wait_until_ready(self.config.timeout_worker_healthcheck, self.should_exit):
                new.kill()
                new.join()
                log.error(f"New child process [{new.pid}] was not ready in time; keeping [{old.pid}].")
                return
            old.terminate()
            old.join()
            self.processes[slot] = new

    def handle_ttin(self) -> None:
        log.info("Received SIGTTIN: the number of workers is fixed by --workers; restart to change it.")

    def handle_ttou(self) -> None:
        self.handle_ttin()
