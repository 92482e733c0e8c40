"""Memory a handled message leaves in Redis once its reply is sent: what a long live show costs.

Starts an embedded Redis, loads ``televote.py``'s poll (12 options, a priced reply to every vote) and sends
``--messages`` votes through the router (``--processes`` processes, each its own ``Platform``, as web workers
are), each from its own sender with a Kannel-style id (a UUID), then sends every reply through an in-process
gateway that accepts everything, until the outboxes are empty. Redis's ``used_memory`` is read before the first
vote and after the last reply is sent (once no rewrite of the append-only file runs, less the buffers of that
file and of clients); the difference, less the keys that expire within ten minutes (the
poll's per-minute counts of votes by number, for burst alerts, kept three minutes), divided by the messages is
what each message leaves for as long as its records are kept (``KODEORD_DEDUPE_HOURS``,
``KODEORD_STATUS_HOURS``). The two kinds of record
are also summed key by key (``MEMORY USAGE``): ``dedupe_bytes`` (inbound records, which answer a gateway's
retry) and ``status_bytes`` (outbound records: each reply's status and delivery report), per message.

    .venv/bin/python bench/memory.py [--messages 1000000] [--processes 2]

Last line: messages=N bytes_per_message=N dedupe_bytes=N status_bytes=N
"""

from __future__ import annotations

import argparse
import multiprocessing
import time
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import redis
from benchlib import embedded_redis
from televote import CODES, rules_file

from kodeord.commit.keys import Keys
from kodeord.config.settings import Settings
from kodeord.inbound.messages import Inbound
from kodeord.outbound.gateway import Outgoing, Report, Sent
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform

SHORT_LIVED_S = 600  # keys that expire within minutes (the poll's per-minute burst counts) are working memory


class Accepting:
    """A gateway that takes every message at once (the sender's own work is all that remains)."""

    id = "bench"
    charging = True
    rate = 0.0

    def send(self, batch: Sequence[Outgoing], report: Report) -> None:
        """Accept the batch."""
        report(*(Sent.ok(item.id) for item in batch))


def _settings(url: str, tmp: Path) -> Settings:
    return Settings(
        environ={
            "KODEORD_REDIS_URL": url,
            "KODEORD_RULES": str(tmp / "rules.yaml"),
            "KODEORD_DATA_DIR": str(tmp / "var"),
            "KODEORD_SECRET_KEY": "bench",
            "KODEORD_LOG_LEVEL": "WARNING",
        }
    )


def _route(job: tuple[str, str, int, int]) -> int:
    url, tmp, start, stop = job
    with Platform(_settings(url, Path(tmp))) as platform:
        for n in range(start, stop):
            platform.handle(
                Inbound.create(
                    sender=f"+4670{n:07d}",
                    recipient="72500",
                    text=f"MELLO {CODES[n % len(CODES)]}",
                    gateway="kannel",
                    message_id=str(uuid.UUID(int=n)),
                    operator="telia",
                )
            )
    return stop - start


def _send(job: tuple[str, str]) -> int:
    url, tmp = job
    sent = 0
    with Platform(_settings(url, Path(tmp))) as platform:
        sender = Sender(platform, gateway=Accepting())
        idle = 0
        while idle < 3:
            handled = sender.run_once(block_ms=100)
            sent += handled
            idle = idle + 1 if handled == 0 else 0
    return sent


def _settled_memory(client: redis.Redis) -> int:
    """Redis's memory for data: ``used_memory`` once no append-only-file rewrite runs, less what is passing
    through (the append-only file's buffer, clients' buffers)."""
    while int(client.info("persistence")["aof_rewrite_in_progress"]):
        time.sleep(0.2)
    memory = client.info("memory")
    return int(memory["used_memory"]) - int(memory.get("mem_aof_buffer", 0)) - int(memory.get("mem_clients_normal", 0))


def _usage(client: redis.Redis, pattern: str = "*", shorter_than_s: int | None = None) -> int:
    """Bytes of the keys matching ``pattern`` (only those expiring within ``shorter_than_s``, if given)."""
    total = 0
    for key in client.scan_iter(match=pattern, count=10_000):
        if shorter_than_s is not None and not 0 < int(client.ttl(key)) < shorter_than_s:
            continue
        total += int(client.memory_usage(key, samples=0) or 0)
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--messages", type=int, default=1_000_000, help="votes to route and answer")
    parser.add_argument("--processes", type=int, default=2, help="processes routing, then sending")
    args = parser.parse_args()
    with embedded_redis("kodeord-memory-") as (server, tmp):
        (tmp / "rules.yaml").write_text(rules_file(datetime.now(UTC)), encoding="utf-8")
        client = redis.Redis.from_url(server.url)
        with Platform(_settings(server.url, tmp)) as platform:  # loads the rules, registers nothing per message
            retention = platform.retention
        before = _settled_memory(client)
        started = time.perf_counter()
        share = -(-args.messages // args.processes)  # one range, and one Platform, per process
        jobs = [(server.url, str(tmp), s, min(s + share, args.messages)) for s in range(0, args.messages, share)]
        with multiprocessing.get_context("spawn").Pool(args.processes) as pool:
            routed = sum(pool.imap_unordered(_route, jobs))
            routing_s = time.perf_counter() - started
            sent = sum(pool.map(_send, [(server.url, str(tmp))] * args.processes))
        elapsed = time.perf_counter() - started
        working = _usage(client, shorter_than_s=SHORT_LIVED_S)  # reading every key's TTL also drops the expired
        after = _settled_memory(client)
        scope = Keys.for_service("bench/mello")
        left = sum(int(client.xlen(s) or 0) for s in client.smembers("kodeord:outboxes"))
        dedupe = _usage(client, retention.inbound.prefix(scope) + ":*")
        statuses = _usage(client, retention.outbound.prefix(scope) + ":*")
        texts = _usage(client, retention.texts.prefix(scope) + ":*")
        stats: Any = client.memory_stats()
        keys = int(client.dbsize())
        client.close()
    n = args.messages
    print(f"routed={routed} routing_s={routing_s:.0f} sent={sent} elapsed_s={elapsed:.0f} left_in_outboxes={left}")
    print(
        f"used_memory_before={before} used_memory_after={after} text_bytes_total={texts} "
        f"short_lived_bytes_total={working}"
    )
    print(
        f"keys={keys} dataset_bytes={stats.get('dataset.bytes')} overhead_bytes={stats.get('overhead.total')} "
        f"keys_and_expiries_bytes={stats.get('db.0', {}).get('overhead.hashtable.main', 0)}+"
        f"{stats.get('db.0', {}).get('overhead.hashtable.expires', 0)}"
    )
    print(
        f"messages={n} bytes_per_message={(after - before - working) / n:.0f} dedupe_bytes={dedupe / n:.0f} "
        f"status_bytes={statuses / n:.0f}"
    )


if __name__ == "__main__":
    main()
