-- Delete a job with its schedules, runs, streams and event logs.
-- KEYS 1 job hash  2 schedules hash  3 job runs stream  4 job builds hash  5 jobs zset
--   6 job names hash  7 tenant runs stream  8 job done stream  9 tenant schedule->job hash
--   10 the job's live-tail marker  11.. the job's outcome indexes.
-- ARGV 1 job id  2 job name, then the templates (a prefix and a suffix to put around an id)
--   of the keys named by data: 3-4 a run's record, 5-6 a run's log (by run id),
--   7-8 a schedule's runs, 9-10 its events, 11-12 its rank index (by schedule id).
-- Returns 1 deleted, 0 no such job.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local function key(i, id)
  return ARGV[i] .. id .. ARGV[i + 1]
end
local entries = redis.call('XRANGE', KEYS[3], '-', '+')
for i = 1, #entries do
  redis.call('XDEL', KEYS[7], entries[i][1])
  local fields = entries[i][2]
  for j = 1, #fields, 2 do
    if fields[j] == 'r' then
      redis.call('DEL', key(3, fields[j + 1]), key(5, fields[j + 1]))
    end
  end
end
local scheds = redis.call('HKEYS', KEYS[2])
for i = 1, #scheds do
  redis.call('DEL', key(7, scheds[i]), key(9, scheds[i]), key(11, scheds[i]))
  redis.call('HDEL', KEYS[9], scheds[i])
end
local gone = { KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[8], KEYS[10] }
for i = 11, #KEYS do
  gone[#gone + 1] = KEYS[i]
end
redis.call('DEL', unpack(gone))
redis.call('ZREM', KEYS[5], ARGV[1])
if redis.call('HGET', KEYS[6], ARGV[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[6], ARGV[2])
end
return 1
