-- Look records up by field. Preceded by includes/records.lua.
-- Input:
--   KEYS[1]   a store's prefix
--   ARGV[1]   the store's bucket span (ms)
--   ARGV[2]   its retention (ms)
--   ARGV[3..] fields
-- Output: for each field, its value, its bucket's start (ms) and its shard key, or nil, 0 and nil where there
--   is none
local store = {KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])}
local now = rec_now()
local found = {}
for i = 3, #ARGV do
  local key, base = rec_find(store, ARGV[i], now, false)
  if key then
    found[#found + 1] = redis.call('HGET', key, ARGV[i])
    found[#found + 1] = base
    found[#found + 1] = key
  else
    found[#found + 1] = false
    found[#found + 1] = 0
    found[#found + 1] = false
  end
end
return found
