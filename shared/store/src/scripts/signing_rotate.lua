-- Rotates a tenant's signing secret: the new one signs from now on, and the one it replaces
-- keeps signing beside it until the end of the overlap (replacing the previous one of an
-- earlier rotation, if any).
--
-- KEYS 1 the tenant hash
-- ARGV 1 the new sealed secret  2 until when (ms) the replaced secret keeps signing, or ''
--      for not at all
-- Returns 1 when a secret was replaced, 2 when the tenant had none (a tenant created before
-- tenants had secrets), 0 when the tenant does not exist or is being deleted (nothing is
-- written).

if redis.call('HEXISTS', KEYS[1], 'name') == 0 or redis.call('HEXISTS', KEYS[1], 'deleting') == 1 then
  return 0
end
local current = redis.call('HGET', KEYS[1], 'signing_secret')
redis.call('HSET', KEYS[1], 'signing_secret', ARGV[1])
if current and ARGV[2] ~= '' then
  redis.call('HSET', KEYS[1], 'signing_secret_prev', current, 'signing_secret_prev_until', ARGV[2])
else
  redis.call('HDEL', KEYS[1], 'signing_secret_prev', 'signing_secret_prev_until')
end
if current then
  return 1
end
return 2
