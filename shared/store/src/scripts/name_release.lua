-- Releases a job name that names no stored job (left by a crash of an older version between
-- claiming the name and writing the job).
--
-- KEYS 1 the tenant's job names  2 the job hash the name points to
-- ARGV 1 the name  2 the job id it must still name
-- Returns 1 when released, 0 otherwise.

if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] and redis.call('EXISTS', KEYS[2]) == 0 then
  return redis.call('HDEL', KEYS[1], ARGV[1])
end
return 0
