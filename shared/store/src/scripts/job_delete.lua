-- Delete a job with its schedules, runs, streams and event logs.
-- KEYS 1 job hash  2 schedules hash  3 job runs stream  4 jobs zset  5 job names hash
--   6 tenant runs stream  7 job done stream  8 tenant schedule->job hash  9 the job's
--   live-tail marker  10 the tenant's live runs  11 the tenant's runs acknowledged
--   asynchronously (the deadline's index)  12, 13 the tenant's unreachable and expiring
--   schedules (`<job>|<schedule>` members)  14.. the tenant's runs of each outcome
-- ARGV 1 job id  2 job name, then the templates (a prefix and a suffix to put around an id)
--   of the keys named by data: 3-4 a run's unfinished record, 5-6 a run's log (by run id),
--   7-8 a schedule's positions, 9-10 its events (by schedule id); 11 the prefix of the
--   tenant's run-id buckets, 12 the prefix of the job's run-number buckets, 13.. the job's
--   positions and its positions by outcome.
-- Returns 1 deleted, 0 no such job.
if redis.call('EXISTS', KEYS[1]) == 0 then
  return 0
end
local function key(i, id)
  return ARGV[i] .. id .. ARGV[i + 1]
end
local function forget_id(id)
  redis.call('HDEL', ARGV[11] .. string.sub(id, 1, 4), string.sub(id, 5))
  redis.call('DEL', key(5, id))
end
-- Finished runs: their entries in the tenant's stream, their run ids and extra log lines.
local entries = redis.call('XRANGE', KEYS[3], '-', '+')
for i = 1, #entries do
  redis.call('XDEL', KEYS[6], entries[i][1])
  for k = 14, #KEYS do
    redis.call('XDEL', KEYS[k], entries[i][1])
  end
  forget_id(entries[i][2][2])
end
-- Unfinished runs: their records and their members of the live set and the deadline's index.
local prefix = ARGV[1] .. '|'
for _, m in ipairs(redis.call('ZRANGE', KEYS[10], 0, -1)) do
  if string.sub(m, 1, #prefix) == prefix then
    local id = string.match(m, '([^|]*)$')
    redis.call('DEL', key(3, id))
    forget_id(id)
    redis.call('ZREM', KEYS[10], m)
    redis.call('ZREM', KEYS[11], m)
  end
end
-- Run numbers: every bucket up to the job's last number.
local last = tonumber(redis.call('HGET', KEYS[1], 'seq') or '0')
for b = 0, math.floor(last / 128) do
  redis.call('DEL', ARGV[12] .. string.format('%d', b))
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
  redis.call('HDEL', KEYS[8], scheds[i])
  redis.call('ZREM', KEYS[12], prefix .. scheds[i])
  redis.call('ZREM', KEYS[13], prefix .. scheds[i])
end
for k = 13, #ARGV do
  redis.call('DEL', ARGV[k])
end
redis.call('DEL', KEYS[1], KEYS[2], KEYS[3], KEYS[7], KEYS[9])
redis.call('ZREM', KEYS[4], ARGV[1])
if redis.call('HGET', KEYS[5], ARGV[2]) == ARGV[1] then
  redis.call('HDEL', KEYS[5], ARGV[2])
end
return 1
