"""Fan-out: one message to every recipient a plugin lists (a broadcast), paged through the outbox.

A broadcast to a million members never becomes a million outbox entries at once. It starts as one *cursor*
entry in its scope's bulk stream (``outbox:bulk``, apart from the replies' outbox, so a welcome reply never
waits behind a broadcast). A sender that reads the cursor entry asks the plugin that owns the fan-out
(the ``page`` of the ``FanoutSource`` it registered) for the next page of recipients after the cursor, and in
one transaction (:func:`kodeord.outbound.outbox.step`) it adds a *batch* entry holding that page, adds the cursor
entry again with the new position (or, after the last page, queues the receipt) and removes the old cursor entry.
Batch entries are sent like any other outbox entry: each recipient's message has the id ``<fan-out id>:<address>``,
its idempotency key, so a page read twice after a crash never reaches anyone twice. Memory stays bounded: the bulk
stream holds about one page at a time.

Whether a recipient still wants the message is decided right before it is handed to the gateway
(``kodeord_vet_outgoing_batch``), ordered against the leave's acknowledgement by :mod:`kodeord.commit.handover`, so
someone who leaves a list in the middle of a broadcast gets nothing more from it once the leave is answered.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from kodeord.commit.keys import Keys
from kodeord.inbound.messages import Channel, Outbound
from kodeord.support.luascript import LuaScript

if TYPE_CHECKING:
    import redis

    from kodeord.commit.effects import Write
    from kodeord.web.links import Links


@dataclass(frozen=True)
class Recipient:
    """One address a fan-out sends to; ``meta`` is added to the message's (e.g. which member it is). ``text``
    and ``price``, when given, replace the message's for this recipient (a subscriber asked to confirm gets a
    free question instead of the charged message)."""

    to: str
    channel: Channel = Channel.SMS
    meta: dict[str, str] = field(default_factory=dict)
    text: str | None = None
    price: str | None = None


@dataclass(frozen=True)
class FanoutPage:
    """The next recipients after a cursor, and the cursor to continue from (``None``: that was the last page).
    ``writes`` are committed with the page, in one transaction with its messages' queueing (what a source keeps
    of who was sent what); they keep to the fan-out's service's keys."""

    recipients: list[Recipient]
    after: str | None
    writes: list[Write] = field(default_factory=list)


@dataclass(frozen=True)
class FanoutSource:
    """Where a plugin's broadcasts find their recipients: a ``Fanout`` whose ``source`` is ``name`` is paged
    by ``page(fanout, after, limit, redis, links)``, which returns the next ``FanoutPage`` (see
    ``kodeord_register_fanout_sources``)."""

    name: str
    page: Callable[[Fanout, str, int, redis.Redis, Links], FanoutPage]


@dataclass(frozen=True)
class Fanout:
    """A request to send ``message`` to every recipient the plugin ``source`` lists for ``params``.

    ``id`` must be unique within the scope and stable (e.g. the id of the inbound message that started it):
    message ids derive from it. ``receipt``, if given, is queued when the last page is out; its text is a
    template rendered with ``receipt_vars`` and ``count``, the number of recipients the fan-out reached.
    """

    id: str
    source: str
    params: dict[str, str]
    message: Outbound
    receipt: Outbound | None = None
    receipt_vars: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "id": self.id,
            "source": self.source,
            "params": self.params,
            "message": self.message.to_dict(),
            **({"receipt": self.receipt.to_dict(), "receipt_vars": self.receipt_vars} if self.receipt else {}),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fanout:
        """Inverse of :meth:`to_dict`."""
        receipt = data.get("receipt")
        return cls(
            data["id"],
            data["source"],
            dict(data["params"]),
            Outbound.from_dict(data["message"]),
            Outbound.from_dict(receipt) if receipt else None,
            dict(data.get("receipt_vars", {})),
        )


def progress_key(scope: Keys, fanout_id: str) -> str:
    """Hash with a fan-out's progress: ``queued`` recipients, ``pages``, ``state`` (running, done), and how many
    of its messages were ``sent``, ``failed`` (for good), ``delivered`` and ``undelivered`` (by delivery
    reports)."""
    return Keys(scope.scope).key_for("fanout", fanout_id)


def read_progress(client: redis.Redis, scope: Keys, fanout_id: str) -> dict[str, str] | None:
    """A fan-out's progress record, or None if unknown (or expired)."""
    raw: dict[bytes, bytes] = client.hgetall(progress_key(scope, fanout_id))  # type: ignore[assignment]
    return {k.decode(): v.decode() for k, v in raw.items()} or None


def fanout_of(message_id: str) -> str | None:
    """The fan-out a message belongs to, from its id (``<fan-out id>:<address>``); None for any other message."""
    head, colon, address = message_id.rpartition(":")
    return head if colon and head and (address.startswith("+") or "@" in address) else None


_COUNT = LuaScript(__package__, "countProgress-1.lua")


def count(client: redis.Redis | redis.client.Pipeline, scope: Keys, counts: Mapping[tuple[str, str], int]) -> None:
    """Add ``(fan-out id, what) -> n`` to the fan-outs' progress records (``sent``, ``failed``, ``delivered``,
    ``undelivered``), on ``client`` (a pipeline runs them when it executes); a record that has expired stays
    gone."""
    for (fanout_id, what), n in counts.items():
        _COUNT(client, [progress_key(scope, fanout_id)], [what, n])
