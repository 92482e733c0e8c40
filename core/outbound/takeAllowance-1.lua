-- Take up to ARGV[1] messages of a gateway's allowance for this second (a fixed one-second window).
-- Input:
--   KEYS[1]   the gateway's counter for this second
--   ARGV[1]   how many messages are wanted
--   ARGV[2]   the allowance per second
-- Output: how many may go now (0 to ARGV[1])
local used = redis.call('INCRBY', KEYS[1], ARGV[1])
if used == tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[1], 2000) end
local over = used - tonumber(ARGV[2])
if over <= 0 then return tonumber(ARGV[1]) end
redis.call('DECRBY', KEYS[1], math.min(over, tonumber(ARGV[1])))
return math.max(0, tonumber(ARGV[1]) - over)
