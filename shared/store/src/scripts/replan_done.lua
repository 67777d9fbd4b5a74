-- Clears replan markers once their next fires are in the due index: each only while it still
-- holds the value the caller read or wrote (a newer write's marker stays for its own writer).
--
-- KEYS 1 the tenant's replan hash
-- ARGV pairs: a marker's field (`<job id>|<schedule id>`), the value it must still hold
-- Returns the markers cleared.

local n = 0
for i = 1, #ARGV, 2 do
  if redis.call('HGET', KEYS[1], ARGV[i]) == ARGV[i + 1] then
    redis.call('HDEL', KEYS[1], ARGV[i])
    n = n + 1
  end
end
return n
