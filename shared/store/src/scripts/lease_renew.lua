-- Extend the lease if the caller still holds it (compare-and-extend).
-- KEYS 1 lease.  ARGV 1 token "<owner>:<epoch>"  2 TTL (ms).  Returns 1 renewed, 0 lost.
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
