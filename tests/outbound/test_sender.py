"""Sending survives crashes: a worker killed with SIGKILL mid-batch, and Redis restarted while sending."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

from kodeord.config.settings import Settings
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.support.redis_server import EmbeddedRedis
from kodeord.testing.fakekannel import FakeKannel, running
from kodeord.web.app import create_app

from ..conftest import TV_RULES, free_port, kannel_gateways

KODEORD = [sys.executable, "-c", "from kodeord.cli import main; main()"]


def write_config(tmp_path: Path, sendsms: str) -> tuple[Path, Path]:
    rules = tmp_path / "rules.yaml"
    rules.write_text(TV_RULES, encoding="utf-8")
    gateways = tmp_path / "gateways.yaml"
    gateways.write_text(kannel_gateways(sendsms, connections=1), encoding="utf-8")
    return rules, gateways


def senders(n: int) -> list[str]:
    return [f"+4670{i:07d}" for i in range(n)]


def test_a_worker_killed_mid_batch_leaves_nothing_unsent_and_nothing_sent_twice(
    make_platform: Callable[..., Platform],
    kodeord_redis_url: str,
    kodeord_redis: redis.Redis,
    tmp_path: Path,
    make_inbound: Callable[..., object],
) -> None:
    fake = FakeKannel(hold=12)  # the 12th sendsms request never gets an answer
    with running(fake):
        rules, gateways = write_config(tmp_path, fake.url)
        platform = make_platform(rules, gateways=gateways)
        numbers = senders(30)
        for i, number in enumerate(numbers):
            platform.handle(make_inbound("MELLO 03", sender=number, message_id=f"kill-{i}"))  # type: ignore[arg-type]
        env = {
            **os.environ,
            "KODEORD_REDIS_URL": kodeord_redis_url,
            "KODEORD_RULES": str(rules),
            "KODEORD_GATEWAYS": str(gateways),
            "KODEORD_PUBLIC_URL": "http://127.0.0.1:8000",
            "KODEORD_CLAIM_AFTER_MS": "500",
            "KODEORD_LOG_LEVEL": "WARNING",
        }
        log = (tmp_path / "worker.log").open("wb")
        first = subprocess.Popen([*KODEORD, "worker"], env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 30
            while fake.requests < 12 and time.monotonic() < deadline:
                time.sleep(0.02)
            assert fake.requests >= 12, "the worker never reached the held request"
            time.sleep(0.2)  # it is now waiting on the answer, mid-batch
            assert len(fake.accepted) == 11
            first.send_signal(signal.SIGKILL)
            first.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
            first.wait(10)
            log.close()
        fake.hold = 0
        time.sleep(0.6)  # the dead worker's lease and claim time pass
        second = subprocess.run([*KODEORD, "worker", "--burst"], env=env, capture_output=True, text=True, timeout=60)
        assert second.returncode == 0, second.stderr
    sent = Counter(m["to"] for m in fake.accepted)
    assert sorted(sent) == sorted(numbers)  # every message was sent...
    assert set(sent.values()) == {1}  # ...exactly once


def test_a_redis_restart_during_sending_loses_nothing_that_was_acknowledged(
    tmp_path: Path, serve: Callable[..., str]
) -> None:
    server = EmbeddedRedis(tmp_path / "redis").start()
    fake = FakeKannel()
    try:
        with running(fake):
            rules, gateways = write_config(tmp_path, fake.url)
            settings = Settings(
                environ={},
                redis_url=server.url,
                rules=(rules,),
                gateways=gateways,
                public_url=f"http://127.0.0.1:{free_port()}",
                retry_base_seconds=0.05,
                data_dir=tmp_path / "var",
            )
            with Platform(settings) as platform:
                url = serve(create_app(platform))
                stop = threading.Event()
                sending = threading.Thread(target=Sender(platform).run, args=(stop,), daemon=True)
                sending.start()
                acknowledged: list[str] = []
                numbers = senders(300)
                with httpx.Client(timeout=5) as client:
                    for i, number in enumerate(numbers):
                        if i == 100:
                            server.restart()  # a clean restart while messages flow both ways
                        params = {"from": number, "to": "72500", "text": "MELLO 05", "id": f"r-{i}", "secret": "s3cret"}
                        try:
                            answer = client.get(f"{url}/gateways/k1/kannel", params=params)
                        except httpx.HTTPError:
                            continue
                        assert answer.status_code in (200, 503), answer.text  # 503: Redis away, Kannel retries
                        if answer.status_code == 200:
                            acknowledged.append(number)
                deadline = time.monotonic() + 30
                while not set(acknowledged) <= {m["to"] for m in fake.accepted} and time.monotonic() < deadline:
                    time.sleep(0.1)
                stop.set()
                sending.join(10)
    finally:
        server.stop()
    assert len(acknowledged) > 250  # most were taken; the rest were refused with 503, so Kannel keeps them
    missing = set(acknowledged) - {m["to"] for m in fake.accepted}
    assert missing == set()
