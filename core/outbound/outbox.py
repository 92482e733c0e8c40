"""The outbox: what a scope's outbox streams hold, as typed entries that encode and decode themselves, and the
code that adds to the streams.

A scope (a service, or a number without one) has two streams (:class:`kodeord.commit.keys.Keys`): ``outbox``
for single messages (replies, notices, receipts, retries that are due) and ``bulk`` for broadcasts, so that a
reply never waits behind one. Each stream entry has one field, ``m``, holding JSON of one of three shapes:

- :class:`Single`: one message and its id (the idempotency key), with the attempt it is on;
- :class:`Cursor`: a broadcast whose next page of recipients is due (see :mod:`kodeord.outbound.fanout`);
- :class:`Batch`: one page of a broadcast's recipients, one message to each.

Senders read the streams through one consumer group (``GROUP``), with the functions at the end of this
module. Everything that queues a message goes through here: the commit (a message's replies, in its script), a
broadcast's start (an ``Effects`` write), its pages, its receipt, and retries. Retries wait in the scope's
``retry`` sorted set until they are due, then move back into the stream.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

import redis.exceptions as redis_errors

from kodeord.commit.effects import Write
from kodeord.commit.keys import Keys
from kodeord.commit.records import Retention
from kodeord.decide import templating
from kodeord.inbound.messages import Channel, Outbound
from kodeord.outbound import status
from kodeord.outbound.fanout import Fanout, FanoutPage, Recipient, progress_key
from kodeord.outbound.gateway import Outgoing
from kodeord.support.errors import TemplateError
from kodeord.support.luascript import LuaScript

if TYPE_CHECKING:
    import redis

FIELD = "m"  # the one field of an outbox entry
_MOVE_DUE = LuaScript(__package__, "moveDueRetries-2.lua")


@dataclass(frozen=True)
class Single:
    """One message to send: a reply, a notice, a receipt, or a retry of one (``attempt`` above 1)."""

    id: str
    message: Outbound
    attempt: int = 1

    def to_dict(self) -> dict[str, Any]:
        """The JSON-ready form (also what a message's outcome lists as its replies): made once per entry."""
        return self._dict

    @cached_property
    def _dict(self) -> dict[str, Any]:
        data = {"id": self.id, **self.message.to_dict()}
        return data if self.attempt == 1 else {**data, "attempt": self.attempt}

    def encode(self) -> str:
        return _json(self._dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Single:
        return cls(str(data["id"]), Outbound.from_dict(data), int(data.get("attempt", 1)))

    def outgoing(self, scope: str) -> Outgoing:
        """The message on its way, as the sender hands it to a gateway."""
        return Outgoing(scope, self.id, self.message, self.attempt)


@dataclass(frozen=True)
class Cursor:
    """A broadcast whose next page is due: where the listing goes on (``after``), how many recipients its
    pages have had so far (``count``) and the next page's number."""

    fanout: Fanout
    after: str = ""
    count: int = 0
    page: int = 0

    def encode(self) -> str:
        return _json({"fanout": self.fanout.to_dict(), "after": self.after, "count": self.count, "page": self.page})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cursor:
        return cls(
            Fanout.from_dict(data["fanout"]),
            str(data.get("after", "")),
            int(data.get("count", 0)),
            int(data.get("page", 0)),
        )


@dataclass(frozen=True)
class Batch:
    """One page of a broadcast's recipients: ``message`` to each ``(address, channel, meta)`` of ``to``."""

    fanout_id: str
    page: int
    message: Outbound
    to: list[tuple[str, str, dict[str, str]]]

    def encode(self) -> str:
        return _json(
            {
                "batch": self.fanout_id,
                "page": self.page,
                "message": self.message.to_dict(),
                "to": [list(recipient) for recipient in self.to],
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Batch:
        to = [(str(address), str(channel), dict(meta)) for address, channel, meta in data["to"]]
        return cls(str(data["batch"]), int(data.get("page", 0)), Outbound.from_dict(data["message"]), to)

    def items(self, scope: str) -> list[Outgoing]:
        """One message per recipient, each with its idempotency key (``<fan-out id>:<address>``) as id."""
        base = self.message
        items = []
        for address, channel, meta in self.to:
            own = {k: v for k, v in meta.items() if k not in (_TEXT, _PRICE)}
            message = replace(base, to=address, channel=Channel(channel), meta={**base.meta, **own})
            if _TEXT in meta or _PRICE in meta:
                message = replace(message, text=meta.get(_TEXT, base.text), price=meta.get(_PRICE, base.price))
            items.append(Outgoing(scope, f"{self.fanout_id}:{address}", message))
        return items


Entry = Single | Cursor | Batch


def decode(raw: bytes | str) -> Entry:
    """The entry an outbox stream's ``m`` field holds; ``ValueError`` saying what is wrong with a malformed one."""
    try:
        data = json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"malformed outbox entry (not JSON: {exc})") from None
    if not isinstance(data, dict):
        raise ValueError(f"malformed outbox entry (a JSON {type(data).__name__}, not an object)")
    try:
        if "fanout" in data:
            return Cursor.from_dict(data)
        if "batch" in data:
            return Batch.from_dict(data)
        return Single.from_dict(data)
    except KeyError as exc:
        raise ValueError(f"malformed outbox entry (no {exc} in it)") from None
    except (ValueError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed outbox entry ({exc})") from None


def append(pipe: redis.Redis | redis.client.Pipeline, stream: str, entry: Entry) -> None:
    """Add ``entry`` to ``stream`` (on a pipeline: when it executes)."""
    pipe.xadd(stream, {FIELD: entry.encode()})


def write(stream: str, entry: Entry) -> Write:
    """Adding ``entry`` to ``stream`` as an ``Effects`` write, committed with the message that causes it."""
    return Write("XADD", stream, ("*", FIELD, entry.encode()))


def start(scope: Keys, fanout: Fanout) -> Write:
    """The write that starts ``fanout``: its first cursor in the scope's bulk stream."""
    return write(scope.bulk, Cursor(fanout))


def retry(pipe: redis.client.Pipeline, scope: Keys, entry: Single, due_ms: int) -> None:
    """Hold ``entry`` (on its next attempt) in the scope's retries until ``due_ms``."""
    pipe.zadd(scope.retries, {replace(entry, attempt=entry.attempt + 1).encode(): due_ms})


def move_due(client: redis.Redis, scope: Keys, stream: str, limit: int) -> int:
    """Move up to ``limit`` retries that are due back into ``stream``; return how many moved."""
    return int(_MOVE_DUE(client, [scope.retries, stream], [int(time.time() * 1000), limit]))


def step(
    pipe: redis.client.Pipeline, stream: str, scope: Keys, cursor: Cursor, page: FanoutPage, retention: Retention
) -> Single | None:
    """Queue one page of a broadcast on ``pipe`` (a transaction): its batch, then the cursor moved on, or after
    the last page the receipt; return the receipt queued, if any."""
    fanout, count = cursor.fanout, cursor.count + len(page.recipients)
    for write in page.writes:  # kept to the service's keys: see check_page
        pipe.execute_command(write.command, write.key, *write.args)
    if page.recipients:
        to = [(r.to, r.channel.value, _overridden(r)) for r in page.recipients]
        append(pipe, stream, Batch(fanout.id, cursor.page, fanout.message, to))
    progress = progress_key(scope, fanout.id)
    pages = cursor.page + 1
    receipt = None
    if page.after is not None:
        append(pipe, stream, replace(cursor, after=page.after, count=count, page=pages))
        pipe.hset(progress, mapping={"queued": count, "pages": pages, "state": "running"})
    else:
        done_at = int(time.time() * 1000)
        pipe.hset(progress, mapping={"queued": count, "pages": pages, "state": "done", "done_at": done_at})
        receipt = receipt_of(fanout, count)
        if receipt is not None:
            append(pipe, scope.outbox, receipt)
            new = status.NewRecord(receipt.message, done_at)
            status.update(pipe, retention, scope, {receipt.id: {}}, {receipt.id: new})
    pipe.expire(progress, retention.status_s)
    return receipt


def check_page(scope: Keys, fanout: Fanout, page: FanoutPage) -> FanoutPage:
    """``page``, or ValueError if its writes go outside the service's keys."""
    own = scope.key_for("")[:-1]
    for write in page.writes:
        if not write.key.startswith(own):
            raise ValueError(f"broadcast {fanout.id}: a page wrote outside its service's keys: {write.key}")
    return page


# Meta keys that carry a recipient's own text and price in a batch (never left in a message's meta).
_TEXT, _PRICE = "_text", "_price"


def _overridden(recipient: Recipient) -> dict[str, str]:
    """A recipient's meta, with its own text and price where it has them."""
    meta = dict(recipient.meta)
    if recipient.text is not None:
        meta[_TEXT] = recipient.text
    if recipient.price is not None:
        meta[_PRICE] = recipient.price
    return meta


def receipt_of(fanout: Fanout, count: int) -> Single | None:
    """The receipt of a broadcast that reached ``count`` recipients (``{{ count }}`` filled in), or None."""
    if fanout.receipt is None:
        return None
    try:
        text = templating.render(fanout.receipt.text, {**fanout.receipt_vars, "count": count})
    except TemplateError:
        text = fanout.receipt.text
    return Single(f"{fanout.id}:receipt", fanout.receipt.with_text(text))


def _json(data: dict[str, Any]) -> str:
    return json.dumps(data, ensure_ascii=False)


# -- reading: the consumer group ``senders`` -------------------------------------------------------------------

GROUP = "senders"
Read = list[tuple[Any, dict[Any, Any]]]  # (entry id, fields) as Redis returns them


def ensure_group(client: redis.Redis, stream: str, group: str = GROUP) -> None:
    """Create ``stream``'s consumer group ``group`` (and the stream) if it has none yet."""
    try:
        client.xgroup_create(stream, group, id="0", mkstream=True)
    except redis_errors.ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


def read_new(client: redis.Redis, stream: str, consumer: str, count: int, block_ms: int | None = None) -> Read:
    """Up to ``count`` entries no sender has read yet (waiting up to ``block_ms`` for one, if given)."""
    reply: Any = client.xreadgroup(GROUP, consumer, {stream: ">"}, count=count, block=block_ms)
    return list(reply[0][1]) if reply else []


def read_own(client: redis.Redis, stream: str, consumer: str, count: int) -> Read:
    """Entries ``consumer`` read and has not acknowledged (left by a batch that failed half-way)."""
    reply: Any = client.xreadgroup(GROUP, consumer, {stream: "0"}, count=count)
    return list(reply[0][1]) if reply else []


def claim_idle(client: redis.Redis, stream: str, consumer: str, idle_ms: int, count: int) -> Read:
    """Entries any sender has held unacknowledged for ``idle_ms``, now ``consumer``'s."""
    _, entries, *_ = client.xautoclaim(stream, GROUP, consumer, min_idle_time=idle_ms, start_id="0-0", count=count)
    return [e for e in entries if e and e[1]]


def pending_by_consumer(client: redis.Redis, stream: str) -> dict[str, int]:
    """How many entries each sender of the group holds unacknowledged."""
    return {_text(c["name"]): int(c["pending"]) for c in client.xinfo_consumers(stream, GROUP)}


def forget_consumer(client: redis.Redis, stream: str, name: str) -> None:
    """Take a sender that holds nothing off the group's list."""
    client.xgroup_delconsumer(stream, GROUP, name)


def claim_from(client: redis.Redis, stream: str, consumer: str, holder: str, idle_ms: int, count: int) -> Read:
    """Up to ``count`` of the entries ``holder`` holds, idle for ``idle_ms`` (so two senders never both take one),
    now ``consumer``'s."""
    pending = client.xpending_range(stream, GROUP, min="-", max="+", count=count, consumername=holder)
    ids: list[Any] = [p["message_id"] for p in pending]
    if not ids:
        return []
    entries: Any = client.xclaim(stream, GROUP, consumer, idle_ms, ids)
    return [e for e in entries if e and e[1]]


def ack(pipe: redis.client.Pipeline, stream: str, *entry_ids: Any) -> None:
    """Acknowledge and remove entries that were handled (on ``pipe``, with what handling them wrote)."""
    pipe.xack(stream, GROUP, *entry_ids)
    pipe.xdel(stream, *entry_ids)


def queue_state(pipe: redis.client.Pipeline, stream: str, idle_ms: int) -> None:
    """Queue on ``pipe`` what tells whether ``stream`` has work: its length, and an entry held for ``idle_ms``."""
    pipe.xlen(stream)
    pipe.xpending_range(stream, GROUP, min="-", max="+", count=1, idle=idle_ms)


def queue_depth(pipe: redis.client.Pipeline, stream: str) -> None:
    """Queue on ``pipe`` the stream's length and its oldest entry (read with :func:`oldest_ms`)."""
    pipe.xlen(stream)
    pipe.xrange(stream, count=1)


def oldest_ms(first: Read) -> int | None:
    """When the oldest entry (the ``xrange`` of :func:`queue_depth`) was added (Redis's ms), or None."""
    return added_ms(first[0][0]) if first else None


def added_ms(entry_id: Any) -> int:
    """When an entry was added (Redis's ms), from its id."""
    return int(_text(entry_id).split("-", 1)[0])


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
