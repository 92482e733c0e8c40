-- records_find.lua: look records up by field.
-- KEYS[1]: a store's prefix. ARGV[1]: the store's bucket span (ms); ARGV[2]: its retention (ms); ARGV[3..]:
-- fields. Returns, for each field, its value and its bucket's start (ms), or nil and 0 where there is none.
local store = {KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])}
local now = rec_now()
local found = {}
for i = 3, #ARGV do
  local key, base = rec_find(store, ARGV[i], now, false)
  if key then
    found[#found + 1] = redis.call('HGET', key, ARGV[i])
    found[#found + 1] = base
  else
    found[#found + 1] = false
    found[#found + 1] = 0
  end
end
return found
