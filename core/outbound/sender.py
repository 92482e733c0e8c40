"""Draining the outbox: batches of queued messages, vetted, routed and handed to gateways.

Each scope's outbox is a Redis stream read through the consumer group ``senders``. A batch is acknowledged
only after every message in it has a recorded fate, so a sender killed mid-batch leaves its messages pending
and the next sender claims them after ``claim_after_ms``. The message id is the idempotency key: a message
whose status already says sent (or delivered, or failed) is never handed to a gateway again, and the status
is written the moment the gateway accepted the message.

Vetoes are checked a small group at a time (:data:`kodeord.commit.handover.GROUP`), each group marked as in
hand-over first and handed to its gateway right after the check, so that a STOPP is never acknowledged
before a message its commit should have stopped is out (see :mod:`kodeord.commit.handover`).
"""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
import time
from collections import defaultdict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

import redis

from kodeord.commit import handover, records
from kodeord.commit.keys import OUTBOXES, Keys
from kodeord.commit.records import Status
from kodeord.inbound import phone
from kodeord.inbound.messages import Channel
from kodeord.outbound import fanout, liveness, outbox, status
from kodeord.outbound.gateway import Gateway, Outgoing, Sent, send_groups
from kodeord.outbound.ratelimit import RateLimiter
from kodeord.outbound.status import COST_UNIT
from kodeord.support.redis_client import UNAVAILABLE

if TYPE_CHECKING:
    from kodeord.decide.actions import Veto
    from kodeord.platform import Platform

log = logging.getLogger(__name__)
FINAL = {records.STATES.index(s) for s in (Status.SENT.value, Status.DELIVERED.value, Status.FAILED.value)}
CLAIM_EVERY_S = 1.0  # how often a sender looks for messages another sender left unacknowledged, per stream


@dataclass
class _Fate:
    """What happened to one message in this batch."""

    item: Outgoing
    queued_at: int  # ms: when its outbox entry was added (queued, or queued again for a retry)
    new: status.NewRecord | None = None  # what its record is made of, if it has none yet
    at: records.At | None = None  # where its record is, if it has one
    result: str = ""  # sent, retry, failed; "" while undecided
    reason: str = ""
    gateway: str = ""
    operator: str = ""
    cost: Decimal = Decimal(0)
    vetoed: Veto | None = None


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


class Sender:
    """Moves messages from outbox streams to gateways, for one platform."""

    def __init__(self, platform: Platform, *, gateway: Gateway | None = None, batch: int | None = None) -> None:
        settings = platform.settings
        self.platform = platform
        self.redis: redis.Redis = platform.redis
        self.only = gateway  # send everything through this gateway, ignoring routing (test kit, demo)
        self.batch = batch or settings.send_batch
        self.claim_after_ms = settings.claim_after_ms
        self.attempts = settings.send_attempts
        self.retry_base = settings.retry_base_seconds
        self.retry_max = settings.retry_max_seconds
        self.zone = ZoneInfo(settings.timezone)
        self.page = settings.fanout_page
        self.retention = platform.retention
        self.records = records.Reader(self.redis, self.retention)
        self.limiter = RateLimiter(self.redis)
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}-{random.randrange(1 << 30)}"
        self.handovers = handover.Handovers(self.redis, self.consumer)
        self.heart = liveness.Heart(self.redis, self.consumer)  # beats while a job (or run()) sends
        self._grouped: set[str] = set()
        self._claim_due: dict[str, float] = {}  # stream -> when to look for unacknowledged messages again

    # -- reading ---------------------------------------------------------------------------------------------

    def streams(self) -> list[str]:
        """Every outbox stream, each with its consumer group."""
        streams = sorted(_text(s) for s in self.redis.smembers(OUTBOXES))
        for stream in streams:
            if stream not in self._grouped:
                outbox.ensure_group(self.redis, stream)
                self._grouped.add(stream)
        return streams

    def run_once(self, block_ms: int | None = None) -> int:
        """Send at most one batch per stream; return how many messages were handled."""
        return sum(self.send_stream(stream, block_ms) for stream in self.streams())

    def send_stream(self, stream: str, block_ms: int | None = None) -> int:
        """Release due retries, then send one batch from ``stream``: first what another sender left
        unacknowledged, when it is time to look for that (``CLAIM_EVERY_S``, per stream), else new messages."""
        scope = Keys.of_stream(stream)
        # A bulk stream's entries are pages of a broadcast: read about one batch's worth of messages at a time.
        count = max(1, self.batch // self.page) + 1 if stream == scope.bulk else self.batch
        outbox.move_due(self.redis, scope, stream, self.batch)
        entries: outbox.Read = []
        if time.monotonic() >= self._claim_due.get(stream, 0.0):
            self._claim_due[stream] = time.monotonic() + CLAIM_EVERY_S
            entries = self._claim(stream, count)
        if not entries:
            entries = outbox.read_new(self.redis, stream, self.consumer, count, block_ms)
        return self._send(stream, scope, entries) if entries else 0

    def _claim(self, stream: str, count: int) -> outbox.Read:
        """Messages another sender took but never acknowledged: at once if it died (its heart stopped), or
        after ``claim_after_ms`` if it is alive but stuck. First this sender's own: a batch is acknowledged
        before the next is read, so these are left from a batch that failed (Redis went away mid-batch) and are
        sent again (minus what was)."""
        own = [e for e in outbox.read_own(self.redis, stream, self.consumer, count) if e and e[1]]
        return (
            own
            or self._claim_from_dead(stream, count)
            or outbox.claim_idle(self.redis, stream, self.consumer, self.claim_after_ms, count)
        )

    def _claim_from_dead(self, stream: str, count: int) -> outbox.Read:
        consumers = outbox.pending_by_consumer(self.redis, stream)
        consumers.pop(self.consumer, None)
        for name in sorted(liveness.dead(self.redis, list(consumers))):
            if not consumers[name]:  # gone, and nothing left behind: out of the group's list
                outbox.forget_consumer(self.redis, stream, name)
                continue
            entries = outbox.claim_from(self.redis, stream, self.consumer, name, liveness.DEAD_AFTER_MS // 2, count)
            if entries:
                log.warning("took over %d message(s) in %s from sender %s, which died", len(entries), stream, name)
                return entries
        return []

    # -- sending ---------------------------------------------------------------------------------------------

    def _send(self, stream: str, scope: Keys, entries: Sequence[tuple[Any, dict[Any, Any]]]) -> int:
        fates: dict[str, _Fate] = {}
        cursors: list[tuple[Any, outbox.Cursor]] = []
        acked: list[Any] = []
        for entry_id, fields in entries:
            try:
                entry = outbox.decode(fields[outbox.FIELD.encode()])
                if isinstance(entry, outbox.Cursor):  # a broadcast's next page is due
                    cursors.append((entry_id, entry))
                    continue
                found = entry.items(scope.scope) if isinstance(entry, outbox.Batch) else [entry.outgoing(scope.scope)]
            except (KeyError, ValueError) as exc:
                log.error("dropping a malformed outbox entry in %s: %s", stream, exc)
                found = []
            acked.append(entry_id)
            queued_at = outbox.added_ms(entry_id)
            for item in found:
                fates[item.id] = _Fate(item, queued_at, status.NewRecord(item.message, queued_at))
        for entry_id, data in cursors:
            self._expand(stream, scope, entry_id, data)
        if not acked:
            return len(entries)
        done = self._already_final(scope, fates)
        todo = [f for f in fates.values() if f.item.id not in done]
        todo = self._check(todo)
        for gateway, group in self._route(todo).items():
            self._hand_over(scope, gateway, group)
        self._finish(stream, scope, acked, [f for f in fates.values() if f.item.id not in done])
        return len(entries)

    def _expand(self, stream: str, scope: Keys, entry_id: Any, cursor: outbox.Cursor) -> None:
        """One page of a broadcast: its recipients become a batch entry, and the cursor moves on, atomically."""
        pipe = self.redis.pipeline(transaction=True)
        spec = cursor.fanout
        try:
            page = self.platform.hooks.fanout_page(spec, cursor.after, self.page, self.redis, self.platform.links)
            page = outbox.check_page(scope, spec, page) if page is not None else None
        except (KeyError, ValueError, TypeError) as exc:
            log.error("dropping a malformed broadcast entry in %s: %s", stream, exc)
            page = None
        else:
            if page is None:
                log.error("broadcast %s: no plugin lists the recipients of %r (is it disabled?)", spec.id, spec.source)
        if page is not None:
            receipt = outbox.step(pipe, stream, scope, cursor, page, self.retention)
            if receipt is not None:
                self.platform.committer.register(scope.outbox)
        outbox.ack(pipe, stream, entry_id)
        pipe.execute()

    def _already_final(self, scope: Keys, fates: dict[str, _Fate]) -> set[str]:
        """Ids whose status says the message was already sent or settled (a replayed batch). A message with
        no record yet (a broadcast's) keeps what its record is to be made of."""
        ids = list(fates)
        found = self.records.find(scope, self.retention.outbound, [records.field(i) for i in ids])
        done = set()
        for message_id, record in zip(ids, found, strict=True):
            if record is None:
                continue
            fates[message_id].new, fates[message_id].at = None, record.at
            if records.unpack(record.value)[0] in FINAL:
                done.add(message_id)
        return done

    def _check(self, fates: list[_Fate]) -> list[_Fate]:
        """Refuse messages no gateway sends and numbers no gateway should get; return the rest."""
        passed = []
        for fate in fates:
            message = fate.item.message
            if message.channel is Channel.EMAIL:
                passed.append(fate)
            elif message.channel is not Channel.SMS:
                fate.result, fate.reason = "failed", f"no gateway sends {message.channel.value} messages"
            elif (problem := phone.mobile_problem(message.to)) is not None:
                fate.result, fate.reason = "failed", f"invalid recipient {message.to}: {problem}"
                self.platform.metrics.inc("kodeord_invalid_numbers_total")
            else:
                passed.append(fate)
        return passed

    def _vet(self, fates: list[_Fate]) -> list[_Fate]:
        """Refuse vetoed messages (a STOP may have arrived since they were queued); return the rest."""
        passed = []
        for fate, veto in zip(
            fates, self.platform.hooks.vet_many([f.item.message for f in fates], self.redis, self.platform), strict=True
        ):
            if veto is None:
                passed.append(fate)
            else:  # not the gateway's failure: it never saw the message
                fate.result, fate.reason = "failed", f"vetoed by {veto.plugin}: {veto.reason}"
                fate.vetoed = veto
                fate.gateway, fate.operator, fate.cost = "", "", Decimal(0)
                self.platform.metrics.inc("kodeord_outbox_vetoed_total")
        return passed

    def _route(self, fates: list[_Fate]) -> dict[Gateway, list[_Fate]]:
        groups: dict[Gateway, list[_Fate]] = defaultdict(list)
        mails = [f for f in fates if f.item.message.channel is Channel.EMAIL]
        if mails:
            fates = [f for f in fates if f.item.message.channel is not Channel.EMAIL]
            mailer = self.platform.mailer or self.only
            for fate in mails:
                if mailer is None:
                    fate.result, fate.reason = "failed", "no SMTP relay is configured for email (KODEORD_SMTP_URL)"
                else:
                    fate.gateway = mailer.id
                    groups[mailer].append(fate)
        if self.only is not None:
            for fate in fates:
                fate.gateway = self.only.id
                groups[self.only].append(fate)
            return groups
        gateways = self.platform.gateways
        choices = self.platform.routing.route(
            self.redis,
            [f.item.message.to for f in fates],
            charged=[bool(f.item.message.price) for f in fates],
            can_charge=lambda g: gateways[g].charging,
            available=lambda g: g in gateways,
        )
        for fate, choice in zip(fates, choices, strict=True):
            if choice is None:
                fate.result, fate.reason = (
                    "failed",
                    "no route to this number's operator" + (" that can charge" if fate.item.message.price else ""),
                )
                continue
            fate.gateway, fate.operator = choice.gateway, choice.operator
            fate.cost = choice.price * fate.item.message.info.segments
            groups[gateways[choice.gateway]].append(fate)
        return groups

    def _hand_over(self, scope: Keys, gateway: Gateway, group: list[_Fate]) -> None:
        """Send through one gateway within its rate, a group at a time; record each acceptance at once."""
        by_id = {f.item.id: f for f in group}
        marks: dict[str, handover.Handover] = {}  # message id -> its group's mark, until the gateway answered
        left: dict[str, int] = {}  # group token -> its messages the gateway has not answered for yet

        def report(*sents: Sent) -> None:
            updates: dict[str, dict[str, Any]] = {}
            new: dict[str, status.NewRecord] = {}
            at: dict[str, records.At] = {}
            answered: list[handover.Handover] = []
            for sent in sents:
                fate = by_id.get(sent.id)
                if fate is None or fate.result:
                    continue
                fate.result, fate.reason = sent.result, sent.reason
                if sent.result == "sent":  # now, not at the end: a crash after this must not send it again
                    now_ms = int(time.time() * 1000)
                    self.platform.metrics.observe(
                        "kodeord_send_latency_seconds", (now_ms - fate.queued_at) / 1000, gateway=gateway.id
                    )
                    updates[fate.item.id] = {
                        "status": Status.SENT.value,
                        "sent_at": now_ms,
                        "gateway": gateway.id,
                        "gateway_ref": sent.gateway_ref,
                        "operator": fate.operator,
                        "cost": str(fate.cost),
                    }
                    if fate.new is not None:
                        new[fate.item.id] = fate.new
                    if fate.at is not None:
                        at[fate.item.id] = fate.at
                mark = marks.pop(sent.id, None)
                if mark is not None:
                    left[mark.token] -= 1
                    if not left[mark.token]:
                        answered.append(mark)
            self._record_sent(scope, updates, new, at)
            for mark in answered:
                self.handovers.end(mark)

        def groups() -> Iterator[list[Outgoing]]:
            # Marked, then vetted, then handed over: a STOPP committed after the marks either waits until the
            # gateway has answered for the group (handover.settle) or vetoes it. See kodeord.commit.handover.
            start = 0
            while start < len(group):
                granted = self.limiter.wait(gateway.id, min(handover.GROUP, len(group) - start), gateway.rate)
                chunk = group[start : start + granted]
                start += granted
                mark = self.handovers.begin(f.item.message.to for f in chunk)
                try:
                    chunk = self._vet(chunk)
                except BaseException:
                    self.handovers.end(mark)
                    raise
                if not chunk or not mark.open():
                    self.handovers.end(mark)
                    self._unreported(gateway, chunk, handed=False)
                    continue
                self.handovers.keep(mark)  # renewed until the gateway has answered for all of the group
                left[mark.token] = len(chunk)
                marks.update((f.item.id, mark) for f in chunk)
                yield [f.item for f in chunk]

        try:
            send_groups(gateway, groups(), report)
        except Exception as exc:  # noqa: BLE001 - a broken gateway must not lose the batch
            log.exception("gateway %s failed", gateway.id)
            for fate in group:
                if not fate.result:
                    fate.result, fate.reason = "retry", f"gateway error: {exc}"
        finally:
            for mark in {m.token: m for m in marks.values()}.values():  # groups not answered for in full
                self.handovers.end(mark)
        self._unreported(gateway, group, handed=True)

    def _record_sent(
        self,
        scope: Keys,
        updates: dict[str, dict[str, Any]],
        new: dict[str, status.NewRecord],
        at: dict[str, records.At],
    ) -> None:
        """Record what the gateway accepted, waiting for Redis as long as it is away: this process alone knows
        these messages went out, and a batch read again after an outage must not send them twice."""
        delay, warned = 0.05, 0.0
        while True:
            try:
                status.update(self.redis, self.retention, scope, updates, new, at)
                return
            except UNAVAILABLE as exc:
                if time.monotonic() - warned > 10:  # once, then every ten seconds of an outage
                    warned = time.monotonic()
                    log.warning(
                        "cannot record %d sent message(s) yet, Redis is unavailable (%s); trying again",
                        len(updates),
                        exc,
                    )
                time.sleep(delay)
                delay = min(0.25, delay * 2)

    @staticmethod
    def _unreported(gateway: Gateway, chunk: list[_Fate], handed: bool) -> None:
        for fate in chunk:
            if not fate.result:
                fate.result, fate.reason = (
                    "retry",
                    (
                        f"gateway {gateway.id} did not report on the message"
                        if handed
                        else "its veto check's lease ran out before the hand-over"
                    ),
                )

    def _finish(self, stream: str, scope: Keys, entry_ids: list[Any], fates: list[_Fate]) -> None:
        """Record failures, schedule retries, sum cost and revenue, then acknowledge: one transaction."""
        now = time.time()
        day = datetime.fromtimestamp(now, self.zone).date().isoformat()
        pipe = self.redis.pipeline(transaction=True)
        counts: dict[tuple[str, str], int] = defaultdict(int)
        sums: dict[tuple[str, str], int] = defaultdict(int)  # (service, "cost" | "revenue") -> units
        broadcast: dict[tuple[str, str], int] = defaultdict(int)  # (fan-out id, "sent" | "failed") -> messages
        updates: dict[str, dict[str, Any]] = {}
        new: dict[str, status.NewRecord] = {}
        for fate in fates:
            item, status_key = fate.item, fate.item.id
            if fate.new is not None and fate.result != "sent":
                new[status_key] = fate.new
            counts[(fate.gateway or "-", fate.result)] += 1
            if fate.result == "retry" and item.attempt < self.attempts:
                delay = min(self.retry_max, self.retry_base * 2 ** (item.attempt - 1)) * random.uniform(0.8, 1.2)
                outbox.retry(pipe, scope, outbox.Single(item.id, item.message, item.attempt), int((now + delay) * 1000))
                updates[status_key] = {
                    "status": Status.QUEUED.value,
                    "attempts": item.attempt,
                    "reason": fate.reason,
                    "next_at": int((now + delay) * 1000),
                }
            elif fate.result in ("retry", "failed"):
                if (fanout_id := fanout.fanout_of(item.id)) is not None:
                    broadcast[(fanout_id, "failed")] += 1
                reason = (
                    fate.reason if fate.result == "failed" else f"gave up after {item.attempt} tries: {fate.reason}"
                )
                updates[status_key] = {
                    "status": Status.FAILED.value,
                    "reason": reason,
                    "attempts": item.attempt,
                    "failed_at": int(now * 1000),
                    "gateway": fate.gateway,
                }
                log.info("message %s to %s failed: %s", item.id, item.message.to, reason)
            if fate.result == "sent" and (fanout_id := fanout.fanout_of(item.id)) is not None:
                broadcast[(fanout_id, "sent")] += 1
            if fate.vetoed is not None and item.message.service:
                sums[(item.message.service, status.vetoed_what(fate.vetoed.plugin, fate.vetoed.code))] += 1
            if fate.result == "sent" and item.message.service:
                sums[(item.message.service, "cost")] += int(fate.cost / COST_UNIT)
                if item.message.price:
                    sums[(item.message.service, "revenue")] += int(Decimal(item.message.price) / COST_UNIT)
        at = {f.item.id: f.at for f in fates if f.at is not None}
        status.update(pipe, self.retention, scope, updates, new, at)
        fanout.count(pipe, scope, broadcast)
        status.add_sums(pipe, sums, day)
        outbox.ack(pipe, stream, *entry_ids)
        pipe.execute()
        metrics = self.platform.metrics
        for (gateway, result), n in counts.items():
            metrics.inc(
                {"sent": "kodeord_sent_total", "retry": "kodeord_send_retried_total"}.get(
                    result, "kodeord_send_failed_total"
                ),
                n,
                gateway=gateway,
            )
        if self.platform.monitor is not None:
            for gateway in {g for g, _ in counts if g != "-"}:
                self.platform.monitor.record(
                    gateway,
                    counts.get((gateway, "sent"), 0),
                    counts.get((gateway, "failed"), 0) + counts.get((gateway, "retry"), 0),
                )

    # -- loops -----------------------------------------------------------------------------------------------

    def oldest_unsent_age(self) -> float | None:
        """Seconds since the oldest message still in any outbox was queued, or None when all are empty."""
        pipe = self.redis.pipeline(transaction=False)
        for stream in self.streams():
            pipe.xrange(stream, count=1)
        firsts = [int(r[0][0].split(b"-")[0]) for r in pipe.execute() if r]
        return (time.time() * 1000 - min(firsts)) / 1000 if firsts else None

    def run(self, stop: threading.Event, idle_sleep: float = 0.05) -> None:
        """Send until ``stop`` is set (the demo's in-process sender), beating its heart meanwhile."""
        with self.heart.beating():
            while not stop.is_set():
                try:
                    if self.run_once() == 0:
                        stop.wait(idle_sleep)
                except UNAVAILABLE as exc:
                    log.warning("sender lost Redis (%s); retrying", exc)
                    stop.wait(1.0)
