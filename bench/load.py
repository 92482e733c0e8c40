"""Live-TV load: inbound SMS through Kannel's get-url, replies out through Kannel's sendsms, end to end.

Starts, all on loopback: an embedded Redis; a fake Kannel sendsms (``python -m kodeord.testing.fakekannel``, its
own process); ``kodeord serve --workers W`` (the web app, W processes); ``kodeord worker`` x S (RQ
workers sending through the Kannel gateway). Then this process drives Kannel-style get-url requests from
distinct senders ("MELLO 03" from +4670xxxxxxx, each with its own Kannel id) over ``--concurrency``
keep-alive connections for a warm-up plus ``--seconds``, and waits until every reply has reached the
fake Kannel (or ``--drain`` seconds pass).

    .venv/bin/python bench/load.py [--seconds 60] [--concurrency 32] [--web-workers 2] [--senders 1]

Figures: inbound_per_s counts requests answered 200 in the measured window; replies_delivered_per_s is
every reply the fake Kannel accepted divided by the time from the first request to the last reply;
p50/p99 are inbound request latencies in the window; lost is inbound messages answered 200 whose reply
never reached the fake Kannel; duplicated is replies it received more than once.

Last line: inbound_per_s=N replies_delivered_per_s=N p50_ms=N p99_ms=N lost=N duplicated=N
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
from benchlib import (
    cpu_seconds,
    die_with_parent,
    embedded_redis,
    fake_kannel,
    free_port,
    kannel_gateways,
    stop_process,
    wait_http,
)

RULES = """\
tenant: {id: demo-tv, name: Demo-TV AB}
numbers:
  - number: "72500"
    type: shared
services:
  - id: mello
    number: "72500"
    keyword: MELLO
    aliases: [MELO, SCHLAGER]
    fallback: "Okänd röstkod. Skicka MELLO följt av ett nummer 01-12, t.ex. MELLO 03."
    rules:
      - {name: vote, when: {args: '(0?[1-9]|1[0-2])'}, reply: "Tack för din röst på bidrag {{ args | int }}! /Demo-TV"}
"""
SECRET = "bench-secret"
WARMUP_S = 2.0
WORDS = ("MELLO", "mello", "Melo", "MELLO", "schlager")


def request_line(n: int) -> bytes:
    """Kannel's get-url request for the n-th vote (a distinct sender)."""
    text = quote(f"{WORDS[n % len(WORDS)]} {n % 12 + 1:02d}")
    query = f"from=%2B4670{n % 10_000_000:07d}&to=72500&text={text}&id=bench-{n}&smsc=telia&secret={SECRET}"
    return f"GET /gateways/kannel/kannel?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


async def drive(port: int, args: argparse.Namespace) -> dict[str, Any]:
    """Send votes for WARMUP_S + ``--seconds``; return counts and latencies."""
    handled = refused = 0
    in_window = 0
    latencies: list[float] = []
    begin = time.perf_counter()
    window_start, window_end = begin + WARMUP_S, begin + WARMUP_S + args.seconds

    async def connection(c: int) -> None:
        nonlocal handled, refused, in_window
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        n = c * 10_000_000 // args.concurrency
        try:
            while time.perf_counter() < window_end:
                sent_at = time.perf_counter()
                code, status = await exchange(reader, writer, request_line(n))
                n += 1
                done = time.perf_counter()
                ok = code == "200" and status == "handled"
                handled += ok
                refused += not ok
                if window_start <= done <= window_end:
                    in_window += ok
                    latencies.append(done - sent_at)
        finally:
            writer.close()

    await asyncio.gather(*(connection(c) for c in range(args.concurrency)))
    return {"handled": handled, "refused": refused, "in_window": in_window, **percentiles(latencies), "begin": begin}


async def exchange(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes) -> tuple[str, str]:
    """One request on a kept-alive connection: the answer's status code and its X-Kodeord-Status ("-" if none)."""
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    length, status = 0, "-"
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"x-kodeord-status":
            status = value.strip().decode()
    if length:
        await reader.readexactly(length)
    return head.split(b" ", 2)[1].decode(), status


def percentiles(latencies: list[float]) -> dict[str, float]:
    """p50 and p99 of ``latencies`` (seconds) in ms."""
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000 if latencies else 0.0

    return {"p50": pct(0.50), "p99": pct(0.99)}


def family(pid: int) -> set[int]:
    """``pid`` and all its descendants (uvicorn's worker processes, for one)."""
    parents: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
    found, grew = {pid}, True
    while grew:
        more = {child for child, parent in parents.items() if parent in found} - found
        found |= more
        grew = bool(more)
    return found


def tree_cpu(pid: int) -> float:
    """CPU seconds of ``pid`` and all its descendants."""
    return sum(cpu_seconds(p) for p in family(pid))


def stats(port: int) -> dict[str, int]:
    return dict(httpx.get(f"http://127.0.0.1:{port}/stats", timeout=5).json())


def cpu_of(pids: int | list[int]) -> float:
    """CPU seconds of a process (and its children) or of a list of them."""
    return sum(tree_cpu(p) for p in pids) if isinstance(pids, list) else tree_cpu(pids)


def arguments(
    doc: str | None, baseline: bool = False, extra: Callable[[argparse.ArgumentParser], None] | None = None
) -> argparse.Namespace:
    """The options of the live-TV harnesses (this one, televote.py, console.py; ``baseline``: offer
    ``--baseline``; ``extra`` adds a harness's own)."""
    parser = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    if extra is not None:
        extra(parser)
    if baseline:
        parser.add_argument(
            "--baseline",
            action="store_true",
            help="first run load.py's plain replies the same way, for a ratio on a noisy machine",
        )
    parser.add_argument("--seconds", type=float, default=60.0, help="measured duration")
    parser.add_argument(
        "--concurrency", type=int, default=32, help="client connections (Kannel's max-pending-requests)"
    )
    parser.add_argument("--web-workers", type=int, default=3, help="web processes")
    parser.add_argument("--senders", type=int, default=1, help="sender worker processes")
    parser.add_argument("--drain", type=float, default=120.0, help="longest wait for the last replies")
    return parser.parse_args()


@dataclass
class Run:
    """What one harness run measured: the client's figures, CPU per process, the fake Kannel's final stats,
    when its last reply arrived, and the Redis the run used (still running)."""

    load: dict[str, Any]
    cpu: dict[str, float]
    final: dict[str, int]
    last_at: float
    redis_url: str


@contextmanager
def live_tv(
    args: argparse.Namespace,
    prefix: str,
    rules: str,
    gateways: Callable[[str], str],
    drive: Callable[[int, argparse.Namespace], Coroutine[Any, Any, dict[str, Any]]],
    expected: Callable[[dict[str, Any]], int],
) -> Iterator[Run]:
    """Start Redis, the fake Kannel, ``kodeord serve`` and the senders; run ``drive(port, args)``; wait until
    the fake Kannel has ``expected(load)`` distinct replies (or ``--drain`` passes); yield the figures while
    Redis still runs; stop everything."""
    with embedded_redis(prefix) as (server, tmp):
        processes: list[subprocess.Popen[bytes]] = []
        try:
            fake_port = fake_kannel(processes)
            (tmp / "rules.yaml").write_text(rules, encoding="utf-8")
            (tmp / "gateways.yaml").write_text(
                gateways(f"http://127.0.0.1:{fake_port}/cgi-bin/sendsms"), encoding="utf-8"
            )
            port = free_port()
            env = {
                **os.environ,
                "KODEORD_REDIS_URL": server.url,
                "KODEORD_RULES": str(tmp / "rules.yaml"),
                "KODEORD_GATEWAYS": str(tmp / "gateways.yaml"),
                "KODEORD_LOG_LEVEL": "WARNING",
                "KODEORD_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "KODEORD_DATA_DIR": str(tmp / "var"),
            }
            kodeord = [sys.executable, "-c", "from kodeord.cli import main; main()"]
            web = subprocess.Popen(
                [*kodeord, "serve", "--port", str(port), "--workers", str(args.web_workers)],
                env=env,
                preexec_fn=die_with_parent,
            )
            processes.append(web)
            wait_http(f"http://127.0.0.1:{port}/healthz", web)
            for _ in range(args.senders):
                processes.append(
                    subprocess.Popen(
                        [*kodeord, "worker"], env=env, stdout=subprocess.DEVNULL, preexec_fn=die_with_parent
                    )
                )
            named: dict[str, int | list[int]] = {
                "web": web.pid,
                "senders": [p.pid for p in processes[2:]],
                "fake-kannel": processes[0].pid,
                "redis": server.pid,
            }
            cpu_before = {name: cpu_of(pids) for name, pids in named.items()} | {"client": cpu_seconds()}
            args.redis_url = server.url  # for a drive that needs to prepare state (console.py's login)
            load = asyncio.run(drive(port, args))
            elapsed = WARMUP_S + args.seconds
            cpu = {name: (cpu_of(pids) - cpu_before[name]) / elapsed for name, pids in named.items()}
            cpu["client"] = (cpu_seconds() - cpu_before["client"]) / elapsed
            deadline = time.monotonic() + args.drain
            last, last_at = -1, time.perf_counter()
            while time.monotonic() < deadline:
                now = stats(fake_port)
                if now["accepted"] != last:
                    last, last_at = now["accepted"], time.perf_counter()
                if now["distinct"] >= expected(load):
                    break
                time.sleep(0.2)
            yield Run(load, cpu, stats(fake_port), last_at, server.url)
        finally:
            for process in reversed(processes):
                stop_process(process)


def plain_replies(args: argparse.Namespace) -> tuple[Run, float]:
    """A run of this harness (a reply without a poll) and its inbound messages a second."""
    gateways = partial(kannel_gateways, secret=SECRET)
    with live_tv(args, "kodeord-load-", RULES, gateways, drive, lambda load: int(load["handled"])) as run:
        pass
    return run, run.load["in_window"] / args.seconds


def main() -> None:
    args = arguments(__doc__)
    run, inbound_per_s = plain_replies(args)
    load, cpu, final, last_at = run.load, run.cpu, run.final, run.last_at
    replies_per_s = final["distinct"] / max(1e-9, last_at - load["begin"])
    lost = max(0, int(load["handled"]) - final["distinct"])
    print(
        f"handled {load['handled']:.0f} inbound ({load['refused']:.0f} not handled), "
        f"fake Kannel accepted {final['accepted']} replies ({final['distinct']} distinct)"
    )
    print("CPU while loaded (1.0 = one core): " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    print(json.dumps({"web_workers": args.web_workers, "senders": args.senders, "concurrency": args.concurrency}))
    print(
        f"inbound_per_s={inbound_per_s:.0f} replies_delivered_per_s={replies_per_s:.0f} p50_ms={load['p50']:.0f} "
        f"p99_ms={load['p99']:.0f} lost={lost} duplicated={final['duplicated']}"
    )


if __name__ == "__main__":
    main()
