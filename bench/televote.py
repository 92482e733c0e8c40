"""Televote: SMS votes into a real poll through Kannel's get-url, every one counted once, replies out through sendsms.

The process layout is that of ``load.py``: an embedded Redis; a fake Kannel sendsms (``python -m
kodeord.testing.fakekannel``, its own process); ``kodeord serve --workers W`` (the web app, W processes); ``kodeord
worker`` x S (RQ workers sending the replies through a Kannel gateway with ``charging: true``). The rule file
holds one poll, ``bench/mello`` (``voting.vote``, 12 options ``01``..``12``, opened an hour ago, closing in
two hours, replies priced 4.90). This process drives Kannel-style get-url requests over ``--concurrency``
keep-alive connections for a warm-up plus ``--seconds``: each request is a vote "MELLO NN" from its own
sender with its own Kannel id, except that 1 % of the requests (request number n with n % 100 == 99) are a
gateway retry, the exact request (same Kannel id) of request n - 37 on the same connection, which must
answer ``duplicate`` and not count again. Then it waits until the fake Kannel has a reply for every vote
(or ``--drain`` seconds pass) and reads the poll's counts straight from Redis.

    .venv/bin/python bench/televote.py [--seconds 60] [--concurrency 32] [--web-workers 3] [--senders 1] [--baseline]

``--baseline`` first runs ``load.py``'s plain replies the same way and prints the ratio of the two: the
machine is shared, and its speed changes from hour to hour.

Figures:

- sent: distinct votes answered 200 with ``X-Kodeord-Status: handled`` (retries answered ``duplicate`` are
  not votes; a retry answered ``handled`` counts only if its original was not handled);
- counted: the sum of the option counts in Redis (``kodeord:{s:bench/mello}:voting:counts``, by SMS and by call);
- lost: votes answered handled that did not count (sent - counted, if positive) plus votes whose reply never
  reached the fake Kannel (also printed on their own as replies_missing);
- double: votes counted more than once (counted - sent, if positive) plus replies the fake Kannel got more
  than once;
- votes_per_s: votes answered handled in the measured window (after the warm-up; as in ``load.py``) divided
  by the window's seconds.

Also printed: request outcomes, retries, CPU per process (1.0 = one core), p50/p99 request latency in the
window, replies delivered, and the counts per option against the votes sent for each.

Last line: votes_per_s=N counted=N sent=N lost=N double=N
"""

from __future__ import annotations

import argparse
import asyncio
import json
import textwrap
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import quote

import redis
from benchlib import kannel_gateways
from load import WARMUP_S, arguments, exchange, live_tv, percentiles, plain_replies

from kodeord.plugins.voting.store import PollKeys
from kodeord.testing import COMPANY

TENANT, SERVICE = "bench", "mello"
CODES = tuple(f"{n:02d}" for n in range(1, 13))
SECRET = "bench-secret"
RETRY_EVERY, RETRY_LAG = 100, 37  # request n with n % 100 == 99 retries request n - 37


def rules_file(now: datetime) -> str:
    options = ", ".join(f'{{code: "{code}", name: Bidrag {code}}}' for code in CODES)
    opens = (now - timedelta(hours=1)).isoformat(timespec="seconds")
    closes = (now + timedelta(hours=2)).isoformat(timespec="seconds")
    return textwrap.dedent(
        f"""\
        tenant: {{id: {TENANT}, name: Bench-TV AB, timezone: Europe/Stockholm, company: {COMPANY}}}
        numbers:
          - {{number: "72500", type: shared}}
        services:
          - id: {SERVICE}
            number: "72500"
            keyword: MELLO
            rules:
              - name: vote
                do: voting.vote
                with:
                  title: Melodifestivalen
                  options: [{options}]
                  opens: "{opens}"
                  closes: "{closes}"
                reply: "Tack för din röst på {{{{ option }}}}!"
                price: "4.90"
        """
    )


def code_of(n: int) -> str:
    return CODES[n % len(CODES)]


def request_line(n: int) -> bytes:
    """Kannel's get-url request for the n-th vote: a distinct sender, its own Kannel id.

    Senders are spread over the number range (n times a number prime to 10^7), as a real audience is, so
    no number prefix sends more than a poll's burst limit.
    """
    text = quote(f"MELLO {code_of(n)}")
    query = f"from=%2B4670{n * 7_654_321 % 10_000_000:07d}&to=72500&text={text}&id=bench-{n}&smsc=telia&secret={SECRET}"
    return f"GET /gateways/kannel/kannel?{query} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()


async def drive(port: int, args: argparse.Namespace) -> dict[str, Any]:
    """Send votes (and retries) for WARMUP_S + ``--seconds``; return what was answered, and latencies."""
    sent = in_window = 0
    per_code: Counter[str] = Counter()  # votes answered handled, by option
    outcomes: Counter[str] = Counter()  # "vote <status>" / "retry <status>" -> requests
    latencies: list[float] = []
    begin = time.perf_counter()
    window_start, window_end = begin + WARMUP_S, begin + WARMUP_S + args.seconds

    async def connection(c: int) -> None:
        nonlocal sent, in_window
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        base = n = c * 10_000_000 // args.concurrency
        handled: set[int] = set()  # this connection's requests that were counted as votes
        try:
            while time.perf_counter() < window_end:
                retry = n % RETRY_EVERY == RETRY_EVERY - 1 and n - RETRY_LAG >= base
                vote = n - RETRY_LAG if retry else n  # the request whose Kannel id this one carries
                sent_at = time.perf_counter()
                code, status = await exchange(reader, writer, request_line(vote))
                n += 1
                done = time.perf_counter()
                outcomes[f"{'retry' if retry else 'vote'} {code} {status}"] += 1
                counts = code == "200" and status == "handled" and vote not in handled
                if counts:  # a fresh vote, or a retry of one that was not taken the first time
                    handled.add(vote)
                    sent += 1
                    per_code[code_of(vote)] += 1
                if window_start <= done <= window_end:
                    in_window += counts
                    latencies.append(done - sent_at)
        finally:
            writer.close()

    await asyncio.gather(*(connection(c) for c in range(args.concurrency)))
    return {
        "sent": sent,
        "in_window": in_window,
        "per_code": per_code,
        "outcomes": outcomes,
        **percentiles(latencies),
        "begin": begin,
    }


def main() -> None:
    args = arguments(__doc__, baseline=True)
    baseline_per_s = plain_replies(args)[1] if args.baseline else None
    rules = rules_file(datetime.now(UTC))
    gateways = partial(kannel_gateways, secret=SECRET, charging=True)
    with live_tv(args, "kodeord-televote-", rules, gateways, drive, lambda load: int(load["sent"])) as run:
        client = redis.Redis.from_url(run.redis_url, decode_responses=True)
        raw = client.hgetall(PollKeys(f"{TENANT}/{SERVICE}").counts)
        client.close()
    load, cpu, final, last_at = run.load, run.cpu, run.final, run.last_at
    sent = int(load["sent"])
    counts = {code: int(raw.get(f"{code}:sms", 0)) + int(raw.get(f"{code}:call", 0)) for code in CODES}
    by_sms = sum(int(raw.get(f"{code}:sms", 0)) for code in CODES)
    counted = sum(counts.values())
    per_code: Counter[str] = load["per_code"]
    outcomes: Counter[str] = load["outcomes"]
    replies_missing = max(0, sent - final["distinct"])
    lost = max(0, sent - counted) + replies_missing
    double = max(0, counted - sent) + final["duplicated"]
    votes_per_s = int(load["in_window"]) / args.seconds
    replies_per_s = final["distinct"] / max(1e-9, last_at - float(load["begin"]))
    print("requests: " + ", ".join(f"{k} x{v}" for k, v in sorted(outcomes.items())))
    print(
        f"sent {sent} votes; counted {counted} in Redis ({by_sms} by sms); fake Kannel accepted "
        f"{final['accepted']} replies ({final['distinct']} distinct, {final['duplicated']} duplicated, "
        f"{replies_missing} missing)"
    )
    print("per option counted/sent: " + ", ".join(f"{c} {counts[c]}/{per_code[c]}" for c in CODES))
    mismatched = [c for c in CODES if counts[c] != per_code[c]]
    if mismatched:
        print(f"options whose count differs from the votes sent: {', '.join(mismatched)}")
    print("CPU while loaded (1.0 = one core): " + ", ".join(f"{k} {v:.2f}" for k, v in cpu.items()))
    print(f"p50_ms={load['p50']:.0f} p99_ms={load['p99']:.0f} replies_delivered_per_s={replies_per_s:.0f}")
    print(
        json.dumps(
            {
                "web_workers": args.web_workers,
                "senders": args.senders,
                "concurrency": args.concurrency,
                "seconds": args.seconds,
            }
        )
    )
    if baseline_per_s is not None:
        print(
            f"baseline (load.py, plain replies, just before): {baseline_per_s:.0f}/s; "
            f"votes/baseline={votes_per_s / max(1e-9, baseline_per_s):.2f}"
        )
    print(f"votes_per_s={votes_per_s:.0f} counted={counted} sent={sent} lost={lost} double={double}")


if __name__ == "__main__":
    main()
