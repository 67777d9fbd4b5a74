-- A worker records the result of a run, once per run id.
-- KEYS: as run_lib.lua.  ARGV: the common head, then
--   13 worker id  14 runStatus  15 runState  16 outcome  17 HTTP status ('' if none)
--   18 run text  19 response body ('' if none)  20 error ('' if none)  21 duration (ms)
--   22 execution start (ms)  23 entry for the schedule's event log ('' if none)
-- Returns 1 when recorded, 0 when the run already had its result, -1 when the job is gone.
local m = materialize()
if m == -1 then
  return -1
end
if finished() then
  append_log('duplicate result from worker ' .. ARGV[13] .. ' ignored: the run already has its result')
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[14], 'state', ARGV[15], 'outcome', ARGV[16],
  'text', ARGV[18], 'dur', ARGV[21], 'exec_at', ARGV[22], 'worker', ARGV[13])
if ARGV[14] == 'COMPLETED' then
  redis.call('HSET', KEYS[1], 'done_at', ARGV[6])
end
if ARGV[17] ~= '' then redis.call('HSET', KEYS[1], 'http', ARGV[17]) end
if ARGV[19] ~= '' then redis.call('HSET', KEYS[1], 'body', ARGV[19]) end
if ARGV[20] ~= '' then redis.call('HSET', KEYS[1], 'err', ARGV[20]) end
if ARGV[23] ~= '' then
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000, '*', 'm', ARGV[23], 'l', 'ERROR')
end
if ARGV[14] == 'COMPLETED' then
  announce(ARGV[16])
end
return 1
