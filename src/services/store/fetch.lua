-- Every live value of one AOR (read-only; expired ones are skipped, not
-- deleted). KEYS[1]: the AOR's hash. Returns {now, value...}.
local now = tonumber(redis.call('TIME')[1])
local out = { now }
local all = redis.call('HGETALL', KEYS[1])
for i = 2, #all, 2 do
  local e = string.match(all[i], '^(%d+) ')
  if e and tonumber(e) > now then out[#out + 1] = all[i] end
end
return out
