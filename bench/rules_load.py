"""Loading and routing a big rule file: 1,000 services and 10,000 keywords on the shared short code 72500.

Generates the rule file(s) in a temporary directory (each service: a keyword, 9
aliases, 2-3 rules with ``when: {args: ...}`` and reply templates), then measures

- load: wall time of ``kodeord.config.catalog.Catalog`` (YAML, schema check, typed
  config, keyword index) with the actions of ``Hooks(make_manager())``;
- memory: growth of peak RSS (``ru_maxrss``) while loading;
- load 5 MB: wall time of the same ``Catalog`` for one 5 MB file: the same
  services, and 4.5 MB of comments after the first one's fallback text
  (comments after a value once cost time quadratic in their length);
- routing: every keyword once (lower case, accents dropped) through
  ``Platform.handle(..., dry_run=True)`` - router, rules engine, templates -
  counting messages that reach the wrong service or rule. The order is
  shuffled (fixed seed), so services arrive interleaved as in real traffic and
  the engine's LRU cache of compiled rule sets (``engine_cache``, 512) is
  exercised; ``--order sorted`` routes service by service instead.

An embedded Redis is started in the temporary directory and always stopped.
Loops are bounded by count and by ``--seconds``.

    .venv/bin/python bench/rules_load.py [--services 1000] [--tenants 1] [--messages 10000] [--seconds 60]

Last line: load_s=N services=N keywords=N rss_mb=N routed_per_s=N wrong=N
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

import redis
from benchlib import embedded_redis, peak_rss_mb

from kodeord.config.catalog import Catalog
from kodeord.config.keywords import fold
from kodeord.config.settings import Settings
from kodeord.inbound.messages import Inbound
from kodeord.platform import Platform
from kodeord.support.manager import Hooks, make_manager

NUMBER = "72500"
BIG_FILE_BYTES = 5_000_000
# Ten word stems per service; the service number is appended ("RÖSTA17", "TÄVLA17", ...).
STEMS = ("RÖSTA", "TÄVLA", "GÅVA", "SVAR", "KÖP", "INFO", "KLUBB", "LOTT", "QUIZ", "BIO")


def service_yaml(tenant: str, i: int) -> tuple[str, list[str]]:
    """One service's YAML block and its ten keywords."""
    words = [f"{stem}{i}" for stem in STEMS]
    rules = [
        "      - {name: vote, when: {args: '0[1-9]'}, "
        f"reply: 'Tack för din röst på {{{{ args }}}}! /{tenant} {i}'}}",
        f"      - {{name: how-to, when: {{args: ''}}, reply: 'Skicka {words[0]} följt av 01-09.'}}",
    ]
    if i % 2:  # every other service has a third rule
        rules.append(f"      - {{name: office, when: {{args: 'info', hours: '09:00-16:00'}}, reply: 'Öppet nu ({i})'}}")
    block = [
        f"  - id: s{i}",
        f'    number: "{NUMBER}"',
        f"    keyword: {words[0]}",
        f"    aliases: [{', '.join(words[1:])}]",
        f'    fallback: "Okänd kod {{{{ args }}}}. Skicka {words[0]} 01-09."',
        "    rules:",
        *rules,
    ]
    return "\n".join(block), words


def write_rules(folder: Path, services: int, tenants: int) -> dict[str, str]:
    """One rule file per tenant in ``folder``; returns every keyword -> its service key."""
    owner: dict[str, str] = {}
    for t in range(tenants):
        tenant = f"tenant{t}"
        lines = [
            f"tenant: {{id: {tenant}, name: Kund {t} AB}}",
            f'numbers: [{{number: "{NUMBER}", type: shared}}]',
            "services:",
        ]
        for i in range(t, services, tenants):
            block, words = service_yaml(tenant, i)
            lines.append(block)
            owner.update({word: f"{tenant}/s{i}" for word in words})
        (folder / f"{tenant}.yaml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return owner


def write_commented(folder: Path, services: int, size: int) -> Path:
    """One rule file of ``services`` services and, after the first one's fallback, comments up to ``size`` bytes."""
    blocks = [service_yaml("big", i)[0] for i in range(services)]
    head = f'tenant: {{id: big}}\nnumbers: [{{number: "{NUMBER}", type: shared}}]\nservices:\n'
    line = "    # " + "x" * 73 + "\n"  # 80 bytes
    lines = max(0, size - len((head + "\n".join(blocks) + "\n").encode())) // len(line)
    blocks[0] = blocks[0].replace("\n    rules:", "\n" + line * lines + "    rules:", 1)
    text = head + "\n".join(blocks) + "\n"
    path = folder / "big.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def route_all(platform: Platform, owner: dict[str, str], args: argparse.Namespace) -> tuple[int, int, float]:
    """Route keywords (dry run) until all are done, ``--messages`` or ``--seconds``; return routed, wrong, seconds."""
    words = list(owner)
    if args.order == "shuffled":
        random.Random(7).shuffle(words)
    words = words[: args.messages]
    # Messages as phones send them: lower case, often without the accents; built before the clock starts.
    inbounds = [
        Inbound.create(
            sender="+46701234567",
            recipient=NUMBER,
            text=f"{fold(w) if n % 2 else w.lower()} 0{n % 9 + 1}",
            gateway="bench",
            message_id=f"m{n}",
        )
        for n, w in enumerate(words)
    ]
    wrong = routed = 0
    started = time.perf_counter()
    deadline = started + args.seconds
    for word, inbound in zip(words, inbounds, strict=True):
        outcome = platform.handle(inbound, dry_run=True)
        routed += 1
        if outcome.service != owner[word] or outcome.rule != "vote" or not outcome.replies:
            wrong += 1
            if wrong <= 5:
                print(
                    f"  wrong: {inbound.text!r} -> {outcome.status} {outcome.service} {outcome.rule} {outcome.errors}"
                )
        if time.perf_counter() > deadline:
            print(f"  stopped after {args.seconds:g} s (--seconds)")
            break
    return routed, wrong, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description="Load and route a rule file with many services and keywords.")
    parser.add_argument("--services", type=int, default=1000, help="services to generate (10 keywords each)")
    parser.add_argument("--tenants", type=int, default=1, help="tenants (one rule file each) sharing the short code")
    parser.add_argument("--messages", type=int, default=10_000, help="at most this many keywords to route")
    parser.add_argument("--seconds", type=float, default=60.0, help="time limit of the routing loop")
    parser.add_argument(
        "--order", choices=("shuffled", "sorted"), default="shuffled", help="order keywords are routed in"
    )
    args = parser.parse_args()

    with embedded_redis("kodeord-bench-rules-") as (server, tmp):
        folder = tmp / "rules"
        folder.mkdir()
        owner = write_rules(folder, args.services, max(1, args.tenants))
        size_mb = sum(p.stat().st_size for p in folder.iterdir()) / 1e6
        print(
            f"generated {args.services} services, {len(owner)} keywords, {args.tenants} tenant(s): "
            f"{size_mb:.1f} MB of YAML"
        )

        settings = Settings(environ={}, redis_url=server.url, data_dir=tmp / "var")
        hooks = Hooks(make_manager())
        rss_before = peak_rss_mb()
        started = time.perf_counter()
        catalog = Catalog([folder], hooks.actions, settings.timezone, tuple(settings.regions))
        load_s = time.perf_counter() - started
        rss_load = peak_rss_mb() - rss_before
        services, keywords = len(catalog.config.services), len(catalog.index.folded) + len(catalog.index.exact)
        print(f"load: {load_s:.2f} s, peak RSS +{rss_load:.0f} MB ({services} services, {keywords} keywords indexed)")

        client = redis.Redis.from_url(server.url)
        # An empty rule set for the platform itself, then the catalog measured above: the file is parsed once.
        with Platform(settings, redis_client=client, rule_paths=()) as platform:
            platform.catalog = catalog
            routed, wrong, seconds = route_all(platform, owner, args)
            routed_per_s = routed / seconds if seconds else 0.0
            print(
                f"route: {routed} keywords in {seconds:.2f} s = {routed_per_s:.0f}/s (dry run), {wrong} wrong, "
                f"{len(platform.engine)} compiled rule sets cached, peak RSS now +{peak_rss_mb() - rss_before:.0f} MB"
            )
        client.close()

        big = tmp / "big"
        big.mkdir()
        big_file = write_commented(big, args.services, BIG_FILE_BYTES)
        started = time.perf_counter()
        Catalog([big_file], hooks.actions, settings.timezone, tuple(settings.regions))
        big_s = time.perf_counter() - started
        print(f"load {big_file.stat().st_size / 1e6:.1f} MB: {big_s:.2f} s ({args.services} services with comments)")
    print(
        f"load_s={load_s:.2f} services={services} keywords={keywords} rss_mb={rss_load:.0f} "
        f"routed_per_s={routed_per_s:.0f} wrong={wrong}"
    )


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: the embedded Redis is already stopped
        sys.exit("interrupted")
