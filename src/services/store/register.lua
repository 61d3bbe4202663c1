-- One REGISTER applied to one AOR (see core/location/shared.rs).
-- KEYS[1]: the AOR's hash, `sipedge:loc:{<aor>}`.
-- ARGV: node, call_id, cseq, wildcard (0/1), max_contacts (0: no limit),
--       replace_oldest (0/1), then per contact: key, expires, json.
-- Returns {now, value...} (every live value afterwards), or
-- {'refused', code} with nothing changed.
local key = KEYS[1]
local node, call_id, cseq = ARGV[1], ARGV[2], tonumber(ARGV[3])
local wildcard, max, replace = ARGV[4] == '1', tonumber(ARGV[5]), ARGV[6] == '1'
local now = tonumber(redis.call('TIME')[1])

local live, dead = split(key, now)

local function values()
  local out = { now }
  for _, b in pairs(live) do out[#out + 1] = b.v end
  return out
end

-- RFC 3261 10.3 step 7: an older CSeq of the same Call-ID refuses the
-- request, an equal one is a retransmission.
local named, retransmission = {}, false
for i = 7, #ARGV, 3 do
  named[ARGV[i]] = true
  local b = live[ARGV[i]]
  if b and b.cid == call_id then
    if cseq < b.c then return { 'refused', 500 } end
    if cseq == b.c then retransmission = true end
  end
end
if retransmission then return values() end

if wildcard then
  live = {}
  redis.call('DEL', key)
else
  local writes, removes = {}, {}
  local count = 0
  for _ in pairs(live) do count = count + 1 end
  for i = 7, #ARGV, 3 do
    local k, exp = ARGV[i], tonumber(ARGV[i + 1])
    if exp == 0 then
      if live[k] then count = count - 1 end
      live[k] = nil
      removes[#removes + 1] = k
    else
      if not live[k] then count = count + 1 end
      local v = (now + exp) .. ' ' .. now .. ' ' .. cseq .. ' ' .. node .. '\n' .. call_id .. '\n' .. ARGV[i + 2]
      live[k] = { v = v, e = now + exp, u = now, c = cseq, n = node, cid = call_id }
      writes[#writes + 1] = k
      writes[#writes + 1] = v
    end
  end
  if max > 0 and count > max then
    if not replace then return { 'refused', 403 } end
    local others = {}
    for k, b in pairs(live) do
      if not named[k] then others[#others + 1] = { k = k, u = b.u } end
    end
    table.sort(others, function(a, b) if a.u == b.u then return a.k < b.k end return a.u < b.u end)
    for i = 1, math.min(count - max, #others) do
      live[others[i].k] = nil
      removes[#removes + 1] = others[i].k
    end
  end
  for _, k in ipairs(dead) do removes[#removes + 1] = k end
  if #removes > 0 then redis.call('HDEL', key, unpack(removes)) end
  if #writes > 0 then redis.call('HSET', key, unpack(writes)) end
end

return finish(key, node, now, live)
