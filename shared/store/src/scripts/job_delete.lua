-- Delete a job with its schedules, runs, streams and event logs.
-- KEYS 1 job hash  2 schedules hash  3 job runs stream  4 job builds hash  5 jobs zset
--   6 job names hash  7 tenant runs stream  8 job done stream  9 tenant schedule->job hash
--   10..13 the job's outcome indexes.
-- ARGV 1 job id  2 job name  3 key prefix of run hashes  4 key prefix of schedule streams
--   ("<ns>:{t:<tenant>}:sched:").
-- Returns 1 deleted, 0 no such job.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local entries = redis.call('XRANGE', KEYS[3], '-', '+')
for i = 1, #entries do
  redis.call('XDEL', KEYS[7], entries[i][1])
  local fields = entries[i][2]
  for j = 1, #fields, 2 do
    if fields[j] == 'r' then
      redis.call('DEL', ARGV[3] .. fields[j + 1], ARGV[3] .. fields[j + 1] .. ':log')
    end
  end
end
local scheds = redis.call('HKEYS', KEYS[2])
for i = 1, #scheds do
  redis.call('DEL', ARGV[4] .. scheds[i] .. ':runs', ARGV[4] .. scheds[i] .. ':events',
    ARGV[4] .. scheds[i] .. ':rank')
  redis.call('HDEL', KEYS[9], scheds[i])
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[8], KEYS[10], KEYS[11], KEYS[12], KEYS[13],
  KEYS[1] .. ':tails')
redis.call('ZREM', KEYS[5], ARGV[1])
if redis.call('HGET', KEYS[6], ARGV[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[6], ARGV[2])
end
return 1
