"""A writer's broadcast to a big address book, through the outbox and Kannel's sendsms, end to end.

Starts, all on loopback: an embedded Redis; a fake Kannel sendsms (``python -m kodeord.testing.fakekannel``, its own
process); ``kodeord worker`` x S (RQ workers sending through the Kannel gateway). Imports ``--members``
members into a list (the same batched import as ``kodeord lists import``), then a writer texts the list's
number and the clock runs until the fake Kannel has accepted a message for every member.

    .venv/bin/python bench/broadcast.py [--members 1000000] [--senders 1]

Figures: sent_per_s is members divided by the time from the writer's message to the last member's message
accepted by the fake Kannel; peak_rss_mb is the largest peak resident memory of any sender process (it must
not grow with the list: a broadcast is paged through the outbox); lost is members who got nothing, and
duplicated messages accepted more than once. Also printed: the import rate, Redis memory, and CPU per process.

Last line: members=N sent_per_s=N peak_rss_mb=N
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
from benchlib import cpu_seconds, die_with_parent, embedded_redis, fake_kannel, kannel_gateways

from kodeord.config.settings import Settings
from kodeord.inbound.messages import Inbound
from kodeord.platform import Platform
from kodeord.plugins.addressbook.admin import ListAdmin

NUMBER = "+46766861004"
WRITER = "+46709000001"
RULES = textwrap.dedent(
    f"""\
    tenant: {{id: forening, name: Föreningen}}
    numbers:
      - {{number: "{NUMBER}", type: dedicated}}
    services:
      - id: medlemmar
        number: "{NUMBER}"
        catch_all: true
        rules:
          - {{name: list, do: addressbook.inbox, with: {{name: Föreningen}}}}
    """
)


def member(n: int) -> str:
    """The n-th member's number: distinct valid Swedish mobile numbers."""
    return f"+4670{n:07d}"


def peak_rss_mb(pid: int) -> float:
    """Peak resident memory (VmHWM) of a process, in MiB; 0 if it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def stats(port: int) -> dict[str, int]:
    return dict(httpx.get(f"http://127.0.0.1:{port}/stats", timeout=5).json())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=1_000_000, help="members of the list")
    parser.add_argument("--senders", type=int, default=1, help="sender worker processes")
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections to the fake Kannel")
    parser.add_argument("--timeout", type=float, default=1200.0, help="longest wait for the broadcast")
    args = parser.parse_args()

    with embedded_redis("kodeord-broadcast-") as (server, tmp):
        processes: list[subprocess.Popen[bytes]] = []
        try:
            fake_port = fake_kannel(processes)
            (tmp / "rules.yaml").write_text(RULES, encoding="utf-8")
            sendsms = f"http://127.0.0.1:{fake_port}/cgi-bin/sendsms"
            (tmp / "gateways.yaml").write_text(kannel_gateways(sendsms, connections=args.connections), encoding="utf-8")
            env = {
                **os.environ,
                "KODEORD_REDIS_URL": server.url,
                "KODEORD_RULES": str(tmp / "rules.yaml"),
                "KODEORD_GATEWAYS": str(tmp / "gateways.yaml"),
                "KODEORD_LOG_LEVEL": "WARNING",
                "KODEORD_PUBLIC_URL": "http://127.0.0.1:8000",
                "KODEORD_DATA_DIR": str(tmp / "var"),
                "KODEORD_SECRET_KEY": "bench",
            }
            settings = Settings(environ=env)
            with Platform(settings) as platform:
                admin = ListAdmin(platform, "forening", by="bench", channel="cli")
                admin.set_role("medlemmar", "writers", WRITER, True)
                started = time.perf_counter()
                rows = [(member(n), "") for n in range(args.members)]
                admin.import_members("medlemmar", rows, "bench import")
                del rows
                imported_s = time.perf_counter() - started
                print(
                    f"imported {args.members} members in {imported_s:.1f} s ({args.members / imported_s:.0f}/s)",
                    flush=True,
                )
                kodeord = [sys.executable, "-c", "from kodeord.cli import main; main()"]
                for _ in range(args.senders):
                    processes.append(
                        subprocess.Popen(
                            [*kodeord, "worker"], env=env, stdout=subprocess.DEVNULL, preexec_fn=die_with_parent
                        )
                    )
                time.sleep(2.0)  # workers up and idle before the clock starts
                named = {
                    "senders": [p.pid for p in processes[1:]],
                    "fake-kannel": [processes[0].pid],
                    "redis": [server.pid],
                }
                cpu_before = {name: sum(cpu_seconds(p) for p in pids) for name, pids in named.items()}
                begin = time.perf_counter()
                platform.handle(
                    Inbound.create(
                        sender=WRITER,
                        recipient=NUMBER,
                        text="Årsmöte torsdag kl 19!",
                        gateway="bench",
                        message_id="broadcast-1",
                    )
                )
                deadline = time.monotonic() + args.timeout
                last, last_change, done_at = -1, time.perf_counter(), 0.0
                while time.monotonic() < deadline:
                    now = stats(fake_port)
                    if now["accepted"] != last:
                        last, last_change = now["accepted"], time.perf_counter()
                        print(f"  {now['accepted']} accepted after {last_change - begin:.1f} s", flush=True)
                    if now["distinct"] >= args.members + 1:  # every member, and the writer's receipt
                        done_at = time.perf_counter()
                        break
                    if time.perf_counter() - last_change > 60:
                        break
                    time.sleep(0.5)
                elapsed = (done_at or time.perf_counter()) - begin
                cpu = {
                    name: (sum(cpu_seconds(p) for p in pids) - cpu_before[name]) / elapsed
                    for name, pids in named.items()
                }
                final = stats(fake_port)
                peak = max(peak_rss_mb(p.pid) for p in processes[1:])
                info = platform.redis.info("memory")
        finally:
            for process in reversed(processes):
                process.terminate()
            for process in processes:
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
    members_reached = min(final["distinct"] - 1, args.members)
    print("cpu cores per process: " + json.dumps({k: round(v, 2) for k, v in cpu.items()}))
    print(
        f"redis used_memory_mb={info['used_memory'] / 2**20:.0f} elapsed_s={elapsed:.1f} "
        f"accepted={final['accepted']} lost={args.members - members_reached} "
        f"duplicated={final['accepted'] - final['distinct']}"
    )
    print(f"members={args.members} sent_per_s={members_reached / elapsed:.0f} peak_rss_mb={peak:.0f}")


if __name__ == "__main__":
    main()
