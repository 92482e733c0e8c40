"""Draining the outbox: batches of queued messages handed to a gateway.

Each scope's outbox is a Redis stream read through the consumer group
``senders``. A batch is acknowledged only after the gateway reported on it, so
a sender killed mid-batch leaves its messages pending, and the next sender
claims them after ``claim_after_ms``.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections.abc import Sequence
from typing import Any

import redis

from kodeord.gateway import Gateway
from kodeord.keys import OUTBOXES
from kodeord.manager import Hooks
from kodeord.messages import Outbound
from kodeord.metrics import Metrics

log = logging.getLogger(__name__)
GROUP = "senders"


class Sender:
    """Moves messages from outbox streams to one gateway."""

    def __init__(
        self,
        client: redis.Redis,
        gateway: Gateway,
        hooks: Hooks,
        metrics: Metrics | None = None,
        batch: int = 500,
        claim_after_ms: int = 30_000,
    ) -> None:
        self.redis = client
        self.gateway = gateway
        self.hooks = hooks
        self.metrics = metrics or Metrics()
        self.batch = batch
        self.claim_after_ms = claim_after_ms
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"
        self._grouped: set[str] = set()

    def _streams(self) -> list[str]:
        streams = sorted(s.decode() if isinstance(s, bytes) else s for s in self.redis.smembers(OUTBOXES))
        for stream in streams:
            if stream not in self._grouped:
                try:
                    self.redis.xgroup_create(stream, GROUP, id="0", mkstream=True)
                except redis.ResponseError as exc:
                    if "BUSYGROUP" not in str(exc):
                        raise
                self._grouped.add(stream)
        return streams

    def run_once(self, block_ms: int | None = None) -> int:
        """Send at most one batch per stream; return how many messages were handled."""
        handled = 0
        for stream in self._streams():
            entries = self._claim(stream)
            if not entries:
                reply: Any = self.redis.xreadgroup(GROUP, self.consumer, {stream: ">"}, count=self.batch, block=block_ms)
                entries = reply[0][1] if reply else []
            if entries:
                handled += self._send(stream, entries)
        return handled

    def _claim(self, stream: str) -> list[tuple[Any, dict[Any, Any]]]:
        """Messages another sender took but never acknowledged (it died)."""
        _, entries, *_ = self.redis.xautoclaim(
            stream, GROUP, self.consumer, min_idle_time=self.claim_after_ms, start_id="0-0", count=self.batch
        )
        return [e for e in entries if e and e[1]]

    def _send(self, stream: str, entries: Sequence[tuple[Any, dict[Any, Any]]]) -> int:
        batch: list[tuple[str, Outbound]] = []
        for _, fields in entries:
            data = json.loads(fields[b"m"])
            message = Outbound.from_dict(data)
            veto = self.hooks.vet_outgoing(message, self.redis)  # again: a STOP may have arrived since
            if veto is not None:
                self.metrics.inc("kodeord_outbox_vetoed_total")
                log.info("not sending %s to %s: %s", data["id"], message.to, veto.reason)
                continue
            batch.append((data["id"], message))
        results = self.gateway.send(batch) if batch else []
        for result in results:
            self.metrics.inc("kodeord_sent_total" if result.ok else "kodeord_send_failed_total", gateway=self.gateway.name)
        ids = [entry_id for entry_id, _ in entries]
        pipe = self.redis.pipeline(transaction=True)
        pipe.xack(stream, GROUP, *ids)
        pipe.xdel(stream, *ids)
        pipe.execute()
        return len(entries)

    def run(self, stop: threading.Event, idle_sleep: float = 0.05) -> None:
        """Send until ``stop`` is set."""
        while not stop.is_set():
            try:
                if self.run_once() == 0:
                    stop.wait(idle_sleep)
            except redis.ConnectionError as exc:
                log.warning("sender lost Redis (%s); retrying", exc)
                stop.wait(1.0)
