"""Mail accepted for a list, kept until it is handled: a stream per list, under the list's hash tag, written
before the mail server answers 250, so nothing it accepted is lost if the process dies right after.

Each entry holds the mail as received (``raw``), its envelope sender (``from``) and when it came (``at``, ms).
The lists with entries are named in one set (:data:`LISTS`), so a handler finds them; a handler reads with a
consumer group, so an entry a dead handler took is taken over (:func:`take`) and handled once acknowledged
(:func:`done`), which also deletes it.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import redis

from kodeord.outbound.outbox import ensure_group

from .store import ListKeys

LISTS = "kodeord:mail:lists"  # set of the lists (tenant/list) that have had mail
GROUP = "handlers"
CLAIM_IDLE_MS = 60_000  # an entry taken but not handled this long is taken over


@dataclass(frozen=True)
class Entry:
    """One mail waiting to be handled."""

    list_key: str
    id: str
    sender: str
    raw: bytes
    at: int
    rcpt: str  # the address it came to: the list's, or a confirmation's


def stream(list_key: str) -> str:
    """The list's stream of mail to handle."""
    return ListKeys(list_key).keys.key_for("mail-in")


def keep(client: redis.Redis, list_key: str, sender: str, raw: bytes, rcpt: str = "") -> str:
    """Keep one accepted mail for ``list_key``, that came to ``rcpt`` (before the server answers 250); its
    entry id."""
    pipe = client.pipeline(transaction=False)
    pipe.xadd(stream(list_key), {"from": sender, "raw": raw, "at": int(time.time() * 1000), "rcpt": rcpt})
    pipe.sadd(LISTS, list_key)
    entry_id, _ = pipe.execute()
    return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)


def take(client: redis.Redis, consumer: str, count: int = 10, idle_ms: int = CLAIM_IDLE_MS) -> Iterator[Entry]:
    """Mail to handle, from every list: first what another handler took and left (idle for ``idle_ms``), then
    what nobody took yet."""
    for raw_key in sorted(client.smembers(LISTS)):  # type: ignore[union-attr]
        list_key = raw_key.decode() if isinstance(raw_key, bytes) else str(raw_key)
        key = stream(list_key)
        ensure_group(client, key, GROUP)
        claimed: Any = client.xautoclaim(key, GROUP, consumer, idle_ms, "0-0", count=count)
        fresh: Any = client.xreadgroup(GROUP, consumer, {key: ">"}, count=count) or []
        entries = list(claimed[1]) + [e for _, found in fresh for e in found]
        for entry_id, fields in entries:
            if not fields:  # deleted meanwhile
                continue
            yield Entry(
                list_key,
                entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id),
                fields[b"from"].decode(),
                fields[b"raw"],
                int(fields[b"at"]),
                fields.get(b"rcpt", b"").decode(),
            )


def failed(client: redis.Redis, entry: Entry, error: str) -> int:
    """Count a failed handling of ``entry``; at the third, copy it to the list's ``mail-failed`` stream (with the
    error, for an operator to look at) so that :func:`done` may drop it. How many times it failed."""
    tries_key = ListKeys(entry.list_key).keys.key_for("mail-tries")
    tries = int(client.hincrby(tries_key, entry.id, 1))
    if tries >= 3:
        aside = ListKeys(entry.list_key).keys.key_for("mail-failed")
        pipe = client.pipeline(transaction=True)
        pipe.xadd(
            aside, {"from": entry.sender, "raw": entry.raw, "rcpt": entry.rcpt, "error": error[:2000]}, maxlen=1000
        )
        pipe.hdel(tries_key, entry.id)
        pipe.execute()
    return tries


def done(client: redis.Redis, entry: Entry) -> None:
    """The entry is handled: acknowledged and deleted."""
    key = stream(entry.list_key)
    pipe = client.pipeline(transaction=True)
    pipe.xack(key, GROUP, entry.id)
    pipe.xdel(key, entry.id)
    pipe.execute()
