"""Failover during a televote: a sender killed mid-show, Redis restarted, then a quiet spell.

Starts, on loopback: an embedded Redis; a fake Kannel sendsms (in this process); ``kodeord worker`` x 2. This
process routes votes (``voting.vote`` with a priced reply, as in ``televote.py``) at ``--rate`` a second, each
from its own number, like a gateway that retries what was not acknowledged (a vote refused while Redis is
away is routed again until it is taken). Then, in turn:

1. the worker running the service's sending job is killed with SIGKILL (the other one stays);
2. Redis is stopped for ``--outage`` seconds and started again on its append-only file;
3. votes stop, and after ``--quiet`` seconds (longer than redis-py's 5 s socket timeout) one more comes.

    .venv/bin/python bench/failover.py [--rate 100] [--outage 3] [--quiet 8]

Figures: kill_stall_s is the time from the kill to the next reply the fake Kannel accepted; redis_stall_s the
time from Redis answering again to the next reply accepted; idle_reply_ms the time from routing the last vote
to its reply being accepted; lost the votes taken whose reply never came (waiting up to 30 s at the end);
duplicated the replies accepted more than once.

Last line: kill_stall_s=N redis_stall_s=N idle_reply_ms=N lost=N duplicated=N
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

import redis
from benchlib import die_with_parent, embedded_redis, kannel_gateways
from televote import rules_file

from kodeord.config.settings import Settings
from kodeord.inbound.messages import Inbound
from kodeord.outbound import jobs
from kodeord.platform import Platform
from kodeord.testing.fakekannel import FakeKannel, running

KODEORD = [sys.executable, "-c", "from kodeord.cli import main; main()"]
STREAM_SCOPE = "bench/mello"


class Arrivals:
    """When the fake Kannel accepted each reply, and to whom."""

    def __init__(self, fake: FakeKannel) -> None:
        self.times: list[tuple[float, str]] = []
        self._respond = fake.respond
        fake.respond = self.respond  # type: ignore[method-assign]

    def respond(self, target: str) -> tuple[int, bytes] | None:
        answer = self._respond(target)
        if answer is not None and answer[0] == 202:
            to = dict(parse_qsl(urlsplit(target).query)).get("to", "")
            self.times.append((time.monotonic(), to))
        return answer

    def first_after(self, moment: float, timeout: float = 60.0) -> float:
        """Seconds from ``moment`` to the first reply accepted after it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            later = [t for t, _ in list(self.times) if t > moment]
            if later:
                return min(later) - moment
            time.sleep(0.005)
        return timeout


class Votes:
    """Votes routed at a steady rate from a thread, each from a new number, retried until Redis takes it."""

    def __init__(self, platform: Platform, rate: float) -> None:
        self.platform, self.rate = platform, rate
        self.taken: list[str] = []
        self.n = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def one(self) -> str:
        """Route one vote (until it is taken); return its sender."""
        self.n += 1
        sender = f"+4670{self.n * 7_654_321 % 10_000_000:07d}"
        inbound = Inbound.create(
            sender=sender,
            recipient="72500",
            text=f"MELLO {self.n % 12 + 1:02d}",
            gateway="kannel",
            message_id=f"failover-{self.n}",
        )
        while True:
            try:
                self.platform.handle(inbound)
                break
            except redis.RedisError:  # Redis is away: the gateway would send it again
                time.sleep(0.05)
        self.taken.append(sender)
        return sender

    def _run(self) -> None:
        next_at = time.monotonic()
        while not self.stop.is_set():
            self.one()
            next_at += 1 / self.rate
            self.stop.wait(max(0.0, next_at - time.monotonic()))

    def __enter__(self) -> Votes:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(30)


def worker_running_the_job(client: redis.Redis, workers: list[subprocess.Popen[bytes]]) -> subprocess.Popen[bytes]:
    """The worker whose sender holds the service's stream lease (its name carries the process id)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for key in client.scan_iter(match=jobs.lease_key("*")):
            holder = (client.get(key) or b"").decode().partition(":")[2]
            for process in workers:
                if f"-{process.pid}-" in holder and STREAM_SCOPE in key.decode():
                    return process
        time.sleep(0.02)
    raise SystemExit("no worker took the service's sending job")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rate", type=float, default=100.0, help="votes a second")
    parser.add_argument("--outage", type=float, default=3.0, help="seconds Redis is away")
    parser.add_argument("--quiet", type=float, default=8.0, help="seconds without votes before the last one")
    args = parser.parse_args()

    with embedded_redis("kodeord-failover-") as (server, tmp), running(FakeKannel()) as fake:
        arrivals = Arrivals(fake)
        (tmp / "rules.yaml").write_text(rules_file(datetime.now(UTC)), encoding="utf-8")
        (tmp / "gateways.yaml").write_text(kannel_gateways(fake.url, charging=True), encoding="utf-8")
        env = {
            **os.environ,
            "KODEORD_REDIS_URL": server.url,
            "KODEORD_RULES": str(tmp / "rules.yaml"),
            "KODEORD_GATEWAYS": str(tmp / "gateways.yaml"),
            "KODEORD_LOG_LEVEL": "WARNING",
            "KODEORD_PUBLIC_URL": "http://127.0.0.1:8000",
            "KODEORD_DATA_DIR": str(tmp / "var"),
        }
        settings = Settings(environ=env)
        workers = [
            subprocess.Popen([*KODEORD, "worker"], env=env, stdout=subprocess.DEVNULL, preexec_fn=die_with_parent)
            for _ in range(2)
        ]
        try:
            with Platform(settings) as platform:
                time.sleep(3.0)  # both workers up
                with Votes(platform, args.rate) as votes:
                    time.sleep(2.0)
                    victim = worker_running_the_job(platform.redis, workers)
                    killed_at = time.monotonic()
                    victim.send_signal(signal.SIGKILL)
                    victim.wait(10)
                    kill_stall = arrivals.first_after(killed_at)
                    print(f"killed worker {victim.pid}; replies again after {kill_stall:.2f} s", flush=True)
                    time.sleep(2.0)
                    server.stop()
                    time.sleep(args.outage)
                    server.start()
                    back_at = time.monotonic()
                    redis_stall = arrivals.first_after(back_at)
                    print(
                        f"Redis away {args.outage:g} s; replies again {redis_stall:.2f} s after it answered", flush=True
                    )
                    time.sleep(2.0)
                time.sleep(args.quiet)
                routed_at = time.monotonic()
                votes.one()
                idle_reply_ms = arrivals.first_after(routed_at) * 1000
                deadline = time.monotonic() + 30
                while len({to for _, to in arrivals.times}) < len(set(votes.taken)) and time.monotonic() < deadline:
                    time.sleep(0.1)
                time.sleep(1.0)  # anything sent twice would have arrived by now
        finally:
            for process in workers:
                if process.poll() is None:
                    process.send_signal(signal.SIGINT)
            for process in workers:
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
    replies = Counter(to for _, to in arrivals.times)
    lost = len(set(votes.taken) - set(replies))
    duplicated = sum(n - 1 for n in replies.values() if n > 1)
    print(f"votes={len(votes.taken)} replies={sum(replies.values())}")
    print(
        f"kill_stall_s={kill_stall:.2f} redis_stall_s={redis_stall:.2f} idle_reply_ms={idle_reply_ms:.0f} "
        f"lost={lost} duplicated={duplicated}"
    )


if __name__ == "__main__":
    main()
