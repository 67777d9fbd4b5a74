-- Notes when an API key was last accepted, unless the key has been deleted meanwhile (a
-- revoked key is not made again).
--
-- KEYS 1 the key's hash
-- ARGV 1 now (ms)
-- Returns 1 when noted, 0 when the key is gone.

if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
redis.call('HSET', KEYS[1], 'used', ARGV[1])
return 1
