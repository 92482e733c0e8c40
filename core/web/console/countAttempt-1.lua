-- Count one login attempt in a window that starts at the first attempt.
-- Input:
--   KEYS[1]   the counter (of an account, or of a client address)
--   ARGV[1]   the window (seconds)
-- Output: the attempts in the window, this one included
local count = redis.call('INCR', KEYS[1])
if count == 1 or redis.call('TTL', KEYS[1]) < 0 then
  redis.call('EXPIRE', KEYS[1], ARGV[1])
end
return count
