"""The sender on its own: CPU per message of one ``Sender`` sending a broadcast, in this process.

Starts an embedded Redis and a fake Kannel sendsms (``python -m kodeord.testing.fakekannel``, its own process), imports
``--members`` members into a list, lets a writer broadcast to it, and then runs ``Sender.run_once`` in this
process until the outbox is empty. Only this process's CPU time counts, so the figure moves with the
sender's own work (vetoes, hand-over marks, building requests, status writes) and less with the rest of a
shared machine than ``broadcast.py``'s rate does.

    .venv/bin/python bench/sender.py [--members 50000]

Last line: members=N cpu_per_message_us=N sent_per_s=N
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from benchlib import die_with_parent, embedded_redis, kannel_gateways
from broadcast import NUMBER, RULES, WRITER, member, stats

from kodeord.config.settings import Settings
from kodeord.inbound.messages import Inbound
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.plugins.addressbook.admin import ListAdmin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=50_000, help="members of the list")
    args = parser.parse_args()
    with embedded_redis("kodeord-sender-") as (server, tmp):
        fake = subprocess.Popen(
            [sys.executable, "-m", "kodeord.testing.fakekannel"], stdout=subprocess.PIPE, preexec_fn=die_with_parent
        )
        try:
            assert fake.stdout is not None
            port = int(fake.stdout.readline())
            (tmp / "rules.yaml").write_text(RULES, encoding="utf-8")
            sendsms = f"http://127.0.0.1:{port}/cgi-bin/sendsms"
            (tmp / "gateways.yaml").write_text(kannel_gateways(sendsms, connections=16), encoding="utf-8")
            settings = Settings(
                environ={
                    "KODEORD_REDIS_URL": server.url,
                    "KODEORD_RULES": str(tmp / "rules.yaml"),
                    "KODEORD_GATEWAYS": str(tmp / "gateways.yaml"),
                    "KODEORD_DATA_DIR": str(tmp / "var"),
                    "KODEORD_SECRET_KEY": "bench",
                }
            )
            with Platform(settings) as platform:
                admin = ListAdmin(platform, "forening", by="bench", channel="cli")
                admin.set_role("medlemmar", "writers", WRITER, True)
                admin.import_members("medlemmar", [(member(n), "") for n in range(args.members)], "bench import")
                platform.handle(
                    Inbound.create(
                        sender=WRITER,
                        recipient=NUMBER,
                        text="Årsmöte torsdag kl 19!",
                        gateway="bench",
                        message_id="bench-1",
                    )
                )
                sender = Sender(platform)
                started, cpu = time.perf_counter(), time.process_time()
                idle = 0
                while idle < 3:  # three empty reads in a row: the broadcast and its receipt are out
                    idle = idle + 1 if sender.run_once(block_ms=50) == 0 else 0
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
                accepted = stats(port)["accepted"]
        finally:
            fake.terminate()
            fake.wait(10)
    print(f"accepted={accepted} elapsed_s={elapsed:.1f} cpu_s={cpu:.1f}")
    print(
        f"members={args.members} cpu_per_message_us={cpu / args.members * 1e6:.0f} "
        f"sent_per_s={args.members / elapsed:.0f}"
    )


if __name__ == "__main__":
    main()
