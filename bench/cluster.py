"""A live televote on a Redis Cluster that loses the primary holding the poll in the middle of the show.

Processes stand for hosts: ``--hosts`` web processes (``kodeord serve --workers 1``, each on its own port with
its own data dir: they share nothing but Redis) and ``--senders`` ``kodeord worker`` processes, plus a fake
Kannel sendsms. This process is Kannel's get-url: votes ("MELLO NN", each from its own sender with its own
Kannel id) over ``--concurrency`` keep-alive connections spread over the hosts; a vote answered anything but
200 (a 503, a dropped connection) is sent again, the same request, after 50 ms and to the next host, until it
is taken, as Kannel does.

Three runs of ``--seconds`` each, in this order, the same way:

1. ``single``: one embedded Redis (no replica, so no WAIT): the figure to compare with;
2. ``cluster``: 3 primaries with 2 replicas each, ``KODEORD_REDIS_WAIT_REPLICAS=0``: what the cluster costs;
3. ``cluster-wait``: the same cluster with ``KODEORD_REDIS_WAIT_REPLICAS=1``, the documented safe setting
   (docs/scaling.md); half-way through, the primary serving the poll's slot is killed (SIGKILL).

Figures of a run:

- votes_per_s: votes answered 200 over the run's seconds (in ``cluster-wait`` also before the kill alone,
  ``before_kill_per_s``: with the cluster's run, the cost of waiting for a replica);
- failover_stall_s: from the kill to the first vote answered 200 after it (the longest gap between two answered
  votes after the kill, if longer);
- lost: votes answered 200 that the poll did not count, plus votes whose reply never reached the fake Kannel
  (the senders must go on by themselves); duplicated: votes counted more than once, plus replies sent twice.

    .venv/bin/python bench/cluster.py [--seconds 20] [--concurrency 16] [--hosts 2] [--senders 1]

Last line: masters=N votes_per_s=N failover_stall_s=N lost=N duplicated=N (the ``cluster-wait`` run),
with the single Redis's figure on the line before it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from benchlib import die_with_parent, fake_kannel, free_port, kannel_gateways, stop_process, wait_http
from load import exchange, stats
from televote import CODES, SECRET, SERVICE, TENANT, request_line, rules_file

from kodeord.plugins.voting.store import PollKeys
from kodeord.support.redis_client import client_for
from kodeord.support.redis_cluster import EmbeddedCluster
from kodeord.support.redis_server import EmbeddedRedis

PRIMARIES, REPLICAS = 3, 2
RETRY_S = 0.05
POLL = PollKeys(f"{TENANT}/{SERVICE}").counts


@dataclass
class Votes:
    """What the driver saw: when each vote was answered 200, and every answer."""

    acknowledged: dict[int, float] = field(default_factory=dict)  # vote n -> when (perf_counter) it was taken
    answers: dict[str, int] = field(default_factory=dict)
    killed_at: float | None = None


async def drive(ports: list[int], args: argparse.Namespace, kill: Any | None) -> Votes:
    """Votes for ``--seconds`` over ``--concurrency`` connections spread over ``ports``; ``kill()`` half-way."""
    votes = Votes()
    begin = time.perf_counter()
    end = begin + args.seconds

    async def connection(c: int) -> None:
        n, host = c, c % len(ports)
        reader = writer = None
        while time.perf_counter() < end:
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", ports[host])
                assert reader is not None
                code, _ = await exchange(reader, writer, request_line(n))
            except (OSError, asyncio.IncompleteReadError):
                code = "dropped"
                if writer is not None:
                    writer.close()
                reader = writer = None
            votes.answers[code] = votes.answers.get(code, 0) + 1
            if code == "200":
                votes.acknowledged[n] = time.perf_counter()
                n += args.concurrency
            else:  # the same vote again, to the next host, as Kannel retries
                if writer is not None:
                    writer.close()
                reader = writer = None
                host = (host + 1) % len(ports)
                await asyncio.sleep(RETRY_S)
        if writer is not None:
            writer.close()

    async def killer() -> None:
        await asyncio.sleep(args.seconds / 2)
        votes.killed_at = time.perf_counter()
        await asyncio.to_thread(kill)

    tasks = [connection(c) for c in range(args.concurrency)]
    await asyncio.gather(*tasks, *([killer()] if kill is not None else []))
    return votes


@contextmanager
def hosts(redis_url: str, tmp: Path, args: argparse.Namespace, wait_replicas: int) -> Iterator[tuple[list[int], int]]:
    """The fake Kannel, ``--hosts`` web processes and ``--senders`` workers on ``redis_url``: the web ports and
    the fake Kannel's."""
    tmp.mkdir(parents=True)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        fake_port = fake_kannel(processes)
        (tmp / "rules.yaml").write_text(rules_file(datetime.now(UTC)), encoding="utf-8")
        sendsms = f"http://127.0.0.1:{fake_port}/cgi-bin/sendsms"
        (tmp / "gateways.yaml").write_text(kannel_gateways(sendsms, secret=SECRET, charging=True), encoding="utf-8")
        kodeord = [sys.executable, "-c", "from kodeord.cli import main; main()"]
        ports = []
        for h in range(args.hosts + args.senders):
            port = free_port()
            env = {
                **os.environ,
                "KODEORD_REDIS_URL": redis_url,
                "KODEORD_REDIS_WAIT_REPLICAS": str(wait_replicas),
                "KODEORD_REDIS_WAIT_MS": "1000",
                "KODEORD_RULES": str(tmp / "rules.yaml"),
                "KODEORD_GATEWAYS": str(tmp / "gateways.yaml"),
                "KODEORD_LOG_LEVEL": "ERROR",
                "KODEORD_PUBLIC_URL": f"http://127.0.0.1:{port}",
                "KODEORD_DATA_DIR": str(tmp / f"host{h}"),  # a host's own disk
                "KODEORD_SECRET_KEY": "bench-cluster-key",  # every host signs alike, as a deployment's do
            }
            if h < args.hosts:
                web = subprocess.Popen(
                    [*kodeord, "serve", "--port", str(port), "--workers", "1"], env=env, preexec_fn=die_with_parent
                )
                processes.append(web)
                wait_http(f"http://127.0.0.1:{port}/healthz", web)
                ports.append(port)
            else:
                processes.append(
                    subprocess.Popen(
                        [*kodeord, "worker"], env=env, stdout=subprocess.DEVNULL, preexec_fn=die_with_parent
                    )
                )
        yield ports, fake_port
    finally:
        for process in reversed(processes):
            stop_process(process)


def run(name: str, redis_url: str, tmp: Path, args: argparse.Namespace, wait_replicas: int, kill: Any = None) -> dict:
    """One run: drive the votes, wait for the replies, count; its figures (printed too)."""
    with hosts(redis_url, tmp / name, args, wait_replicas) as (ports, fake_port):
        votes = asyncio.run(drive(ports, args, kill))
        sent = len(votes.acknowledged)
        deadline = time.monotonic() + args.drain
        while stats(fake_port)["distinct"] < sent and time.monotonic() < deadline:
            time.sleep(0.2)
        final = stats(fake_port)
        with client_for(redis_url, decode_responses=True) as client:
            raw = client.hgetall(POLL)
    counted = sum(int(raw.get(f"{code}:sms", 0)) for code in CODES)
    replies_missing = max(0, sent - final["distinct"])
    figures = {
        "votes_per_s": sent / args.seconds,
        "sent": sent,
        "counted": counted,
        "lost": max(0, sent - counted) + replies_missing,
        "duplicated": max(0, counted - sent) + final["duplicated"],
        "replies": final["distinct"],
        "replies_missing": replies_missing,
        "answers": dict(sorted(votes.answers.items())),
    }
    if votes.killed_at is not None:
        after = sorted(t for t in votes.acknowledged.values() if t >= votes.killed_at)
        gaps = [b - a for a, b in zip([votes.killed_at, *after], after, strict=False)]
        figures["failover_stall_s"] = max(gaps) if gaps else float(args.seconds)
        figures["before_kill_per_s"] = sum(t < votes.killed_at for t in votes.acknowledged.values()) / (
            args.seconds / 2
        )
    shown = {k: (round(v, 2) if isinstance(v, float) else v) for k, v in figures.items()}
    print(f"{name}: " + " ".join(f"{k}={v}" for k, v in shown.items()), flush=True)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=20.0, help="measured duration of each run")
    parser.add_argument("--concurrency", type=int, default=16, help="Kannel's connections (max-pending-requests)")
    parser.add_argument("--hosts", type=int, default=2, help="web processes, each standing for a host")
    parser.add_argument("--senders", type=int, default=1, help="worker processes, each standing for a host")
    parser.add_argument("--drain", type=float, default=60.0, help="longest wait for the last replies")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kodeord-cluster-") as name:
        tmp = Path(name)
        with EmbeddedRedis(tmp / "single-redis") as server:
            single = run("single", server.url, tmp, args, wait_replicas=0)
        with EmbeddedCluster(tmp / "cluster-nodes", PRIMARIES, REPLICAS).start() as cluster:
            plain = run("cluster", cluster.url, tmp, args, wait_replicas=0)
        with EmbeddedCluster(tmp / "cluster-wait-nodes", PRIMARIES, REPLICAS).start() as cluster:
            killed = run(
                "cluster-wait", cluster.url, tmp, args, wait_replicas=1, kill=lambda: cluster.kill_primary_of(POLL)
            )
    print(
        f"waiting for a replica costs: before_kill_per_s / cluster votes_per_s = "
        f"{killed['before_kill_per_s'] / max(1e-9, plain['votes_per_s']):.2f}; "
        f"cluster / single = {plain['votes_per_s'] / max(1e-9, single['votes_per_s']):.2f}"
    )
    print(f"single: votes_per_s={single['votes_per_s']:.0f} lost={single['lost']} duplicated={single['duplicated']}")
    print(
        f"masters={PRIMARIES} votes_per_s={killed['votes_per_s']:.0f} "
        f"failover_stall_s={killed['failover_stall_s']:.1f} lost={killed['lost']} duplicated={killed['duplicated']}"
    )


if __name__ == "__main__":
    main()
