-- A new job id of the tenant's: its counter, which starts above the highest id of its jobs
-- (ids of an installation that counted for all tenants at once stay unique).
--
-- KEYS 1 the tenant's job id counter  2 the tenant's jobs (score = id)
-- Returns the id.

if redis.call('EXISTS', KEYS[1]) == 0 then
  local top = redis.call('ZRANGE', KEYS[2], -1, -1, 'WITHSCORES')
  redis.call('SET', KEYS[1], top[2] or 0)
end
return redis.call('INCR', KEYS[1])
