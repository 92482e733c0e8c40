"""Metrics of the whole platform: every scrape of ``kodeord serve --workers 3`` shows every process's counts,
with the outboxes and senders read at that moment."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from kodeord.commit.records import Status
from kodeord.inbound import webhooks
from kodeord.outbound.gateway import RecordingGateway
from kodeord.outbound.sender import Sender
from kodeord.platform import Platform
from kodeord.watch import gauges
from kodeord.watch.metrics import Metrics

from ..conftest import TV_RULES, free_port

KODEORD = [sys.executable, "-c", "from kodeord.cli import main; main()"]


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition: (name, sorted labels) -> value."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_every_scrape_shows_every_process_of_the_platform(
    served: str, make_platform: Callable[..., Platform], tmp_path: Path
) -> None:
    votes = [
        {"from": f"+4670123{n:04d}", "to": "72500", "text": "MELLO 03", "id": f"k-{n}", "secret": "s3cret"}
        for n in range(30)
    ]
    with httpx.Client(base_url=served) as client:  # new connections: the three workers share them
        for vote in votes:
            assert client.get("/gateways/k1/kannel", params=vote).status_code == 200
        assert client.get("/gateways/k1/kannel", params=votes[0]).headers["x-kodeord-status"] == "duplicate"
        for n in range(5):
            assert client.get("/gateways/k1/kannel", params={**votes[n], "secret": "wrong"}).status_code == 401
        for _ in range(4):
            assert client.get("/gateways/k1/kannel", params={"to": "72500", "secret": "s3cret"}).status_code == 400
        for _ in range(3):
            big = client.post("/gateways/k1/kannel", content=b"x" * 200_000, params={"secret": "s3cret"})
            assert big.status_code == 413
    platform = make_platform(tmp_path / "rules.yaml")  # a sender in this process, a fourth one
    gateway = RecordingGateway()
    sent = Sender(platform, gateway=gateway).run_once()
    assert sent == 30
    ref = f"s:tv/mello|{gateway.ids[0]}"
    assert webhooks.report(platform, ref, Status.DELIVERED, "ok").status_code == 200
    time.sleep(1.5)  # every process adds its counts to Redis about once a second
    for _ in range(6):  # each scrape may be answered by another worker: all must agree
        seen = samples(httpx.get(f"{served}/metrics").text)
        assert seen[("kodeord_inbound_total", (("status", "handled"),))] == 30
        assert seen[("kodeord_inbound_total", (("status", "duplicate"),))] == 1
        for reason, count in (("401", 5), ("400", 4), ("413", 3)):
            assert seen[("kodeord_requests_refused_total", (("endpoint", "gateway"), ("reason", reason)))] == count
        assert seen[("kodeord_sent_total", (("gateway", "recording"),))] == 30
        assert seen[("kodeord_send_latency_seconds_count", (("gateway", "recording"),))] == 30
        assert seen[("kodeord_delivery_report_latency_seconds_count", (("status", "delivered"),))] == 1
        assert seen[("kodeord_outbox_depth", (("outbox", "replies"), ("service", "tv/mello")))] == 0
        assert seen[("kodeord_senders_alive", ())] == 0


def test_the_outbox_gauges_show_what_waits_and_for_how_long(
    make_platform: Callable[..., Platform], make_inbound: Callable[..., object]
) -> None:
    platform = make_platform(TV_RULES)
    platform.handle(make_inbound("MELLO 03"))  # type: ignore[arg-type]
    time.sleep(0.3)
    seen = samples(platform.metrics.render(gauges.read(platform.redis)).decode())
    labels = (("outbox", "replies"), ("service", "tv/mello"))
    assert seen[("kodeord_outbox_depth", labels)] == 1
    assert 0.3 <= seen[("kodeord_outbox_oldest_seconds", labels)] < 5


def test_counts_survive_a_redis_outage_and_are_added_later(kodeord_redis: redis.Redis) -> None:
    gone = Metrics(redis.Redis(port=free_port(), socket_connect_timeout=0.2))
    gone.inc("kodeord_inbound_total", status="handled")
    with pytest.raises(redis.ConnectionError):
        gone.flush()
    gone.redis = kodeord_redis
    gone.inc("kodeord_inbound_total", status="handled")
    assert gone.value("kodeord_inbound_total", status="handled") == 2
    with pytest.raises(ValueError, match="takes labels"):
        gone.inc("kodeord_inbound_total", colour="red")
