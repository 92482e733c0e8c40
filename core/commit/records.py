"""Message records: what came in (and the answer a gateway's retry gets), what went out and what became of it.

A live show handles millions of messages an hour, so a record must not cost a Redis key (a key with its expiry
is about 160 bytes). Records are fields of small hashes, which Redis keeps as compact lists (up to
``hash-max-listpack-entries`` fields, 128 by default; ``hash-max-ziplist-entries`` before Redis 7):

- Time is cut into *buckets* of half the retention. A record goes into the bucket of the moment it is made,
  and a bucket's keys expire together, one retention after the bucket ends: a record is kept for at least its
  retention and at most one and a half times it.
- Within a bucket, records are spread over *shards* by their field, the 10-byte SHA-1 digest of their id, in
  *generations*: the first 2,048 records of a bucket go to generation 0 (64 shards), the next 16,384 to
  generation 1 (512 shards), each generation eight times the last. A shard so holds about 32 records however
  busy the bucket is (a lookup reads a short list): a quiet service has a handful of keys, a televote at ten
  million messages an hour a few hundred thousand.
- A record is found in the current bucket or one of the two before it, newest generation first; each bucket's
  record count (``<bucket>:n``) says how many generations it has.

Three stores per scope: ``in`` (one record per inbound message, kept ``KODEORD_DEDUPE_HOURS``: the dedupe
record), ``out`` (one per outgoing message, kept ``KODEORD_STATUS_HOURS``: its status) and ``text`` (message
texts and shared outcomes, by digest, stored once per bucket, kept one and a half times the longer of the two,
so that no record outlives a text it names).
The scripts in ``includes/records.lua`` write them; this module names them and reads them.
"""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any, NamedTuple

import msgpack
import redis

from kodeord.commit.keys import Keys, platform_key
from kodeord.support import luascript
from kodeord.support.luascript import LuaScript

if TYPE_CHECKING:
    from kodeord.inbound.messages import Outbound

ID_BYTES = 10  # a record's field: this much of the SHA-1 of its id (one collision in 2**80 / n**2)
TEXT_BYTES = 8  # a text's field

# The outbound record's fields, in their packed order (see ``includes/records.lua`` for each one's packed form).
OUT_FIELDS = (
    "status",
    "queued_at",
    "kind",
    "to",
    "from",
    "text",
    "price",
    "sent_at",
    "gateway",
    "operator",
    "cost",
    "attempts",
    "reported_at",
    "report",
    "reason",
    "failed_at",
    "next_at",
    "gateway_ref",
)


class Status(enum.StrEnum):
    """Where an outgoing message is (its record's ``status``)."""

    QUEUED = "queued"  # in the outbox, or waiting for a retry
    SENT = "sent"  # a gateway accepted it
    DELIVERED = "delivered"  # the gateway reported it reached the phone
    FAILED = "failed"  # refused for good; the reason is recorded


STATES = tuple(status.value for status in Status)  # packed as their index
KINDS = ("reply", "broadcast", "marketing", "notice")
TIMES = frozenset({"queued_at", "sent_at", "reported_at", "failed_at", "next_at"})
TEXTS = frozenset({"text", "report", "reason"})
ADDRESSES = frozenset({"to", "from"})
# The inbound record's fields: when, who, to what, its text, the shared part of its outcome (a text), how many
# replies it queued, and what of the outcome was its own (JSON, or "").
IN_FIELDS = ("received_at", "from", "to", "text", "shared", "replies", "extra")
SCOPES = platform_key("records", "scopes")  # every scope that has records, for lookups across scopes
# Records in generation 0 (64 shards of about 32: a lookup reads a short list), each next generation GROWTH times as
# many in GROWTH times as many shards (few generations to look through: 4 at a million records), up to 2**24 shards.
FIRST_GENERATION, GROWTH, LAST_GENERATION = 2048, 8, 6


@dataclass(frozen=True)
class Store:
    """One store's place and retention: ``in``, ``out`` or ``text``."""

    name: str
    keep_ms: int

    @property
    def span_ms(self) -> int:
        """The length of a bucket: half the retention."""
        return max(1000, self.keep_ms // 2)

    def prefix(self, keys: Keys) -> str:
        """The store's key prefix in ``keys``'s scope (its buckets are ``<prefix>:<n>``)."""
        return Keys(keys.scope).key_for("r", self.name)

    def args(self, keys: Keys) -> list[Any]:
        """The store as the scripts take it: prefix, span, retention."""
        return [self.prefix(keys), self.span_ms, self.keep_ms]


@dataclass(frozen=True)
class Retention:
    """The three stores, from the configured retentions (seconds)."""

    dedupe_s: int
    status_s: int

    @property
    def inbound(self) -> Store:
        """Inbound records: kept as long as a gateway's retry must get the same answer."""
        return Store("in", self.dedupe_s * 1000)

    @property
    def outbound(self) -> Store:
        """Outbound records: kept as long as statuses and delivery reports are."""
        return Store("out", self.status_s * 1000)

    @property
    def texts(self) -> Store:
        """Texts and shared outcomes: as long as any record that names them (a record lives up to one and a half
        retentions; a text stored when a record names it lives at least its own retention)."""
        return Store("text", max(self.dedupe_s, self.status_s) * 1500)

    def args(self, keys: Keys) -> list[Any]:
        """The three stores as scripts take them, in the order inbound, outbound, texts."""
        return [self.inbound.args(keys), self.outbound.args(keys), self.texts.args(keys)]


def field(record_id: str) -> bytes:
    """The field of the record with id ``record_id``."""
    return hashlib.sha1(record_id.encode()).digest()[:ID_BYTES]  # noqa: S324 - a key, not a signature


def digest(text: str) -> bytes:
    """The field of a stored text."""
    return hashlib.sha1(text.encode()).digest()[:TEXT_BYTES]  # noqa: S324 - a key, not a signature


class Args:
    """A script's arguments after its first (which names them by their index in ARGV): record fields, and
    texts as a digest followed by the text, each text given once."""

    def __init__(self) -> None:
        self.values: list[bytes | str] = []
        self._texts: dict[str, int] = {}

    def field(self, record_id: str) -> int:
        """The ARGV index of the field of record ``record_id``."""
        self.values.append(field(record_id))
        return len(self.values) + 1

    def text(self, text: str) -> int:
        """The ARGV index of ``text``'s digest (the text follows it)."""
        index = self._texts.get(text)
        if index is None:
            self.values += [digest(text), text]
            index = self._texts[text] = len(self.values)
        return index


def address(value: str) -> int | str:
    """An address as a record keeps it: an E.164 number as a number, anything else as it is (``rec_address``)."""
    digits = value[1:]
    if value[:1] == "+" and 0 < len(digits) <= 15 and digits.isascii() and digits.isdigit() and digits[0] != "0":
        return int(digits)
    return value


def queued(message: Outbound, queued_at: int, text: int) -> list[Any]:
    """The outbound record of a message just queued (``message``), packed as ``includes/records.lua`` packs
    one but for its time (``queued_at``, absolute ms) and its text (``text``: the ARGV index of its digest,
    or 0), which ``rec_out_new`` fills in."""
    kind = message.kind.value
    values = {
        "status": STATES.index("queued"),
        "queued_at": queued_at,
        "kind": KINDS.index(kind) if kind in KINDS else kind,
        "to": address(message.to),
        "from": address(message.sender),
        "text": text or False,
        "price": str(message.price) if message.price else False,
    }
    record = [values.get(name, False) for name in OUT_FIELDS]
    while record and record[-1] is False:
        record.pop()
    return record


def handle(record_field: bytes) -> str:
    """A record's printable id (20 hexadecimal digits): what ``kodeord messages`` shows and takes."""
    return record_field.hex()


def from_handle(text: str) -> bytes | None:
    """The field a printable id names, or None if ``text`` is not one."""
    if len(text) != 2 * ID_BYTES:
        return None
    try:
        return bytes.fromhex(text)
    except ValueError:
        return None


def inbound_id(gateway: str, message_id: str) -> str:
    """The printable id of the inbound message ``message_id`` from ``gateway``."""
    return handle(field(f"{gateway}:{message_id}"))


def generation(count: int) -> int:
    """The highest generation of a bucket of ``count`` records (``rec_gen`` in ``includes/records.lua``)."""
    g, cap = 0, FIRST_GENERATION
    while count > cap and g < LAST_GENERATION:
        count, cap, g = count - cap, cap * GROWTH, g + 1
    return g


def shards(g: int) -> int:
    """How many shards generation ``g`` has."""
    return 64 * GROWTH**g


@cache
def library() -> str:
    """``includes/records.lua`` with the outbound layout filled in: the first part of every script using records."""
    return (
        f"local function rec_out() return {{{_lua_list(OUT_FIELDS)}}} end\n"
        f"local REC_QUEUED_AT, REC_TEXT = {OUT_FIELDS.index('queued_at') + 1}, {OUT_FIELDS.index('text') + 1}\n"
        f"local function rec_names() return {{{_lua_list(STATES)}}}, {{{_lua_list(KINDS)}}} end\n"
        f"local REC_FIRST, REC_GROWTH, REC_LAST_GEN = {FIRST_GENERATION}, {GROWTH}, {LAST_GENERATION}\n"
        + luascript.source(__package__, "includes/records.lua")
    )


def _lua_list(names: Sequence[str]) -> str:
    return ", ".join(f"'{name}'" for name in names)


def script(package: str, name: str) -> LuaScript:
    """The script ``name`` in ``package``, with the records library (``includes/records.lua``) before it."""
    return LuaScript(package, name, prelude=library())


# -- reading ---------------------------------------------------------------------------------------------------

_FIND = script(__package__, "findRecords-1.lua")


class At(NamedTuple):
    """Where a record is: its shard key and its bucket's start (ms). A record never moves, so a write may go
    straight there (after checking it is still there: it may have expired)."""

    key: str
    base: int


class Found(NamedTuple):
    """A record as found: its packed value and where it is."""

    value: bytes
    at: At


class Reader:
    """Reads records of one Redis."""

    def __init__(self, client: redis.Redis, retention: Retention) -> None:
        self.redis = client
        self.retention = retention

    def find(self, keys: Keys, store: Store, fields: Sequence[bytes]) -> list[Found | None]:
        """Each field's record, or None where there is none."""
        if not fields:
            return []
        found: Any = _FIND(self.redis, [store.prefix(keys)], [store.span_ms, store.keep_ms, *fields])
        return [
            None if not value else Found(value, At(key.decode(), int(base)))
            for value, base, key in zip(found[::3], found[1::3], found[2::3], strict=True)
        ]

    def texts(self, keys: Keys, digests: Sequence[Any]) -> dict[bytes, str]:
        """The stored texts of ``digests`` (those still kept; anything else in ``digests`` is left out)."""
        unique = list(dict.fromkeys(d for d in digests if d and isinstance(d, bytes)))
        found = self.find(keys, self.retention.texts, unique)
        return {d: v.value.decode() for d, v in zip(unique, found, strict=True) if v is not None}

    def outbound(self, keys: Keys, ids: Sequence[str]) -> list[dict[str, str] | None]:
        """The status records of outgoing messages ``ids`` of scope ``keys``, as text fields."""
        return self.outbound_fields(keys, [field(i) for i in ids])

    def outbound_fields(self, keys: Keys, fields: Sequence[bytes]) -> list[dict[str, str] | None]:
        """Outbound records by field, as text fields."""
        found = self.find(keys, self.retention.outbound, fields)
        unpacked = [None if f is None else (unpack(f.value), f.at.base) for f in found]
        texts = self.texts(keys, [v for u in unpacked if u for k, v in _named(OUT_FIELDS, u[0]) if k in TEXTS])
        return [None if u is None else decode_outbound(u[0], u[1], texts) for u in unpacked]

    def inbound(self, keys: Keys, fields: Sequence[bytes]) -> list[dict[str, Any] | None]:
        """Inbound records by field, each with its text and outcome."""
        found = self.find(keys, self.retention.inbound, fields)
        unpacked = [None if f is None else (unpack(f.value), f.at.base) for f in found]
        texts = self.texts(
            keys, [v for u in unpacked if u for k, v in _named(IN_FIELDS, u[0]) if k in ("text", "shared")]
        )
        return [None if u is None else decode_inbound(u[0], u[1], texts) for u in unpacked]


def unpack(value: bytes) -> list[Any]:
    """A packed record's values (strings as bytes)."""
    found = msgpack.unpackb(value, raw=True)
    return list(found) if isinstance(found, list) else []


def _named(names: Sequence[str], values: Sequence[Any]) -> Iterator[tuple[str, Any]]:
    for name, value in zip(names, values, strict=False):
        if value is not False and value is not None:
            yield name, value


def _address(value: Any) -> str:
    return f"+{value}" if isinstance(value, int) else value.decode()


def text_of(value: Any, texts: dict[bytes, str]) -> str:
    """A text as a record holds it: itself (a short one, as ``[text]``) or the digest of a stored text."""
    if isinstance(value, list):
        return value[0].decode() if value else ""
    return texts.get(value, "") if isinstance(value, bytes) else ""


def decode_outbound(values: Sequence[Any], base: int, texts: dict[bytes, str]) -> dict[str, str]:
    """An outbound record as text fields, as :func:`kodeord.outbound.status.read` gives it."""
    record: dict[str, str] = {}
    for name, value in _named(OUT_FIELDS, values):
        if name == "status":
            record[name] = STATES[value] if isinstance(value, int) else value.decode()
        elif name == "kind":
            record[name] = KINDS[value] if isinstance(value, int) else value.decode()
        elif name in TIMES:
            record[name] = str(base + value)
        elif name in TEXTS:
            record[name] = text_of(value, texts)
        elif name in ADDRESSES:
            record[name] = _address(value)
        else:
            record[name] = str(value) if isinstance(value, int) else value.decode()
    return record


def decode_inbound(values: Sequence[Any], base: int, texts: dict[bytes, str]) -> dict[str, Any]:
    """An inbound record: received_at (ms), from, to, text, the outcome and its replies' count."""
    named = dict(_named(IN_FIELDS, values))
    shared = texts.get(named.get("shared", b""), "")
    extra = named.get("extra", b"")
    return {
        "received_at": base + int(named.get("received_at", 0)),
        "from": _address(named["from"]) if "from" in named else "",
        "to": _address(named["to"]) if "to" in named else "",
        "text": text_of(named.get("text", b""), texts),
        "outcome": {**(json.loads(shared) if shared else {}), **(json.loads(extra) if extra else {})},
        "replies": int(named.get("replies", 0)),
    }
