-- Release an outbox stream's lease if it still holds the releasing sender's token.
-- Input:
--   KEYS[1]   the lease
--   ARGV[1]   the token it must hold
-- Output: 1 if released, else 0
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
