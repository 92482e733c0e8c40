"""Where a list keeps its state in Redis, and reading it.

A list is the service ``tenant/list`` that names the ``addressbook.inbox`` action (or one created through
the API); every key carries that service's hash tag, so a message's effects and the list change together.

- ``members``: sorted set of member ids, all with score 0 so they page in a stable (lexical) order;
- ``pending``, ``unsubscribed``: sorted sets scored by the time (ms) the person asked;
- ``contacts``: hash member id -> JSON ``{"phone", "email", "name"}`` for members with more than a number;
- ``writers``, ``functionaries``: sets of phone numbers and email addresses;
- ``consent:<member id>``: list of JSON records, oldest first: every join, leave, approval and manual add;
- ``options``: hash of option name -> JSON value, the administrators' overrides;
- ``broadcasts``: list of the last ``BROADCAST_LOG`` broadcasts started through the API, CLI or console
  (JSON: id, at, by, the start of the text), newest first.

- ``sent:<token>``: the broadcast a console form started (so a form sent twice starts it once), for a day.

Outside the lists' keys, the console keeps a member file it has previewed until it is imported
(:func:`upload_key`), for half an hour.

A member's id is their mobile number (E.164) or, for members with only an email address, that address.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

from kodeord.commit.effects import Write
from kodeord.commit.keys import Keys, platform_key
from kodeord.web.params import parse_whole

if TYPE_CHECKING:
    import redis

PLUGIN = "addressbook"
STATES = ("members", "pending", "unsubscribed")
LIST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # as a service id in a rule file
CONSENT_FIELDS = ("at", "event", "channel", "text", "by", "ref")  # a consent record, in order
CONSENT_KEEP = 1000  # records kept per member; enough for years of joining and leaving
MAX_OFFSET = 10**12  # the furthest a paging cursor of pending or unsubscribed people may point
BROADCAST_LOG = 50  # recent broadcasts kept per list


def registry(tenant: str) -> str:
    """Set of list ids a tenant created through the API or CLI."""
    return platform_key(PLUGIN, "lists", tenant)  # a tenant id has no colon or brace


@dataclass(frozen=True)
class ListKeys:
    """Key names of one list."""

    key: str  # tenant/list

    @cached_property
    def keys(self) -> Keys:
        """The list's plugin keys."""
        return Keys.for_service(self.key).plugin(PLUGIN)

    @cached_property
    def scope(self) -> Keys:
        """The list's service scope (outbox, statuses)."""
        return Keys.for_service(self.key)

    @property
    def members(self) -> str:
        """Sorted set of the members' ids."""
        return self.keys.key_for("members")

    @property
    def pending(self) -> str:
        """Sorted set of joiners waiting for an administrator's approval."""
        return self.keys.key_for("pending")

    @property
    def unsubscribed(self) -> str:
        """Sorted set of those who left (only they can join again)."""
        return self.keys.key_for("unsubscribed")

    def of_state(self, state: str) -> str:
        """The set of one of ``STATES``."""
        if state not in STATES:
            raise ValueError(f"a list's states are {', '.join(STATES)}, not {state!r}")
        return self.keys.key_for(state)

    @property
    def contacts(self) -> str:
        """Hash: member id -> contact (JSON: phone, email, name) where the id alone does not say it."""
        return self.keys.key_for("contacts")

    @property
    def writers(self) -> str:
        """Set of those who may broadcast to the list."""
        return self.keys.key_for("writers")

    @property
    def functionaries(self) -> str:
        """Set of those who get what non-writers send."""
        return self.keys.key_for("functionaries")

    def of_role(self, role: str) -> str:
        """The set of ``writers`` or ``functionaries``."""
        if role not in ("writers", "functionaries"):
            raise ValueError(f"a list's roles are writers and functionaries, not {role!r}")
        return self.keys.key_for(role)

    @property
    def options(self) -> str:
        """Hash: option -> value (JSON)."""
        return self.keys.key_for("options")

    def consent(self, member: str) -> str:
        """A member's consent records."""
        return self.keys.key_for("consent", member)

    @property
    def broadcasts(self) -> str:
        """List of recent broadcasts (JSON), newest first."""
        return self.keys.key_for("broadcasts")

    def sent(self, token: str) -> str:
        """The broadcast a console form (by its one-time ``token``, ours) started: sent twice, it starts once."""
        return self.keys.key_for("sent", token)


TOKEN = re.compile(r"[A-Za-z0-9_-]{16,64}")  # the console's random tokens (secrets.token_urlsafe)


def upload_key(token: str) -> str:
    """A member file the console previewed, waiting for the administrator to confirm its import; ValueError
    for a ``token`` that is not one of ours."""
    if not TOKEN.fullmatch(token):
        raise ValueError("not a token of the console's")
    return platform_key(PLUGIN, "upload", token)


def has_email(client: redis.Redis, lk: ListKeys, scan: int = 10_000) -> bool:
    """Whether any member may get a broadcast by email: one known only by an address, or one whose contact
    has an address (of the first ``scan`` contacts; more than that are taken to include one)."""
    for low, high in ((b"-", b"(+"), (b"[,", b"+")):  # ids not starting with "+": not a number
        if client.zrangebylex(lk.members, low, high, start=0, num=1):
            return True
    for seen, (_, raw) in enumerate(client.hscan_iter(lk.contacts, count=1000)):
        if seen >= scan or "email" in json.loads(raw):
            return True
    return False


def broadcast_entry(broadcast_id: str, by: str, text: str, at: datetime | None = None) -> str:
    """One entry of a list's broadcast log (JSON)."""
    when = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    return json.dumps({"id": broadcast_id, "at": when, "by": by, "text": text[:160]}, ensure_ascii=False)


def logged_broadcast(lk: ListKeys, entry: str) -> list[Write]:
    """Add ``entry`` to the list's broadcast log, keeping the last ``BROADCAST_LOG``."""
    return [Write("LPUSH", lk.broadcasts, (entry,)), Write("LTRIM", lk.broadcasts, (0, BROADCAST_LOG - 1))]


def broadcast_log(client: redis.Redis, lk: ListKeys) -> list[dict[str, str]]:
    """The list's recent broadcasts, newest first."""
    raw: list[bytes] = client.lrange(lk.broadcasts, 0, -1)  # type: ignore[assignment]
    return [json.loads(r) for r in raw]


def consent_record(
    event: str,
    channel: str,
    text: str,
    by: str,
    ref: str = "",
    at: datetime | None = None,
    marketing: bool = False,
) -> str:
    """One consent record as stored: JSON with time, event, channel, the text that caused it, who and a reference;
    ``marketing`` when the list was one for marketing as it happened (a join then is a consent to marketing)."""
    when = (at or datetime.now(UTC)).astimezone(UTC).isoformat(timespec="seconds")
    record: dict[str, object] = {"at": when, "event": event, "channel": channel, "text": text, "by": by, "ref": ref}
    if marketing:
        record["marketing"] = True
    return json.dumps(record, ensure_ascii=False)


def agreed_to_marketing(last_record: bytes | str | None) -> bool:
    """Whether a member's latest consent record (how they came onto the list) was made on a list for marketing."""
    if not last_record:
        return False
    try:
        return json.loads(last_record).get("marketing") is True
    except (ValueError, AttributeError):
        return False


def consent_writes(lk: ListKeys, member: str, record: str) -> list[Write]:
    """Add ``record`` to a member's consent records, keeping the last ``CONSENT_KEEP``."""
    key = lk.consent(member)
    return [Write("RPUSH", key, (record,)), Write("LTRIM", key, (-CONSENT_KEEP, -1))]


def changed(lk: ListKeys, op: str, member: str, contact: str, record: str) -> list[Write]:
    """The writes of one member's change: ``add`` (with ``contact``, JSON or ""), ``approve``, ``reject`` or
    ``remove`` (from the members or the pending), ``join``, ``request`` (to wait for approval) or ``leave``;
    with the consent ``record``. The guards that make it safe are the caller's."""
    members, pending, unsubscribed = lk.members, lk.pending, lk.unsubscribed
    now = str(int(datetime.now(UTC).timestamp() * 1000))
    # (command, key, args) of each op; only the one asked for is made into writes
    by_op: dict[str, list[tuple[str, str, tuple[str | int, ...]]]] = {
        "add": [("ZADD", members, (0, member)), ("ZREM", pending, (member,))],
        "approve": [("ZREM", pending, (member,)), ("ZADD", members, (0, member))],
        "reject": [("ZREM", pending, (member,))],
        "remove": [("ZREM", members, (member,)), ("ZREM", pending, (member,)), ("HDEL", lk.contacts, (member,))],
        "join": [("ZREM", unsubscribed, (member,)), ("ZREM", pending, (member,)), ("ZADD", members, (0, member))],
        "request": [("ZREM", unsubscribed, (member,)), ("ZADD", pending, (now, member))],
        "leave": [("ZREM", members, (member,)), ("ZREM", pending, (member,)), ("ZADD", unsubscribed, (now, member))],
    }
    writes = [Write(command, key, args) for command, key, args in by_op[op]]
    if op == "add" and contact:
        writes.append(Write("HSET", lk.contacts, (member, contact)))
    return writes + consent_writes(lk, member, record)


def added(lk: ListKeys, rows: Sequence[tuple[str, str]], record: str) -> list[Write]:
    """The writes of adding many members at once: (member id, contact JSON or "") rows, each with ``record``."""
    ids = [member for member, _ in rows]
    writes = [
        Write("ZADD", lk.members, tuple(arg for member in ids for arg in (0, member))),
        Write("ZREM", lk.pending, tuple(ids)),
    ]
    contacts = tuple(arg for member, contact in rows if contact for arg in (member, contact))
    if contacts:
        writes.append(Write("HSET", lk.contacts, contacts))
    for member in ids:
        writes += consent_writes(lk, member, record)
    return writes


def unsubscribed_of(client: redis.Redis, lk: ListKeys, ids: Sequence[str]) -> list[str]:
    """Those of ``ids`` who unsubscribed from the list."""
    pipe = client.pipeline(transaction=False)
    for member in ids:
        pipe.zscore(lk.unsubscribed, member)
    return [member for member, score in zip(ids, pipe.execute(), strict=True) if score is not None]


def member_id(phone: str | None, email: str | None) -> str:
    """The id of a member: the phone number if there is one, else the email address."""
    if phone:
        return phone
    if email:
        return email
    raise ValueError("a member needs a mobile number or an email address")


@dataclass(frozen=True)
class Standing:
    """What one address is to a list."""

    state: str | None  # members, pending, unsubscribed or None
    writer: bool
    functionary: bool


def standing(client: redis.Redis, lk: ListKeys, address: str) -> tuple[Standing, dict[str, Any]]:
    """The address's standing and the administrators' option overrides, in one round trip."""
    pipe = client.pipeline(transaction=False)
    for state in STATES:
        pipe.zscore(lk.of_state(state), address)
    pipe.sismember(lk.writers, address)
    pipe.sismember(lk.functionaries, address)
    pipe.hgetall(lk.options)
    *scores, writer, functionary, raw = pipe.execute()
    found = next((name for name, score in zip(STATES, scores, strict=True) if score is not None), None)
    return Standing(found, bool(writer), bool(functionary)), decode_options(raw)


def decode_options(raw: dict[bytes, bytes]) -> dict[str, Any]:
    """The overrides hash as option name -> value."""
    return {k.decode(): json.loads(v) for k, v in raw.items()}


def overrides(client: redis.Redis, lk: ListKeys) -> dict[str, Any]:
    """The administrators' option overrides."""
    raw: dict[bytes, bytes] = client.hgetall(lk.options)  # type: ignore[assignment]
    return decode_options(raw)


def contacts(client: redis.Redis, lk: ListKeys, ids: Sequence[str]) -> list[dict[str, str]]:
    """Contact details of members (an empty dict for members known only by their number)."""
    if not ids:
        return []
    raw: list[bytes | None] = client.hmget(lk.contacts, list(ids))  # type: ignore[assignment]
    return [json.loads(r) if r else {} for r in raw]


def addresses(client: redis.Redis, lk: ListKeys, member: str) -> list[str]:
    """Every address the list's messages reach ``member`` at: their id, and their number or email address."""
    contact = contacts(client, lk, [member])[0]
    return list(dict.fromkeys(a for a in (member, contact.get("phone"), contact.get("email")) if a))


def offset(after: str) -> int:
    """The position a paging cursor of pending or unsubscribed people names ("" is the start); ValueError if
    ``after`` is not such a cursor."""
    if not after:
        return 0
    found = parse_whole(after, MAX_OFFSET)
    if found is None:
        raise ValueError(f"after must be the next cursor of an earlier page (a whole number), not {after[:40]!r}")
    return found


def next_cursor(state: str, after: str, ids: Sequence[str]) -> str:
    """The cursor of the page that follows the page ``ids`` read after ``after``."""
    return ids[-1] if state == "members" else str(offset(after) + len(ids))


def page(client: redis.Redis, lk: ListKeys, state: str, after: str, limit: int) -> list[str]:
    """Up to ``limit`` ids in ``state`` after ``after`` (lexical order for members; by time for the others).

    ValueError for a cursor that :func:`next_cursor` cannot have made.
    """
    key = lk.of_state(state)
    if state == "members":
        start = f"({after}" if after else "-"
        raw: list[bytes] = client.zrangebylex(key, start, "+", start=0, num=limit)  # type: ignore[assignment]
    else:
        first = offset(after)
        raw = client.zrange(key, first, first + limit - 1)  # type: ignore[assignment]
    return [r.decode() for r in raw]


def counts(client: redis.Redis, lk: ListKeys) -> dict[str, int]:
    """How many members, pending, unsubscribed, writers and functionaries."""
    pipe = client.pipeline(transaction=False)
    for state in STATES:
        pipe.zcard(lk.of_state(state))
    pipe.scard(lk.writers)
    pipe.scard(lk.functionaries)
    return dict(zip((*STATES, "writers", "functionaries"), pipe.execute(), strict=True))


def consent(client: redis.Redis, lk: ListKeys, member: str) -> list[dict[str, str]]:
    """A member's consent records, oldest first."""
    raw: list[bytes] = client.lrange(lk.consent(member), 0, -1)  # type: ignore[assignment]
    return [json.loads(r) for r in raw]


JOIN_EVENTS = frozenset({"join", "approve", "added"})  # consent events that make someone a member
LEAVE_EVENTS = frozenset({"leave", "remove"})  # and those that end it (a rejection ends only a request)


def joined(client: redis.Redis, lk: ListKeys, ids: Sequence[str]) -> list[str]:
    """When each of ``ids`` last became a member (ISO time, UTC), from their consent records; "" if none says."""
    pipe = client.pipeline(transaction=False)
    for member in ids:
        pipe.lrange(lk.consent(member), 0, -1)
    found = []
    for raw in pipe.execute():
        records = [json.loads(r) for r in raw]
        found.append(next((r.get("at", "") for r in reversed(records) if r.get("event") in JOIN_EVENTS), ""))
    return found


def asked(client: redis.Redis, lk: ListKeys, state: str, ids: Sequence[str]) -> list[int | None]:
    """When each of ``ids`` asked to join (``pending``) or left (``unsubscribed``), in ms since 1970."""
    if not ids or state == "members":
        return [None] * len(ids)
    scores: list[float | None] = client.zmscore(lk.of_state(state), list(ids))  # type: ignore[assignment]
    return [int(s) if s is not None else None for s in scores]


def _glob(text: str) -> str:
    """``text`` as a literal in a Redis MATCH pattern."""
    return "".join(f"\\{ch}" if ch in "*?[]\\" else ch for ch in text)


def search(
    client: redis.Redis, lk: ListKeys, state: str, query: str, number: bool, after: str, limit: int
) -> tuple[list[str], str | None, bool]:
    """Up to ``limit`` ids in ``state`` matching ``query``, the cursor of the next page (None: none), and
    whether more matched than a page without a cursor shows.

    A ``number`` query is the start of a number in E.164 ("+4670"): the members starting with it are read in
    order, a page at a time after ``after``. Any other query (part of a name or an address, lower case) is
    looked for in every id and contact of the list, and the first ``limit`` matches are the only page (a
    search is narrowed, not paged); so are number searches among pending and unsubscribed people.
    """
    key = lk.of_state(state)
    if number and state == "members":
        low = f"({after}".encode() if after and after >= query else b"[" + query.encode()
        high = b"[" + query.encode() + b"\xff"  # every id that starts with the query sorts below this
        raw: list[bytes] = client.zrangebylex(key, low, high, start=0, num=limit)  # type: ignore[assignment]
        ids = [r.decode() for r in raw]
        return ids, ids[-1] if len(ids) == limit else None, False
    pattern = f"{_glob(query)}*" if number else f"*{_glob(query)}*"
    found = {m.decode() for m, _ in client.zscan_iter(key, match=pattern, count=1000)}
    if not number:
        named = []
        for member, raw_contact in client.hscan_iter(lk.contacts, count=1000):
            contact = json.loads(raw_contact)
            if any(query in str(value).lower() for value in contact.values()):
                named.append(member.decode())
        if named:
            scores = client.zmscore(key, named)
            found |= {m for m, s in zip(named, scores, strict=True) if s is not None}  # type: ignore[arg-type]
    return sorted(found)[:limit], None, len(found) > limit
