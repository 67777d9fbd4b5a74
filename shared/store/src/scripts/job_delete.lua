-- Delete a job with its schedules, runs, streams and event logs.
-- KEYS 1 job hash  2 schedules hash  3 job runs stream  4 job builds hash  5 jobs zset
--   6 job names hash  7 tenant runs stream  8 job done stream  9 tenant schedule->job hash
--   10 the job's live-tail marker  11 the run-id hash  12 the tenant's live runs
-- ARGV 1 job id  2 job name, then the templates (a prefix and a suffix to put around an id)
--   of the keys named by data: 3-4 a run's unfinished record, 5-6 a run's log (by run id),
--   7-8 a schedule's positions, 9-10 its events (by schedule id), 11.. the suffixes of a
--   schedule's positions by outcome (after the prefix of 7).
-- Returns 1 deleted, 0 no such job.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local function key(i, id)
  return ARGV[i] .. id .. ARGV[i + 1]
end
-- Finished runs: their entries in the tenant's stream, their run ids and extra log lines.
local entries = redis.call('XRANGE', KEYS[3], '-', '+')
for i = 1, #entries do
  redis.call('XDEL', KEYS[7], entries[i][1])
  local id = entries[i][2][2]
  redis.call('HDEL', KEYS[11], id)
  redis.call('DEL', key(5, id))
end
-- Unfinished runs: their records too.
local prefix = ARGV[1] .. '|'
for _, m in ipairs(redis.call('ZRANGE', KEYS[12], 0, -1)) do
  if string.sub(m, 1, #prefix) == prefix then
    local id = string.match(m, '([^|]*)$')
    redis.call('DEL', key(3, id), key(5, id))
    redis.call('HDEL', KEYS[11], id)
    redis.call('ZREM', KEYS[12], m)
  end
end
-- Its schedules, current and past (every schedule that has a number in the job hash).
local scheds = redis.call('HKEYS', KEYS[2])
local n = tonumber(redis.call('HGET', KEYS[1], 'so') or '0')
for k = 1, n do
  local s = redis.call('HGET', KEYS[1], 's#' .. string.format('%d', k))
  if s then
    scheds[#scheds + 1] = s
  end
end
for i = 1, #scheds do
  redis.call('DEL', key(7, scheds[i]), key(9, scheds[i]))
  for k = 11, #ARGV do
    redis.call('DEL', ARGV[7] .. scheds[i] .. ARGV[k])
  end
  redis.call('HDEL', KEYS[9], scheds[i])
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[8], KEYS[10])
redis.call('ZREM', KEYS[5], ARGV[1])
if redis.call('HGET', KEYS[6], ARGV[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[6], ARGV[2])
end
return 1
