"""Inbound throughput: the router in one process, the web app over HTTP, and a bare baseline.

1. router: N votes from distinct senders through ``Platform.handle`` (real commits);
2. http: the same votes POSTed to the running web app (``/simulator/send``);
3. baseline: a bare Starlette handler that parses the same JSON and does one
   Redis write, served and driven the same way, in the same run.

Each server runs in its own process (one uvicorn worker); the load generator
runs in this process with many concurrent connections. Everything is on
loopback and bounded in time.

    .venv/bin/python bench/inbound.py [--messages 20000] [--seconds 10] [--concurrency 48]

Last line: router_msgs_per_s=N http_msgs_per_s=N baseline_http_msgs_per_s=N
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx

from kodeord.messages import Inbound
from kodeord.platform import Platform
from kodeord.redis_server import EmbeddedRedis
from kodeord.settings import Settings

RULES = """\
tenant: {id: tv}
numbers: [{number: "72500", type: shared}]
services:
  - id: mello
    number: "72500"
    keyword: MELLO
    fallback: "Okänd röstkod"
    rules:
      - name: vote
        when: {args: '0[1-9]|1[0-2]'}
        reply: "Tack för din röst på bidrag {{ args | int }}!"
"""


def sender(n: int) -> str:
    return f"+4670{n % 10_000_000:07d}"


def bench_router(platform: Platform, messages: int) -> float:
    started = time.perf_counter()
    for n in range(messages):
        inbound = Inbound.create(
            sender=sender(n), recipient="72500", text=f"MELLO {n % 12 + 1:02d}", gateway="bench", message_id=f"r{n}"
        )
        platform.handle(inbound)
    return messages / (time.perf_counter() - started)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def serve(kind: str, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    """Start ``kind`` (kodeord or baseline) under uvicorn in a child process."""
    code = f"from bench_servers import run; run({kind!r}, {port})"
    child_env = {**os.environ, **env, "PYTHONPATH": str(Path(__file__).parent)}
    return subprocess.Popen([sys.executable, "-c", code], env=child_env)


async def drive(port: int, path: str, seconds: float, concurrency: int, offset: int) -> float:
    """POST votes over keep-alive connections for ``seconds`` (after a 1 s warm-up); return requests/s.

    A minimal HTTP/1.1 client on raw asyncio streams: general-purpose clients
    cost more CPU per request than the servers measured here.
    """
    done = 0
    counting = False
    stop_at = time.perf_counter() + 1 + seconds

    async def worker(w: int) -> None:
        nonlocal done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = offset + w * 1_000_000
        try:
            while time.perf_counter() < stop_at:
                body = json.dumps({"from": sender(n), "to": "72500", "text": f"MELLO {n % 12 + 1:02d}",
                                   "id": uuid.uuid4().hex}).encode()  # fmt: skip
                head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                writer.write(f"{head}Content-Length: {len(body)}\r\n\r\n".encode() + body)
                status = await reader.readuntil(b"\r\n")
                if b" 200 " not in status:
                    raise RuntimeError(f"server answered {status!r}")
                length = 0
                while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                    if line.lower().startswith(b"content-length:"):
                        length = int(line.split(b":")[1])
                await reader.readexactly(length)
                n += 1
                if counting:
                    done += 1
        finally:
            writer.close()

    async def clock() -> None:
        nonlocal counting
        await asyncio.sleep(1)
        counting = True

    started = time.perf_counter() + 1
    await asyncio.gather(clock(), *(worker(w) for w in range(concurrency)))
    return done / (time.perf_counter() - started)


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"server on port {port} exited with {process.returncode}")
        try:
            httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit(f"server on port {port} did not start")


def measure_http(kind: str, path: str, env: dict[str, str], seconds: float, concurrency: int, offset: int) -> float:
    port = free_port()
    process = serve(kind, port, env)
    try:
        wait_ready(port, process)
        return asyncio.run(drive(port, path, seconds, concurrency, offset))
    finally:
        process.terminate()
        process.wait(10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--concurrency", type=int, default=48)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kodeord-bench-") as tmp, EmbeddedRedis(Path(tmp) / "var") as server:
        rules = Path(tmp) / "tv.yaml"
        rules.write_text(RULES, encoding="utf-8")
        settings = Settings(environ={}, redis_url=server.url, data_dir=Path(tmp) / "var")
        with Platform(settings, rule_paths=[rules]) as platform:
            router = bench_router(platform, args.messages)
        print(f"router: {router:.0f} messages/s in one process ({args.messages} messages)")
        env = {"KODEORD_REDIS_URL": server.url, "KODEORD_RULES": str(rules), "KODEORD_SIMULATOR": "1",
               "KODEORD_LOG_LEVEL": "WARNING"}  # fmt: skip
        baseline = measure_http("baseline", "/write", env, args.seconds, args.concurrency, 1)
        print(f"baseline: {baseline:.0f} requests/s (bare Starlette, JSON body, one Redis write)")
        http = measure_http("kodeord", "/simulator/send", env, args.seconds, args.concurrency, 5_000_000)
        print(f"http: {http:.0f} messages/s through the web app ({http / baseline:.2f} of baseline)")
    print(f"router_msgs_per_s={router:.0f} http_msgs_per_s={http:.0f} baseline_http_msgs_per_s={baseline:.0f}")


if __name__ == "__main__":
    main()
