-- Gives a tenant that has no signing secret (one created before tenants had them) the one
-- offered, unless another caller gave it one first: every caller gets the same secret.
--
-- KEYS 1 the tenant hash
-- ARGV 1 the sealed secret to keep if the tenant has none
-- Returns the tenant's sealed secret (its own, or ARGV 1 now), or false when the tenant does
-- not exist or is being deleted (nothing is written then).

if redis.call('HEXISTS', KEYS[1], 'name') == 0 or redis.call('HEXISTS', KEYS[1], 'deleting') == 1 then
  return false
end
redis.call('HSETNX', KEYS[1], 'signing_secret', ARGV[1])
return redis.call('HGET', KEYS[1], 'signing_secret')
