-- The run-log query engine: one page of a scope's runs, filtered, with their records.
--
-- A scope's log is its unfinished runs (the tenant's live set, by creation) and its finished
-- runs (a stream, in the order they finished). Newest first, the unfinished runs come first;
-- oldest first, they come last.
--
-- KEYS 1 the tenant hash (its optional `retention_ms` overrides ARGV 12)  2 the run-id hash
--   3 the tenant's live set  4 the stream of finished runs the page reads: the schedule's
--   positions (mode 's'), the job's runs ('j', 'f', 'w'), one outcome of the job ('o'), or the
--   tenant's runs ('t')  5 the tenant's schedule → job hash (mode 's' without a job id)
-- ARGV 1 mode: 's' a schedule, 'j' a job, 'f' a job's finished runs, 'o' a job's runs of one
--        outcome, 'w' a job's runs of the outcomes in ARGV 10 (a walk), 't' the tenant
--      2 the job id ('' for the tenant)  3 the schedule id ('' unless mode 's')
--      4 lowest time (ms, '' for none)  5 highest time (ms, '' for none), inclusive
--      6 'desc' (newest first) or 'asc'  7 start after this run id ('' for none)
--      8 matches to skip  9 page size  10 outcome codes to keep (comma-separated digits, a
--        lifecycle code's last one; '' keeps every run, unfinished ones too) in modes 'w',
--        's' and 't'  11 '1' to count every match (the total)
--      12 default retention (ms)
--      13, 14 the template of unfinished records (prefix, suffix around a run id)
--      15 the prefix of a job's keys, 16 the job hash's suffix, 17 the job runs' suffix
-- Returns { total (-1 when not counted), has_more (0/1), id1, record1, id2, record2, ... }:
-- an unfinished run's record is its hash's field list; a finished one's is its stream entry's
-- field list followed by 'job', 'sched' and '~' (see record.rs). A cursor that names no run
-- of the log is the error reply NOCURSOR.
local mode, job, sched = ARGV[1], ARGV[2], ARGV[3]
if mode == 's' and job == '' then
  job = redis.call('HGET', KEYS[5], sched) or ''
end
local order = ARGV[6]
local after = ARGV[7]
local skip, size = tonumber(ARGV[8]), tonumber(ARGV[9])
local count = ARGV[11] == '1'
local RUN_P, RUN_S = ARGV[13], ARGV[14]
local JOB_P, JOB_S, JOB_RUNS_S = ARGV[15], ARGV[16], ARGV[17]
local desc = order == 'desc'
local out = { -1, 0 }

-- Nothing past the retention age: the lower bound is at least now - retention.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local floor = math.max(0, now - tonumber(redis.call('HGET', KEYS[1], 'retention_ms') or ARGV[12]))
local lo = math.max(floor, tonumber(ARGV[4]) or 0)
local hi = tonumber(ARGV[5])

local function int(n)
  return string.format('%d', n)
end

local function parse_id(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end

-- Whether stream id a is below stream id b.
local function id_below(a, b)
  local am, as = parse_id(a)
  local bm, bs = parse_id(b)
  return am < bm or (am == bm and as < bs)
end

-- The unfinished runs of the scope in the time bounds, oldest first: { member, run id }.
local function live_runs()
  if (mode ~= 's' and mode ~= 'j' and mode ~= 't') or ARGV[10] ~= '' then
    return {}
  end
  local max = hi and ('(' .. int((hi + 1) * 1024)) or '+inf'
  local members = redis.call('ZRANGEBYSCORE', KEYS[3], int(lo * 1024), max)
  local prefix = ''
  if mode == 's' then
    prefix = job .. '|' .. sched .. '|'
  elseif mode == 'j' then
    prefix = job .. '|'
  end
  local runs = {}
  for _, m in ipairs(members) do
    if string.sub(m, 1, #prefix) == prefix then
      runs[#runs + 1] = string.match(m, '([^|]*)$')
    end
  end
  return runs
end

-- Schedule numbers of a job → schedule ids, read once per call.
local sched_ids = {}
local function sched_of(j, k)
  local key = j .. '#' .. k
  local s = sched_ids[key]
  if s == nil then
    s = redis.call('HGET', JOB_P .. j .. JOB_S, 's#' .. k) or ''
    sched_ids[key] = s
  end
  return s
end

-- A finished run's page entry: its stream id and its record, from job j's runs stream.
local function emit_finished(j, xid, fields)
  if not fields then
    local e = redis.call('XRANGE', JOB_P .. j .. JOB_RUNS_S, xid, xid)[1]
    if not e then
      return
    end
    fields = e[2]
  end
  fields[#fields + 1] = 'job'
  fields[#fields + 1] = j
  fields[#fields + 1] = 'sched'
  fields[#fields + 1] = sched_of(j, fields[4])
  fields[#fields + 1] = '~'
  fields[#fields + 1] = '1'
  out[#out + 1] = xid
  out[#out + 1] = fields
end

local function emit_live(id)
  local rec = redis.call('HGETALL', RUN_P .. id .. RUN_S)
  if #rec == 0 then
    return
  end
  local xid = ''
  for k = 1, #rec, 2 do
    if rec[k] == 'xid' then
      xid = rec[k + 1]
    end
  end
  out[#out + 1] = xid
  out[#out + 1] = rec
end

-- The finished part: a source of stream entries in the bounds, with a count, a skip and a page.
-- Time-ordered streams (every mode but 's') are read by stream id; a schedule's positions by
-- position, found by binary search on the stream ids they hold.
local want = {}
for c in string.gmatch(ARGV[10], '%d+') do
  want[c] = true
end

local filtered = next(want) ~= nil

-- Resolves a source entry into (job, xid, fields or nil).
local function target(e)
  if mode == 's' then
    return job, e[2][2], nil
  elseif mode == 't' then
    return e[2][2], e[1], nil
  elseif mode == 'o' then
    return job, e[1], nil
  end
  return job, e[1], e[2]
end

-- A source entry's run, when it passes the outcome filter: (job, xid, fields or nil).
local function keep(e)
  local j, xid, fields = target(e)
  if not filtered then
    return j, xid, fields
  end
  if not fields then
    local r = redis.call('XRANGE', JOB_P .. j .. JOB_RUNS_S, xid, xid)[1]
    if not r then
      return nil
    end
    fields = r[2]
  end
  if want[string.sub(fields[20], -1)] then
    return j, xid, fields
  end
  return nil
end

local stream = KEYS[4]

-- Mode 's': positions [a, b] hold stream ids in increasing order.
local function position_of(p)
  local e = redis.call('XRANGE', stream, '0-' .. int(p), '0-' .. int(p))[1]
  return e and e[2][2]
end
-- The first position in [a, b + 1] whose stream id is not below `id` (b + 1 if none).
local function lower_bound(a, b, id)
  local l, h = a, b + 1
  while l < h do
    local m = math.floor((l + h) / 2)
    local x = position_of(m)
    if x and id_below(x, id) then
      l = m + 1
    else
      h = m
    end
  end
  return l
end

-- The finished runs after the cursor (xid, or nil), in the bounds: { count, page function }.
-- page(skip, n) emits up to n of them after skipping `skip`, in the query's order, and
-- returns whether more follow.
local function finished_part(cursor)
  local low, high, from, to
  if mode == 's' then
    local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
    if not first then
      return 0, function() return 0 end, function() return false end
    end
    local last = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', 1)[1]
    local a, b = select(2, parse_id(first[1])), select(2, parse_id(last[1]))
    from, to = a, b
    if id_below(first[2][2], int(lo) .. '-0') then
      from = lower_bound(a, b, int(lo) .. '-0')
    end
    if hi and not id_below(last[2][2], int(hi + 1) .. '-0') then
      to = lower_bound(from, b, int(hi + 1) .. '-0') - 1
    end
    if cursor then
      local c = lower_bound(from, to, cursor)
      if desc then
        to = math.min(to, c - 1)
      elseif position_of(c) == cursor then
        from = c + 1
      else
        from = c
      end
    end
    if filtered then
      -- Filtered: a walk of the positions in the bounds.
      if from > to then
        return 0, function() return 0 end, function() return false end
      end
      low, high = '0-' .. int(from), '0-' .. int(to)
    end
  end
  if mode == 's' and not filtered then
    local n = math.max(0, to - from + 1)
    return n, function() return n end, function(s, size)
      if s >= n or size <= 0 then
        return n > s
      end
      local entries
      if desc then
        entries = redis.call('XREVRANGE', stream, '0-' .. int(to - s), '0-' .. int(from),
          'COUNT', size)
      else
        entries = redis.call('XRANGE', stream, '0-' .. int(from + s), '0-' .. int(to),
          'COUNT', size)
      end
      for _, e in ipairs(entries) do
        local j, xid = target(e)
        emit_finished(j, xid, nil)
      end
      return n > s + size
    end
  end
  -- Time-ordered streams (and a filtered schedule's positions, bounded above).
  if mode ~= 's' then
    low, high = int(lo) .. '-0', hi and (int(hi) .. '-18446744073709551615') or '+'
    if cursor then
      if desc then high = '(' .. cursor else low = '(' .. cursor end
    end
  end
  local whole = false
  if not filtered and not hi and not cursor then
    local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
    whole = not first or not id_below(first[1], low)
  end
  -- A walk of the range: counts matches (all of them when counting) and emits the page.
  local function walk(s, size, emit)
    local matched, l, h = 0, low, high
    local more = false
    while true do
      local batch = 512
      local entries
      if desc then
        entries = redis.call('XREVRANGE', stream, h, l, 'COUNT', batch)
      else
        entries = redis.call('XRANGE', stream, l, h, 'COUNT', batch)
      end
      for _, e in ipairs(entries) do
        local j, xid, fields = keep(e)
        if j then
          matched = matched + 1
          if emit and matched > s and matched <= s + size then
            emit_finished(j, xid, fields)
          elseif matched > s + size then
            more = true
            if emit then
              -- A page's walk stops here: its count, when asked for, came first.
              return matched, more
            end
          end
        end
      end
      if #entries < batch then
        return matched, more
      end
      local last = entries[#entries][1]
      if desc then h = '(' .. last else l = '(' .. last end
    end
  end
  local n
  if whole then
    n = redis.call('XLEN', stream)
  elseif count then
    n = walk(0, 0, false)
  end
  local function total()
    if not n then
      n = walk(0, 0, false)
    end
    return n
  end
  return n, total, function(s, size)
    if whole then
      if s >= n or size <= 0 then
        return n > s
      end
      local entries
      if desc then
        entries = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', s + size)
      else
        entries = redis.call('XRANGE', stream, '-', '+', 'COUNT', s + size)
      end
      for k = s + 1, #entries do
        local j, xid, fields = target(entries[k])
        emit_finished(j, xid, fields)
      end
      return n > s + size
    end
    if size <= 0 then
      return total() > s
    end
    local _, more = walk(s, size, true)
    return more
  end
end

-- The cursor: an unfinished run (its place among the live runs) or a finished one (its
-- stream id).
local live = live_runs()
local live_from, cursor = 1, nil
if after ~= '' then
  local state = redis.call('HGET', KEYS[2], after)
  if not state then
    return redis.error_reply('NOCURSOR the cursor names no run of this log')
  end
  if state == '' then
    local at = nil
    for k, id in ipairs(live) do
      if id == after then at = k end
    end
    if not at then
      return redis.error_reply('NOCURSOR the cursor names no run of this log')
    end
    -- Newest first: the live runs older than the cursor, then every finished run; oldest
    -- first: the live runs newer than it, and no finished run.
    if desc then
      local older = {}
      for k = 1, at - 1 do older[#older + 1] = live[k] end
      live = older
    else
      local newer = {}
      for k = at + 1, #live do newer[#newer + 1] = live[k] end
      live = newer
    end
    cursor = 'live'
  else
    cursor = state
  end
end

-- The log's two parts, in the query's order.
local live_part = live
if desc then
  live_part = {}
  for k = #live, 1, -1 do live_part[#live_part + 1] = live[k] end
end
local skip_finished = cursor == 'live' and not desc
local fin_n, fin_total, fin_page = 0, function() return 0 end, function() return false end
if not skip_finished then
  fin_n, fin_total, fin_page = finished_part(cursor ~= 'live' and cursor or nil)
end
local n_live = #live_part
if count then
  out[1] = n_live + (fin_n or 0)
end

-- Emit: first part, then second part.
local function emit_live_page(s, size)
  for k = s + 1, math.min(n_live, s + size) do
    emit_live(live_part[k])
  end
  return n_live > s + size
end
if desc then
  local taken = math.max(0, math.min(size, n_live - skip))
  local more = emit_live_page(skip, size)
  local rest = size - taken
  local s = math.max(0, skip - n_live)
  if fin_page(s, rest) then more = true end
  if more then out[2] = 1 end
else
  local before = #out
  local more = fin_page(skip, size)
  local taken = (#out - before) / 2
  if more then
    out[2] = 1
  else
    -- The finished part ended on this page (the live runs start at their first), or before
    -- it (they start after what the skip leaves).
    local s = 0
    if taken == 0 and skip > 0 then
      s = math.max(0, skip - fin_total())
    end
    if emit_live_page(s, size - taken) then out[2] = 1 end
  end
end
return out
