"""What ``/metrics`` reads from Redis at the moment of a scrape: the outboxes, the senders and workers alive."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import redis

from kodeord.commit.keys import OUTBOXES, Keys
from kodeord.outbound import liveness, outbox


def _service(scope: str) -> str:
    """A scope as the ``service`` label: ``tenant/service``, or the number of a number's own outbox."""
    return scope.split(":", 1)[1]


def read(client: redis.Redis) -> list[tuple[str, Mapping[str, str], float]]:
    """Per outbox its depth and the age of its oldest entry, per scope the messages waiting for a retry, and
    the senders (busy) and worker processes (busy or idle) alive, as (metric, labels, value)."""
    seconds, micros = client.time()  # Redis's clock, which numbered the outbox entries
    now_ms = int(seconds) * 1000 + int(micros) / 1000
    streams = sorted(s.decode() if isinstance(s, bytes) else s for s in client.smembers(OUTBOXES))  # type: ignore[union-attr]
    pipe = client.pipeline(transaction=False)
    for stream in streams:
        outbox.queue_depth(pipe, stream)
        pipe.zcard(Keys.of_stream(stream).retries)
    pipe.zcount(liveness.ALIVE, now_ms - liveness.DEAD_AFTER_MS, "+inf")
    pipe.zcount(liveness.WORKERS, now_ms - liveness.WORKER_GONE_AFTER_MS, "+inf")
    found: list[Any] = pipe.execute()
    gauges: list[tuple[str, Mapping[str, str], float]] = []
    retrying: dict[str, float] = {}
    for n, stream in enumerate(streams):
        depth, first, waiting = found[3 * n : 3 * n + 3]
        keys = Keys.of_stream(stream)
        labels = {"service": _service(keys.scope), "outbox": "bulk" if stream == keys.bulk else "replies"}
        gauges.append(("kodeord_outbox_depth", labels, float(depth)))
        added = outbox.oldest_ms(first)
        oldest = (now_ms - added) / 1000 if added is not None else 0.0
        gauges.append(("kodeord_outbox_oldest_seconds", labels, max(0.0, oldest)))
        retrying[_service(keys.scope)] = float(waiting)
    gauges += [("kodeord_outbox_retrying", {"service": service}, n) for service, n in sorted(retrying.items())]
    gauges.append(("kodeord_senders_alive", {}, float(found[-2])))
    gauges.append(("kodeord_workers_alive", {}, float(found[-1])))
    return gauges
