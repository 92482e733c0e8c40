"""The message log: one message (and its replies) by id, and searches, from the message records.

``kodeord messages`` and ``GET /api/messages`` read it. A search walks the records of the scopes it may see
(a tenant's services, or every scope for the operator), newest bucket first, filtering as it goes, and stops at
a page: a cursor names where the next page starts. It reads every record it passes, so narrow it (``service``,
``since``) on a busy platform.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import redis

from kodeord.commit import records
from kodeord.commit.keys import Keys
from kodeord.commit.records import Reader, Retention, Store
from kodeord.inbound import phone
from kodeord.support.errors import InvalidNumber, RequestError

MAX_LIMIT = 500
CHUNK = 200  # shards read per round trip
KNOWN_TEXTS = 50_000  # texts an export keeps once read, to look each up once
STATES = ("queued", "sent", "delivered", "failed")  # an outgoing message's
OUTCOMES = ("handled", "fallback", "reserved", "unknown-keyword", "unknown-number", "error")  # an inbound one's
_RELATIVE = re.compile(r"^(\d{1,6})([smhd])$")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


class QueryError(RequestError):
    """A filter or cursor that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Query:
    """What to look for; ``None`` matches anything."""

    to: str | None = None
    sender: str | None = None
    service: str | None = None  # tenant/service
    status: str | None = None  # an outgoing message's status or an inbound one's outcome
    since_ms: int | None = None

    @classmethod
    def parse(
        cls,
        regions: Sequence[str],
        *,
        to: str | None = None,
        sender: str | None = None,
        service: str | None = None,
        status: str | None = None,
        since: str | None = None,
    ) -> Query:
        """A query from text filters as a person gives them; QueryError saying which is wrong."""
        if status is not None and status not in STATES + OUTCOMES:
            raise QueryError(f"status must be one of {', '.join(STATES + OUTCOMES)}, not {status[:40]!r}")
        if service is not None and not re.fullmatch(r"[\w.-]{1,100}/[\w.-]{1,100}", service):
            raise QueryError(f"service must be tenant/service, not {service[:40]!r}")
        return cls(
            _address(to, "to", regions),
            _address(sender, "from", regions),
            service,
            status,
            None if since is None else parse_since(since),
        )


def _address(raw: str | None, name: str, regions: Sequence[str]) -> str | None:
    if raw is None or "@" in raw:
        return raw.strip().lower() if raw else raw
    try:
        return phone.parse_address(raw, regions)
    except InvalidNumber as exc:
        raise QueryError(f"{name}: {exc}") from None


def parse_since(text: str, now: datetime | None = None) -> int:
    """``15m``, ``2h``, ``3d`` (ago) or an ISO 8601 time (UTC if it has no zone) -> ms since the epoch."""
    found = _RELATIVE.match(text.strip())
    if found:
        try:
            ago = timedelta(**{_UNITS[found.group(2)]: int(found.group(1))})
            return int(((now or datetime.now(UTC)) - ago).timestamp() * 1000)
        except OverflowError:  # further back than a datetime goes: every message is newer
            return 0
    try:
        when = datetime.fromisoformat(text.strip())
    except ValueError:
        raise QueryError(f"since must be like 15m, 2h, 3d or 2026-11-30T18:00, not {text[:40]!r}") from None
    return int((when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp() * 1000)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")


def service_of(scope: str) -> str:
    """The ``tenant/service`` of a service scope; "" for a number's scope."""
    return scope[2:] if scope.startswith("s:") else ""


def inbound_message(scope: str, record_field: bytes, record: dict[str, Any]) -> dict[str, Any]:
    """An inbound record as the log shows it."""
    ident = records.handle(record_field)
    outcome = record["outcome"]
    return {
        "id": ident,
        "direction": "in",
        "service": service_of(scope),
        "scope": scope,
        "time": _iso(record["received_at"]),
        "from": record["from"],
        "to": record["to"],
        "text": record["text"],
        "status": outcome.get("status", ""),
        "outcome": outcome,
        "replies": [records.handle(records.field(f"{ident}:{n}")) for n in range(record["replies"])],
    }


def outbound_message(scope: str, record_field: bytes, record: dict[str, str]) -> dict[str, Any]:
    """An outbound record as the log shows it: text, route, price, status history and the gateway's words."""
    history = [{"status": "queued", "time": _iso(int(record["queued_at"]))}] if "queued_at" in record else []
    if "sent_at" in record:
        history.append({"status": "sent", "time": _iso(int(record["sent_at"]))})
    if "reported_at" in record:
        history.append(
            {"status": record["status"], "time": _iso(int(record["reported_at"])), "report": record.get("report", "")}
        )
    elif "failed_at" in record:
        history.append({"status": "failed", "time": _iso(int(record["failed_at"])), "reason": record.get("reason", "")})
    found = {
        "id": records.handle(record_field),
        "direction": "out",
        "service": service_of(scope),
        "scope": scope,
        "time": history[0]["time"] if history else "",
        "from": record.get("from", ""),
        "to": record.get("to", ""),
        "text": record.get("text", ""),
        "status": record.get("status", ""),
        "kind": record.get("kind", ""),
        "price": record.get("price", ""),
        "history": history,
        "attempts": int(record.get("attempts", "0") or 0),
        "route": {k: record[k] for k in ("gateway", "operator", "cost", "gateway_ref") if record.get(k)},
    }
    if record.get("reason"):
        found["reason"] = record["reason"]
    if record.get("next_at"):
        found["next_try"] = _iso(int(record["next_at"]))
    return found


class MessageLog:
    """Shows and searches the messages of a set of scopes."""

    def __init__(self, client: redis.Redis, retention: Retention, scopes: Sequence[str]) -> None:
        self.redis = client
        self.retention = retention
        self.scopes = sorted(scopes)
        self.reader = Reader(client, retention)

    @classmethod
    def every_scope(cls, client: redis.Redis, retention: Retention) -> MessageLog:
        """The operator's log: every scope that has records."""
        scopes: Any = client.smembers(records.SCOPES)
        return cls(client, retention, [s.decode() for s in scopes])

    def show(self, ident: str) -> dict[str, Any] | None:
        """The message ``ident`` names, with its replies if it came in; None if no scope here has it.

        ``ident`` is an id as the log shows it, a reply's outgoing id (``<id>:<n>``) or a reference
        (``scope|id``, as delivery reports name messages).
        """
        scopes, record_field = self.scopes, records.from_handle(ident)
        if "|" in ident:
            scope, _, message_id = ident.partition("|")
            scopes, record_field = [s for s in self.scopes if s == scope], records.field(message_id)
        elif record_field is None:
            record_field = records.field(ident)
        for scope in scopes:
            keys = Keys(scope)
            [inbound] = self.reader.inbound(keys, [record_field])
            if inbound is not None:
                found = inbound_message(scope, record_field, inbound)
                fields = [records.from_handle(r) or b"" for r in found["replies"]]
                replies = self.reader.outbound_fields(keys, fields)
                found["replies"] = [
                    outbound_message(scope, f, r) if r else {"id": records.handle(f)}
                    for f, r in zip(fields, replies, strict=True)
                ]
                return found
            [outbound] = self.reader.outbound_fields(keys, [record_field])
            if outbound is not None:
                return outbound_message(scope, record_field, outbound)
        return None

    def search(self, query: Query, limit: int = 50, cursor: str = "") -> tuple[list[dict[str, Any]], str]:
        """Up to ``limit`` messages matching ``query``, newest first within the page, and the cursor of the next
        page ("" when there is none). Pages follow the records' buckets, newest first; paging while messages
        arrive may show a message written meanwhile twice or not at all."""
        if not 1 <= limit <= MAX_LIMIT:
            raise QueryError(f"limit must be from 1 to {MAX_LIMIT}")
        start = _decode_cursor(cursor)
        scopes, stores = self._where(query)
        found: list[dict[str, Any]] = []
        for position, scope, store, key, values in self._walk(scopes, stores, query.since_ms, start):
            skip = start[4] if position == start[:4] else 0
            matched = self._matching(scope, store, key, values, query)[skip:]
            room = limit - len(found)
            found += matched[:room]
            if len(matched) > room or (len(found) == limit and matched):
                taken = skip + min(room, len(matched))
                next_position = (*position, taken) if len(matched) > room else (*position[:3], position[3] + 1, 0)
                found.sort(key=lambda m: m["time"], reverse=True)
                return found, _encode_cursor(next_position)
        found.sort(key=lambda m: m["time"], reverse=True)
        return found, ""

    def _where(self, query: Query) -> tuple[list[str], tuple[Store, ...]]:
        """The scopes and stores a query reads."""
        scopes = [s for s in self.scopes if query.service is None or s == Keys.for_service(query.service).scope]
        if query.status in STATES:
            return scopes, (self.retention.outbound,)
        if query.status in OUTCOMES:
            return scopes, (self.retention.inbound,)
        return scopes, (self.retention.inbound, self.retention.outbound)

    def every(self, query: Query) -> Iterator[dict[str, Any]]:
        """Every message matching ``query``, read a shard at a time (an export of any size in the memory of
        one shard): by scope, incoming then outgoing, newest bucket first, by time within a shard."""
        scopes, stores = self._where(query)
        known: dict[bytes, str] = {}  # texts already read: a vote's text and a reply's are shared by thousands
        for _, scope, store, key, values in self._walk(scopes, stores, query.since_ms, (0, 0, 0, 0, 0)):
            if len(known) > KNOWN_TEXTS:
                known.clear()
            yield from sorted(self._matching(scope, store, key, values, query, known), key=lambda m: m["time"])

    def _walk(
        self, scopes: Sequence[str], stores: Sequence[Store], since_ms: int | None, start: tuple[int, ...]
    ) -> Iterator[tuple[tuple[int, int, int, int], str, Store, bytes, dict[bytes, bytes]]]:
        """Every shard from ``start`` on, in a fixed order (scope, store, bucket newest first, generation,
        shard), with its position and its records."""
        seconds, micros = self.redis.time()  # Redis's clock, which placed the records
        now = int(seconds) * 1000 + int(micros) // 1000
        for si, scope in enumerate(scopes):
            for ti, store in enumerate(stores):
                prefix = store.prefix(Keys(scope))
                current = now // store.span_ms
                for bi, bucket in enumerate(range(current, current - 3, -1)):
                    if (si, ti, bi) < start[:3] or (since_ms is not None and (bucket + 1) * store.span_ms < since_ms):
                        continue
                    count = int(self.redis.get(f"{prefix}:{bucket}:n") or 0)
                    keys = (
                        [
                            f"{prefix}:{bucket}:{g}:{i}".encode()
                            for g in range(records.generation(count) + 1)
                            for i in range(records.shards(g))
                        ]
                        if count
                        else []
                    )
                    first = start[3] if (si, ti, bi) == start[:3] else 0
                    for at in range(first, len(keys), CHUNK):
                        pipe = self.redis.pipeline(transaction=False)
                        for key in keys[at : at + CHUNK]:
                            pipe.hgetall(key)
                        for ki, values in enumerate(pipe.execute(), start=at):
                            if values:
                                yield (si, ti, bi, ki), scope, store, keys[ki], values

    def _matching(
        self,
        scope: str,
        store: Store,
        key: bytes,
        values: dict[bytes, bytes],
        query: Query,
        known: dict[bytes, str] | None = None,
    ) -> list[dict[str, Any]]:
        """The messages of one shard that match, in a stable order (by field); ``known``: texts read before, by
        digest (a digest names one text in every scope), added to."""
        base = int(key.split(b":")[-3]) * store.span_ms
        keys = Keys(scope)
        rows = sorted((f, records.unpack(v)) for f, v in values.items())
        named = records.IN_FIELDS if store.name == "in" else records.OUT_FIELDS
        digests = [
            v
            for _, row in rows
            for n, v in zip(named, row, strict=False)
            if n in ("text", "shared", "report", "reason") and isinstance(v, bytes)
        ]
        if known is None:
            texts = self.reader.texts(keys, digests)
        else:
            known.update(self.reader.texts(keys, [d for d in digests if d not in known]))
            texts = known
        matched = []
        for record_field, row in rows:
            if store.name == "in":
                message = inbound_message(scope, record_field, records.decode_inbound(row, base, texts))
            else:
                message = outbound_message(scope, record_field, records.decode_outbound(row, base, texts))
            if _matches(message, query):
                matched.append(message)
        return matched


def _matches(message: dict[str, Any], query: Query) -> bool:
    return (
        (query.to is None or message["to"] == query.to)
        and (query.sender is None or message["from"] == query.sender)
        and (query.status is None or message["status"] == query.status)
        and (query.since_ms is None or (message["time"] and message["time"] >= _iso(query.since_ms)))
    )


def _encode_cursor(position: tuple[int, ...]) -> str:
    return base64.urlsafe_b64encode(json.dumps(list(position)).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[int, ...]:
    if not cursor:
        return (0, 0, 0, 0, 0)
    try:
        position = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error):
        position = None
    if (
        not isinstance(position, list)
        or len(position) != 5
        or not all(isinstance(p, int) and 0 <= p < 1 << 40 for p in position)
    ):
        raise QueryError("cursor must be the next cursor of an earlier page")
    return tuple(position)
