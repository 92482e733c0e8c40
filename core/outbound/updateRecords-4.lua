-- Write outbound records of one scope, never undoing a delivery report's verdict. For each update, fields are
-- written over the record whose field is ARGV[field]; new (or 0) holds the fields of a record made when there
-- is none yet (a broadcast's messages have none before they are sent). Without new, an update of an unknown
-- message is dropped. A text field (text, reason, report) is the index of its digest. An update may also
-- name where its record was found ([..., shard key, bucket start]): it is written there unless it is gone.
-- Preceded by includes/records.lua.
-- Input:
--   KEYS[1]   the outbound store's prefix
--   KEYS[2]   the text store's prefix
--   KEYS[3]   the scope's live counts of this minute (kodeord.watch.live)
--   KEYS[4]   its traffic counts of this day
--   ARGV[1]   JSON {"out": [span, retention], "text": [span, retention], "u": [[field, fields, new], ...],
--             "live": [second, hour, seconds kept]}; an update that makes a status sent or failed is counted
--   ARGV[2..] record fields, and digest-then-text pairs, which the JSON names by their index in ARGV
-- Output: how many records were written
local a = cjson.decode(ARGV[1])
local out = {KEYS[1], a.out[1], a.out[2]}
local texts = {KEYS[2], a.text[1], a.text[2]}
local now = rec_now()
local written = 0
local counted = {}
local function count(fields)
  local s = fields.status
  if s == 'sent' or s == 'failed' then counted[s] = (counted[s] or 0) + 1 end
end
for _, u in ipairs(a.u) do
  local f, fields, new = ARGV[u[1]], u[2], u[3]
  local key, base, packed = u[4], u[5], nil
  if key then packed = redis.call('HGET', key, f) end
  if not packed then
    key, base = rec_find(out, f, now, false)
    if key then packed = redis.call('HGET', key, f) end
  end
  if key then
    redis.call('HSET', key, f, rec_out_merge(packed, fields, base, texts, now, false))
    written = written + 1
    count(fields)
  elseif new ~= 0 then
    for k, v in pairs(fields) do new[k] = v end
    base = math.floor(now / out[2]) * out[2]
    rec_put(out, f, rec_out_merge(nil, new, base, texts, now, false), now)
    written = written + 1
    count(fields)
  end
end
local live = a.live
for metric, n in pairs(counted) do
  redis.call('HINCRBY', KEYS[3], live[1] .. '|' .. metric, n)
  redis.call('HINCRBY', KEYS[4], live[2] .. '|' .. metric, n)
end
if next(counted) then redis.call('EXPIRE', KEYS[3], live[3]) end
return written
