-- A write that changes what fires, in one step with its intent for the due index: the job's
-- definition, a name claimed (and one released), schedules written, and, for each schedule
-- whose next fire the write decides, a marker in the tenant's replan hash. The caller then puts
-- those next fires in the due index (another slot on a Redis Cluster) and clears the markers
-- (`replan_done.lua`); a caller that dies before leaves the markers, which the leader's repair
-- sweep completes. So a stored job never lacks the due entries its write meant to give it.
--
-- KEYS 1 the tenant's job names  2 the job hash  3 the tenant's jobs  4 the job's schedules
--      5 the tenant's schedule -> job map  6 the tenant's replan hash  7 the tenant hash (its
--      own `max_jobs` and `max_schedules` override ARGV 6 and 7)  8 the tenant's inactive
--      one-time schedules (zset: `<job>|<schedule>` scored by when their days to removal
--      start counting, ms)
-- ARGV 1 job id  2 the job's JSON ('' to leave it)  3 a name to claim for the job ('' none)
--      4 a name to release ('' none; released only while it names this job)  5 now (ms)
--      6 the most jobs a tenant may have (0: no limit)  7 the most schedules (0: no limit)
--      then per schedule: its id, its JSON ('' to leave it), its next fire ('' none, '-' the
--      write does not decide it), and what it is to the one-time index: '+' an inactive
--      one-time schedule (counted from now), '-' an active one (out of it), '' neither
-- Returns {1}; {0} when the name to claim names another job; {-1, limit} when the write would
-- create a job beyond the tenant's limit of jobs, {-2, limit} schedules beyond its limit of
-- schedules (nothing is written); {-3} when the tenant is being deleted.

local NAMES, JOB, JOBS, SCHEDULES, SCHED_JOBS, REPLAN = KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]
local TENANT, ONE_TIME = KEYS[7], KEYS[8]
local id, def, claim, release, now = ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5]
local FIRST, STRIDE = 8, 4

if redis.call('HEXISTS', TENANT, 'deleting') == 1 then
  return { -3 }
end

local function limit(field, default)
  return tonumber(redis.call('HGET', TENANT, field) or default)
end
if def ~= '' and not redis.call('ZSCORE', JOBS, id) then
  local max = limit('max_jobs', ARGV[6])
  if max > 0 and redis.call('ZCARD', JOBS) >= max then
    return { -1, max }
  end
end
local new = 0
for i = FIRST, #ARGV, STRIDE do
  if ARGV[i + 1] ~= '' and redis.call('HEXISTS', SCHED_JOBS, ARGV[i]) == 0 then
    new = new + 1
  end
end
if new > 0 then
  local max = limit('max_schedules', ARGV[7])
  if max > 0 and redis.call('HLEN', SCHED_JOBS) + new > max then
    return { -2, max }
  end
end

if claim ~= '' then
  local holder = redis.call('HGET', NAMES, claim)
  if holder and holder ~= id then
    return { 0 }
  end
  redis.call('HSET', NAMES, claim, id)
end
if release ~= '' and release ~= claim and redis.call('HGET', NAMES, release) == id then
  redis.call('HDEL', NAMES, release)
end
if def ~= '' then
  redis.call('HSET', JOB, 'def', def)
  redis.call('ZADD', JOBS, id, id)
end
for i = FIRST, #ARGV, STRIDE do
  local sid, sdef, next = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  if sdef ~= '' then
    redis.call('HSET', SCHEDULES, sid, sdef)
    redis.call('HSET', SCHED_JOBS, sid, id)
  end
  if next ~= '-' then
    redis.call('HSET', REPLAN, id .. '|' .. sid, next .. '|' .. now)
  end
  if ARGV[i + 3] == '+' then
    redis.call('ZADD', ONE_TIME, now, id .. '|' .. sid)
  elseif ARGV[i + 3] == '-' then
    redis.call('ZREM', ONE_TIME, id .. '|' .. sid)
  end
end
return { 1 }
