-- Give a lease that still names a dead sender to a new job.
-- Input:
--   KEYS[1]   the lease
--   ARGV[1]   what it must hold now
--   ARGV[2]   the new token
--   ARGV[3]   the new lease's time to live (ms)
-- Output: 1 if taken over, else 0
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
return redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) and 1 or 0
