-- Apply a delivery report to an outbound record. A report after "delivered" changes nothing: reports may
-- arrive out of order. Preceded by includes/records.lua.
-- Input:
--   KEYS[1]   the outbound store's prefix
--   KEYS[2]   the text store's prefix
--   KEYS[3]   the scope's live counts of this minute (kodeord.watch.live)
--   KEYS[4]   its traffic counts of this day
--   ARGV[1]   the outbound store's bucket span (ms)
--   ARGV[2]   its retention (ms)
--   ARGV[3]   the text store's bucket span (ms)
--   ARGV[4]   its retention (ms)
--   ARGV[5]   the message's record field
--   ARGV[6]   the status: delivered or failed
--   ARGV[7]   the report's time (ms)
--   ARGV[8]   the digest of the report's words
--   ARGV[9]   the words
--   ARGV[10]  this second
--   ARGV[11]  this hour
--   ARGV[12]  how long the second's counts are kept (s)
-- Output: {known, latency, changed}: known 0 for an unknown message, else 1; the ms from the message's
--   acceptance by the gateway to this report (-1 if not known); changed 1 if the report changed the status
--   (and then it is counted, as delivered or failed)
local out = {KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2])}
local texts = {KEYS[2], tonumber(ARGV[3]), tonumber(ARGV[4])}
local now = rec_now()
local f = ARGV[5]
local key, base = rec_find(out, f, now, false)
if not key then return {0, -1, 0} end
local packed = redis.call('HGET', key, f)
local rec = cmsgpack.unpack(packed)
if rec[1] == 2 then return {1, -1, 0} end
local fields = {status = ARGV[6], reported_at = ARGV[7], report = 8}
redis.call('HSET', key, f, rec_out_merge(packed, fields, base, texts, now, true))
redis.call('HINCRBY', KEYS[3], ARGV[10] .. '|' .. ARGV[6], 1)
redis.call('EXPIRE', KEYS[3], ARGV[12])
redis.call('HINCRBY', KEYS[4], ARGV[11] .. '|' .. ARGV[6], 1)
local sent_at = rec[8]
if type(sent_at) == 'number' then return {1, tonumber(ARGV[7]) - base - sent_at, 1} end
return {1, -1, 1}
