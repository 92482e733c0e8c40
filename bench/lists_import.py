"""An administrator's import of a big list (``kodeord lists import``'s batched import), into an embedded Redis.

    .venv/bin/python bench/lists_import.py [--members 200000]

Each batch of a thousand members is one commit of Effects (the members, a consent record each, guarded by
"none of these unsubscribed"), as every change an administrator makes. Figures: imported_per_s is members
divided by the time the import took; members_mb is what Redis holds afterwards, in MiB.

Last line: members=N imported_per_s=N members_mb=N
"""

from __future__ import annotations

import argparse
import os
import time

from benchlib import embedded_redis
from broadcast import RULES, member

from kodeord.config.settings import Settings
from kodeord.platform import Platform
from kodeord.plugins.addressbook.admin import ListAdmin


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--members", type=int, default=200_000, help="members to import")
    args = parser.parse_args()
    with embedded_redis("kodeord-import-") as (server, tmp):
        (tmp / "rules.yaml").write_text(RULES, encoding="utf-8")
        env = {
            **os.environ,
            "KODEORD_REDIS_URL": server.url,
            "KODEORD_RULES": str(tmp / "rules.yaml"),
            "KODEORD_DATA_DIR": str(tmp / "var"),
            "KODEORD_SECRET_KEY": "bench",
            "KODEORD_LOG_LEVEL": "WARNING",
        }
        with Platform(Settings(environ=env)) as platform:
            admin = ListAdmin(platform, "forening", by="bench", channel="cli")
            rows = [(member(n), "") for n in range(args.members)]
            started = time.perf_counter()
            skipped = admin.import_members("medlemmar", rows, "bench import")
            elapsed = time.perf_counter() - started
            assert skipped == [], skipped
            used = int(platform.redis.info("memory")["used_memory"]) / 2**20
    print(f"members={args.members} imported_per_s={args.members / elapsed:.0f} members_mb={used:.0f}")


if __name__ == "__main__":
    main()
