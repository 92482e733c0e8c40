-- Commit one inbound message: its record (the dedupe mark), every state write, every outgoing message with
-- its record, atomically; or, if the message was committed before, return what it got then. Without an
-- inbound message (ARGV[2] is "": an administrator's change), the same minus the record and the dedupe.
-- Redis does not roll back a script that fails half-way, so every write is checked (key type, integer values
-- for increments) before the first one runs. Preceded by includes/records.lua.
-- Input:
--   KEYS[1]   the inbound store's prefix
--   KEYS[2]   the outbound store's prefix
--   KEYS[3]   the text store's prefix
--   KEYS[4]   the outbox stream
--   KEYS[5..] one key per guard, the common writes' keys, then per branch its writes' keys
--   ARGV[1]   one MessagePack array (a message with many writes costs one argument, not dozens):
--             [stores, inbound, guards, common, branches]. stores: [[span, retention] (ms) of the inbound,
--             outbound and text stores]; inbound: [received (ms), from, to (both as records keep addresses),
--             text] (or [] without one); guards: [[kind, field, most, by, members], ...] (kind: cap, unset,
--             in or not-in, as effects.GuardKind); common and each branch's writes: [[command, [args...]], ...]
--             (args as text); branches: [[shared, extra, writes, messages], ...], one more than there are
--             guards. shared: the outcome's JSON that many messages share (stored once as a text; 0 without an
--             inbound message); extra: what of it is this message's own (JSON, or ""); messages: [[outbox
--             entry (JSON), field, record, text], ...], the record packed by records.py (see rec_out_new).
--             A field or a text (inbound text, shared, a message's text) is named by its index in ARGV.
--   ARGV[2]   the inbound message's record field ("" for none)
--   ARGV[3..] the outgoing messages' record fields, and digest-then-text pairs
-- Output: the committed branch's index (0 when every guard held), or, for a message committed before, the
--   JSON text [shared, replies, extra] of what it got then
local a = cmsgpack.unpack(ARGV[1])
local inbound = {KEYS[1], a[1][1][1], a[1][1][2]}
local outbound = {KEYS[2], a[1][2][1], a[1][2][2]}
local texts = {KEYS[3], a[1][3][1], a[1][3][2]}
local now = rec_now()
local in_field = ARGV[2]
local seen_at = in_field ~= '' and rec_find(inbound, in_field, now, false)
if seen_at then
  local rec = cmsgpack.unpack(redis.call('HGET', seen_at, in_field))
  return cjson.encode({rec_get(texts, rec[5], now) or '{}', rec[6] or 0, rec[7] or ''})
end
local function is_int(v) return string.len(v) < 20 and string.match(v, '^-?%d+$') ~= nil end
local guards, kpos = a[3], 5
local chosen = 0
local bumps = {}
local function holds_members(key, want, members)  -- each of members is (want) or is not in the set key
  local t = redis.call('TYPE', key)['ok']
  if t ~= 'zset' and t ~= 'set' and t ~= 'none' then
    return nil, 'WRONGTYPE guard on ' .. key .. ' which holds a ' .. t
  end
  for m = 1, #members do
    local found = false
    if t == 'zset' then found = redis.call('ZSCORE', key, members[m]) ~= false
    elseif t == 'set' then found = redis.call('SISMEMBER', key, members[m]) == 1 end
    if found ~= want then return false end
  end
  return true
end
for g = 1, #guards do
  local key, kind, field, most, by = KEYS[kpos], guards[g][1], guards[g][2], guards[g][3], tonumber(guards[g][4])
  kpos = kpos + 1
  if chosen == 0 then
    if kind == 'unset' then
      if redis.call('EXISTS', key) == 1 then chosen = g end
    elseif kind == 'in' or kind == 'not-in' then
      local ok, problem = holds_members(key, kind == 'in', guards[g][5])
      if problem then return redis.error_reply(problem) end
      if not ok then chosen = g end
    else
      local v
      if field == '' then v = redis.call('GET', key) else v = redis.call('HGET', key, field) end
      if v and not is_int(v) then return redis.error_reply('NOTINT ' .. key .. ' ' .. field) end
      if tonumber(v or '0') + by > tonumber(most) then chosen = g else bumps[#bumps + 1] = {key, field, by} end
    end
  end
end
local expect
local writes, typed = {}, {}
local function take_writes(list, mine)
  if #list > 0 and not expect then
    expect = {HSET='hash', HDEL='hash', HINCRBY='hash', SADD='set', SREM='set', ZADD='zset', ZINCRBY='zset',
      ZREM='zset', RPUSH='list', LPUSH='list', LTRIM='list', XADD='stream', INCRBY='string', PFADD='string'}
  end
  for i = 1, #list do
    local cmd, args, key = list[i][1], list[i][2], KEYS[kpos]
    kpos = kpos + 1
    if mine then
      local want = expect[cmd]
      if want and typed[key] and typed[key] ~= want then
        return 'WRONGTYPE ' .. cmd .. ' on ' .. key .. ' which this message also writes as a ' .. typed[key]
      elseif want and typed[key] ~= want then
        local have = redis.call('TYPE', key)['ok']
        if have ~= 'none' and have ~= want then
          return 'WRONGTYPE ' .. cmd .. ' on ' .. key .. ' which holds a ' .. have
        end
        typed[key] = want
      end
      if cmd == 'INCRBY' then
        local v = redis.call('GET', key)
        if v and not is_int(v) then return 'NOTINT ' .. key end
      elseif cmd == 'HINCRBY' then
        local v = redis.call('HGET', key, args[1])
        if v and not is_int(v) then return 'NOTINT ' .. key .. ' ' .. args[1] end
      end
      writes[#writes + 1] = {cmd, key, args}
    end
  end
end
local problem = take_writes(a[4], true)
if problem then return redis.error_reply(problem) end
local branches = a[5]
local mine
for b = 1, #branches do
  problem = take_writes(branches[b][3], b - 1 == chosen)
  if problem then return redis.error_reply(problem) end
  if b - 1 == chosen then mine = branches[b] end
end
for i = 1, (chosen == 0 and #bumps or 0) do  -- a failed guard: no counter moves
  local bump = bumps[i]
  if bump[2] == '' then redis.call('INCRBY', bump[1], bump[3]) else redis.call('HINCRBY', bump[1], bump[2], bump[3]) end
end
for i = 1, #writes do
  local w = writes[i]
  redis.call(w[1], w[2], unpack(w[3]))
end
local messages = mine[4]
local base = math.floor(now / outbound[2]) * outbound[2]
for i = 1, #messages do
  local m = messages[i]
  redis.call('XADD', KEYS[4], '*', 'm', m[1])
  rec_put(outbound, ARGV[m[2]], rec_out_new(m[3], m[4], base, texts, now), now)
end
if in_field == '' then return chosen end
local i = a[2]
local in_base = math.floor(now / inbound[2]) * inbound[2]
local rec = {i[1] - in_base, i[2], i[3], rec_text(texts, i[4], now),
  rec_intern(texts, ARGV[mine[1]], ARGV[mine[1] + 1], now), #messages, mine[2]}
rec_put(inbound, in_field, cmsgpack.pack(rec), now)
return chosen
