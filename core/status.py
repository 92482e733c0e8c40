"""Status records of outgoing messages, delivery reports, and the per-service cost and revenue sums.

A message is named outside Kodeord by its *ref*, ``scope|id`` (the scope whose outbox held it, and its id).
Its status record is a Redis hash: ``status`` (queued, sent, delivered, failed), the times of each step, the
gateway and its own id of the message, the operator and route cost, and the reason of a failure.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

import redis

from kodeord.gateway import Status
from kodeord.keys import Keys

COST_UNIT = Decimal("0.0001")  # costs and revenue are summed in ten-thousandths of the currency

# A report changes only a known message, and nothing after "delivered" (reports may arrive out of order).
_REPORT = """
local current = redis.call('HGET', KEYS[1], 'status')
if not current then return 0 end
if current == 'delivered' then return 1 end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'reported_at', ARGV[2], 'report', ARGV[3])
return 1
"""


# The sender's own updates never undo what a delivery report said: "delivered" stays, and so does a
# "failed" unless the new status is "failed" too. Other fields are written either way. A record made here
# (a broadcast's messages have none before they are sent) is given the time to live in the last argument.
_UPDATE = """
local ttl = tonumber(ARGV[#KEYS + 1])
for i, key in ipairs(KEYS) do
  local fields = cjson.decode(ARGV[i])
  local current = redis.call('HGET', key, 'status')
  if current == 'delivered' or (current == 'failed' and fields['status'] ~= 'failed') then
    fields['status'] = nil
  end
  for k, v in pairs(fields) do
    redis.call('HSET', key, k, tostring(v))
  end
  if ttl > 0 and redis.call('TTL', key) == -1 then redis.call('EXPIRE', key, ttl) end
end
return #KEYS
"""


def update(
    client: redis.Redis | redis.client.Pipeline, updates: Mapping[str, Mapping[str, Any]], ttl: int = 0
) -> None:
    """Write status records (key -> fields) in one call, never undoing a delivery report's verdict.

    ``client`` may be a pipeline (the call then runs when it executes, within its transaction if any).
    ``ttl``: seconds to keep a record that has no expiry yet (one this call creates); 0 leaves it.
    """
    if updates:
        script = client.register_script(_UPDATE)
        args = [json.dumps(fields) for fields in updates.values()] + [ttl]
        script(keys=list(updates), args=args, client=client)


def split_ref(ref: str) -> tuple[Keys, str]:
    """``scope|id`` -> (the scope's keys, the id); ValueError if malformed."""
    scope, bar, message_id = ref.partition("|")
    if not bar or not scope or not message_id or "{" in scope or "}" in scope:
        raise ValueError(f"malformed message reference {ref!r}")
    return Keys(scope), message_id


def read(client: redis.Redis, ref: str) -> dict[str, str] | None:
    """The status record of message ``ref``, or None if unknown (or expired)."""
    keys, message_id = split_ref(ref)
    raw: Mapping[bytes, bytes] = client.hgetall(keys.status(message_id))  # type: ignore[assignment]
    return {k.decode(): v.decode() for k, v in raw.items()} or None


def apply_report(client: redis.Redis, ref: str, status: Status, detail: str, at_ms: int) -> bool:
    """Apply a delivery report (``delivered`` or ``failed``); False if the message is unknown."""
    if status not in (Status.DELIVERED, Status.FAILED):
        raise ValueError(f"a delivery report says delivered or failed, not {status}")
    keys, message_id = split_ref(ref)
    script = client.register_script(_REPORT)
    return bool(script(keys=[keys.status(message_id)], args=[status.value, at_ms, detail[:500]]))


def _sums(client: redis.Redis, service: str, what: str) -> dict[str, Decimal]:
    raw: Mapping[bytes, bytes] = client.hgetall(Keys.for_service(service).key_for(what))  # type: ignore[assignment]
    return {day.decode(): int(v) * COST_UNIT for day, v in sorted(raw.items())}


def revenue(client: redis.Redis, service: str) -> dict[str, Decimal]:
    """Premium charges of ``tenant/service`` per day (the currency's main unit), from accepted messages."""
    return _sums(client, service, "revenue")


def cost(client: redis.Redis, service: str) -> dict[str, Decimal]:
    """What sending cost ``tenant/service`` per day, by the chosen routes' prices."""
    return _sums(client, service, "cost")
