"""API keys: one tenant per key, stored only as a SHA-256 hash.

A key is shown once, when it is made (``kodeord apikey create TENANT``). Redis keeps the key's hash, its
tenant, a name, when it was made and last used, and a short public prefix to tell keys apart in listings.
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import time
from datetime import UTC, datetime
from typing import Any

import redis

from kodeord.keys import PREFIX

KEYS = f"{PREFIX}:apikeys"  # hash: sha256(key) -> JSON record
TENANT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
PREFIX_LENGTH = 12  # "kod_" and 8 characters: enough to tell keys apart, far too little to guess one
USED_EVERY = 60  # seconds between updates of last_used


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def create(client: redis.Redis, tenant: str, name: str = "") -> str:
    """A new key for ``tenant``; the only time the key itself is seen."""
    if not TENANT_ID.fullmatch(tenant):
        raise ValueError(f"invalid tenant id {tenant!r}")
    key = "kod_" + secrets.token_urlsafe(30)
    record = {"tenant": tenant, "name": name or f"key-{int(time.time())}", "prefix": key[:PREFIX_LENGTH],
              "created": datetime.now(UTC).isoformat(timespec="seconds"), "last_used": ""}  # fmt: skip
    client.hset(KEYS, _hash(key), json.dumps(record))
    return key


def tenant_for(client: redis.Redis, key: str) -> str | None:
    """The tenant of a genuine key, or None. Lookup is by hash, so timing says nothing about the key."""
    if not key or len(key) > 200:
        return None
    digest = _hash(key)
    raw = client.hget(KEYS, digest)
    if raw is None:
        return None
    record: dict[str, Any] = json.loads(raw)
    now = time.time()
    if now - float(record.get("used_at", 0)) > USED_EVERY:
        record["used_at"] = now
        record["last_used"] = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
        client.hset(KEYS, digest, json.dumps(record))
    return str(record["tenant"])


def _records(client: redis.Redis) -> dict[str, dict[str, Any]]:
    raw: dict[bytes, bytes] = client.hgetall(KEYS)  # type: ignore[assignment]
    return {k.decode(): json.loads(v) for k, v in raw.items()}


def list_keys(client: redis.Redis, tenant: str) -> list[dict[str, str]]:
    """The tenant's keys: prefix, name, created, last used; never the key or its hash."""
    found = [r for r in _records(client).values() if r["tenant"] == tenant]
    return sorted(({k: r.get(k, "") for k in ("prefix", "name", "created", "last_used")} for r in found),
                  key=lambda r: r["created"])  # fmt: skip


def revoke(client: redis.Redis, tenant: str, prefix_or_name: str) -> bool:
    """Revoke the tenant's keys with this prefix or name; False when none matched."""
    if not prefix_or_name:
        return False
    gone = [digest for digest, r in _records(client).items()
            if r["tenant"] == tenant and prefix_or_name in (r["prefix"], r["name"])]  # fmt: skip
    if gone:
        client.hdel(KEYS, *gone)
    return bool(gone)
