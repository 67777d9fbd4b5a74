-- Take the leader lease when it is free, with a new fencing epoch.
-- KEYS 1 lease  2 epoch counter.  ARGV 1 owner id  2 TTL (ms).
-- Returns the new epoch, or 0 when another owner holds the lease.
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
local epoch = redis.call('INCR', KEYS[2])
redis.call('SET', KEYS[1], ARGV[1] .. ':' .. epoch, 'PX', ARGV[2])
return epoch
