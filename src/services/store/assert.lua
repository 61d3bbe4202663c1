-- This node's bindings of one AOR become exactly the given ones (see
-- core/location/shared.rs), never overwriting a stored binding with a
-- higher CSeq of the same Call-ID.
-- KEYS[1]: the AOR's hash, `sipedge:loc:{<aor>}`.
-- ARGV: node, then per binding: key, expires, call_id, cseq, json.
-- Returns {now, value...}: every live value afterwards.
local key = KEYS[1]
local node = ARGV[1]
local now = tonumber(redis.call('TIME')[1])

local live, removes = split(key, now)

local listed = {}
for i = 2, #ARGV, 5 do listed[ARGV[i]] = true end
for k, b in pairs(live) do
  if b.n == node and not listed[k] then
    live[k] = nil
    removes[#removes + 1] = k
  end
end

local writes = {}
for i = 2, #ARGV, 5 do
  local k, exp, cid, cseq, json = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], tonumber(ARGV[i + 3]), ARGV[i + 4]
  local s = live[k]
  if not (s and s.cid == cid and s.c > cseq) then
    if exp == 0 then
      if s then removes[#removes + 1] = k end
      live[k] = nil
    else
      local v = (now + exp) .. ' ' .. now .. ' ' .. cseq .. ' ' .. node .. '\n' .. cid .. '\n' .. json
      live[k] = { v = v, e = now + exp }
      writes[#writes + 1] = k
      writes[#writes + 1] = v
    end
  end
end
if #removes > 0 then redis.call('HDEL', key, unpack(removes)) end
if #writes > 0 then redis.call('HSET', key, unpack(writes)) end

return finish(key, node, now, live)
