-- An asynchronous job reports its result (SAP "Update Job Run Log").
-- KEYS 1 run hash  2 the job's "done" stream  3 the run's extra log lines
--   4 the job's outcome index for the reported outcome (success or failure).  ARGV 1 "true"/"false"  2 message  3 now (ms)  4 now as RFC 3339
--   5 job id  6 schedule id (the run must belong to them)
-- Returns 1 when updated, -1 when no such run of that job and schedule, 0 when the run already
-- has its final result (a run's result is written once).
if redis.call('HGET', KEYS[1], 'job') ~= ARGV[5] or redis.call('HGET', KEYS[1], 'sched') ~= ARGV[6] then
  return -1
end
if redis.call('HGET', KEYS[1], 'status') == 'COMPLETED' then
  return 0
end
local state = 'ERROR'
local outcome = 'failure'
if ARGV[1] == 'true' then
  state = 'SUCCESS'
  outcome = 'success'
end
redis.call('HSET', KEYS[1], 'status', 'COMPLETED', 'state', state, 'outcome', outcome,
  'text', ARGV[2], 'done_at', ARGV[3])
redis.call('RPUSH', KEYS[3], ARGV[4] .. ' job reported ' .. state .. ': ' .. ARGV[2])
local ttl = redis.call('PTTL', KEYS[1])
if ttl > 0 then
  redis.call('PEXPIRE', KEYS[3], ttl)
end
redis.call('XADD', KEYS[2], 'MAXLEN', '~', 1000, '*', 'r', redis.call('HGET', KEYS[1], 'id'))
local xid = redis.call('HGET', KEYS[1], 'xid')
if xid then
  redis.call('ZADD', KEYS[4], tonumber(string.match(xid, '^(%d+)')), redis.call('HGET', KEYS[1], 'id'))
end
return 1
