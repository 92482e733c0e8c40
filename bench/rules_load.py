"""Loading and routing a rule file with 1,000 services and 10,000 keywords on one short code.

Measures the time to load and check the file, the memory it takes, and how fast
every keyword routes (dry runs through the full router, rules engine included),
counting any keyword that reaches the wrong service.

    .venv/bin/python bench/rules_load.py [--services 1000]

Last line: load_s=N services=N keywords=N rss_mb=N routed_per_s=N wrong=N
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
import uuid
from pathlib import Path

from kodeord.messages import Inbound
from kodeord.platform import Platform
from kodeord.redis_server import EmbeddedRedis
from kodeord.settings import Settings

WORDS_PER_SERVICE = 10


def write_rules(path: Path, services: int) -> dict[str, str]:
    """The generated file; returns keyword -> service key."""
    lines = ["tenant: {id: big, name: Big Broadcaster}", 'numbers: [{number: "72500", type: shared}]', "services:"]
    owner: dict[str, str] = {}
    for i in range(services):
        words = [f"K{i}W{j}" for j in range(WORDS_PER_SERVICE)]
        owner.update({w: f"big/s{i}" for w in words})
        lines += [
            f"  - id: s{i}",
            '    number: "72500"',
            f"    keyword: {words[0]}",
            f"    aliases: [{', '.join(words[1:])}]",
            f'    fallback: "Okänd kod för tjänst {i}"',
            "    rules:",
            f"      - {{name: vote, when: {{args: '0[1-9]'}}, reply: 'Tack för rösten på {{{{ args }}}} ({i})'}}",
            f"      - {{name: office, when: {{hours: '09:00-16:00', args: 'info'}}, reply: 'Öppet nu ({i})'}}",
            f"      - {{name: empty, when: {{args: ''}}, reply: 'Skicka {words[0]} 01-09'}}",
        ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return owner


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=1000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="kodeord-bench-") as tmp, EmbeddedRedis(Path(tmp) / "var") as server:
        rules = Path(tmp) / "big.yaml"
        owner = write_rules(rules, args.services)
        before = rss_mb()
        started = time.perf_counter()
        settings = Settings(environ={}, redis_url=server.url, data_dir=Path(tmp) / "var")
        with Platform(settings, rule_paths=[rules]) as platform:
            load_s = time.perf_counter() - started
            loaded_mb = rss_mb() - before
            print(f"loaded {len(platform.catalog.config.services)} services in {load_s:.2f} s, +{loaded_mb:.0f} MB")
            wrong = 0
            started = time.perf_counter()
            for n, (word, service) in enumerate(owner.items()):
                inbound = Inbound.create(
                    sender="+46701234567", recipient="72500", text=f"{word.lower()} 0{n % 9 + 1}",
                    gateway="bench", message_id=uuid.uuid4().hex,
                )  # fmt: skip
                outcome = platform.handle(inbound, dry_run=True)
                wrong += outcome.service != service or outcome.rule != "vote"
            routed_per_s = len(owner) / (time.perf_counter() - started)
            print(f"routed {len(owner)} keywords at {routed_per_s:.0f}/s, peak RSS {rss_mb():.0f} MB, "
                  f"{len(platform.engine)} rule sets compiled")  # fmt: skip
    print(
        f"load_s={load_s:.2f} services={args.services} keywords={len(owner)} rss_mb={rss_mb() - before:.0f} "
        f"routed_per_s={routed_per_s:.0f} wrong={wrong}"
    )
    sys.exit(1 if wrong else 0)


if __name__ == "__main__":
    main()
