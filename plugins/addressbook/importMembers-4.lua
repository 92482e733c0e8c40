-- Add many members to a list at once, each with a consent record; nobody who unsubscribed is added back.
-- Input:
--   KEYS[1]   the list's members
--   KEYS[2]   its pending joiners
--   KEYS[3]   its unsubscribed
--   KEYS[4]   its contacts
--   KEYS[5..] each member's consent records, in the order of the members in ARGV
--   ARGV[1]   how many consent records to keep
--   ARGV[2]   the consent record
--   ARGV[3..] per member: its id, then its contact (JSON, or "")
-- Output: the ids skipped as unsubscribed
local skipped = {}
for i = 5, #KEYS do
  local id, contact = ARGV[2 * (i - 4) + 1], ARGV[2 * (i - 4) + 2]
  if redis.call('ZSCORE', KEYS[3], id) then
    skipped[#skipped + 1] = id
  else
    redis.call('ZADD', KEYS[1], 0, id)
    redis.call('ZREM', KEYS[2], id)
    if contact ~= '' then redis.call('HSET', KEYS[4], id, contact) end
    redis.call('RPUSH', KEYS[i], ARGV[2])
    redis.call('LTRIM', KEYS[i], -tonumber(ARGV[1]), -1)
  end
end
return skipped
