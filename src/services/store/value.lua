-- What register.lua and assert.lua share, prepended to them by scripts.rs:
-- reading a stored value (core/location/shared.rs), splitting an AOR's
-- values at now, and finishing a change.
-- "<expires_at> <updated> <cseq> <node>\n<call-id>\n<json>" -> a table, or
-- nil when it does not parse (such a value counts as dead).
local function parse(v)
  local nl1 = string.find(v, '\n', 1, true)
  if not nl1 then return nil end
  local nl2 = string.find(v, '\n', nl1 + 1, true)
  if not nl2 then return nil end
  local e, u, c, n = string.match(string.sub(v, 1, nl1 - 1), '^(%d+) (%d+) (%d+) (%S+)$')
  if not e then return nil end
  return { v = v, e = tonumber(e), u = tonumber(u), c = tonumber(c), n = n, cid = string.sub(v, nl1 + 1, nl2 - 1) }
end

-- The AOR's values split at `now`: the live ones by key, and the keys of
-- the dead ones (expired, or unreadable).
local function split(key, now)
  local live, dead = {}, {}
  local all = redis.call('HGETALL', key)
  for i = 1, #all, 2 do
    local b = parse(all[i + 1])
    if b and b.e > now then live[all[i]] = b else dead[#dead + 1] = all[i] end
  end
  return live, dead
end

-- After a change: the key lives 60 s past its last binding (or goes when it
-- has none), the other edges hear of it, and the answer is {now, value...}.
local function finish(key, node, now, live)
  local last, out = 0, { now }
  for _, b in pairs(live) do
    if b.e > last then last = b.e end
    out[#out + 1] = b.v
  end
  if last == 0 then
    redis.call('DEL', key)
  else
    redis.call('PEXPIREAT', key, (last + 60) * 1000)
  end
  redis.call('PUBLISH', 'sipedge:inval', node .. ' ' .. string.sub(key, 14, -2))
  return out
end
