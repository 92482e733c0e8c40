"""Committing one message's effects: dedupe record, writes, outbox and log in one step.

A Lua script runs atomically in Redis: either the dedupe record, every state
write, every outgoing message and the log entry are stored, or none are. If
the dedupe record already exists (a gateway retry raced us), nothing is
written and the stored outcome is returned instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence
from typing import Any

import redis

from kodeord.effects import Write
from kodeord.keys import OUTBOXES, Keys

LOG_MAXLEN = 100_000  # entries kept in each scope's message log

# Redis does not roll back a script that fails half-way, so every write is
# checked (key type, integer values for increments) before the first one runs.
_SCRIPT = """
local stored = redis.call('GET', KEYS[1])
if stored then return stored end
local expect = {HSET='hash', HDEL='hash', HINCRBY='hash', SADD='set', SREM='set', ZADD='zset',
  ZINCRBY='zset', ZREM='zset', RPUSH='list', LPUSH='list', LTRIM='list', XADD='stream',
  INCRBY='string', PFADD='string'}
local writes, pos = {}, 4
for i = 1, tonumber(ARGV[3]) do
  local cmd, nargs = ARGV[pos], tonumber(ARGV[pos + 1])
  local args = {}
  for j = 1, nargs do args[j] = ARGV[pos + 1 + j] end
  pos = pos + 2 + nargs
  local key = KEYS[3 + i]
  local want = expect[cmd]
  if want then
    local have = redis.call('TYPE', key)['ok']
    if have ~= 'none' and have ~= want then
      return redis.error_reply('WRONGTYPE ' .. cmd .. ' on ' .. key .. ' which holds a ' .. have)
    end
  end
  if cmd == 'INCRBY' then
    local v = redis.call('GET', key)
    if v and not tonumber(v) then return redis.error_reply('NOTINT ' .. key) end
  elseif cmd == 'HINCRBY' then
    local v = redis.call('HGET', key, args[1])
    if v and not tonumber(v) then return redis.error_reply('NOTINT ' .. key .. ' ' .. args[1]) end
  end
  writes[i] = {cmd, key, args}
end
redis.call('SET', KEYS[1], ARGV[2], 'EX', ARGV[1])
for i = 1, #writes do
  local w = writes[i]
  redis.call(w[1], w[2], unpack(w[3]))
end
local m = tonumber(ARGV[pos])
local status_ttl, now = ARGV[pos + 1], ARGV[pos + 2]
pos = pos + 3
for i = 1, m do
  redis.call('XADD', KEYS[2], '*', 'm', ARGV[pos])
  local status = KEYS[3 + #writes + i]
  redis.call('HSET', status, 'status', 'queued', 'queued_at', now)
  redis.call('EXPIRE', status, status_ttl)
  pos = pos + 1
end
redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[pos], '*', 'e', ARGV[pos + 1])
return false
"""


class Committer:
    """Loads the script once per client and remembers which outboxes it registered."""

    def __init__(self, client: redis.Redis, dedupe_seconds: int, status_seconds: int = 7 * 86400) -> None:
        self.redis = client
        self.dedupe_seconds = dedupe_seconds
        self.status_seconds = status_seconds
        self._script = client.register_script(_SCRIPT)
        self._registered: set[str] = set()

    def commit(
        self,
        keys: Keys,
        seen_key: str,
        outcome: dict[str, Any],
        writes: Sequence[Write],
        outgoing: Sequence[dict[str, Any]],
        log_entry: dict[str, Any],
    ) -> dict[str, Any] | None:
        """Commit; return None if committed, or the earlier outcome of a duplicate."""
        outbox = keys.outbox
        if outgoing:
            self.register(outbox)  # before the stream can hold anything
        argv: list[Any] = [self.dedupe_seconds, json.dumps(outcome, ensure_ascii=False), len(writes)]
        for write in writes:
            argv += [write.command.upper(), len(write.args), *write.args]
        argv += [len(outgoing), self.status_seconds, int(time.time() * 1000)]
        argv += [json.dumps(m, ensure_ascii=False) for m in outgoing]
        argv += [LOG_MAXLEN, json.dumps(log_entry, ensure_ascii=False)]
        statuses = [keys.status(m["id"]) for m in outgoing]
        stored = self._script(keys=[seen_key, outbox, keys.key_for("log"), *(w.key for w in writes), *statuses], args=argv)
        if stored is None:
            return None
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
