-- Run records: the leader's materialize and the workers' start and complete, for a batch of
-- runs of one tenant in one call (the leader sends a batch of fires, a worker the steps its
-- runs reached meanwhile). One call costs one script invocation however many runs it carries.
--
-- KEYS 1 the tenant hash `<ns>:{t:<tenant>}:tenant` (its optional `retention_ms` overrides
--   ARGV 4)  2 the tenant's runs stream. Every other key is named by a run's, a job's or a
--   schedule's id: the script puts the id between the prefix of the key's family and the
--   key's suffix, both from ARGV (all keys of the tenant's hash slot).
-- ARGV 1 now (ms)  2 now as RFC 3339  3 runs kept per schedule  4 run record TTL (ms)
--      5 worker id (start, complete)
--      6 the prefix of a run's keys, then their suffixes: 7 the record, 8 its log
--      9 the prefix of a job's keys, then their suffixes: 10 the job hash, 11 its schedules,
--        12 its builds, 13 its runs stream, 14 its "done" stream, 15 its live-tail marker
--      16 the prefix of a schedule's keys, then their suffixes: 17 its runs stream, 18 its
--        rank index, 19 its event log
--      20 the number n of outcomes, then n times: an outcome's name and the suffix of the
--        job's index of runs that ended with it (a job's key)
--      21 + 2n.. the runs, each:
--        op ('m' materialize, 's' start, 'c' complete), run id, job id, schedule id,
--        nominal instant (ms), leader owner, epoch;
--        's' adds: the lowest attempt number this delivery can be (a redelivery's);
--        'c' adds: runStatus, runState, outcome, HTTP status ('' if none), run text,
--        response body ('' if none), error ('' if none), duration (ms), execution start (ms),
--        entry for the schedule's event log ('' if none).
-- Returns one code per run:
--   m: 1 created, 0 it existed, -1 the job or schedule is gone, -2 one of them is inactive.
--   s: the attempt number (>= 1) to execute, 0 when the run already has its result (completed,
--      or acknowledged asynchronously), -1 when its job or schedule is gone. Workers send it
--      before the call for redeliveries, and for a first delivery only once its call has
--      lasted a while (a quick run's 'c' alone records attempt 1).
--   c: 1 recorded, 0 the run already had its result, -1 the job is gone.
--
-- materialize creates the run record in state SCHEDULED/SCHEDULED, gives it the next run
-- number of the job and indexes it in the tenant's, the job's and the schedule's streams under
-- one stream id (the tenant stream's new id, so it is greater than the last id of the other
-- two, which only ever receive ids from it), exactly once per run id. The streams are trimmed
-- to the retention age (MINID); a schedule keeps at most ARGV 3 runs (the oldest are deleted,
-- records included); the record expires with the retention age. The usual lines of a run's
-- text log derive from the record's fields; only extra lines (redeliveries, duplicates, async
-- reports) go to the run's log list, which keeps the record a small listpack-encoded hash.

local TENANT_RUNS = KEYS[2]
local NOW, NOW_TXT = ARGV[1], ARGV[2]
local CAP = tonumber(ARGV[3])
local WORKER = ARGV[5]
local RETENTION = tonumber(redis.call('HGET', KEYS[1], 'retention_ms') or ARGV[4])
local MINID = tostring(math.max(0, tonumber(NOW) - RETENTION))
local ACTIVE = '"active":true'

-- The key templates: a family's prefix and a key's suffix, which go around an id, as in
-- `JOB_P .. job .. JOB_RUNS_S`. Locals and inline concatenation, since tables and helper calls
-- would cost every call of this hot script.
local RUN_P, RECORD_S, LOG_S = ARGV[6], ARGV[7], ARGV[8]
local JOB_P, JOB_S, SCHEDULES_S, BUILDS_S = ARGV[9], ARGV[10], ARGV[11], ARGV[12]
local JOB_RUNS_S, DONE_S, TAILS_S = ARGV[13], ARGV[14], ARGV[15]
local SCHED_P, SCHED_RUNS_S, RANK_S, EVENTS_S = ARGV[16], ARGV[17], ARGV[18], ARGV[19]
-- The outcomes: ARGV[OUTCOME_AT + 2k] is the k-th one's name (k from 0), the next its index's
-- suffix.
local N_OUTCOMES, OUTCOME_AT = tonumber(ARGV[20]), 21
local FIRST_RUN = OUTCOME_AT + 2 * N_OUTCOMES

-- The job's index of runs with outcome o; nil when o has none (only the known outcomes have
-- indexes: the ones the sweep and a job's deletion know).
local function outcome_key(job, o)
  for k = 0, N_OUTCOMES - 1 do
    local i = OUTCOME_AT + 2 * k
    if ARGV[i] == o then
      return JOB_P .. job .. ARGV[i + 1]
    end
  end
  return nil
end

-- A run's fields in ARGV from index i; its other keys are built where a step needs them.
local function run_of(i)
  return { id = ARGV[i + 1], job_id = ARGV[i + 2], sched_id = ARGV[i + 3], at = ARGV[i + 4],
    owner = ARGV[i + 5], epoch = ARGV[i + 6], run = RUN_P .. ARGV[i + 1] .. RECORD_S }
end

local function log_key(r)
  return RUN_P .. r.id .. LOG_S
end

local function append_log(r, line)
  redis.call('RPUSH', log_key(r), NOW_TXT .. ' ' .. line)
  local ttl = redis.call('PTTL', r.run)
  if ttl > 0 then
    redis.call('PEXPIRE', log_key(r), ttl)
  end
end

-- Job definitions, read once per call.
local jobdefs = {}
local function jobdef(job)
  local v = jobdefs[job]
  if v == nil then
    v = redis.call('HGET', JOB_P .. job .. JOB_S, 'def') or false
    jobdefs[job] = v
  end
  return v
end

-- The per-schedule cap: a schedule at its cap loses its oldest runs, records and all.
local function enforce_cap(job, sched)
  local sched_runs = SCHED_P .. sched .. SCHED_RUNS_S
  local over = redis.call('XLEN', sched_runs) - CAP + 1
  if over <= 0 then
    return
  end
  for _, e in ipairs(redis.call('XRANGE', sched_runs, '-', '+', 'COUNT', over)) do
    local old = e[2][2]
    redis.call('DEL', RUN_P .. old .. RECORD_S, RUN_P .. old .. LOG_S)
    redis.call('XDEL', JOB_P .. job .. JOB_RUNS_S, e[1])
    redis.call('XDEL', sched_runs, e[1])
    redis.call('XDEL', TENANT_RUNS, e[1])
    for k = 0, N_OUTCOMES - 1 do
      redis.call('ZREM', JOB_P .. job .. ARGV[OUTCOME_AT + 2 * k + 1], old)
    end
    redis.call('ZREM', SCHED_P .. sched .. RANK_S, old)
  end
end

-- Creates the record of run r with the job's run number n (a string) and indexes it.
local function create(r, n)
  enforce_cap(r.job_id, r.sched_id)
  local id = redis.call('XADD', TENANT_RUNS, '*', 'r', r.id, 'j', r.job_id, 's', r.sched_id, 'n', n)
  -- The numbers no script reads go as one field, 'm' = "<n> <sched_at> <created> <epoch>": the
  -- record has fewer fields for every later HSET and HMGET to scan, and every value stays
  -- short (under hash-max-listpack-value), so the record stays a listpack. The tenant is in
  -- the key.
  redis.call('HSET', r.run, 'id', r.id, 'job', r.job_id, 'sched', r.sched_id,
    'status', 'SCHEDULED', 'state', 'SCHEDULED', 'xid', id, 'owner', r.owner,
    'm', n .. ' ' .. r.at .. ' ' .. NOW .. ' ' .. r.epoch)
  redis.call('PEXPIRE', r.run, RETENTION)
  redis.call('XADD', JOB_P .. r.job_id .. JOB_RUNS_S, id, 'r', r.id, 's', r.sched_id, 'n', n)
  redis.call('XADD', SCHED_P .. r.sched_id .. SCHED_RUNS_S, id, 'r', r.id)
  -- The rank score is the stream id as one integer, ms * 1024 + seq (exact in a double until
  -- the year 2248). An integer score is kept as an integer in a small sorted set's listpack,
  -- so an insert compares integers; a fractional one would be parsed back (strtod) for every
  -- entry it passes.
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  redis.call('ZADD', SCHED_P .. r.sched_id .. RANK_S,
    string.format('%d', ms * 1024 + math.min(tonumber(seq), 1023)), r.id)
end

-- materialize, for runs rs (each with its index `slot` in the reply `out`): a run whose record
-- exists (or that came earlier in this call) is left alone (0); the others are checked against
-- their job and schedule (-1 gone, -2 inactive when check_active) and created (1). The runs of
-- one job take their run numbers with one HINCRBY and their build entries with one HSET, and
-- their schedule definitions are read with one HMGET.
local seen = {}
local function materialize(rs, check_active, out)
  local jobs, by_job = {}, {}
  for _, r in ipairs(rs) do
    if seen[r.id] or redis.call('EXISTS', r.run) == 1 then
      out[r.slot] = 0
    else
      seen[r.id] = true
      local g = by_job[r.job_id]
      if not g then
        g = {}
        by_job[r.job_id] = g
        jobs[#jobs + 1] = r.job_id
      end
      g[#g + 1] = r
    end
  end
  for _, job in ipairs(jobs) do
    local g = by_job[job]
    local jdef = jobdef(job)
    local ids = {}
    for k, r in ipairs(g) do
      ids[k] = r.sched_id
    end
    local sdefs = redis.call('HMGET', JOB_P .. job .. SCHEDULES_S, unpack(ids))
    local make = {}
    for k, r in ipairs(g) do
      -- Both definitions are serialised by chime with one `"active"` member each: a plain
      -- search is enough (and much cheaper than decoding the JSON on every fire).
      if not jdef or not sdefs[k] then
        out[r.slot] = -1
        seen[r.id] = nil
      elseif check_active and (not string.find(jdef, ACTIVE, 1, true)
          or not string.find(sdefs[k], ACTIVE, 1, true)) then
        out[r.slot] = -2
        seen[r.id] = nil
      else
        make[#make + 1] = r
      end
    end
    if #make > 0 then
      -- Numbers handed to redis.call are formatted with '%.17g' (slow); integers go as strings.
      local last = redis.call('HINCRBY', JOB_P .. job .. JOB_S, 'seq', string.format('%d', #make))
      local builds = {}
      local trim = false
      for k, r in ipairs(make) do
        local n = last - #make + k
        local ns = string.format('%d', n)
        create(r, ns)
        builds[#builds + 1] = ns
        builds[#builds + 1] = r.id
        out[r.slot] = 1
        -- Age trimming every 32nd run of a job is enough: queries hide older entries themselves.
        if n % 32 == 0 then
          redis.call('XTRIM', SCHED_P .. r.sched_id .. SCHED_RUNS_S, 'MINID', MINID)
          trim = true
        end
      end
      redis.call('HSET', JOB_P .. job .. BUILDS_S, unpack(builds))
      if trim then
        redis.call('XTRIM', JOB_P .. job .. JOB_RUNS_S, 'MINID', MINID)
        redis.call('XTRIM', TENANT_RUNS, 'MINID', MINID)
      end
    end
  end
end

-- Whether a live tail listens to job r's results: tails keep the job's live-tail marker alive
-- while they listen, and only then do results go to the job's "done" stream. Read once per
-- job and call.
local tails = {}
local function tailed(r)
  local t = tails[r.job_id]
  if t == nil then
    t = redis.call('EXISTS', JOB_P .. r.job_id .. TAILS_S) == 1
    tails[r.job_id] = t
  end
  return t
end

-- Completed, or acknowledged by an asynchronous job: the run has its result.
local function finished(status, state)
  return status == 'COMPLETED' or state == 'ACK_RECVD'
end

-- The record's fields `names`, creating the record first when it does not exist (a worker
-- can reach a run before the leader's record does, e.g. after a Redis restart). nil when the
-- job or schedule is gone.
local function record(r, names)
  local f = redis.call('HMGET', r.run, 'id', unpack(names))
  if f[1] then
    return f
  end
  local code = {}
  r.slot = 1
  materialize({ r }, false, code)
  if code[1] == -1 then
    return nil
  end
  return redis.call('HMGET', r.run, 'id', unpack(names))
end

-- A worker's step on a run: the record's fields `names`, or nil and the step's code when there
-- is nothing to do (-1 the job or schedule is gone, 0 the run already has its result; `what`
-- names the duplicate in the run's log).
local function step(r, names, what)
  local f = record(r, names)
  if not f then
    return nil, -1
  end
  if finished(f[2], f[3]) then
    append_log(r, 'duplicate ' .. what .. ' worker ' .. WORKER .. ' ignored: the run already has its result')
    return nil, 0
  end
  return f
end

local function start(r, i)
  local f, code = step(r, { 'status', 'state', 'attempt', 'exec_at', 'worker' }, 'delivery to')
  if not f then
    return code
  end
  local attempt = math.max(tonumber(f[4] or 0) + 1, tonumber(ARGV[i + 7]))
  redis.call('HSET', r.run, 'status', 'RUNNING', 'state', 'TRIGGERED', 'exec_at', NOW,
    'worker', WORKER, 'attempt', string.format('%d', attempt))
  if attempt > 1 then
    -- Keep the earlier attempt's start line (the derived one now shows this attempt), so the
    -- text log only ever grows. '@<ms> ' lines get their timestamp formatted when read.
    if f[5] then
      redis.call('RPUSH', log_key(r), '@' .. f[5] .. ' attempt ' .. (attempt - 1) .. ' started on ' .. (f[6] or 'a worker'))
    end
    append_log(r, 'attempt ' .. (attempt - 1) .. ' did not finish; run redelivered to worker ' .. WORKER)
  end
  return attempt
end

local function complete(r, i)
  local f, code = step(r, { 'status', 'state', 'xid', 'attempt' }, 'result from')
  if not f then
    return code
  end
  local status, state, outcome = ARGV[i + 7], ARGV[i + 8], ARGV[i + 9]
  local http, text, body, err = ARGV[i + 10], ARGV[i + 11], ARGV[i + 12], ARGV[i + 13]
  local fields = { 'status', status, 'state', state, 'outcome', outcome, 'text', text,
    'dur', ARGV[i + 14], 'exec_at', ARGV[i + 15], 'worker', WORKER }
  -- A quick first delivery is recorded without a start step: this is its first attempt.
  if not f[5] or f[5] == '0' then
    fields[#fields + 1] = 'attempt'
    fields[#fields + 1] = '1'
  end
  -- Optional fields are stored only when present (a small record stays a listpack).
  local optional = { 'done_at', status == 'COMPLETED' and NOW or '', 'http', http, 'body', body,
    'err', err }
  for k = 1, #optional, 2 do
    if optional[k + 1] ~= '' then
      fields[#fields + 1] = optional[k]
      fields[#fields + 1] = optional[k + 1]
    end
  end
  redis.call('HSET', r.run, unpack(fields))
  if ARGV[i + 16] ~= '' then
    redis.call('XADD', SCHED_P .. r.sched_id .. EVENTS_S, 'MAXLEN', '~', 1000, '*',
      'm', ARGV[i + 16], 'l', 'ERROR')
  end
  if status == 'COMPLETED' then
    -- Announce the result on the job's "done" stream while a live tail listens (the stream
    -- outlives the last tail by a minute), and index it by outcome, scored by its fire time.
    if tailed(r) then
      local done = JOB_P .. r.job_id .. DONE_S
      redis.call('XADD', done, 'MAXLEN', '~', 1000, '*', 'r', r.id)
      redis.call('PEXPIRE', done, 60000)
    end
    local index = f[4] and outcome_key(r.job_id, outcome)
    if index then
      redis.call('ZADD', index, string.match(f[4], '^(%d+)'), r.id)
    end
  end
  return 1
end

local out = {}
local pending = {}
local i = FIRST_RUN
while i <= #ARGV do
  local op = ARGV[i]
  local r = run_of(i)
  if op ~= 'm' and #pending > 0 then
    materialize(pending, true, out)
    pending = {}
  end
  if op == 'm' then
    -- Consecutive materialize steps go together (the leader's calls hold nothing else).
    r.slot = #out + #pending + 1
    pending[#pending + 1] = r
    i = i + 7
  elseif op == 's' then
    out[#out + 1] = start(r, i)
    i = i + 8
  elseif op == 'c' then
    out[#out + 1] = complete(r, i)
    i = i + 17
  else
    return redis.error_reply('unknown run operation ' .. tostring(op))
  end
end
if #pending > 0 then
  materialize(pending, true, out)
end
return out
