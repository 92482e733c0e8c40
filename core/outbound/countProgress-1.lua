-- Add to one count of a fan-out's progress record, unless the record has expired (it stays gone).
-- Input:
--   KEYS[1]   the progress record
--   ARGV[1]   the count: sent, failed, delivered or undelivered
--   ARGV[2]   how many to add
-- Output: the new count, or nil where there is no record
if redis.call('EXISTS', KEYS[1]) == 1 then return redis.call('HINCRBY', KEYS[1], ARGV[1], ARGV[2]) end
