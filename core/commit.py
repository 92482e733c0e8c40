"""Committing one message's effects: dedupe record, writes, outbox and log in one step.

A Lua script runs atomically in Redis: either the dedupe record, every state
write, every outgoing message and the log entry are stored, or none are. If
the dedupe record already exists (a gateway retry raced us), nothing is
written and the stored outcome is returned instead.

Guards (caps, "not closed" marks) are checked inside the same script, so a
limit holds exactly however many messages race for it: the script picks the
branch to commit, the normal one or the one its first failing guard names.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from kodeord.effects import Guard, Write
from kodeord.keys import OUTBOXES, Keys

LOG_MAXLEN = 100_000  # entries kept in each scope's message log

# Redis does not roll back a script that fails half-way, so every write is
# checked (key type, integer values for increments) before the first one runs.
#
# KEYS: seen, outbox, log, one per guard, the common writes' keys, then per branch its write keys and its
#       status keys.
# ARGV[1]: one JSON array, so a message with many writes costs one argument to send, not dozens:
#   [dedupe ttl, status ttl, now (ms), log maxlen, inbound (JSON text), guards, common, branches]
#   guards: [[field, most ("" for "must not exist"), by], ...]; common and each branch's writes:
#   [[command, [args...]], ...] (args as text); branches: [[outcome (JSON text), writes, [message (JSON
#   text), ...]], ...], one more than there are guards. The log entry is {"in": inbound, "out": outcome}.
_SCRIPT = """
local stored = redis.call('GET', KEYS[1])
if stored then return stored end
local function is_int(v) return string.len(v) < 20 and string.match(v, '^-?%d+$') ~= nil end
local a = cjson.decode(ARGV[1])
local ttl, status_ttl, now, maxlen, inbound = a[1], a[2], a[3], a[4], a[5]
local guards, kpos = a[6], 4
local chosen = 0
local bumps = {}
for g = 1, #guards do
  local key, field, most, by = KEYS[kpos], guards[g][1], guards[g][2], tonumber(guards[g][3])
  kpos = kpos + 1
  if chosen == 0 then
    if most == '' then
      if redis.call('EXISTS', key) == 1 then chosen = g end
    else
      local v
      if field == '' then v = redis.call('GET', key) else v = redis.call('HGET', key, field) end
      if v and not is_int(v) then return redis.error_reply('NOTINT ' .. key .. ' ' .. field) end
      if tonumber(v or '0') + by > tonumber(most) then chosen = g else bumps[#bumps + 1] = {key, field, by} end
    end
  end
end
local expect = {HSET='hash', HDEL='hash', HINCRBY='hash', SADD='set', SREM='set', ZADD='zset',
  ZINCRBY='zset', ZREM='zset', RPUSH='list', LPUSH='list', LTRIM='list', XADD='stream',
  INCRBY='string', PFADD='string'}
local writes, typed = {}, {}
local function take_writes(list, mine)
  for i = 1, #list do
    local cmd, args, key = list[i][1], list[i][2], KEYS[kpos]
    kpos = kpos + 1
    if mine then
      local want = expect[cmd]
      if want and typed[key] and typed[key] ~= want then
        return 'WRONGTYPE ' .. cmd .. ' on ' .. key .. ' which this message also writes as a ' .. typed[key]
      elseif want and typed[key] ~= want then
        local have = redis.call('TYPE', key)['ok']
        if have ~= 'none' and have ~= want then
          return 'WRONGTYPE ' .. cmd .. ' on ' .. key .. ' which holds a ' .. have
        end
        typed[key] = want
      end
      if cmd == 'INCRBY' then
        local v = redis.call('GET', key)
        if v and not is_int(v) then return 'NOTINT ' .. key end
      elseif cmd == 'HINCRBY' then
        local v = redis.call('HGET', key, args[1])
        if v and not is_int(v) then return 'NOTINT ' .. key .. ' ' .. args[1] end
      end
      writes[#writes + 1] = {cmd, key, args}
    end
  end
end
local problem = take_writes(a[7], true)
if problem then return redis.error_reply(problem) end
local branches = a[8]
local outcome, messages, statuses
for b = 1, #branches do
  local mine = b - 1 == chosen
  problem = take_writes(branches[b][2], mine)
  if problem then return redis.error_reply(problem) end
  local m = branches[b][3]
  if mine then outcome, messages, statuses = branches[b][1], m, {} end
  for i = 1, #m do
    if mine then statuses[i] = KEYS[kpos] end
    kpos = kpos + 1
  end
end
redis.call('SET', KEYS[1], outcome, 'EX', ttl)
for i = 1, (chosen == 0 and #bumps or 0) do  -- a failed guard: no counter moves
  local bump = bumps[i]
  if bump[2] == '' then redis.call('INCRBY', bump[1], bump[3]) else redis.call('HINCRBY', bump[1], bump[2], bump[3]) end
end
for i = 1, #writes do
  local w = writes[i]
  redis.call(w[1], w[2], unpack(w[3]))
end
for i = 1, #messages do
  redis.call('XADD', KEYS[2], '*', 'm', messages[i])
  redis.call('HSET', statuses[i], 'status', 'queued', 'queued_at', now)
  redis.call('EXPIRE', statuses[i], status_ttl)
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', maxlen, '*', 'e', '{"in":' .. inbound .. ',"out":' .. outcome .. '}')
return chosen
"""


@dataclass(frozen=True)
class Branch:
    """One possible result of a message: its outcome record, writes and outgoing messages."""

    outcome: dict[str, Any]
    writes: Sequence[Write] = ()
    outgoing: Sequence[dict[str, Any]] = ()


class Committer:
    """Loads the script once per client and remembers which outboxes it registered."""

    def __init__(self, client: redis.Redis, dedupe_seconds: int, status_seconds: int = 7 * 86400) -> None:
        self.redis = client
        self.dedupe_seconds = dedupe_seconds
        self.status_seconds = status_seconds
        self._script = client.register_script(_SCRIPT)
        self._registered: set[str] = set()

    def commit(
        self, keys: Keys, seen_key: str, inbound: dict[str, Any], branches: Sequence[Branch],
        guards: Sequence[Guard] = (), common: Sequence[Write] = (),
    ) -> int | dict[str, Any]:
        """Commit ``common`` and one of ``branches``: the first when every guard holds, else the one after
        the first failing guard; log it with ``inbound``. Return the committed branch's index, or the
        earlier outcome of a duplicate."""
        if len(branches) != len(guards) + 1:
            raise ValueError(f"{len(guards)} guards need {len(guards) + 1} branches, got {len(branches)}")
        outbox = keys.outbox
        if any(branch.outgoing for branch in branches):
            self.register(outbox)  # before the stream can hold anything
        script_keys = [seen_key, outbox, keys.key_for("log"), *(guard.key for guard in guards)]
        payload: list[Any] = [
            self.dedupe_seconds, self.status_seconds, str(int(time.time() * 1000)), LOG_MAXLEN,
            json.dumps(inbound, ensure_ascii=False),
            [[guard.field, "" if guard.most is None else str(guard.most), str(guard.by)] for guard in guards],
            _writes(script_keys, common),
        ]  # fmt: skip
        packed = []
        for branch in branches:
            branch_writes = _writes(script_keys, branch.writes)
            script_keys += [keys.status(m["id"]) for m in branch.outgoing]
            packed.append([json.dumps(branch.outcome, ensure_ascii=False), branch_writes,
                           [json.dumps(m, ensure_ascii=False) for m in branch.outgoing]])  # fmt: skip
        payload.append(packed)
        argv = [json.dumps(payload, ensure_ascii=False)]
        stored = self._script(keys=script_keys, args=argv)
        if isinstance(stored, int):
            return stored
        earlier: dict[str, Any] = json.loads(stored)
        return earlier

    def register(self, stream: str) -> None:
        """Make senders read ``stream`` (once per process; idempotent in Redis)."""
        if stream not in self._registered:
            self.redis.sadd(OUTBOXES, stream)
            self._registered.add(stream)

    def forget_registrations(self) -> None:
        """Register outboxes again (after Redis was flushed)."""
        self._registered.clear()


def _writes(script_keys: list[str], writes: Sequence[Write]) -> list[list[Any]]:
    """``writes`` as the script takes them (arguments as text), their keys added to ``script_keys``."""
    script_keys += [write.key for write in writes]
    return [[write.command.upper(), [str(arg) for arg in write.args]] for write in writes]
