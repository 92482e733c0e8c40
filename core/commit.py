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
# ARGV: dedupe ttl, status ttl, now (ms), log maxlen, the inbound message (JSON), guard count, per guard
#       (field, most, by), the common writes (count, then per write: command, arg count, args...), then per
#       branch (one more than there are guards): outcome, its writes (as the common ones), message count,
#       messages.... The log entry is {"in": inbound, "out": the committed outcome}.
_SCRIPT = """
local stored = redis.call('GET', KEYS[1])
if stored then return stored end
local ttl, status_ttl, now, maxlen, inbound = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local nguards = tonumber(ARGV[6])
local pos, kpos = 7, 4
local chosen = 0
local bumps = {}
for g = 1, nguards do
  local key, field, most, by = KEYS[kpos], ARGV[pos], ARGV[pos + 1], tonumber(ARGV[pos + 2])
  kpos, pos = kpos + 1, pos + 3
  if chosen == 0 then
    if most == '' then
      if redis.call('EXISTS', key) == 1 then chosen = g end
    else
      local v
      if field == '' then v = redis.call('GET', key) else v = redis.call('HGET', key, field) end
      if v and not tonumber(v) then return redis.error_reply('NOTINT ' .. key .. ' ' .. field) end
      if tonumber(v or '0') + by > tonumber(most) then chosen = g else bumps[#bumps + 1] = {key, field, by} end
    end
  end
end
local expect = {HSET='hash', HDEL='hash', HINCRBY='hash', SADD='set', SREM='set', ZADD='zset',
  ZINCRBY='zset', ZREM='zset', RPUSH='list', LPUSH='list', LTRIM='list', XADD='stream',
  INCRBY='string', PFADD='string'}
local writes = {}
local function take_writes(mine)
  local nwrites = tonumber(ARGV[pos])
  pos = pos + 1
  for i = 1, nwrites do
    local cmd, nargs = ARGV[pos], tonumber(ARGV[pos + 1])
    if mine then
      local args = {}
      for j = 1, nargs do args[j] = ARGV[pos + 1 + j] end
      local key = KEYS[kpos]
      local want = expect[cmd]
      if want then
        local have = redis.call('TYPE', key)['ok']
        if have ~= 'none' and have ~= want then
          return 'WRONGTYPE ' .. cmd .. ' on ' .. key .. ' which holds a ' .. have
        end
      end
      if cmd == 'INCRBY' then
        local v = redis.call('GET', key)
        if v and not tonumber(v) then return 'NOTINT ' .. key end
      elseif cmd == 'HINCRBY' then
        local v = redis.call('HGET', key, args[1])
        if v and not tonumber(v) then return 'NOTINT ' .. key .. ' ' .. args[1] end
      end
      writes[#writes + 1] = {cmd, key, args}
    end
    pos, kpos = pos + 2 + nargs, kpos + 1
  end
end
local problem = take_writes(true)
if problem then return redis.error_reply(problem) end
local outcome, messages, statuses
for b = 0, nguards do
  local mine = b == chosen
  if mine then outcome = ARGV[pos] end
  pos = pos + 1
  problem = take_writes(mine)
  if problem then return redis.error_reply(problem) end
  local m = tonumber(ARGV[pos])
  pos = pos + 1
  if mine then messages, statuses = {}, {} end
  for i = 1, m do
    if mine then messages[i], statuses[i] = ARGV[pos], KEYS[kpos] end
    pos, kpos = pos + 1, kpos + 1
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
        argv: list[Any] = [self.dedupe_seconds, self.status_seconds, int(time.time() * 1000), LOG_MAXLEN,
                           json.dumps(inbound, ensure_ascii=False), len(guards)]  # fmt: skip
        script_keys = [seen_key, outbox, keys.key_for("log")]
        for guard in guards:
            argv += [guard.field, "" if guard.most is None else guard.most, guard.by]
            script_keys.append(guard.key)
        _add_writes(argv, script_keys, common)
        for branch in branches:
            argv.append(json.dumps(branch.outcome, ensure_ascii=False))
            _add_writes(argv, script_keys, branch.writes)
            argv.append(len(branch.outgoing))
            argv += [json.dumps(m, ensure_ascii=False) for m in branch.outgoing]
            script_keys += [keys.status(m["id"]) for m in branch.outgoing]
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


def _add_writes(argv: list[Any], script_keys: list[str], writes: Sequence[Write]) -> None:
    argv.append(len(writes))
    for write in writes:
        argv += [write.command.upper(), len(write.args), *write.args]
        script_keys.append(write.key)
