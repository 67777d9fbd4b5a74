-- Claims a tenant's notes due (notes.lua): each is moved a lease ahead in the notes due, so no
-- other claim takes it while its claimer calls; a note gone meanwhile leaves the notes due.
--
-- KEYS 1 the tenant's notes due
-- ARGV 1 now (ms)  2 the lease (ms)  3 the most notes to claim  4, 5 the template of a note's key
-- Returns the notes claimed: each its id and its fields (name, value, ...).

local due = KEYS[1]
local ids = redis.call('ZRANGEBYSCORE', due, '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
local held = tonumber(ARGV[1]) + tonumber(ARGV[2])
local out = {}
for _, id in ipairs(ids) do
  local f = redis.call('HGETALL', ARGV[4] .. id .. ARGV[5])
  if #f == 0 then
    redis.call('ZREM', due, id)
  else
    redis.call('ZADD', due, held, id)
    out[#out + 1] = { id, f }
  end
end
return out
