-- Functions shared by the run scripts (run_start, run_complete), prepended to each.
--
-- KEYS (one hash slot: the tenant's tag)
--   1 run hash          2 job hash             3 job schedules hash
--   4 job runs stream   5 schedule runs stream 6 job builds hash (run number -> run id)
--   7 schedule events stream  8 tenant runs stream  9 job "done" stream (completions, for live
--   tails)  10 tenant hash (its optional `retention_ms` overrides ARGV 11)  11 the run's list of
--   extra log lines (redeliveries, duplicates, async reports; the usual lines derive from the
--   record's fields, which keeps the record a small listpack-encoded hash)
--   12..15 the job's outcome indexes (success, failure, error, timeout)  16 the schedule's rank
--   index
-- ARGV (common head)
--   1 run id  2 tenant  3 job id  4 schedule id  5 nominal instant (ms)  6 now (ms)
--   7 now as RFC 3339   8 leader owner  9 epoch  10 runs kept per stream  11 run record TTL (ms)
--   12 check_active ("1": refuse when the job or schedule is inactive)
--
-- materialize() creates the run record in state SCHEDULED/SCHEDULED, gives it the next run
-- number of the job and indexes it in the tenant's, the job's and the schedule's streams under
-- one stream id (the tenant stream's new id, so it is greater than the last id of the other
-- two, which only ever receive ids from it), exactly once per run id. The streams are trimmed
-- to the retention age (MINID); a schedule keeps at most ARGV 10 runs (the oldest are deleted,
-- records included); the record expires with the retention age. Returns 1 when created, 0 when it existed, -1 when the job or schedule is gone,
-- -2 when inactive (only with check_active).

local function append_log(line)
  redis.call('RPUSH', KEYS[11], ARGV[7] .. ' ' .. line)
  local ttl = redis.call('PTTL', KEYS[1])
  if ttl > 0 then
    redis.call('PEXPIRE', KEYS[11], ttl)
  end
end

local function materialize()
  if redis.call('EXISTS', KEYS[1]) == 1 then
    return 0
  end
  local jobdef = redis.call('HGET', KEYS[2], 'def')
  local scheddef = redis.call('HGET', KEYS[3], ARGV[4])
  if not jobdef or not scheddef then
    return -1
  end
  if ARGV[12] == '1' then
    -- Both are serialised by chime with one `"active"` member each: a plain search is enough
    -- (and much cheaper than decoding the JSON on every fire).
    local on = '"active":true'
    if not string.find(jobdef, on, 1, true) or not string.find(scheddef, on, 1, true) then
      return -2
    end
  end
  local n = redis.call('HINCRBY', KEYS[2], 'seq', 1)
  local retention = tonumber(redis.call('HGET', KEYS[10], 'retention_ms') or ARGV[11])
  local minid = tostring(math.max(0, tonumber(ARGV[6]) - retention))
  -- The per-schedule cap: a schedule at its cap loses its oldest runs, records and all.
  local over = redis.call('XLEN', KEYS[5]) - tonumber(ARGV[10]) + 1
  if over > 0 then
    local prefix = string.sub(KEYS[1], 1, #KEYS[1] - #ARGV[1])
    for _, e in ipairs(redis.call('XRANGE', KEYS[5], '-', '+', 'COUNT', over)) do
      local old = e[2][2]
      redis.call('DEL', prefix .. old, prefix .. old .. ':log')
      redis.call('XDEL', KEYS[4], e[1])
      redis.call('XDEL', KEYS[5], e[1])
      redis.call('XDEL', KEYS[8], e[1])
      for i = 12, 16 do
        redis.call('ZREM', KEYS[i], old)
      end
    end
  end
  local id = redis.call('XADD', KEYS[8], '*', 'r', ARGV[1], 'j', ARGV[3], 's', ARGV[4], 'n', n)
  redis.call('HSET', KEYS[1],
    'id', ARGV[1], 'tenant', ARGV[2], 'job', ARGV[3], 'sched', ARGV[4], 'n', n,
    'sched_at', ARGV[5], 'created', ARGV[6], 'status', 'SCHEDULED', 'state', 'SCHEDULED',
    'attempt', 0, 'owner', ARGV[8], 'epoch', ARGV[9], 'xid', id)
  redis.call('PEXPIRE', KEYS[1], retention)
  redis.call('XADD', KEYS[4], id, 'r', ARGV[1], 's', ARGV[4], 'n', n)
  redis.call('XADD', KEYS[5], id, 'r', ARGV[1])
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  redis.call('ZADD', KEYS[16], tonumber(ms) + math.min(tonumber(seq), 4095) / 4096, ARGV[1])
  -- Age trimming every 32nd run of a job is enough: queries hide older entries themselves.
  if n % 32 == 0 then
    for _, i in ipairs({ 4, 5, 8 }) do
      redis.call('XTRIM', KEYS[i], 'MINID', minid)
    end
  end
  redis.call('HSET', KEYS[6], n, ARGV[1])
  redis.call('XADD', KEYS[7], 'MAXLEN', '~', 1000, '*', 'm', 'Schedule invoked', 'l', 'INFO')
  return 1
end

-- Announces a run's final result on the job's "done" stream (live tails read it) and indexes
-- it by outcome (12 success, 13 failure, 14 error, 15 timeout), scored by its fire time.
local OUTCOME_KEY = { success = 12, failure = 13, error = 14, timeout = 15 }
local function announce(outcome)
  redis.call('XADD', KEYS[9], 'MAXLEN', '~', 1000, '*', 'r', ARGV[1])
  local k = OUTCOME_KEY[outcome]
  local xid = redis.call('HGET', KEYS[1], 'xid')
  if k and xid then
    redis.call('ZADD', KEYS[k], tonumber(string.match(xid, '^(%d+)')), ARGV[1])
  end
end

local function finished()
  local status = redis.call('HGET', KEYS[1], 'status')
  local state = redis.call('HGET', KEYS[1], 'state')
  return status == 'COMPLETED' or state == 'ACK_RECVD'
end
