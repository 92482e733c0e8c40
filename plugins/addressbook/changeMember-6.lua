-- Add, approve, reject or remove one member of a list, with its consent record and, if given, a notice to the
-- person in the outbox (its status record is made when it is sent). Nobody who unsubscribed is added back.
-- Input:
--   KEYS[1]   the list's members
--   KEYS[2]   its pending joiners
--   KEYS[3]   its unsubscribed
--   KEYS[4]   its contacts
--   KEYS[5]   the member's consent records
--   KEYS[6]   the outbox stream
--   ARGV[1]   the operation: add, approve, reject or remove
--   ARGV[2]   the member's id
--   ARGV[3]   the consent record
--   ARGV[4]   the contact (JSON, or "" for none)
--   ARGV[5]   the notice's outbox entry ("" for none)
--   ARGV[6]   how many consent records to keep
-- Output: ok, unsubscribed, not-pending or not-member
local op, id = ARGV[1], ARGV[2]
if op ~= 'remove' and redis.call('ZSCORE', KEYS[3], id) then return 'unsubscribed' end
if op == 'add' then
  redis.call('ZADD', KEYS[1], 0, id)
  redis.call('ZREM', KEYS[2], id)
  if ARGV[4] ~= '' then redis.call('HSET', KEYS[4], id, ARGV[4]) end
elseif op == 'approve' or op == 'reject' then
  if not redis.call('ZSCORE', KEYS[2], id) then return 'not-pending' end
  redis.call('ZREM', KEYS[2], id)
  if op == 'approve' then redis.call('ZADD', KEYS[1], 0, id) end
elseif op == 'remove' then
  local was = redis.call('ZREM', KEYS[1], id) + redis.call('ZREM', KEYS[2], id)
  if was == 0 then return 'not-member' end
  redis.call('HDEL', KEYS[4], id)
end
redis.call('RPUSH', KEYS[5], ARGV[3])
redis.call('LTRIM', KEYS[5], -tonumber(ARGV[6]), -1)
if ARGV[5] ~= '' then redis.call('XADD', KEYS[6], '*', 'm', ARGV[5]) end
return 'ok'
