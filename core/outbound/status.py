"""Status records of outgoing messages, delivery reports, and the per-service cost and revenue sums.

A message is named outside Kodeord by its *ref*, ``scope|id`` (the scope whose outbox held it, and its id).
Its status record is an outbound record (:mod:`kodeord.commit.records`): ``status`` (queued, sent, delivered, failed),
the times of each step, the gateway and its own id of the message, the operator and route cost, the reason of
a failure and the words of a delivery report.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import redis

from kodeord.commit import records
from kodeord.commit.keys import Keys
from kodeord.commit.records import Retention, Status, Store
from kodeord.inbound.messages import Outbound
from kodeord.outbound import fanout
from kodeord.watch import live

COST_UNIT = Decimal("0.0001")  # costs and revenue are summed in ten-thousandths of the currency
_UPDATE = records.script(__package__, "updateRecords-4.lua")
_REPORT = records.script(__package__, "applyReport-4.lua")


@dataclass(frozen=True)
class NewRecord:
    """What an outbound record made at sending needs (a broadcast's messages have none before)."""

    message: Outbound
    queued_at: int  # ms


def update(
    client: redis.Redis | redis.client.Pipeline,
    retention: Retention,
    keys: Keys,
    updates: Mapping[str, Mapping[str, Any]],
    new: Mapping[str, NewRecord] | None = None,
    at: Mapping[str, records.At] | None = None,
) -> None:
    """Write outbound records of scope ``keys`` (message id -> fields) in one call, never undoing a delivery
    report's verdict. ``new``: for these ids, make the record if there is none yet. ``at``: where these ids'
    records were found (saves looking them up again).

    ``client`` may be a pipeline (the call then runs when it executes, within its transaction if any).
    """
    if not updates:
        return
    args = records.Args()
    rows = []
    for message_id, fields in updates.items():
        made = (new or {}).get(message_id)
        row = [args.field(message_id), _with_texts(fields, args), 0 if made is None else _new(made, args)]
        found = (at or {}).get(message_id)
        rows.append(row if found is None else [*row, found.key, found.base])
    counts = live.At(keys, time.time())
    payload = {"out": _span(retention.outbound), "text": _span(retention.texts), "u": rows}
    payload["live"] = counts.script_args()
    _UPDATE(
        client,
        [retention.outbound.prefix(keys), retention.texts.prefix(keys), *counts.script_keys()],
        [json.dumps(payload, ensure_ascii=False), *args.values],
    )


def _with_texts(fields: Mapping[str, Any], args: records.Args) -> dict[str, Any]:
    """``fields`` with each text (a reason, a report's words) given as the ARGV index of its digest."""
    return {k: args.text(str(v)) if k in records.TEXTS and v else v for k, v in fields.items()}


def _new(made: NewRecord, args: records.Args) -> dict[str, Any]:
    message = made.message
    return {
        "status": Status.QUEUED.value,
        "queued_at": made.queued_at,
        "kind": message.kind.value,
        "to": message.to,
        "from": message.sender,
        "text": args.text(message.text) if message.text else "",
        "price": message.price,
    }


def _span(store: Store) -> list[int]:
    return [store.span_ms, store.keep_ms]


def split_ref(ref: str) -> tuple[Keys, str]:
    """``scope|id`` -> (the scope's keys, the id); ValueError if malformed."""
    scope, bar, message_id = ref.partition("|")
    if not bar or not scope or not message_id or "{" in scope or "}" in scope:
        raise ValueError(f"malformed message reference {ref!r}")
    return Keys(scope), message_id


def read(client: redis.Redis, ref: str, retention: Retention) -> dict[str, str] | None:
    """The status record of message ``ref``, or None if unknown (or expired)."""
    keys, message_id = split_ref(ref)
    return records.Reader(client, retention).outbound(keys, [message_id])[0]


@dataclass(frozen=True)
class Reported:
    """What a delivery report did: whether it changed the message's status (not when it was delivered already),
    and the seconds since the gateway accepted the message (None if not known)."""

    changed: bool
    latency_s: float | None


def apply_report(
    client: redis.Redis, retention: Retention, ref: str, status: Status, detail: str, at_ms: int
) -> Reported | None:
    """Apply a delivery report (``delivered`` or ``failed``); None if the message is unknown. A report on a
    broadcast's message is counted in the broadcast's progress."""
    if status not in (Status.DELIVERED, Status.FAILED):
        raise ValueError(f"a delivery report says delivered or failed, not {status}")
    keys, message_id = split_ref(ref)
    words = detail[:500]
    args = [
        *_span(retention.outbound),
        *_span(retention.texts),
        records.field(message_id),
        status.value,
        at_ms,
        records.digest(words),
        words,
    ]
    counts = live.At(keys, time.time())
    script_keys = [retention.outbound.prefix(keys), retention.texts.prefix(keys), *counts.script_keys()]
    known, latency_ms, changed = _REPORT(client, script_keys, [*args, *counts.script_args()])
    if not known:
        return None
    fanout_id = fanout.fanout_of(message_id)
    if changed and fanout_id is not None:
        fanout.count(client, keys, {(fanout_id, "delivered" if status is Status.DELIVERED else "undelivered"): 1})
    return Reported(bool(changed), latency_ms / 1000 if latency_ms >= 0 else None)


def sums_key(service: str, what: str) -> str:
    """Hash: day -> a service's ``cost`` or ``revenue`` that day, in ``COST_UNIT``s."""
    return Keys.for_service(service).key_for(what)


def add_sums(pipe: redis.client.Pipeline, sums: Mapping[tuple[str, str], int], day: str) -> None:
    """Add ``(service, what) -> amount`` to ``day``'s sums, on ``pipe``: ``cost`` and ``revenue`` in
    ``COST_UNIT``s, messages vetoed (:func:`vetoed_what`) one by one."""
    for (service, what), amount in sums.items():
        if amount:
            pipe.hincrby(sums_key(service, what), day, amount)


def _sums(client: redis.Redis, service: str, what: str) -> dict[str, Decimal]:
    raw: Mapping[bytes, bytes] = client.hgetall(sums_key(service, what))  # type: ignore[assignment]
    return {day.decode(): int(v) * COST_UNIT for day, v in sorted(raw.items())}


def vetoed_what(plugin: str, code: str) -> str:
    """The sum of a service's messages vetoed by ``plugin`` for the rule ``code``."""
    return f"vetoed:{plugin or '-'}:{code or '-'}"


def vetoed(client: redis.Redis, service: str, plugin: str, codes: Iterable[str]) -> dict[str, dict[str, int]]:
    """Messages of ``tenant/service`` vetoed when they were to be sent, by ``plugin`` for each of ``codes``: per
    code, per day (codes with none left out)."""
    codes = list(codes)
    pipe = client.pipeline(transaction=False)
    for code in codes:
        pipe.hgetall(sums_key(service, vetoed_what(plugin, code)))
    found = {}
    for code, days in zip(codes, pipe.execute(), strict=True):
        if days:
            found[code] = {day.decode(): int(n) for day, n in sorted(days.items())}
    return found


def revenue(client: redis.Redis, service: str) -> dict[str, Decimal]:
    """Premium charges of ``tenant/service`` per day (the currency's main unit), from accepted messages."""
    return _sums(client, service, "revenue")


def cost(client: redis.Redis, service: str) -> dict[str, Decimal]:
    """What sending cost ``tenant/service`` per day, by the chosen routes' prices."""
    return _sums(client, service, "cost")
