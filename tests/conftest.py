"""Shared test helpers. Kodeord's own pytest plugin (kodeord.testing.fixtures) supplies the Redis fixtures."""

from __future__ import annotations

import contextlib
import os
import pty
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

# Console passwords hashed at OWASP's argon2id minimum rather than the default, for the suite's many logins
# (set before kodeord.web.console.accounts is imported; CLI subprocesses inherit it).
os.environ.setdefault("KODEORD_PASSWORD_MEMORY_KIB", "19456")
os.environ.setdefault("KODEORD_PASSWORD_PASSES", "2")

import httpx  # noqa: E402
import pytest  # noqa: E402
import uvicorn
from hypothesis import settings
from starlette.applications import Starlette

# The default keeps a run short; --hypothesis-profile=fuzz runs ten times the examples
# (tests/inbound/test_fuzz.py scales its budgets by max_examples). No deadline: tests over real HTTP take as
# long as the machine makes them.
settings.register_profile("kodeord", max_examples=100, deadline=None)
settings.register_profile("fuzz", max_examples=1000, deadline=None)
settings.load_profile("kodeord")

TV_RULES = textwrap.dedent(
    """\
    tenant:
      id: tv
      name: TV AB
      company: {name: Test AB, address: "Testgatan 1, 111 22 Stockholm",
                 customer_service: "08-123 45 67", hours: "mon-fri 09:00-17:00"}
    numbers:
      - number: "72500"
        type: shared
    services:
      - id: mello
        number: "72500"
        keyword: MELLO
        aliases: [MELO]
        fallback: "Okänd kod {{ args }}"
        rules:
          - name: vote
            when: {args: '0[1-9]'}
            reply: "Tack för rösten på {{ args }}"
          - name: writers
            when: {role: writer}
            reply: "Hej skribent"
    """
)

# A second tenant beside TV_RULES: a quiz on its own number, with a plain reply.
RADIO_RULES = """\
tenant: {id: radio}
numbers: [{number: "72600"}]
services:
  - id: quiz
    number: "72600"
    keyword: QUIZ
    rules: [{name: answer, reply: "Svar mottaget"}]
"""


def kannel_gateways(sendsms: str, connections: int = 8) -> str:
    """A gateways file with one Kannel gateway ``k1`` (inbound secret ``s3cret``) routing every number."""
    return (
        f"gateways:\n  k1:\n    type: kannel\n    sendsms_url: {sendsms}\n    username: kodeord\n"
        f"    password: pw\n    inbound_secret: s3cret\n    connections: {connections}\n"
        "routing:\n  routes:\n    default:\n      - {gateway: k1, price: 0.05}\n"
    )


def on_terminal(command: list[str], env: dict[str, str]) -> tuple[int, str, bytes]:
    """Run ``command`` with standard error on a terminal (a pty): its exit code, standard output, and what it
    showed on the terminal."""
    terminal, other_end = pty.openpty()
    try:
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=other_end, text=True)
        os.close(other_end)
        shown = b""
        with contextlib.suppress(OSError):  # EIO once the command has ended and closed its end
            while chunk := os.read(terminal, 65536):
                shown += chunk
        out, _ = process.communicate(timeout=60)
    finally:
        os.close(terminal)
    return process.returncode, out, shown


def free_port() -> int:
    """A TCP port free on loopback right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def serve() -> Iterator[Callable[..., str]]:
    """``serve(app, port=None)`` runs ``app`` under a real uvicorn on loopback and returns its base URL."""
    servers: list[tuple[uvicorn.Server, threading.Thread]] = []

    def start(app: Starlette, port: int | None = None) -> str:
        port = port or free_port()
        server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 10
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.started, "uvicorn did not start"
        servers.append((server, thread))
        return f"http://127.0.0.1:{port}"

    yield start
    for server, thread in servers:
        server.should_exit = True
        thread.join(10)


@pytest.fixture
def served(web_server: tuple[str, subprocess.Popen[bytes]]) -> str:
    """The base URL of ``web_server``."""
    return web_server[0]


def wait_up(url: str, web: subprocess.Popen[bytes]) -> None:
    """Return once the ``kodeord serve`` at ``url`` answers ``/healthz``; fail if it exits or takes 30 s."""
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{url}/healthz").status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert web.poll() is None and time.monotonic() < deadline, "kodeord serve did not start"
        time.sleep(0.1)


@pytest.fixture
def web_server(tmp_path: Path, kodeord_redis_url: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``kodeord serve --workers 3`` on the test Redis, with the TV rules and a Kannel gateway ``k1``: its base
    URL and its process."""
    (tmp_path / "rules.yaml").write_text(TV_RULES, encoding="utf-8")
    (tmp_path / "gateways.yaml").write_text(kannel_gateways("http://127.0.0.1:9/cgi-bin/sendsms"), encoding="utf-8")
    port = free_port()
    env = {
        **os.environ,
        "KODEORD_REDIS_URL": kodeord_redis_url,
        "KODEORD_RULES": str(tmp_path / "rules.yaml"),
        "KODEORD_GATEWAYS": str(tmp_path / "gateways.yaml"),
        "KODEORD_PUBLIC_URL": "http://127.0.0.1:8000",
        "KODEORD_LOG_LEVEL": "WARNING",
        "KODEORD_DATA_DIR": str(tmp_path / "var"),
        "KODEORD_SECRET_KEY": "test",
    }
    web = subprocess.Popen(
        [sys.executable, "-c", "from kodeord.cli import main; main()", "serve", "--port", str(port), "--workers", "3"],
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_up(url, web)
        yield url, web
    finally:
        web.send_signal(signal.SIGINT)
        try:
            web.wait(15)
        except subprocess.TimeoutExpired:
            web.kill()
            web.wait(10)


from .addressbook_rig import book  # noqa: E402, F401 - the address-book rig fixture, for every test module
from .televote_rig import make_tv  # noqa: E402, F401 - the televote rig fixture
