"""Inbound throughput: the router in one process, the web app over HTTP, and a bare Starlette+Redis baseline.

(a) router: ``--messages`` televotes ("MELLO 03", "Melo 07", ...) from distinct senders (+4670xxxxxxx)
    through ``Platform.handle`` with real commits to Redis, on a rule file like rules/demo-tv.yaml.
    ``Inbound`` values are built before the clock starts (their phone parsing is timed apart).
(b) http: the web app, ``create_app(platform, simulator_enabled=True)``, under uvicorn in a child
    process on 127.0.0.1; httpx.AsyncClient tasks in this process POST ``{"from", "to", "text"}`` to
    ``/simulator/send`` over ``--concurrency`` keep-alive connections for ``--seconds`` after a 1 s warm-up.
(c) baseline: a bare Starlette app whose one route parses the same JSON and does one
    ``redis.asyncio`` SET, served and driven the same way.

One embedded Redis (in a temporary directory) serves all three; it and the child servers are always
stopped. CPU use of client, server and Redis is printed per HTTP run: a saturated client caps the figure
(``--client raw``: a minimal HTTP/1.1 client that costs far less CPU per request than httpx).

    .venv/bin/python bench/inbound.py [--messages 20000] [--seconds 10] [--concurrency 48] [--client raw]

Last line: router_msgs_per_s=N http_msgs_per_s=N baseline_http_msgs_per_s=N
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import ssl
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import redis
from benchlib import cpu_seconds, die_with_parent, embedded_redis, free_port, stop_process, wait_http

from kodeord.commit.keys import Keys
from kodeord.config.settings import Settings
from kodeord.inbound.messages import Inbound
from kodeord.platform import Platform

NUMBER = "72500"
PATH = "/simulator/send"
HANDLED = b'"status":"handled"'
WARMUP_S = 1.0
RULES = """\
tenant: {id: demo-tv, name: Demo-TV AB}
numbers:
  - number: "72500"
    type: shared
    replies:
      help: "Demo-TV: rösta med MELLO följt av bidragets nummer, t.ex. MELLO 03. Pris 4,90 kr/sms."
services:
  - id: mello
    number: "72500"
    keyword: MELLO
    aliases: [MELO, SCHLAGER]
    fallback: "Okänd röstkod. Skicka MELLO följt av ett nummer 01-12, t.ex. MELLO 03."
    rules:
      - {name: vote, when: {args: '(0?[1-9]|1[0-2])'}, reply: "Tack för din röst på bidrag {{ args | int }}! /Demo-TV"}
      - {name: how-to, when: {args: ''}, reply: "Skicka MELLO följt av bidragets nummer, t.ex. MELLO 03."}
  - id: tavling
    number: "72500"
    keyword: TÄVLA
    fallback: "Svara TÄVLA 1, 2 eller X."
    rules:
      - {name: answer, when: {args: '[12x]', from: 2026-01-01T00:00, until: 2027-12-31T23:59},
         reply: "Tack, ditt svar {{ args | upper }} är registrerat."}
"""
WORDS = ("MELLO", "mello", "Melo", "MELLO", "schlager")


def vote(n: int) -> dict[str, str]:
    """The n-th vote: a distinct sender and a valid vote code 01-12."""
    return {"from": f"+4670{n % 10_000_000:07d}", "to": NUMBER, "text": f"{WORDS[n % len(WORDS)]} {n % 12 + 1:02d}"}


def bench_router(platform: Platform, messages: int, limit_s: float) -> float:
    """Route ``messages`` votes with real commits (at most ``limit_s`` seconds); return messages/s."""
    started = time.perf_counter()
    inbounds = [
        Inbound.create(sender=v["from"], recipient=v["to"], text=v["text"], gateway="bench", message_id=f"r{n}")
        for n, v in ((n, vote(n)) for n in range(messages))
    ]
    create_s = max(time.perf_counter() - started, 1e-9)
    print(f"Inbound.create (phone parsing, validation): {messages / create_s:.0f}/s, not included below")
    statuses: Counter[str] = Counter()
    started = time.perf_counter()
    for inbound in inbounds:
        statuses[platform.handle(inbound).status] += 1
        if time.perf_counter() - started > limit_s:
            print(f"  stopped after {limit_s:g} s")
            break
    elapsed, done = time.perf_counter() - started, sum(statuses.values())
    outbox = platform.redis.xlen(Keys.for_service("demo-tv/mello").outbox)
    print(
        f"router: {done} messages in {elapsed:.2f} s = {done / elapsed:.0f}/s; {dict(statuses)}, outbox holds {outbox}"
    )
    return done / elapsed


def serve(kind: str, port: int, redis_url: str, rules: Path) -> None:
    """Child process: serve ``kind`` (kodeord or baseline) on 127.0.0.1:``port`` until terminated."""
    import redis.asyncio
    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from kodeord.web.app import create_app

    if kind == "kodeord":
        settings = Settings(environ={}, redis_url=redis_url, data_dir=rules.parent / "var")
        platform = Platform(settings, redis_client=redis.Redis.from_url(redis_url), rule_paths=[rules])
        app = create_app(platform, simulator_enabled=True, own_platform=True)
    else:
        client = redis.asyncio.Redis.from_url(redis_url)

        async def send(request: Request) -> Response:
            body = await request.json()
            await client.set(f"baseline:{uuid.uuid4().hex}", body["text"], ex=3600)
            return JSONResponse({"status": "handled"})

        app = Starlette(routes=[Route(PATH, send, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def start_server(kind: str, redis_url: str, rules: Path) -> tuple[subprocess.Popen[bytes], int]:
    """Start a child server (this script with --serve) and wait until it answers HTTP."""
    port = free_port()
    argv = [
        sys.executable,
        __file__,
        "--serve",
        kind,
        "--port",
        str(port),
        "--redis-url",
        redis_url,
        "--rules",
        str(rules),
    ]
    process = subprocess.Popen(argv, preexec_fn=die_with_parent, stdin=subprocess.DEVNULL)
    wait_http(f"http://127.0.0.1:{port}{PATH}", process)
    return process, port


@asynccontextmanager
async def connection(port: int, client: str, tls: ssl.SSLContext) -> AsyncIterator[Callable[[bytes], Awaitable[bool]]]:
    """One keep-alive connection to the server; yields ``post(json_body) -> handled?``."""
    if client == "httpx":
        # One AsyncClient per task: a single shared one spends its time scanning its pool (httpx issue #3215).
        limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", limits=limits, verify=tls, timeout=30
        ) as http:

            async def post(body: bytes) -> bool:
                response = await http.post(PATH, content=body, headers={"Content-Type": "application/json"})
                return response.status_code == 200 and HANDLED in response.content

            yield post
        return
    reader, writer = await asyncio.open_connection("127.0.0.1", port)

    async def post_raw(body: bytes) -> bool:  # minimal HTTP/1.1: far less client CPU per request than httpx
        head = (
            f"POST {PATH} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {len(body)}"
        )
        writer.write(head.encode() + b"\r\n\r\n" + body)
        async with asyncio.timeout(30):
            reply = await reader.readuntil(b"\r\n\r\n")
            found = re.search(rb"(?i)\r\ncontent-length: *(\d+)", reply)
            content = await reader.readexactly(int(found.group(1)) if found else 0)
        return reply.startswith(b"HTTP/1.1 200 ") and HANDLED in content

    try:
        yield post_raw
    finally:
        writer.close()


async def drive(port: int, args: argparse.Namespace, offset: int, pids: dict[str, int]) -> float:
    """POST votes for WARMUP_S + ``--seconds`` over ``--concurrency`` connections; return handled messages/s in
    the window."""
    counted = errors = 0
    begin = time.perf_counter()
    window_start, window_end = begin + WARMUP_S, begin + WARMUP_S + args.seconds
    tls = ssl.create_default_context()  # unused on http://; shared so each client does not load the CA bundle

    async def worker(w: int) -> None:
        nonlocal counted, errors
        n = offset + w * 10_000_000 // args.concurrency
        async with connection(port, args.client, tls) as post:
            while time.perf_counter() < window_end:
                ok = await post(json.dumps(vote(n)).encode())
                n += 1
                if window_start <= time.perf_counter() <= window_end:
                    counted += ok
                    errors += not ok

    async def clock() -> None:
        await asyncio.sleep(max(0.0, window_start - time.perf_counter()))
        before = {name: cpu_seconds(pid) for name, pid in pids.items()} | {"client": cpu_seconds()}
        await asyncio.sleep(max(0.0, window_end - time.perf_counter()))
        used = {name: (cpu_seconds(pid) - before[name]) / args.seconds for name, pid in pids.items()}
        used["client"] = (cpu_seconds() - before["client"]) / args.seconds
        print("  CPU in the window (1.0 = one core): " + ", ".join(f"{k} {v:.2f}" for k, v in used.items()))
        if used["client"] > 0.9 and used["server"] < 0.9:
            print("  the client, not the server, is the bottleneck here (try --client raw)")

    async with asyncio.timeout(WARMUP_S + args.seconds + 60):
        await asyncio.gather(clock(), *(worker(w) for w in range(args.concurrency)))
    if errors:
        print(f"  {errors} requests failed or were not handled")
    return float(counted / args.seconds)


def measure(kind: str, args: argparse.Namespace, redis_url: str, redis_pid: int, rules: Path, offset: int) -> float:
    process, port = start_server(kind, redis_url, rules)
    try:
        rate = asyncio.run(drive(port, args, offset, {"server": process.pid, "redis": redis_pid}))
    finally:
        stop_process(process)
    print(
        f"{kind}: {rate:.0f} messages/s over HTTP ({args.client} client, {args.concurrency} connections, "
        f"{args.seconds:g} s)"
    )
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description="Inbound throughput: router, web app over HTTP, bare baseline.")
    parser.add_argument("--messages", type=int, default=20_000, help="votes routed in process in (a)")
    parser.add_argument("--router-seconds", type=float, default=40.0, help="time limit of (a)")
    parser.add_argument("--seconds", type=float, default=10.0, help="measured duration of each HTTP run")
    parser.add_argument("--concurrency", type=int, default=48, help="concurrent client connections")
    parser.add_argument(
        "--client", choices=("httpx", "raw"), default="raw", help="load generator (raw: minimal HTTP/1.1)"
    )
    parser.add_argument("--serve", choices=("kodeord", "baseline"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--redis-url", help=argparse.SUPPRESS)
    parser.add_argument("--rules", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port, args.redis_url, args.rules)
        return

    # httpcore 1.0.9 runs `import sniffio` on every request; sniffio is not installed (anyio 4.16 does not need it),
    # so each failed import searches sys.path. A None entry fails it at once; httpcore then assumes asyncio.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]
    with embedded_redis("kodeord-bench-inbound-") as (server, tmp):
        if server.pid is None:
            raise SystemExit("the embedded Redis is not running")
        rules = tmp / "demo-tv.yaml"
        rules.write_text(RULES, encoding="utf-8")
        settings = Settings(environ={}, redis_url=server.url, data_dir=tmp / "var")
        with Platform(settings, redis_client=redis.Redis.from_url(server.url), rule_paths=[rules]) as platform:
            router = bench_router(platform, args.messages, args.router_seconds)
            platform.redis.close()
        http = measure("kodeord", args, server.url, server.pid, rules, 1_000_000)
        baseline = measure("baseline", args, server.url, server.pid, rules, 5_000_000)
    ratio = http / baseline if baseline else float("nan")
    print(f"ratio: http/baseline={ratio:.2f} (web app vs bare Starlette+Redis), http/router={http / router:.2f}")
    print(f"router_msgs_per_s={router:.0f} http_msgs_per_s={http:.0f} baseline_http_msgs_per_s={baseline:.0f}")


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: Redis and child servers are already stopped
        sys.exit("interrupted")
