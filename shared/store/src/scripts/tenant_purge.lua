-- One step of a tenant's purge: a SCAN step of the server that holds the tenant's slot (its
-- keys share the hash tag), deleting what it finds of the tenant's keys but its hash.
--
-- KEYS 1 the tenant hash (it routes the call to the tenant's slot; the caller keeps it as a
--      tombstone)
-- ARGV 1 the SCAN cursor  2 the pattern of the tenant's keys  3 keys to look at per step
-- Returns {the next cursor ('0' when the scan is over), keys deleted}.

local found = redis.call('SCAN', ARGV[1], 'MATCH', ARGV[2], 'COUNT', ARGV[3])
local n = 0
for _, k in ipairs(found[2]) do
  if k ~= KEYS[1] then
    n = n + redis.call('UNLINK', k)
  end
end
return { found[1], n }
