-- The tenant-wide run search: one page of a tenant's runs that pass every filter, newest
-- first, read from an index and bounded in the work it does.
--
-- The log's order: the runs not finished yet (the tenant's live set, newest created first),
-- then the finished runs (newest finished first). Finished runs are read from one index, the
-- one the caller names: the tenant's runs stream, the tenant's runs of one outcome, or one
-- job's records. An index entry of the tenant's carries the job, the lifecycle code, the HTTP
-- status and the duration, so those filters need no record; a record is read for a run that
-- passed them (to answer it, and for the text filter). A call examines at most ARGV 12 index
-- entries and reads at most ARGV 13 records; when it stops early it answers a cursor to go on
-- from, with the page it has (possibly short, possibly empty).
--
-- KEYS 1 the tenant hash (its optional `retention_ms` overrides ARGV 2)  2 the tenant's live
--   set  3 the finished runs' index to read
-- ARGV 1 the index's kind: 't' an index of the tenant's (entries j, k, h, u), 'j' a job's
--        records (then KEYS 3 is that job's runs stream)
--      2 default retention (ms)
--      3 the job id kept ('' any)
--      4 the lifecycle codes kept, each between commas (',' .. code .. ','), '' any
--      5 the HTTP statuses kept: ranges 'lo-hi' separated by commas, '' any
--      6 keep runs whose call lasted longer than this (ms), '' any
--      7 the text the response body must contain, lowercased ('' any)
--      8 lowest time (ms, '' none)  9 highest time (ms, '' none), inclusive: when a run
--        finished (its stream id), or, not finished, when it was created
--      10 the cursor: '' the start, 'l<score>|<member>' among the live runs, 'f<stream id>'
--         among the finished ones
--      11 page size  12 index entries to examine at most  13 records to read at most
--      14 the unfinished runs' (runStatus/runState) kept, each between commas, '' any, '-'
--         none (the search has a filter no unfinished run can pass)
--      15, 16 the template of unfinished records (prefix, suffix around a run id)
--      17 the prefix of a job's keys, 18 the job hash's suffix, 19 the job runs' suffix
-- Returns { cursor ('' when the log is exhausted), entries examined, id1, record1, ... }: an
-- unfinished run's record is its hash's field list; a finished one's is its stream entry's
-- field list followed by 'job', 'sched' and '~' (see record.rs).

local kind, job_kept, codes, statuses = ARGV[1], ARGV[3], ARGV[4], ARGV[5]
local dur_above = tonumber(ARGV[6])
local text = ARGV[7]
local cursor = ARGV[10]
local size, budget, reads = tonumber(ARGV[11]), tonumber(ARGV[12]), tonumber(ARGV[13])
local live_kept = ARGV[14]
local RUN_P, RUN_S = ARGV[15], ARGV[16]
local JOB_P, JOB_S, JOB_RUNS_S = ARGV[17], ARGV[18], ARGV[19]

local lo, hi = bounds(KEYS[1], ARGV[2], ARGV[8], ARGV[9])

local ranges = {}
for a, b in string.gmatch(statuses, '(%d+)-(%d+)') do
  ranges[#ranges + 1] = { tonumber(a), tonumber(b) }
end

-- Whether a run's job, lifecycle code (nil: not checked, for an unfinished run), HTTP status
-- and duration pass the filters.
local function passes(j, code, http, dur)
  if job_kept ~= '' and j ~= job_kept then
    return false
  end
  if code and codes ~= '' and not string.find(codes, ',' .. code .. ',', 1, true) then
    return false
  end
  if #ranges > 0 then
    local h = tonumber(http)
    if not h then
      return false
    end
    local inside = false
    for _, r in ipairs(ranges) do
      if h >= r[1] and h <= r[2] then
        inside = true
      end
    end
    if not inside then
      return false
    end
  end
  if dur_above and not ((tonumber(dur) or -1) > dur_above) then
    return false
  end
  return true
end

-- Whether a body (nil or false: none) contains the text filter's.
local function contains(body)
  return text == '' or (body and string.find(string.lower(body), text, 1, true) ~= nil) or false
end

local out = { '', 0 }
local found, examined = 0, 0

-- Whether the call must stop before examining another entry.
local function spent()
  return found >= size or examined >= budget or reads <= 0
end

-- The unfinished runs first, newest created first (a live member's score is its creation in
-- ms times 1024 plus a sequence), after the cursor's (score, member) when given. Returns
-- false when the call stopped (out[1] is then the cursor).
local function live_part(after_score, after_member)
  local min = int(lo * 1024)
  local max = hi and ('(' .. int((hi + 1) * 1024)) or '+inf'
  if after_score then
    max = after_score
  end
  while true do
    local batch = redis.call('ZREVRANGEBYSCORE', KEYS[2], max, min, 'WITHSCORES', 'LIMIT', 0, 256)
    for k = 1, #batch, 2 do
      local m, score = batch[k], batch[k + 1]
      -- Members of the cursor's score at or after it came before.
      if not (after_member and score == after_score and m >= after_member) then
        if spent() then
          return false
        end
        examined = examined + 1
        out[1] = 'l' .. score .. '|' .. m
        local j, id = string.match(m, '^([^|]*)|[^|]*|(.*)$')
        local rec_key = j and (RUN_P .. id .. RUN_S)
        local f = rec_key and redis.call('HMGET', rec_key, 'status', 'state', 'http', 'dur', 'body')
        if f and f[1] and (live_kept == '' or string.find(live_kept, ',' .. f[1] .. '/' .. f[2] .. ',', 1, true))
            and passes(j, nil, f[3], f[4]) and contains(f[5]) then
          reads = reads - 1
          local rec = redis.call('HGETALL', rec_key)
          local xid = ''
          for i = 1, #rec, 2 do
            if rec[i] == 'xid' then xid = rec[i + 1] end
          end
          out[#out + 1] = xid
          out[#out + 1] = rec
          found = found + 1
        end
      end
    end
    if #batch < 512 then
      return true
    end
    -- Go on from the batch's last score (its members past the last one).
    after_score, after_member = batch[#batch], batch[#batch - 1]
    max = after_score
  end
end

local function emit(j, xid, fields)
  out[#out + 1] = xid
  out[#out + 1] = answered(fields, j, JOB_P .. j .. JOB_S)
  found = found + 1
end

-- A record's response body as stored (field 'b' at 24: '' none, '=' the run text at 22, '>'
-- and the body).
local function body_of(f)
  local b = f[24]
  if b == '=' then
    return f[22]
  elseif b and b ~= '' then
    return string.sub(b, 2)
  end
  return nil
end

-- A finished run's record, from job j's runs stream (counts as a read).
local function record(j, xid)
  reads = reads - 1
  local e = redis.call('XRANGE', JOB_P .. j .. JOB_RUNS_S, xid, xid)[1]
  return e and e[2]
end

-- One finished entry of the index: emitted when it passes.
local function examine(xid, f)
  if kind == 'j' then
    -- A job's record: duration at 16, HTTP status at 18, code at 20.
    if passes(job_kept, f[20], f[18], f[16]) and contains(body_of(f)) then
      emit(job_kept, xid, f)
    end
    return
  end
  local j = f[2]
  local rec
  if f[3] == nil then
    -- An index entry written before entries carried the code: the record decides.
    rec = record(j, xid)
    if not rec or not passes(j, rec[20], rec[18], rec[16]) then
      return
    end
  elseif not passes(j, f[4], f[6], f[8]) then
    return
  else
    rec = record(j, xid)
  end
  if rec and contains(body_of(rec)) then
    emit(j, xid, rec)
  end
end

-- Then the finished runs, newest finished first, below stream id `after` (nil: from the
-- newest). Returns false when the call stopped.
local function finished_part(after)
  local high = hi and (int(hi) .. '-18446744073709551615') or '+'
  if after then
    high = '(' .. after
  end
  local low = int(lo) .. '-0'
  while true do
    local entries = redis.call('XREVRANGE', KEYS[3], high, low, 'COUNT', 256)
    for _, e in ipairs(entries) do
      if spent() then
        return false
      end
      examined = examined + 1
      out[1] = 'f' .. e[1]
      examine(e[1], e[2])
    end
    if #entries < 256 then
      return true
    end
    high = '(' .. entries[#entries][1]
  end
end

local done
if cursor == '' or string.sub(cursor, 1, 1) == 'l' then
  local score, member = nil, nil
  if cursor ~= '' then
    score, member = string.match(cursor, '^l([^|]+)|(.*)$')
  end
  done = live_kept == '-' or live_part(score, member)
  if done then
    out[1] = 'F'
    done = finished_part(nil)
  end
elseif cursor == 'F' then
  done = finished_part(nil)
else
  done = finished_part(string.sub(cursor, 2))
end
if done then
  out[1] = ''
end
out[2] = examined
return out
