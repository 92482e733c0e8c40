"""Platform-wide metrics at ``/metrics``: every process's counts, whichever process answers the scrape.

Each process counts in memory (no I/O where messages are handled) and a background thread adds what it counted
since the last time to Redis about once a second (one pipelined ``HINCRBYFLOAT`` per changed series, in the
hash ``kodeord:metrics``). A scrape reads that hash, adds gauges read from Redis at that moment (outboxes,
senders alive) and this process's own, and ``prometheus_client`` writes the exposition. So ``kodeord serve
--workers 3``, the senders and every host sharing the Redis report together; a scrape lags by up to a second,
and a process that dies loses at most its last second of counts.

Every metric is declared once in :data:`DECLARED` (docs/operations.md#metrics explains each).
"""

from __future__ import annotations

import json
import logging
import threading
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import redis
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from kodeord.commit.keys import platform_key
from kodeord.support.redis_client import REDIS_ERRORS

log = logging.getLogger(__name__)
KEY = platform_key("metrics")
FLUSH_EVERY_S = 1.0
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


@dataclass(frozen=True)
class Declared:
    """One metric: its kind (counter, histogram, gauge), help text and label names."""

    kind: str
    help: str
    labels: tuple[str, ...] = ()


DECLARED: dict[str, Declared] = {
    "kodeord_inbound_total": Declared("counter", "Inbound messages and calls by outcome", ("status",)),
    "kodeord_requests_refused_total": Declared(
        "counter", "Webhook and API requests refused, by HTTP status", ("endpoint", "reason")
    ),
    "kodeord_outbox_queued_total": Declared("counter", "Outgoing messages committed to an outbox"),
    "kodeord_outbox_vetoed_total": Declared("counter", "Queued messages a plugin vetoed at send time"),
    "kodeord_sent_total": Declared("counter", "Messages a gateway accepted", ("gateway",)),
    "kodeord_send_failed_total": Declared("counter", "Messages that failed for good", ("gateway",)),
    "kodeord_send_retried_total": Declared(
        "counter", "Messages put back for a retry after a temporary error", ("gateway",)
    ),
    "kodeord_delivery_reports_total": Declared("counter", "Delivery reports applied, by status", ("status",)),
    "kodeord_invalid_numbers_total": Declared(
        "counter", "Messages not sent because the recipient is not a valid mobile number"
    ),
    "kodeord_send_latency_seconds": Declared(
        "histogram", "From queued (or queued again for a retry) to accepted by the gateway", ("gateway",)
    ),
    "kodeord_delivery_report_latency_seconds": Declared(
        "histogram", "From accepted by the gateway to its delivery report", ("status",)
    ),
    "kodeord_outbox_depth": Declared(
        "gauge", "Entries in an outbox not yet sent (a broadcast's page is one)", ("service", "outbox")
    ),
    "kodeord_outbox_oldest_seconds": Declared(
        "gauge", "Age of the oldest entry in an outbox not yet sent", ("service", "outbox")
    ),
    "kodeord_outbox_retrying": Declared("gauge", "Messages waiting for their next try", ("service",)),
    "kodeord_senders_alive": Declared("gauge", "Senders whose heart beat in the last two seconds"),
    "kodeord_workers_alive": Declared("gauge", "Worker processes, busy or idle, that beat in the last five seconds"),
    "kodeord_engine_rulesets": Declared("gauge", "Compiled rule sets held by the rules engine (this process)"),
    "kodeord_services": Declared("gauge", "Services in the loaded rule files"),
}

Series = tuple[str, tuple[tuple[str, str], ...], str]  # name, labels, part ("" or bucket:<le>, sum, count)


class Metrics:
    """This process's counts since the last flush, and the flusher that adds them to Redis."""

    def __init__(self, client: redis.Redis | None = None) -> None:
        self.redis = client
        self._lock = threading.Lock()
        self._pending: dict[Series, float] = defaultdict(float)
        self._gauges: dict[str, float] = {}
        self._flusher: threading.Thread | None = None
        self._stop = threading.Event()

    def inc(self, name: str, amount: float = 1, **labels: str) -> None:
        """Add ``amount`` to a counter."""
        if amount:
            with self._lock:
                self._pending[(name, _labels(name, labels), "")] += amount
            self._start()

    def observe(self, name: str, seconds: float, **labels: str) -> None:
        """Count one observation in a histogram."""
        key = _labels(name, labels)
        bucket = next((f"{le:g}" for le in LATENCY_BUCKETS if seconds <= le), "+Inf")
        with self._lock:
            self._pending[(name, key, "bucket:" + bucket)] += 1
            self._pending[(name, key, "sum")] += seconds
            self._pending[(name, key, "count")] += 1
        self._start()

    def set(self, name: str, value: float) -> None:
        """Set one of this process's own gauges."""
        with self._lock:
            self._gauges[name] = value

    def _start(self) -> None:
        if self._flusher is None and self.redis is not None:
            with self._lock:
                if self._flusher is None:
                    self._flusher = threading.Thread(target=self._run, name="kodeord-metrics", daemon=True)
                    self._flusher.start()

    def _run(self) -> None:
        while not self._stop.wait(FLUSH_EVERY_S):
            try:
                self.flush()
            except REDIS_ERRORS as exc:  # kept, and added on a later flush
                log.debug("metrics not flushed: %s", exc)

    def flush(self) -> None:
        """Add what was counted since the last flush to Redis (kept for the next flush if Redis fails)."""
        if self.redis is None:
            return
        with self._lock:
            pending, self._pending = self._pending, defaultdict(float)
        if not pending:
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for series, amount in pending.items():
                pipe.hincrbyfloat(KEY, json.dumps(series), amount)
            pipe.execute()
        except REDIS_ERRORS:
            with self._lock:
                for series, amount in pending.items():
                    self._pending[series] += amount
            raise

    def value(self, name: str, **labels: str) -> float:
        """The platform's current value of one counter series (after flushing this process's counts)."""
        self.flush()
        if self.redis is None:
            return 0.0
        stored = self.redis.hget(KEY, json.dumps((name, _labels(name, labels), "")))
        return float(stored) if stored is not None else 0.0  # type: ignore[arg-type]

    def close(self) -> None:
        """Flush what is left and stop the flusher."""
        self._stop.set()
        if self._flusher is not None:
            self._flusher.join(5)
        try:
            self.flush()
        except REDIS_ERRORS as exc:
            log.warning("metrics of this process not flushed at exit: %s", exc)

    def render(self, gauges: Iterable[tuple[str, Mapping[str, str], float]] = ()) -> bytes:
        """The whole platform's metrics in Prometheus text format, with ``gauges`` (name, labels, value) read
        at this moment and this process's own gauges."""
        self.flush()
        stored: Any = self.redis.hgetall(KEY) if self.redis is not None else {}
        registry = CollectorRegistry(auto_describe=False)
        own: list[tuple[str, Mapping[str, str], float]] = [(name, {}, v) for name, v in self._gauges.items()]
        registry.register(_Collector(stored, [*gauges, *own]))
        return generate_latest(registry)


def _labels(name: str, labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    declared = DECLARED[name].labels
    if len(labels) != len(declared) or any(k not in labels for k in declared):
        raise ValueError(f"metric {name} takes labels {declared}, got {tuple(labels)}")
    return tuple((k, str(labels[k])) for k in declared)


class _Collector(Collector):
    """The stored counters and histograms, and the gauges, as metric families."""

    def __init__(self, stored: Mapping[bytes, bytes], gauges: list[tuple[str, Mapping[str, str], float]]) -> None:
        self.stored = stored
        self.gauges = gauges

    def collect(self) -> Iterator[Metric]:
        series: dict[str, dict[tuple[tuple[str, str], ...], dict[str, float]]] = defaultdict(lambda: defaultdict(dict))
        for raw, value in self.stored.items():
            try:
                name, labels, part = json.loads(raw)
                series[name][tuple((k, v) for k, v in labels)][part] = float(value)
            except (ValueError, TypeError):
                continue
        for name, declared in DECLARED.items():
            if declared.kind == "counter":
                family = CounterMetricFamily(name.removesuffix("_total"), declared.help, labels=declared.labels)
                for labels, parts in sorted(series.get(name, {}).items()):
                    family.add_metric([v for _, v in labels], parts.get("", 0.0))
                yield family
            elif declared.kind == "histogram":
                histogram = HistogramMetricFamily(name, declared.help, labels=declared.labels)
                for labels, parts in sorted(series.get(name, {}).items()):
                    running, buckets = 0.0, []
                    for le in [f"{b:g}" for b in LATENCY_BUCKETS] + ["+Inf"]:
                        running += parts.get("bucket:" + le, 0.0)
                        buckets.append((le, running))
                    histogram.add_metric([v for _, v in labels], buckets, parts.get("sum", 0.0))
                yield histogram
        values: dict[str, list[tuple[Mapping[str, str], float]]] = defaultdict(list)
        for name, labels, amount in self.gauges:
            values[name].append((labels, amount))
        for name, found in values.items():
            declared = DECLARED[name]
            gauge = GaugeMetricFamily(name, declared.help, labels=declared.labels)
            for labels, amount in found:
                gauge.add_metric([str(labels[k]) for k in declared.labels], amount)
            yield gauge
