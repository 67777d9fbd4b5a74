-- Run records: the leader's materialize, the workers' start and complete, an asynchronous
-- job's report, and the retention trim of a job, for a batch of runs of one tenant in one call
-- (the leader sends a batch of fires, a worker the steps its runs reached meanwhile). One call
-- costs one script invocation however many runs it carries.
--
-- KEYS 1 the tenant hash `<ns>:{t:<tenant>}:tenant` (its optional `retention_ms` overrides
--   ARGV 4, its optional `max_in_flight` the admission's cap)  2 the tenant's runs stream
--   3 the tenant's live runs (zset)  4 the tenant's runs in flight (zset: run ids scored by
--   the instant they stop counting)  5 the tenant's runs acknowledged asynchronously and
--   not reported yet (zset: live members scored by the 202's instant, ms)  6 the tenant's
--   notes due (notes.lua, which goes before this script)  7 to 6 + the number of outcomes:
--   the tenant's finished runs of each outcome (streams, in the outcome list's order)
--   7 + the number of outcomes: the tenant's unreachable schedules (zset: `<job>|<schedule>`
--   scored by the first finish without a connection of the streak, ms; see `reach`).
--   Every other key is named by a run's, a job's or a schedule's id: the script puts the id
--   between the prefix of the key's family and the key's suffix, both from ARGV (all keys of
--   the tenant's hash slot).
-- ARGV 1 now (ms)  2 now as RFC 3339  3 runs kept per schedule  4 retention (ms)
--      5 worker id (start, complete)  6 the prefix of the tenant's run-id buckets
--      7 the prefix of a run's keys, then their suffixes: 8 the record, 9 its log
--      10 the prefix of a job's keys, then their suffixes: 11 the job hash, 12 its schedules,
--        13 its run numbers' buckets (the bucket's number follows), 14 its runs, 15 its "done"
--        stream, 16 its live-tail marker, 17 its positions
--      18 the prefix of a schedule's keys, then their suffixes: 19 its positions, 20 its events
--      21 the number of outcomes, then a name and the suffix of a job's positions of that
--        outcome for each, then the templates (prefix, suffix) of a note's key and of a job's
--        notes
--      then the operations, each an op code and its arguments:
--        'a' the cap on runs in flight (0: none), the ms a run counts beyond its timeout: the
--            admission of the 'm' operations after it (the leader's calls; gives no code);
--        'p' the lifecycle code of a cancelled run, and the ms a run in progress counts beyond
--            its last activity and its timeout: the concurrency policies of the operations after
--            it (gives no code);
--        'm' run id, job id, schedule id, scheduled at (ms), leader, epoch, the call's timeout
--            (ms): materialize;
--        's' the same, the delivery's number (1 for a first delivery) and the attempt its
--            message carries (1, or k + 1 for the retry of attempt k): start;
--        'e' the same as 's' without the delivery's number: check, before the call of a
--            fresh message's first delivery;
--        'c' the same as 'm', then runStatus, runState, outcome, HTTP status ('' if none),
--            run text, response body ('' if none), error ('' if none), duration (ms),
--            execution start (ms), entry for the schedule's event log ('' if none), the
--            lifecycle code of the finished record (see record.rs), the call's timing split
--            ('' if unknown) and the failure reason ('' if none): complete;
--        'r' the same as 'e', then the failed attempt (one JSON line), the next attempt's
--            number, when it is due (ms), the run's text while it waits, the failed call's
--            HTTP status ('' if none), the text log's line: a failed attempt whose retry the
--            worker sends through a delay queue;
--        'u' run id, job id, schedule id, 'true'/'false', message, lifecycle code: an
--            asynchronous job's report;
--        'd' the default asynchronous deadline (s; the tenant hash's `async_exec_timeout_s`
--            overrides it), the most runs to take, the lifecycle code of a run finished by it:
--            the asynchronous deadline (the leader's sweep);
--        't' job id: trim the job's runs to the retention age (at most 256 runs a call);
--        'l' '': remove the tenant's unfinished runs older than the retention age.
--      'M', 'S', 'E', 'C', 'R' are 'm', 's', 'e', 'c', 'r' for a manual run ("run now"), with one more
--        argument after the others: the id of the API key that requested it (or '-'). A manual
--        run is created whether or not its job and schedule are active (its record keeps
--        `manual` = the key id), and is called whether or not they are (it is forgotten only
--        when its job or schedule is gone).
-- Returns one code per operation:
--   m: 1 created, 0 it existed unfinished, -3 it existed finished, -1 the job or schedule is
--      gone, -2 one of them is inactive, -4 not created: the tenant has its cap of runs in
--      flight (the leader fires it later), -5 not created: its job's concurrencyPolicy is
--      forbid and the schedule's previous run is in progress.
--   s: the attempt number (>= 1) to execute, 0 when the run already has its result (completed,
--      or acknowledged asynchronously) or the message is a duplicate of a retry already
--      started, -1 when its job or schedule is gone or inactive (as for 'e'), minus (the due
--      instant (ms) times 16 plus the number) of the retry the run waits for when the message
--      is an earlier attempt's
--      (redelivered after its worker recorded the retry: the worker sends the retry again
--      and calls nothing). Workers send it
--      before the call for redeliveries, and for a first delivery only once its call has
--      lasted a while (a quick run's 'c' alone records attempt 1).
--   e: 1 call it, 0 the run already has its result, -1 its job or schedule is gone or
--      inactive (a recurring schedule's; a one-time schedule is deactivated by its fire).
--   c: 1 recorded, 0 the run already had its result, -1 the job is gone.
--   r: 1 recorded (the worker sends the retry), 0 the run already has its result or this
--      attempt's retry is recorded already, -1 the job is gone.
--   u: 1 recorded, 0 the run already has its final result (the report is noted in its log),
--      -1 no such run of that job and schedule.
--   d: the runs the deadline finished (COMPLETED/UNKNOWN); fewer than the most to take
--      when no more were overdue.
--   t, l: the runs removed.
--
-- A run not finished yet has a record of its own (a hash) and a member in the tenant's live
-- set; its run id maps to '' in the tenant's run ids (so materialize is idempotent on it). When it
-- finishes, its record becomes one entry of its job's runs stream, under a stream id taken
-- from the tenant's runs stream, which indexes it too (with the job id), as do the schedule's
-- and the job's positions (dense, for offset pages and counts) and the job's positions of its
-- outcome; the run id
-- then maps to the stream id, the hash and the live member are removed. A finished record is
-- written once. A schedule keeps at most ARGV 3 runs, counting one unfinished run: creating a
-- run forgets the oldest finished ones (so runs that overlap hold more until they finish, and
-- the next run's creation trims again); the streams are trimmed to the retention age.

local TENANT_RUNS, LIVE, IN_FLIGHT, ASYNC = KEYS[2], KEYS[3], KEYS[4], KEYS[5]
local NOW, NOW_TXT = ARGV[1], ARGV[2]
local NOW_N = tonumber(NOW)
local CAP = tonumber(ARGV[3])
local WORKER = ARGV[5]
local RETENTION = tonumber(redis.call('HGET', KEYS[1], 'retention_ms') or ARGV[4])
local MINID = string.format('%d', math.max(0, NOW_N - RETENTION))
local ACTIVE = '"active":true'
local T = redis.call('TIME')
local CLOCK = tonumber(T[1]) * 1000 + math.floor(tonumber(T[2]) / 1000)
local clock_seq = 0

-- The key templates: a family's prefix and a key's suffix, which go around an id, as in
-- `JOB_P .. job .. JOB_RUNS_S`. Locals and inline concatenation, since tables and helper calls
-- would cost every call of this hot script.
local RUNIDS_P = ARGV[6]
local RUN_P, RECORD_S, LOG_S = ARGV[7], ARGV[8], ARGV[9]
local JOB_P, JOB_S, SCHEDULES_S, BUILDS_S = ARGV[10], ARGV[11], ARGV[12], ARGV[13]
local JOB_RUNS_S, DONE_S, TAILS_S, JOB_POS_S = ARGV[14], ARGV[15], ARGV[16], ARGV[17]
local SCHED_P, SCHED_RUNS_S, EVENTS_S = ARGV[18], ARGV[19], ARGV[20]
-- The outcomes: ARGV[OUTCOME_AT + 2k] is the k-th one's name (k from 0), the next its index's
-- suffix. A lifecycle code's last digit is 1 + k (0: no outcome).
local N_OUTCOMES, OUTCOME_AT = tonumber(ARGV[21]), 22
local NOTES_AT = OUTCOME_AT + 2 * N_OUTCOMES
local NOTES = { due = KEYS[6], note = { ARGV[NOTES_AT], ARGV[NOTES_AT + 1] },
  list = { ARGV[NOTES_AT + 2], ARGV[NOTES_AT + 3] } }
local FIRST_OP = NOTES_AT + 4

local function int(n)
  return string.format('%d', n)
end

-- No extra fields (for a record's optional ones).
local NO_FIELDS = {}

-- Run ids live in buckets (small hashes, kept compact by Redis): a run id's first four
-- characters name its bucket and the rest is its field. Run numbers likewise, 128 to a
-- bucket of the job's.
local function id_slot(id)
  return RUNIDS_P .. string.sub(id, 1, 4), string.sub(id, 5)
end
local function id_get(id)
  local k, f = id_slot(id)
  return redis.call('HGET', k, f)
end
local function id_set(id, v)
  local k, f = id_slot(id)
  redis.call('HSET', k, f, v)
end
local function id_del(id)
  local k, f = id_slot(id)
  redis.call('HDEL', k, f)
end
local function number_slot(job, n)
  local n_n = tonumber(n)
  return JOB_P .. job .. BUILDS_S .. int(math.floor(n_n / 128)), int(n_n % 128)
end
local function number_del(job, n)
  local k, f = number_slot(job, n)
  redis.call('HDEL', k, f)
end

-- The job's positions of runs with the outcome of lifecycle code `code`; nil when it has none.
local function outcome_key(job, code)
  local k = tonumber(code) % 10
  if k < 1 or k > N_OUTCOMES then
    return nil
  end
  return JOB_P .. job .. ARGV[OUTCOME_AT + 2 * (k - 1) + 1]
end

-- The tenant's runs with the outcome of lifecycle code `code`; nil when it has none.
local function tenant_outcome_key(code)
  local k = tonumber(code) % 10
  if k < 1 or k > N_OUTCOMES then
    return nil
  end
  return KEYS[6 + k]
end

-- A run's fields in ARGV from index i; its other keys are built where a step needs them.
-- `manual` (a manual run's requesting key, from its op's last argument) is set by the caller.
local function run_of(i)
  return { id = ARGV[i + 1], job_id = ARGV[i + 2], sched_id = ARGV[i + 3], at = ARGV[i + 4],
    owner = ARGV[i + 5], epoch = ARGV[i + 6], run = RUN_P .. ARGV[i + 1] .. RECORD_S }
end

-- The manual forms of the run steps and the arguments of each before the requesting key's id.
local MANUAL_OPS = { M = 7, S = 8, E = 6, C = 19, R = 12 }

local function live_member(r)
  return r.job_id .. '|' .. r.sched_id .. '|' .. r.id
end

local function log_key(id)
  return RUN_P .. id .. LOG_S
end

local function append_log(id, line)
  local key = log_key(id)
  redis.call('RPUSH', key, NOW_TXT .. ' ' .. line)
  redis.call('PEXPIRE', key, RETENTION)
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

-- The schedule's short number within its job (given on its first finished run): a record
-- names its schedule by it.
local ordinals = {}
local function ordinal(job, sched)
  local key = job .. '|' .. sched
  local k = ordinals[key]
  if k then
    return k
  end
  local jh = JOB_P .. job .. JOB_S
  k = redis.call('HGET', jh, 's@' .. sched)
  if not k then
    k = int(redis.call('HINCRBY', jh, 'so', 1))
    redis.call('HSET', jh, 's@' .. sched, k, 's#' .. k, sched)
  end
  ordinals[key] = k
  return k
end

-- Whether stream id a is below stream id b.
local function id_below(a, b)
  local am, as = string.match(a, '^(%d+)-(%d+)$')
  local bm, bs = string.match(b, '^(%d+)-(%d+)$')
  am, bm = tonumber(am), tonumber(bm)
  return am < bm or (am == bm and tonumber(as) < tonumber(bs))
end

-- Removes stream id xid from the job's positions `key`: from their oldest end they stay dense;
-- from anywhere else the job notes that its positions have holes (its queries then read its
-- runs stream instead).
local function unposition(job, key, xid)
  local head = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
  if not head then
    return
  end
  if head[2][2] == xid then
    redis.call('XDEL', key, head[1])
    return
  end
  local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
  local l = tonumber(string.match(head[1], '%-(%d+)$'))
  local h = tonumber(string.match(last[1], '%-(%d+)$'))
  while l <= h do
    local m = math.floor((l + h) / 2)
    local e = redis.call('XRANGE', key, '0-' .. int(m), '+', 'COUNT', 1)[1]
    if not e then
      return
    end
    if e[2][2] == xid then
      redis.call('XDEL', key, e[1])
      redis.call('HSET', JOB_P .. job .. JOB_S, 'holes', '1')
      return
    elseif id_below(e[2][2], xid) then
      l = tonumber(string.match(e[1], '%-(%d+)$')) + 1
    else
      h = m - 1
    end
  end
end

-- Forgets the finished run at stream id xid of job `job` (its schedule's oldest): its
-- record, its entries in the job's and the tenant's streams and its outcome's positions, its
-- run id, run number and extra log lines. The caller removes its entry of the schedule's
-- positions.
local function forget(job, xid)
  local runs = JOB_P .. job .. JOB_RUNS_S
  local e = redis.call('XRANGE', runs, xid, xid)[1]
  if e then
    local f = e[2]
    -- The record's fields in their fixed order (see finish): id, s, n, ..., k at 20.
    id_del(f[2])
    number_del(job, f[6])
    redis.call('DEL', log_key(f[2]))
    local okey = outcome_key(job, f[20])
    if okey then
      unposition(job, okey, xid)
      redis.call('XDEL', tenant_outcome_key(f[20]), xid)
    end
  end
  unposition(job, JOB_P .. job .. JOB_POS_S, xid)
  redis.call('XDEL', runs, xid)
  redis.call('XDEL', TENANT_RUNS, xid)
end

-- The per-schedule cap, as a run of the schedule is created: a schedule with CAP finished runs
-- or more forgets its oldest, to keep CAP - 1 and the new one.
local function enforce_cap(job, sched)
  local sched_runs = SCHED_P .. sched .. SCHED_RUNS_S
  local over = redis.call('XLEN', sched_runs) - CAP + 1
  if over <= 0 then
    return
  end
  for _, e in ipairs(redis.call('XRANGE', sched_runs, '-', '+', 'COUNT', over)) do
    forget(job, e[2][2])
    redis.call('XDEL', sched_runs, e[1])
  end
end


-- Trims the positions `s` (a schedule's or a job's) whose run is below stream id `upto` (their oldest end).
local function trim_positions(s, upto)
  while true do
    local head = redis.call('XRANGE', s, '-', '+', 'COUNT', 64)
    local gone = 0
    for _, e in ipairs(head) do
      if not id_below(e[2][2], upto) then
        break
      end
      redis.call('XDEL', s, e[1])
      gone = gone + 1
    end
    if gone < 64 then
      return
    end
  end
end

-- Trims job `job` to the retention age: its runs older than MINID (at most `limit` of them
-- a call) are forgotten, in every stream and hash. Returns the runs removed.
local function trim_job(job, limit)
  local runs = JOB_P .. job .. JOB_RUNS_S
  local old = redis.call('XRANGE', runs, '-', '(' .. MINID .. '-0', 'COUNT', limit)
  if #old == 0 then
    return 0
  end
  for _, e in ipairs(old) do
    local f = e[2]
    id_del(f[2])
    number_del(job, f[6])
    redis.call('DEL', log_key(f[2]))
  end
  -- Everything below `upto` goes: the whole expired range, or up to the last run read.
  local upto = MINID .. '-0'
  if #old == limit then
    local ms, seq = string.match(old[#old][1], '^(%d+)-(%d+)$')
    upto = ms .. '-' .. int(tonumber(seq) + 1)
  end
  redis.call('XTRIM', runs, 'MINID', upto)
  redis.call('XTRIM', TENANT_RUNS, 'MINID', upto)
  trim_positions(JOB_P .. job .. JOB_POS_S, upto)
  for o = 0, N_OUTCOMES - 1 do
    trim_positions(JOB_P .. job .. ARGV[OUTCOME_AT + 2 * o + 1], upto)
    redis.call('XTRIM', KEYS[7 + o], 'MINID', upto)
  end
  local jh = JOB_P .. job .. JOB_S
  local n = tonumber(redis.call('HGET', jh, 'so') or '0')
  for k = 1, n do
    local sched = redis.call('HGET', jh, 's#' .. int(k))
    if sched then
      trim_positions(SCHED_P .. sched .. SCHED_RUNS_S, upto)
    end
  end
  return #old
end

-- Removes the tenant's unfinished runs created before the retention age (their messages are
-- long gone): at most 256 a call. Returns the runs removed.
local function trim_live()
  local old = redis.call('ZRANGEBYSCORE', LIVE, '-inf', '(' .. int(tonumber(MINID) * 1024),
    'LIMIT', 0, 256)
  for _, m in ipairs(old) do
    local job, id = string.match(m, '^([^|]*)|[^|]*|(.*)$')
    local run = RUN_P .. id .. RECORD_S
    local nums = redis.call('HGET', run, 'm')
    if nums and job then
      number_del(job, string.match(nums, '^(%d+)'))
    end
    redis.call('DEL', run, log_key(id))
    id_del(id)
    redis.call('ZREM', LIVE, m)
    redis.call('ZREM', ASYNC, m)
  end
  return #old
end

-- Creates the record of unfinished run r with the job's run number n (a string).
local function create(r, n)
  -- A schedule cannot have CAP finished runs before its job has numbered CAP runs.
  if tonumber(n) > CAP then
    enforce_cap(r.job_id, r.sched_id)
  end
  -- Creation order within the call breaks ties of one millisecond (the live set's score is
  -- ms * 1024 + the call's sequence).
  local xid = int(CLOCK) .. '-' .. int(clock_seq)
  redis.call('ZADD', LIVE, int(CLOCK * 1024 + clock_seq), live_member(r))
  clock_seq = math.min(clock_seq + 1, 1023)
  -- The numbers no script reads go as one field, 'm' = "<n> <sched_at> <created> <epoch>".
  -- 'xid' is the run's place in the log while it is not finished.
  redis.call('HSET', r.run, 'id', r.id, 'job', r.job_id, 'sched', r.sched_id,
    'status', 'SCHEDULED', 'state', 'SCHEDULED', 'xid', xid, 'owner', r.owner,
    'm', n .. ' ' .. r.at .. ' ' .. NOW .. ' ' .. r.epoch)
  if r.manual then
    redis.call('HSET', r.run, 'manual', r.manual)
  end
end

-- materialize, for runs rs (each with its index `slot` in the reply `out`): a run whose id is
-- known (or that came earlier in this call) is left alone (0); the others are checked against
-- their job and schedule (-1 gone, -2 inactive when check_active) and created (1). The runs of
-- one job take their run numbers with one HINCRBY and their build entries with one HSET, and
-- their schedule definitions are read with one HMGET.
-- Admission, set by an 'a' operation (the leader's calls): a tenant has at most ADMIT_CAP
-- runs in flight (materialized, no result recorded yet), so its backlog cannot fill the queue
-- that every tenant shares. A run counts from its creation until its result, or until its
-- timeout plus ADMIT_SLACK has passed (a run whose message was lost or dead-lettered).
local ADMIT_CAP, ADMIT_SLACK, admitted = nil, 0, nil
local function admit(r)
  if not ADMIT_CAP or ADMIT_CAP <= 0 then
    return true
  end
  if not admitted then
    redis.call('ZREMRANGEBYSCORE', IN_FLIGHT, '-inf', '(' .. NOW)
    admitted = redis.call('ZCARD', IN_FLIGHT)
  end
  if admitted >= ADMIT_CAP then
    return false
  end
  admitted = admitted + 1
  redis.call('ZADD', IN_FLIGHT, int(NOW_N + tonumber(r.timeout) + ADMIT_SLACK), r.id)
  return true
end

-- The concurrency policies (set by a 'p' operation): a job whose definition says forbid or
-- replace keeps its schedules' latest runs in its hash (`c@<schedule>` = run id). That run is
-- in progress while its unfinished record exists and, unless it waits for an asynchronous
-- report, its last activity (created, started, retry due) plus its timeout and POLICY_SLACK
-- has not passed (a run whose message was lost does not hold its schedule forever; a worker
-- that died has its run redelivered).
local CANCEL_CODE, POLICY_SLACK = nil, 0
local FORBID, REPLACE = '"concurrencyPolicy":"forbid"', '"concurrencyPolicy":"replace"'

local function policy_of(jdef)
  if not CANCEL_CODE then
    return nil
  end
  if string.find(jdef, FORBID, 1, true) then
    return 'forbid'
  elseif string.find(jdef, REPLACE, 1, true) then
    return 'replace'
  end
  return nil
end

-- The run of r's schedule in progress, other than r: its id, status and state; nil when none.
local function in_progress(r)
  local cur = redis.call('HGET', JOB_P .. r.job_id .. JOB_S, 'c@' .. r.sched_id)
  if not cur or cur == r.id then
    return nil
  end
  local f = redis.call('HMGET', RUN_P .. cur .. RECORD_S, 'status', 'state', 'm', 'exec_at', 'next_at')
  if not f[1] then
    return nil
  end
  if f[2] ~= 'ACK_RECVD' then
    local created = tonumber(string.match(f[3] or '', '^%S+ %S+ (%S+)') or '0')
    local last = math.max(created, tonumber(f[4] or '0'), tonumber(f[5] or '0'))
    if NOW_N > last + tonumber(r.timeout) + POLICY_SLACK then
      return nil
    end
  end
  return cur, f[1], f[2]
end

local finish
-- Ends run `id` (unfinished) as cancelled by run `by`: at once when it is not running (queued,
-- or waiting for a retry: its message finds it finished and calls nothing), else by its
-- worker, which watches for `cancel` and aborts the call (or by the run's redelivery, if its
-- worker died).
local function cancel(id, by, running)
  local run = RUN_P .. id .. RECORD_S
  local text = 'cancelled: replaced by run ' .. by .. ' (concurrencyPolicy replace)'
  if running then
    redis.call('HSET', run, 'cancel', by)
    append_log(id, text .. '; its call is aborted')
    return
  end
  local f = redis.call('HMGET', run, 'job', 'sched', 'owner', 'm', 'attempt', 'exec_at', 'worker',
    'manual', 'tries')
  redis.call('ZREM', IN_FLIGHT, id)
  finish({ id = id, job_id = f[1], sched_id = f[2], owner = f[3] or '', run = run }, f[4],
    { exec_at = f[6] or NOW, dur = '0', http = '', code = CANCEL_CODE, text = text, body = '',
      err = '=', worker = f[7] or '', attempt = f[5] or '0', manual = f[8] or nil,
      tries = f[9] or nil, reason = 'cancelled' })
end

local seen = {}
local function materialize(rs, check_active, out)
  local jobs, by_job = {}, {}
  for _, r in ipairs(rs) do
    -- Claims the run id ('' while unfinished) in one step; a refused run gives it back.
    local k, f = id_slot(r.id)
    if seen[r.id] then
      out[r.slot] = 0
    elseif redis.call('HSETNX', k, f, '') == 0 then
      -- Known: unfinished ('') or finished (its stream id), which is not to be published again.
      out[r.slot] = (redis.call('HGET', k, f) == '') and 0 or -3
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
    -- The job's concurrency policy, looked up once for all of its runs in the call.
    local job_policy = jdef and policy_of(jdef)
    local make = {}
    for k, r in ipairs(g) do
      -- Both definitions are serialised by chime with one `"active"` member each: a plain
      -- search is enough (and much cheaper than decoding the JSON on every fire).
      if not jdef or not sdefs[k] then
        out[r.slot] = -1
        seen[r.id] = nil
        id_del(r.id)
      elseif check_active and not r.manual and (not string.find(jdef, ACTIVE, 1, true)
          or not string.find(sdefs[k], ACTIVE, 1, true)) then
        out[r.slot] = -2
        seen[r.id] = nil
        id_del(r.id)
      else
        -- A manual run ("run now") is not held to its job's concurrency policy.
        local policy = not r.manual and job_policy
        local cur, status, state = nil, nil, nil
        if policy then
          cur, status, state = in_progress(r)
        end
        if cur and policy == 'forbid' then
          out[r.slot] = -5
          seen[r.id] = nil
          id_del(r.id)
        elseif not admit(r) then
          out[r.slot] = -4
          seen[r.id] = nil
          id_del(r.id)
        else
          if cur then
            -- Only a call in progress has a worker to abort it; a run waiting for its
            -- asynchronous report ends at once.
            cancel(cur, r.id, status == 'RUNNING' and state == 'TRIGGERED')
          end
          if policy then
            redis.call('HSET', JOB_P .. job .. JOB_S, 'c@' .. r.sched_id, r.id)
          end
          make[#make + 1] = r
        end
      end
    end
    if #make > 0 then
      -- Numbers handed to redis.call are formatted with '%.17g' (slow); integers go as strings.
      local last = redis.call('HINCRBY', JOB_P .. job .. JOB_S, 'seq', int(#make))
      -- The call's numbers are consecutive: their buckets are written with one HSET each.
      local bucket, fields = nil, {}
      for k, r in ipairs(make) do
        local ns = int(last - #make + k)
        create(r, ns)
        local key, field = number_slot(job, ns)
        if key ~= bucket and #fields > 0 then
          redis.call('HSET', bucket, unpack(fields))
          fields = {}
        end
        bucket = key
        fields[#fields + 1] = field
        fields[#fields + 1] = r.id
        out[r.slot] = 1
      end
      redis.call('HSET', bucket, unpack(fields))
    end
  end
end

-- Whether a live tail listens to job r's results: tails keep the job's live-tail marker alive
-- while they listen, and only then do results go to the job's "done" stream. Read once per
-- job and call.
local tails = {}
local function tailed(job)
  local t = tails[job]
  if t == nil then
    t = redis.call('EXISTS', JOB_P .. job .. TAILS_S) == 1
    tails[job] = t
  end
  return t
end

-- Completed, or acknowledged by an asynchronous job: the run has its result.
local function finished(status, state)
  return status == 'COMPLETED' or state == 'ACK_RECVD'
end

-- The unfinished record's fields `names` (after its id), creating the record first when it
-- does not exist (a worker can reach a run before the leader's record does, e.g. after a
-- Redis restart). 'done' when the run has finished; nil when the job or schedule is gone.
local function record(r, names)
  local f = redis.call('HMGET', r.run, 'id', unpack(names))
  if f[1] then
    return f
  end
  local known = id_get(r.id)
  if known and known ~= '' then
    return 'done'
  end
  if known then
    -- Its id is known but its record was lost: it is made again, with a new number.
    id_del(r.id)
    seen[r.id] = nil
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
  if f == 'done' or finished(f[2], f[3]) then
    append_log(r.id, 'duplicate ' .. what .. ' worker ' .. WORKER .. ' ignored: the run already has its result')
    return nil, 0
  end
  return f
end

-- Whether run r may still be called: its job and schedule exist and are active (a one-time
-- schedule is deactivated by its own fire, which does not stop its run). A run of a deleted
-- or deactivated job or schedule that has not finished is forgotten (as a deleted job's
-- unfinished runs are), so nothing calls it.
local ONE_TIME = '"type":"one-time"'
local function alive(r)
  local jdef = jobdef(r.job_id)
  local sdef = jdef and redis.call('HGET', JOB_P .. r.job_id .. SCHEDULES_S, r.sched_id)
  if sdef and (r.manual or string.find(jdef, ACTIVE, 1, true) and (string.find(sdef, ACTIVE, 1, true)
      or string.find(sdef, ONE_TIME, 1, true))) then
    return true
  end
  redis.call('ZREM', IN_FLIGHT, r.id)
  if redis.call('DEL', r.run) == 1 then
    redis.call('DEL', log_key(r.id))
    redis.call('ZREM', LIVE, live_member(r))
    redis.call('ZREM', ASYNC, live_member(r))
    id_del(r.id)
  end
  return false
end

-- check: whether the first delivery of a fresh message may call at once (without a write,
-- but the forgetting of a run `alive` refuses and the log line of a duplicate): 1 yes, 0 the
-- run already has its result (a duplicate delivery, noted in the run's log as `start` notes
-- one), -1 its job or schedule is gone or inactive.
local function check(r)
  if not alive(r) then
    return -1
  end
  local known = id_get(r.id)
  if known and known ~= '' then
    append_log(r.id, 'duplicate delivery to worker ' .. WORKER .. ' ignored: the run already has its result')
    return 0
  end
  return 1
end

local function start(r, i)
  if not alive(r) then
    return -1
  end
  local f, code = step(r, { 'status', 'state', 'attempt', 'exec_at', 'worker', 'next', 'next_at',
    'cancel' }, 'delivery to')
  if not f then
    return code
  end
  if f[9] and CANCEL_CODE then
    -- Cancelled while running, and its worker died: it ends cancelled, not called again.
    cancel(r.id, f[9], false)
    return 0
  end
  local delivered, try = tonumber(ARGV[i + 7]), tonumber(ARGV[i + 8])
  local recorded = tonumber(f[4] or 0)
  local next_n = tonumber(f[7] or 0)
  if next_n > 0 then
    if try < next_n then
      -- An earlier attempt's message again: the retry it recorded is due at next_at. The
      -- answer carries both (next attempts are at most 11).
      return -(tonumber(f[8]) * 16 + next_n)
    end
    redis.call('HDEL', r.run, 'next', 'next_at')
  elseif try > 1 and try <= recorded and delivered == 1 then
    -- A second copy of a retry already started (its worker died after sending it, before
    -- acknowledging the message it came from): the copy that started is redelivered if it
    -- does not finish.
    append_log(r.id, 'duplicate message of attempt ' .. try .. ' to worker ' .. WORKER .. ' ignored')
    return 0
  end
  -- An attempt counts once its start is on record. A delivery the broker counts (ARGV) but
  -- the record does not ended before its run was marked: it never started (it sat prefetched
  -- in a worker that died), or its call was cut within `mark_running_after_ms`. A retry's
  -- message starts the attempt it carries.
  local attempt = math.max(recorded + 1, try)
  redis.call('HSET', r.run, 'status', 'RUNNING', 'state', 'TRIGGERED', 'exec_at', NOW,
    'worker', WORKER, 'attempt', int(attempt))
  if delivered > attempt and not f[5] then
    append_log(r.id, 'an earlier delivery ended before the run was marked started (never started, or its call was cut short); not counted as an attempt')
  end
  if attempt > try then
    -- Keep the earlier attempt's start line (the derived one now shows this attempt), so the
    -- text log only ever grows. '@<ms> ' lines get their timestamp formatted when read.
    if f[5] then
      redis.call('RPUSH', log_key(r.id), '@' .. f[5] .. ' attempt ' .. (attempt - 1) .. ' started on ' .. (f[6] or 'a worker'))
    end
    append_log(r.id, 'attempt ' .. (attempt - 1) .. ' did not finish; run redelivered to worker ' .. WORKER)
  end
  return attempt
end

-- An optional text as a record stores it: '' none, '=' the same as the run text, else '>' and
-- the text.
local function optional(v, text)
  if v == '' then
    return ''
  elseif v == text then
    return '='
  end
  return '>' .. v
end

-- The optional fields that end a finished record, in this order: 'v' a manual run's
-- requesting key, 'r' the attempts before the last of a run that was retried (one JSON line
-- each), 'g' the call's timing split, 'f' the failure reason.
local function extra_fields(x)
  if not x.manual and not x.tries and (x.timing or '') == '' and (x.reason or '') == '' then
    return NO_FIELDS
  end
  local f = {}
  local opt = { 'v', x.manual, 'r', x.tries, 'g', x.timing, 'f', x.reason }
  -- Its values may be nil: walk it by its known length.
  for k = 1, 8, 2 do
    local v = opt[k + 1]
    if v and v ~= '' then
      f[#f + 1] = opt[k]
      f[#f + 1] = v
    end
  end
  return f
end

-- Notifications, for a job with a `notifications` URL: a run that finished failed (not
-- cancelled) makes a `run.failed` note and lengthens its schedule's streak of failures (the
-- job hash's `f@<schedule>`); a success after failures makes a `schedule.recovered` note and
-- ends the streak. Run r scheduled at `at` finished with the result `x`.
local NOTIFY = '"notifications":"'
local function notify(r, at, x)
  local def = jobdef(r.job_id)
  if not def or x.reason == 'cancelled' or not string.find(def, NOTIFY, 1, true) then
    return
  end
  local k = tonumber(x.code) % 10
  if k < 1 or k > N_OUTCOMES then
    return
  end
  local outcome = ARGV[OUTCOME_AT + 2 * (k - 1)]
  local jh, streak_f = JOB_P .. r.job_id .. JOB_S, 'f@' .. r.sched_id
  local kind, id, streak
  if outcome == 'success' then
    streak = redis.call('HGET', jh, streak_f)
    if not streak then
      return
    end
    redis.call('HDEL', jh, streak_f)
    kind, id = 'schedule.recovered', r.id .. '.recovered'
  else
    streak = redis.call('HINCRBY', jh, streak_f, 1)
    kind, id = 'run.failed', r.id .. '.failed'
  end
  local j = cjson.decode(def)
  local err = x.err
  if err == '=' then
    err = x.text
  end
  add_note(NOTES, id, r.job_id, NOW, { 'k', kind, 'u', j.notifications, 'name', j.name,
    's', r.sched_id, 'r', r.id, 'a', at, 'o', outcome, 'h', x.http, 'f', x.reason or '',
    't', x.text, 'x', err or '', 'n', x.attempt, 'c', streak })
end

-- Reachability, for the leader's deactivation of schedules whose endpoint stays unreachable:
-- a run whose call made no connection (failure reason dns, connect, tls, or blocked by the
-- address guard) notes its schedule's first such finish in UNREACHABLE (NX: a streak keeps its
-- first instant); a call with any HTTP answer (`http`) takes the schedule out. Anything else
-- (a timeout, an invalid action, a cancellation) changes nothing. An answered run costs at most
-- one EXISTS per call, and a ZREM only while the tenant has unreachable schedules.
local NO_CONNECTION = { dns = true, connect = true, tls = true, blocked = true }
local UNREACHABLE = KEYS[7 + N_OUTCOMES]
local unreachable_any = nil
local function reach(r, http, reason)
  if NO_CONNECTION[reason or ''] then
    redis.call('ZADD', UNREACHABLE, 'NX', NOW, r.job_id .. '|' .. r.sched_id)
    unreachable_any = true
  elseif (http or '') ~= '' then
    if unreachable_any == nil then
      unreachable_any = redis.call('EXISTS', UNREACHABLE) == 1
    end
    if unreachable_any then
      redis.call('ZREM', UNREACHABLE, r.job_id .. '|' .. r.sched_id)
    end
  end
end

-- Writes the finished record of run r (its unfinished record's numbers in `nums`, "<n>
-- <sched_at> <created> <epoch>") and indexes it; `x` holds the result. Removes the unfinished
-- record.
finish = function(r, nums, x)
  local n, at, created, epoch = string.match(nums, '^(%S+) (%S+) (%S+) (%S+)$')
  local at_n = tonumber(at)
  -- The tenant's index entry carries what the run search filters on without the record:
  -- the job, the lifecycle code, the HTTP status and the duration; the same entry goes to
  -- the tenant's runs of its outcome.
  local xid = redis.call('XADD', TENANT_RUNS, '*', 'j', r.job_id, 'k', x.code, 'h', x.http,
    'u', x.dur)
  local tkey = tenant_outcome_key(x.code)
  if tkey then
    redis.call('XADD', tkey, xid, 'j', r.job_id, 'k', x.code, 'h', x.http, 'u', x.dur)
  end
  local job_runs = JOB_P .. r.job_id .. JOB_RUNS_S
  -- One fixed list of fields in one order, so a stream node stores their names once; times
  -- are offsets from the scheduled instant (small integers). record.rs reads it back.
  -- The optional fields follow, in their order ('v', 'r', 'g', 'f': extra_fields).
  redis.call('XADD', job_runs, xid, 'id', r.id, 's', ordinal(r.job_id, r.sched_id), 'n', n,
    'a', at, 'c', int(tonumber(created) - at_n), 'e', int(tonumber(x.exec_at) - at_n),
    'd', int(NOW_N - at_n), 'u', x.dur, 'h', x.http, 'k', x.code, 't', x.text,
    'b', optional(x.body, x.text), 'x', optional(x.err, x.text), 'w', x.worker,
    'p', x.attempt, 'o', r.owner, 'q', epoch, unpack(extra_fields(x)))
  redis.call('XADD', SCHED_P .. r.sched_id .. SCHED_RUNS_S, '0-*', 'x', xid)
  redis.call('XADD', JOB_P .. r.job_id .. JOB_POS_S, '0-*', 'x', xid)
  local okey = outcome_key(r.job_id, x.code)
  if okey then
    redis.call('XADD', okey, '0-*', 'x', xid)
  end
  -- The job's `lag`: the most a finished run's stream id (its finish, on Redis's clock) has
  -- been from its execution start, either way; a query by execution time reads that much
  -- beyond its bounds.
  local jh = JOB_P .. r.job_id .. JOB_S
  local lag = math.abs(tonumber(string.match(xid, '^(%d+)')) - tonumber(x.exec_at))
  if lag > tonumber(redis.call('HGET', jh, 'lag') or '0') then
    redis.call('HSET', jh, 'lag', int(lag))
  end
  id_set(r.id, xid)
  redis.call('DEL', r.run)
  redis.call('ZREM', LIVE, live_member(r))
  if tailed(r.job_id) then
    -- Announce the result on the job's "done" stream while a live tail listens (the stream
    -- outlives the last tail by a minute).
    local done = JOB_P .. r.job_id .. DONE_S
    redis.call('XADD', done, 'MAXLEN', '~', 1000, '*', 'r', r.id)
    redis.call('PEXPIRE', done, 60000)
  end
  -- Age trimming every 32nd run of a job is enough: queries hide older entries themselves.
  if tonumber(n) % 32 == 0 then
    trim_job(r.job_id, 256)
  end
  notify(r, at, x)
  reach(r, x.http, x.reason)
end

local UNFINISHED = { 'status', 'state', 'm', 'attempt', 'exec_at', 'worker', 'owner', 'http',
  'text', 'body', 'err', 'dur', 'manual', 'tries', 'timing' }

-- What completing a run reads of its unfinished record.
local COMPLETING = { 'status', 'state', 'm', 'attempt', 'owner', 'manual', 'tries' }

local function complete(r, i)
  -- The call is over, whatever the record says.
  redis.call('ZREM', IN_FLIGHT, r.id)
  local f, code = step(r, COMPLETING, 'result from')
  if not f then
    return code
  end
  local status, state = ARGV[i + 7], ARGV[i + 8]
  local http, text, body, err = ARGV[i + 10], ARGV[i + 11], ARGV[i + 12], ARGV[i + 13]
  -- A quick first delivery is recorded without a start step: this is its first attempt.
  local attempt = f[5]
  if not attempt or attempt == '0' then
    attempt = '1'
  end
  if ARGV[i + 16] ~= '' then
    redis.call('XADD', SCHED_P .. r.sched_id .. EVENTS_S, 'MAXLEN', '~', 1000, '*',
      'm', ARGV[i + 16], 'l', 'ERROR')
  end
  if status ~= 'COMPLETED' then
    -- Acknowledged (202): the run waits for its job's report, unfinished.
    local fields = { 'status', status, 'state', state, 'outcome', ARGV[i + 9], 'text', text,
      'dur', ARGV[i + 14], 'exec_at', ARGV[i + 15], 'worker', WORKER, 'attempt', attempt }
    local opt = { 'http', http, 'body', body, 'err', err, 'timing', ARGV[i + 18] }
    for k = 1, #opt, 2 do
      if opt[k + 1] ~= '' then
        fields[#fields + 1] = opt[k]
        fields[#fields + 1] = opt[k + 1]
      end
    end
    redis.call('HSET', r.run, unpack(fields))
    -- The deadline sweep finds it by the instant of its 202.
    redis.call('ZADD', ASYNC, NOW, live_member(r))
    reach(r, http, '')
    return 1
  end
  r.owner = f[6] or r.owner
  finish(r, f[4], { exec_at = ARGV[i + 15], dur = ARGV[i + 14], http = http, code = ARGV[i + 17],
    text = text, body = body, err = err, worker = WORKER, attempt = attempt,
    manual = f[7] or r.manual, tries = f[8] or nil, timing = ARGV[i + 18],
    reason = ARGV[i + 19] })
  return 1
end

-- A failed attempt whose retry the worker is about to send: the run waits, unfinished, as
-- SCHEDULED, with the attempt kept and the next one's number and instant. Once per attempt:
-- a duplicate (two copies of one attempt failed) records nothing and sends nothing.
local function retry(r, i)
  -- The call is over; a waiting retry holds no worker.
  redis.call('ZREM', IN_FLIGHT, r.id)
  local f, code = step(r, { 'status', 'state', 'attempt', 'next', 'tries' }, 'result from')
  if not f then
    return code
  end
  local n = tonumber(ARGV[i + 8])
  if tonumber(f[4] or 0) >= n or tonumber(f[5] or 0) >= n then
    append_log(r.id, 'duplicate result of attempt ' .. (n - 1) .. ' from worker ' .. WORKER .. ' ignored: its retry is recorded')
    return 0
  end
  local tries = ARGV[i + 7]
  if f[6] then
    tries = f[6] .. '\n' .. tries
  end
  redis.call('HSET', r.run, 'status', 'SCHEDULED', 'state', 'SCHEDULED', 'attempt', int(n - 1),
    'next', int(n), 'next_at', ARGV[i + 9], 'tries', tries, 'text', ARGV[i + 10])
  if ARGV[i + 11] ~= '' then
    redis.call('HSET', r.run, 'http', ARGV[i + 11])
  else
    redis.call('HDEL', r.run, 'http')
  end
  append_log(r.id, ARGV[i + 12])
  return 1
end

-- Finishes run `id` of job `job` and schedule `sched`, acknowledged asynchronously (its
-- unfinished record's fields `f`, as report and deadline read them: 'job', 'sched', then
-- UNFINISHED), with the lifecycle code `code` and the run text `text`: the one way an
-- asynchronous run finishes, by its job's report or by the deadline. Leaves the deadline's
-- index. `reason` is the failure reason ('' none).
local function finish_acknowledged(id, job, sched, f, code, text, reason)
  local r = { id = id, job_id = job, sched_id = sched, owner = f[9] or '',
    run = RUN_P .. id .. RECORD_S }
  redis.call('ZREM', ASYNC, live_member(r))
  finish(r, f[5], { exec_at = f[7] or NOW, dur = f[14] or '0', http = f[10] or '',
    code = code, text = text, body = f[12] or '', err = f[13] or '',
    worker = f[8] or '', attempt = f[6] or '1', manual = f[15] or nil, tries = f[16] or nil,
    timing = f[17] or nil, reason = reason })
end

-- An asynchronous job's report on its acknowledged run (SAP "Update Job Run Log").
local function report(i)
  local id, job, sched = ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local run = RUN_P .. id .. RECORD_S
  local f = redis.call('HMGET', run, 'job', 'sched', unpack(UNFINISHED))
  local ok = ARGV[i + 4] == 'true'
  local message = ARGV[i + 5]
  local said = (ok and 'SUCCESS' or 'ERROR') .. ': ' .. message
  if not f[1] then
    -- Finished already (its run id maps to its stream id), or unknown.
    local xid = id_get(id)
    if not xid or xid == '' then
      return -1
    end
    local e = redis.call('XRANGE', JOB_P .. job .. JOB_RUNS_S, xid, xid)[1]
    if not e or e[2][2] ~= id then
      return -1
    end
    local so = redis.call('HGET', JOB_P .. job .. JOB_S, 's#' .. e[2][4])
    if so ~= sched then
      return -1
    end
    -- Too late (a report before it, or the deadline, finished the run): noted, not recorded.
    append_log(id, 'job reported ' .. said .. '; ignored: the run already has its result')
    return 0
  end
  if f[1] ~= job or f[2] ~= sched then
    return -1
  end
  if f[3] == 'COMPLETED' then
    return 0
  end
  append_log(id, 'job reported ' .. said)
  finish_acknowledged(id, job, sched, f, ARGV[i + 6], message, '')
  return 1
end

-- The asynchronous deadline: the tenant's runs acknowledged before now minus its
-- `async_exec_timeout_s` (the value now, whenever they were acknowledged) and not reported
-- become COMPLETED/UNKNOWN, at most `limit` of them. A report and the deadline are steps of
-- this one script on the tenant's slot: whichever runs first finishes the run, and the other
-- finds it finished (a report then answers 0 and is noted in the run's log; the deadline finds
-- the run gone from its index). Members whose run is no longer waiting leave the index.
local function deadline(i)
  local secs = tonumber(redis.call('HGET', KEYS[1], 'async_exec_timeout_s') or ARGV[i + 1])
  local limit, code = tonumber(ARGV[i + 2]), ARGV[i + 3]
  local overdue = redis.call('ZRANGEBYSCORE', ASYNC, '-inf', int(NOW_N - secs * 1000),
    'LIMIT', 0, limit)
  local text = 'no report within the asynchronous deadline of ' .. int(secs) .. ' s'
  local done = 0
  for _, m in ipairs(overdue) do
    local job, sched, id = string.match(m, '^([^|]*)|([^|]*)|(.*)$')
    local f = redis.call('HMGET', RUN_P .. id .. RECORD_S, 'job', 'sched', unpack(UNFINISHED))
    if f[1] == job and f[2] == sched and f[3] == 'RUNNING' and f[4] == 'ACK_RECVD' then
      append_log(id, text)
      finish_acknowledged(id, job, sched, f, code, text, 'timeout')
      done = done + 1
    else
      redis.call('ZREM', ASYNC, m)
    end
  end
  return done
end

local out = {}
local pending = {}
local i = FIRST_OP
while i <= #ARGV do
  local op = ARGV[i]
  -- A manual run's step: the same step, and the requesting key after its arguments.
  local manual_at, manual = MANUAL_OPS[op], nil
  if manual_at then
    manual = ARGV[i + manual_at + 1]
    op = string.lower(op)
  end
  if op ~= 'm' and op ~= 'a' and op ~= 'p' and #pending > 0 then
    materialize(pending, true, out)
    pending = {}
  end
  if op == 'p' then
    CANCEL_CODE = ARGV[i + 1]
    POLICY_SLACK = tonumber(ARGV[i + 2])
    i = i + 3
  elseif op == 'a' then
    ADMIT_CAP = tonumber(redis.call('HGET', KEYS[1], 'max_in_flight') or ARGV[i + 1])
    ADMIT_SLACK = tonumber(ARGV[i + 2])
    i = i + 3
  elseif op == 'm' then
    -- Consecutive materialize steps go together (the leader's calls hold nothing else).
    local r = run_of(i)
    r.timeout = ARGV[i + 7]
    r.slot = #out + #pending + 1
    r.manual = manual
    pending[#pending + 1] = r
    i = i + 8
  elseif op == 's' then
    local r = run_of(i)
    r.manual = manual
    out[#out + 1] = start(r, i)
    i = i + 9
  elseif op == 'e' then
    local r = run_of(i)
    r.manual = manual
    out[#out + 1] = check(r)
    i = i + 7
  elseif op == 'c' then
    local r = run_of(i)
    r.manual = manual
    out[#out + 1] = complete(r, i)
    i = i + 20
  elseif op == 'r' then
    local r = run_of(i)
    r.manual = manual
    out[#out + 1] = retry(r, i)
    i = i + 13
  elseif op == 'u' then
    out[#out + 1] = report(i)
    i = i + 7
  elseif op == 'd' then
    out[#out + 1] = deadline(i)
    i = i + 4
  elseif op == 't' then
    out[#out + 1] = trim_job(ARGV[i + 1], 256)
    i = i + 2
  elseif op == 'l' then
    out[#out + 1] = trim_live()
    i = i + 2
  else
    return redis.error_reply('unknown run operation ' .. tostring(op))
  end
  if manual_at then
    i = i + 1
  end
end
if #pending > 0 then
  materialize(pending, true, out)
end
return out
