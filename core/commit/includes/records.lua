-- records.lua: the message-record store, included at the top of every script that reads or writes records.
-- See kodeord/records.py for the layout. A store is {prefix, span_ms, keep_ms}; a record's field is the
-- 10-byte SHA-1 digest of its id, a text's the 8-byte digest of the text, both made by the caller (Python's
-- SHA-1 is many times faster than hashing here) and passed as arguments.

local function rec_now()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- The generation the n-th record of a bucket goes to: the first REC_FIRST records to generation 0, each
-- further generation holding REC_GROWTH times as many, in REC_GROWTH times as many shards.
local function rec_gen(n)
  local g, cap = 0, REC_FIRST
  while n > cap and g < REC_LAST_GEN do n = n - cap; cap = cap * REC_GROWTH; g = g + 1 end
  return g
end

-- Generation g has 64 * REC_GROWTH^g shards (REC_GROWTH a power of two), chosen by the first 24 bits of the field.
local function rec_shard(head, field, g)
  local x = string.byte(field, 1) * 65536 + string.byte(field, 2) * 256 + string.byte(field, 3)
  return head .. ':' .. g .. ':' .. math.floor(x * 64 * REC_GROWTH ^ g / 16777216)
end

-- The current bucket of `store` at `now` and its keys' common head (worked out once per script call: `now` is
-- read once).
local function rec_head(store, now)
  local b = store[4]
  if not b then
    b = math.floor(now / store[2])
    store[4], store[5] = b, store[1] .. ':' .. b
  end
  return b, store[5]
end

-- The shard key holding `field` and the start (ms) of its bucket, or nil: the current bucket and the two
-- before it (the current one alone if `only_current`), newest generation first.
local function rec_find(store, field, now, only_current)
  local span = store[2]
  local b, head = rec_head(store, now)
  local heads = {head}
  local counts
  if only_current then
    counts = {redis.call('GET', head .. ':n')}
  else
    heads[2], heads[3] = store[1] .. ':' .. (b - 1), store[1] .. ':' .. (b - 2)
    counts = redis.call('MGET', head .. ':n', heads[2] .. ':n', heads[3] .. ':n')
  end
  for i = 1, #heads do
    local n = tonumber(counts[i] or '0')
    if n > 0 then
      for g = rec_gen(n), 0, -1 do
        local key = rec_shard(heads[i], field, g)
        if redis.call('HEXISTS', key, field) == 1 then return key, (b - i + 1) * span end
      end
    end
  end
  return nil
end

-- Store a new record in the current bucket; return its shard key and the bucket's start (ms). The bucket's
-- keys expire together, `keep` after the bucket ends.
local function rec_put(store, field, value, now)
  local span = store[2]
  local b, head = rec_head(store, now)
  local n = redis.call('INCR', head .. ':n')
  local key = rec_shard(head, field, rec_gen(n))
  local ends = (b + 1) * span + store[3]
  redis.call('HSET', key, field, value)
  redis.call('PEXPIREAT', key, ends)
  if n == 1 then redis.call('PEXPIREAT', head .. ':n', ends) end
  return key, b * span
end

-- Store `text` under its digest in the current bucket unless it is there already; return the digest.
local function rec_intern(store, digest, text, now)
  if not rec_find(store, digest, now, true) then rec_put(store, digest, text, now) end
  return digest
end

-- A text as a record holds it: a short one in the record itself ({text}: shorter than a reference), a longer one
-- by the digest at ARGV[at] of the text at ARGV[at + 1], stored once in the text store.
local REC_INLINE = 16
local function rec_text(store, at, now)
  local text = ARGV[at + 1]
  if #text <= REC_INLINE then return {text} end
  return rec_intern(store, ARGV[at], text, now)
end

-- The value of a stored text (or of any record) by its digest, or nil.
local function rec_get(store, field, now)
  local key = rec_find(store, field, now, false)
  if key then return redis.call('HGET', key, field) end
  return nil
end

-- The outbound record: rec_out() (made by records.py) names its fields in order. Packed forms: status and kind
-- as small numbers, times in ms from the bucket's start, E.164 addresses as numbers, texts (the message, a
-- failure's reason, a delivery report's words) as rec_text keeps them, the rest as text; an empty field
-- is false, and trailing empty fields are left off. A text field's value, as the caller gives it, is the
-- index in ARGV of its digest, the text itself following it. (records.py packs a new record the same way.)
local function rec_address(v)
  local digits = string.match(v, '^%+([1-9]%d*)$')
  if digits and #digits <= 15 then return tonumber(digits) end
  return v
end

-- What rec_pack_value needs, made on first use (most scripts never merge a record): status and kind by their
-- numbers, as rec_names() (made by records.py) lists them from 0.
local REC_CODES
local function rec_codes()
  if not REC_CODES then
    REC_CODES = {status = {}, kind = {},
      times = {queued_at = true, sent_at = true, reported_at = true, failed_at = true, next_at = true},
      texts = {text = true, report = true, reason = true}}
    local states, kinds = rec_names()
    for i, name in ipairs(states) do REC_CODES.status[name] = i - 1 end
    for i, name in ipairs(kinds) do REC_CODES.kind[name] = i - 1 end
  end
  return REC_CODES
end

local function rec_pack_value(name, v, base, texts, now)
  if v == nil or v == '' or v == false then return false end
  local codes = rec_codes()
  if name == 'status' then return codes.status[v] or v end
  if name == 'kind' then return codes.kind[v] or v end
  if codes.times[name] then return tonumber(v) - base end
  if codes.texts[name] then return rec_text(texts, v, now) end
  if name == 'to' or name == 'from' then return rec_address(v) end
  if name == 'attempts' then return tonumber(v) end
  return tostring(v)
end

-- `packed` (or nil: a new record) with `fields` (as the API names them) written over it. A delivery report's
-- verdict stays: "delivered" is never changed, and "failed" only to "failed" unless `report` (a delivery
-- report may say delivered after a failure).
local function rec_out_merge(packed, fields, base, texts, now, report)
  local rec = packed and cmsgpack.unpack(packed) or {}
  local current = rec[1]
  if fields.status and (current == 2 or (current == 3 and fields.status ~= 'failed' and not report)) then
    fields.status = nil
  end
  local last = 0
  local names = rec_out()
  for i, name in ipairs(names) do
    local v = fields[name]
    if v ~= nil then rec[i] = rec_pack_value(name, v, base, texts, now) end
    if rec[i] == nil then rec[i] = false end
    if rec[i] ~= false then last = i end
  end
  for i = #names, last + 1, -1 do rec[i] = nil end
  return cmsgpack.pack(rec)
end

-- A new outbound record packed by records.py, but for its time (absolute ms; here made relative to the
-- bucket starting at `base`) and its text (the ARGV index of the text's digest, or 0 for none).
local function rec_out_new(rec, text, base, texts, now)
  rec[REC_QUEUED_AT] = rec[REC_QUEUED_AT] - base
  if text ~= 0 then rec[REC_TEXT] = rec_text(texts, text, now) end
  return cmsgpack.pack(rec)
end
