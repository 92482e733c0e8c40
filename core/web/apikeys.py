"""API keys of the JSON API: one tenant per key, kept in Redis only as a SHA-256 hash.

A key is ``kod_`` and 40 URL-safe characters (240 random bits) and is seen once, when :func:`create` makes
it (``kodeord apikey create TENANT``). Per key Redis keeps a hash ``kodeord:{apikeys}:key:<sha256 of key>``
with the tenant, a name, when the key was made and last used, and its public prefix (``kod_`` and the next 8
characters) that tells keys apart in listings; per tenant a set of its keys' hashes. With that much
randomness a fast hash is as safe as a slow one, and it lets a request find its key by hash in one read.
All the keys share one hash tag, so on a Redis Cluster a key and its tenant's set change in one transaction.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import UTC, datetime, timedelta

import redis

from kodeord.commit.keys import Keys
from kodeord.config.ruleschema import ID
from kodeord.support.errors import KodeordError
from kodeord.support.luascript import LuaScript

KEYS = Keys("apikeys")
KEY_START = "kod_"
KEY_LENGTH = len(KEY_START) + 40
PREFIX_LENGTH = len(KEY_START) + 8  # 48 public bits: enough to tell keys apart, 192 secret bits stay
TOUCH_EVERY = timedelta(minutes=1)  # last_used is written at most this often per key
TENANT_ID = re.compile(str(ID.pattern))  # the rule files' id pattern; key names follow it too
ID_RULE = "1 to 64 letters, digits, '-' and '_', starting with a letter or digit"
FIELDS = ("prefix", "name", "created", "last_used")

_TOUCH = LuaScript(__package__, "touchApiKey-1.lua")


class ApiKeyError(KodeordError):
    """A key that cannot be made or listed: a malformed tenant id or name, or a name already taken."""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", "surrogateescape")).hexdigest()


def record_key(digest: str) -> str:
    """The hash that describes the key whose SHA-256 is ``digest``."""
    return KEYS.key_for("key", digest)


def tenant_key(tenant: str) -> str:
    """The set of the hashes of ``tenant``'s keys."""
    return KEYS.key_for("tenant", tenant)


def _check_tenant(tenant: str) -> None:
    if not TENANT_ID.fullmatch(tenant):
        raise ApiKeyError(f"invalid tenant id {tenant!r}: expected {ID_RULE}")


def _records(client: redis.Redis, tenant: str) -> dict[str, dict[str, str]]:
    """The tenant's key records by hash (records gone meanwhile are left out)."""
    digests = sorted(_text(d) for d in client.smembers(tenant_key(tenant)))  # type: ignore[union-attr]
    pipe = client.pipeline(transaction=False)
    for digest in digests:
        pipe.hgetall(record_key(digest))
    found: dict[str, dict[str, str]] = {}
    for digest, raw in zip(digests, pipe.execute(), strict=True):
        if raw:
            found[digest] = {_text(k): _text(v) for k, v in raw.items()}
    return found


def create(client: redis.Redis, tenant: str, name: str = "") -> str:
    """Make a key for ``tenant`` and return it: the only time the key itself is seen.

    ``name`` tells the tenant's keys apart (letters, digits, ``-``, ``_``); unset: ``key-1``, ``key-2``, ...
    Raises :class:`ApiKeyError` for a malformed tenant id or name, or a name the tenant already uses.
    """
    _check_tenant(tenant)
    if name and (not TENANT_ID.fullmatch(name) or name.startswith(KEY_START)):
        raise ApiKeyError(f"invalid key name {name!r}: expected {ID_RULE}, not starting with {KEY_START!r}")

    with client.pipeline(transaction=True) as pipe:
        while True:
            try:
                # Watching the tenant's set keeps the name and prefix checks true until the key is written.
                pipe.watch(tenant_key(tenant))
                records = _records(client, tenant).values()
                names = {r.get("name") for r in records}
                prefixes = {r.get("prefix") for r in records}
                chosen = name or next(f"key-{n}" for n in range(1, len(names) + 2) if f"key-{n}" not in names)
                if chosen in names:
                    raise ApiKeyError(f"tenant {tenant!r} already has a key named {chosen!r}")
                key = KEY_START + secrets.token_urlsafe(30)
                while key[:PREFIX_LENGTH] in prefixes:  # so that a prefix always names one key
                    key = KEY_START + secrets.token_urlsafe(30)
                digest = _digest(key)
                pipe.multi()
                pipe.hset(
                    record_key(digest),
                    mapping={
                        "tenant": tenant,
                        "name": chosen,
                        "prefix": key[:PREFIX_LENGTH],
                        "created": _now(),
                        "last_used": "",
                    },
                )
                pipe.sadd(tenant_key(tenant), digest)
                pipe.execute()
                return key
            except redis.WatchError:
                continue  # a key of the tenant was made or revoked meanwhile: check again


def name_of(client: redis.Redis, key: str) -> str | None:
    """The name of key ``key`` (as ``kodeord apikey list`` shows it), or None for no such key."""
    name = client.hget(record_key(_digest(key)), "name")
    return name.decode() if isinstance(name, bytes) else name


def tenant_for(client: redis.Redis, key: str) -> str | None:
    """The tenant of a genuine key, else None; notes when the key was used (at most once a minute).

    The key is looked up by its hash and never compared, so the time an answer takes tells nothing about
    how close a guess came.
    """
    if len(key) != KEY_LENGTH or not key.startswith(KEY_START):
        return None  # cannot be a key: spare Redis the lookup
    name = record_key(_digest(key))
    tenant, last_used = client.hmget(name, ["tenant", "last_used"])  # type: ignore[misc]
    if tenant is None:
        return None
    now = datetime.now(UTC)
    if not last_used or now - datetime.fromisoformat(_text(last_used)) >= TOUCH_EVERY:
        _TOUCH(client, [name], [now.isoformat(timespec="seconds")])
    return _text(tenant)


def list_keys(client: redis.Redis, tenant: str) -> list[dict[str, str]]:
    """The tenant's keys, oldest first: ``prefix``, ``name``, ``created``, ``last_used`` ("" if never).

    Neither a key nor its hash is ever part of the answer.
    """
    _check_tenant(tenant)
    rows = [{f: r.get(f, "") for f in FIELDS} for r in _records(client, tenant).values()]
    return sorted(rows, key=lambda r: (r["created"], r["name"]))


def revoke(client: redis.Redis, tenant: str, prefix_or_name: str) -> bool:
    """Delete the tenant's key with this prefix or name; False when the tenant has none such."""
    _check_tenant(tenant)
    gone = [d for d, r in _records(client, tenant).items() if prefix_or_name in (r.get("prefix"), r.get("name"))]
    if not gone:
        return False
    pipe = client.pipeline(transaction=True)
    pipe.delete(*(record_key(d) for d in gone))
    pipe.srem(tenant_key(tenant), *gone)
    pipe.execute()
    return True
