-- A worker takes a delivery: decide whether to execute it and mark it RUNNING/TRIGGERED.
-- KEYS: as run_lib.lua.  ARGV: the common head, then 13 worker id.
-- Returns the attempt number (>= 1) to execute, 0 when the run already has its result
-- (completed, or acknowledged asynchronously), -1 when its job or schedule is gone.
local m = materialize()
if m == -1 then
  return -1
end
if finished() then
  append_log('duplicate delivery to worker ' .. ARGV[13] .. ' ignored: the run already has its result')
  return 0
end
local attempt = redis.call('HINCRBY', KEYS[1], 'attempt', 1)
redis.call('HSET', KEYS[1], 'status', 'RUNNING', 'state', 'TRIGGERED', 'exec_at', ARGV[6],
  'worker', ARGV[13])
if attempt > 1 then
  -- Keep the earlier attempt's start line (the derived one now shows this attempt), so the
  -- text log only ever grows. '@<ms> ' lines get their timestamp formatted when read.
  local prev_at = redis.call('HGET', KEYS[1], 'exec_at')
  local prev_worker = redis.call('HGET', KEYS[1], 'worker') or 'a worker'
  if prev_at then
    redis.call('RPUSH', KEYS[11], '@' .. prev_at .. ' attempt ' .. (attempt - 1) .. ' started on ' .. prev_worker)
  end
  append_log('attempt ' .. (attempt - 1) .. ' did not finish; run redelivered to worker ' .. ARGV[13])
end
return attempt
