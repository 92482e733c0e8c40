"""``kodeord worker`` as an operator runs it, with the dependency versions ``make`` installs: it picks up work
after a quiet spell, takes over from a worker killed mid-batch within seconds, and lives through a Redis
restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import redis

from kodeord.config.settings import Settings
from kodeord.outbound.gateway import Outgoing, RecordingGateway, Report
from kodeord.platform import Platform
from kodeord.support.redis_server import EmbeddedRedis
from kodeord.testing.fakekannel import FakeKannel, running

from ..conftest import RADIO_RULES, TV_RULES, kannel_gateways

KODEORD = [sys.executable, "-c", "from kodeord.cli import main; main()"]
MakeInbound = Callable[..., object]


def config(tmp_path: Path, sendsms: str) -> dict[str, str]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(TV_RULES, encoding="utf-8")
    gateways = tmp_path / "gateways.yaml"
    gateways.write_text(kannel_gateways(sendsms, connections=1), encoding="utf-8")
    return {
        "KODEORD_RULES": str(rules),
        "KODEORD_GATEWAYS": str(gateways),
        "KODEORD_PUBLIC_URL": "http://127.0.0.1:8000",
        "KODEORD_LOG_LEVEL": "INFO",
    }


@contextmanager
def worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """A ``kodeord worker`` process, up and waiting for work when the block starts; stopped after it."""
    with log.open("wb") as out:
        process = subprocess.Popen([*KODEORD, "worker"], env={**os.environ, **env}, stdout=out, stderr=out)
        try:
            deadline = time.monotonic() + 30
            while b"Listening on" not in log.read_bytes():
                assert process.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(10)


def alive(platform: Platform) -> dict[str, float]:
    """The senders (busy) and worker processes (busy or idle) ``/metrics`` would show now."""
    from kodeord.watch import gauges

    return {name: value for name, _, value in gauges.read(platform.redis) if name.endswith("_alive")}


def wait_until(condition: Callable[[], bool], seconds: float) -> float:
    """Seconds until ``condition`` held; fails if it did not within ``seconds``."""
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < seconds, f"still not so after {seconds} s"
        time.sleep(0.01)
    return time.monotonic() - started


def test_an_idle_worker_sends_a_reply_at_once_after_a_quiet_spell(
    make_platform: Callable[..., Platform], kodeord_redis_url: str, tmp_path: Path, make_inbound: MakeInbound
) -> None:
    with running(FakeKannel()) as fake:
        env = {**config(tmp_path, fake.url), "KODEORD_REDIS_URL": kodeord_redis_url}
        platform = make_platform(Path(env["KODEORD_RULES"]), gateways=Path(env["KODEORD_GATEWAYS"]))
        log = tmp_path / "worker.log"
        with worker(env, log) as process:
            time.sleep(6.5)  # longer than redis-py's default socket timeout (5 s)
            idle = alive(platform)
            platform.handle(make_inbound("MELLO 03", sender="+46701234567"))  # type: ignore[arg-type]
            waited = wait_until(lambda: len(fake.accepted) == 1, 10)
    assert process.returncode == 0  # Ctrl-C (SIGINT) stopped it, at once
    assert idle == {"kodeord_senders_alive": 0, "kodeord_workers_alive": 1}  # idle, and counted as there
    assert alive(platform)["kodeord_workers_alive"] == 0  # stopped: gone at once, not after the 5 s
    text = log.read_text()
    assert "Timeout reading" not in text and "could not connect" not in text, text
    assert waited < 2.0, f"the reply waited {waited:.1f} s"  # RQ's back-off after a timeout is 1 to 60 s


def test_a_worker_killed_mid_batch_is_taken_over_within_seconds_and_nothing_is_sent_twice(
    make_platform: Callable[..., Platform], kodeord_redis_url: str, tmp_path: Path, make_inbound: MakeInbound
) -> None:
    fake = FakeKannel(hold=6)  # the 6th sendsms request gets no answer: its worker is stuck mid-batch
    with running(fake):
        env = {**config(tmp_path, fake.url), "KODEORD_REDIS_URL": kodeord_redis_url}
        platform = make_platform(Path(env["KODEORD_RULES"]), gateways=Path(env["KODEORD_GATEWAYS"]))
        numbers = [f"+4670{i:07d}" for i in range(20)]
        with worker(env, tmp_path / "first.log") as first:
            for i, number in enumerate(numbers):
                platform.handle(make_inbound("MELLO 03", sender=number, message_id=f"kill-{i}"))  # type: ignore[arg-type]
            wait_until(lambda: fake.requests >= 6, 30)
            with worker(env, tmp_path / "second.log"):
                first.send_signal(signal.SIGKILL)
                first.wait(10)
                fake.hold = 0
                taken_over = wait_until(lambda: len(fake.accepted) >= len(numbers), 20)
                time.sleep(0.5)  # anything sent twice would have arrived by now
    sent = Counter(m["to"] for m in fake.accepted)
    assert sorted(sent) == sorted(numbers)
    assert set(sent.values()) == {1}
    assert taken_over < 10, f"took {taken_over:.1f} s"  # before, the dead worker's lease held it 30 s
    assert "took over" in (tmp_path / "second.log").read_text()


def test_the_worker_lives_through_a_redis_restart(tmp_path: Path, make_inbound: MakeInbound) -> None:
    server = EmbeddedRedis(tmp_path / "redis").start()
    try:
        with running(FakeKannel()) as fake:
            env = {**config(tmp_path, fake.url), "KODEORD_REDIS_URL": server.url}
            settings = Settings(
                environ={},
                redis_url=server.url,
                rules=(Path(env["KODEORD_RULES"]),),
                gateways=Path(env["KODEORD_GATEWAYS"]),
                data_dir=tmp_path / "var",
            )
            log = tmp_path / "worker.log"
            with worker(env, log) as process, Platform(settings) as platform:
                platform.handle(make_inbound("MELLO 03", sender="+46701000001"))  # type: ignore[arg-type]
                wait_until(lambda: len(fake.accepted) == 1, 10)
                server.stop()
                time.sleep(3)
                server.start()
                platform.handle(make_inbound("MELLO 04", sender="+46701000002"))  # type: ignore[arg-type]
                wait_until(lambda: len(fake.accepted) == 2, 15)
                assert process.poll() is None, log.read_text()
    finally:
        server.stop()
    assert [m["to"] for m in fake.accepted] == ["+46701000001", "+46701000002"]
    assert "Redis answers again" in log.read_text()


def test_the_worker_gives_up_only_its_own_leases(
    kodeord_redis: redis.Redis, make_platform: Callable[..., Platform]
) -> None:
    from kodeord.outbound import jobs
    from kodeord.outbound.sender import Sender

    sender = Sender(make_platform(TV_RULES))
    kodeord_redis.set(jobs.lease_key("a"), f"t1:{sender.consumer}")
    kodeord_redis.set(jobs.lease_key("b"), "t2:someone-else")
    kodeord_redis.set(jobs.lease_key("c"), "t3")
    assert jobs.release_all(sender) == 1
    assert kodeord_redis.exists(jobs.lease_key("a"), jobs.lease_key("b"), jobs.lease_key("c")) == 2


def test_a_sender_sends_again_what_it_read_before_redis_went_away(
    make_platform: Callable[..., Platform], make_inbound: MakeInbound, recording_gateway: RecordingGateway
) -> None:
    from kodeord.outbound.outbox import GROUP
    from kodeord.outbound.sender import Sender

    platform = make_platform(TV_RULES)
    platform.handle(make_inbound("MELLO 03", sender="+46701000001"))  # type: ignore[arg-type]
    sender = Sender(platform, gateway=recording_gateway)
    [stream] = sender.streams()
    # The batch was read, and then the sender lost Redis before it could hand it over and acknowledge it.
    assert platform.redis.xreadgroup(GROUP, sender.consumer, {stream: ">"}, count=10)
    assert sender.run_once() == 1
    assert recording_gateway.texts_to("+46701000001")
    assert platform.redis.xpending(stream, GROUP)["pending"] == 0


class _AcceptsThenLosesRedis(RecordingGateway):
    """Accepts every message; right after it accepted the first group, Redis goes away for a second."""

    def __init__(self, server: EmbeddedRedis) -> None:
        super().__init__()
        self.server = server
        self.back = threading.Event()
        self.done = threading.Event()
        self.outage: threading.Thread | None = None

    def send(self, batch: Sequence[Outgoing], report: Report) -> None:
        if self.outage is None:
            self.server.stop()  # the gateway has the group; its acceptance cannot be recorded now
            self.outage = threading.Thread(target=self._restart, daemon=True)
            self.outage.start()
        super().send(batch, report)

    def _restart(self) -> None:
        time.sleep(1.0)
        self.server.start()
        self.back.set()
        self.done.wait(60)  # a server lives as long as the thread that started it


def test_what_a_gateway_accepted_as_redis_went_away_is_recorded_when_it_is_back_and_not_sent_again(
    tmp_path: Path, make_inbound: MakeInbound
) -> None:
    from kodeord.outbound import status
    from kodeord.outbound.sender import Sender

    server = EmbeddedRedis(tmp_path / "redis").start()
    gateway = _AcceptsThenLosesRedis(server)
    try:
        rules = tmp_path / "rules.yaml"
        rules.write_text(TV_RULES, encoding="utf-8")
        settings = Settings(environ={}, redis_url=server.url, rules=(rules,), data_dir=tmp_path / "var")
        with Platform(settings) as platform:
            platform.handle(make_inbound("MELLO 03", sender="+46701000001"))  # type: ignore[arg-type]
            sender = Sender(platform, gateway=gateway)
            assert sender.run_once() == 1  # waits for Redis to come back to record the acceptance
            assert gateway.back.is_set()
            time.sleep(1.1)  # past the sender's interval for looking at what it left unacknowledged
            while sender.run_once():
                pass
            assert gateway.texts_to("+46701000001") == ["Tack för rösten på 03"]
            [message_id] = gateway.ids
            record = status.read(platform.redis, f"s:tv/mello|{message_id}", platform.retention)
            assert record is not None and record["status"] == "sent"
    finally:
        server.stop()
        if gateway.outage is not None:
            gateway.done.set()
            gateway.outage.join(10)


_REPLY = next(line for line in TV_RULES.splitlines() if "Tack för rösten" in line)
PREMIUM_TV_RULES = TV_RULES.replace(_REPLY, _REPLY + "\n" + _REPLY.split("reply")[0] + 'price: "5.00"')


def test_one_tenants_stuck_gateway_does_not_hold_another_tenants_replies(
    make_platform: Callable[..., Platform], kodeord_redis_url: str, tmp_path: Path, make_inbound: MakeInbound
) -> None:
    slow = FakeKannel(hold=1)  # the charging gateway takes the first request and never answers it
    with running(slow), running(FakeKannel()) as fast:
        (tmp_path / "tv.yaml").write_text(PREMIUM_TV_RULES, encoding="utf-8")
        (tmp_path / "radio.yaml").write_text(RADIO_RULES, encoding="utf-8")
        (tmp_path / "gateways.yaml").write_text(
            f"gateways:\n  k1:\n    type: kannel\n    sendsms_url: {slow.url}\n    username: a\n    password: pw\n"
            f"    charging: true\n  k2:\n    type: kannel\n    sendsms_url: {fast.url}\n    username: b\n"
            "    password: pw\nrouting:\n  routes:\n    default:\n      - {gateway: k2, price: 0.01}\n"
            "      - {gateway: k1, price: 0.05}\n",
            encoding="utf-8",
        )
        env = {
            "KODEORD_RULES": f"{tmp_path / 'tv.yaml'}{os.pathsep}{tmp_path / 'radio.yaml'}",
            "KODEORD_GATEWAYS": str(tmp_path / "gateways.yaml"),
            "KODEORD_PUBLIC_URL": "http://127.0.0.1:8000",
            "KODEORD_REDIS_URL": kodeord_redis_url,
        }
        platform = make_platform([tmp_path / "tv.yaml", tmp_path / "radio.yaml"], gateways=tmp_path / "gateways.yaml")
        with worker(env, tmp_path / "worker.log") as process:
            platform.handle(make_inbound("MELLO 03", sender="+46701234567"))  # type: ignore[arg-type]
            wait_until(lambda: slow.requests == 1, 10)  # tv's premium reply is stuck in its gateway
            platform.handle(make_inbound("QUIZ B", to="72600", sender="+46701234568"))  # type: ignore[arg-type]
            wait_until(lambda: len(fast.accepted) == 1, 5)  # radio's reply goes out meanwhile
            assert slow.requests == 1 and not slow.accepted  # tv's is still held
            process.send_signal(signal.SIGINT)  # waits for the stuck job ...
            time.sleep(1)
            assert process.poll() is None
            process.send_signal(signal.SIGINT)  # ... unless asked again
            assert process.wait(10) == 1
    assert fast.accepted[0]["to"] == "+46701234568"
