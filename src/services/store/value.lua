-- The stored value's parts (core/location/shared.rs): prepended to the
-- scripts that read values (register.lua, assert.lua) by scripts.rs.
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
