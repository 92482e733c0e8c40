-- Move retries that are due back into their outbox, atomically (one scope, one slot).
-- Input:
--   KEYS[1]   the scope's retries (sorted set: outbox entry -> when it is due, ms)
--   KEYS[2]   the outbox stream
--   ARGV[1]   now (ms)
--   ARGV[2]   how many to move at most
-- Output: how many were moved
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
for _, m in ipairs(due) do
  redis.call('XADD', KEYS[2], '*', 'm', m)
  redis.call('ZREM', KEYS[1], m)
end
return #due
