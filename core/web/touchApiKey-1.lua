-- Note when an API key was last used, only while the key exists, so that a request racing a revoke cannot
-- bring the key back.
-- Input:
--   KEYS[1]   the key's record
--   ARGV[1]   the time (ISO 8601)
-- Output: nothing
if redis.call('EXISTS', KEYS[1]) == 1 then
  redis.call('HSET', KEYS[1], 'last_used', ARGV[1])
end
