-- The run-log query engine: one page of a scope's runs, filtered, with their records.
--
-- A scope's log is its unfinished runs (the tenant's live set, by creation) and its finished
-- runs (in the order they finished). Newest first, the unfinished runs come first; oldest
-- first, they come last. A schedule's and a job's finished runs are read from their positions
-- (dense streams of stream ids: a count is a difference of positions, a bound a binary
-- search; a job's of one outcome from the job's positions of that outcome); the tenant's from
-- its runs stream (ids are times). What positions cannot answer (a schedule's runs of some
-- outcomes; a job whose positions have holes) is a walk of the job's runs stream.
--
-- KEYS 1 the tenant hash (its optional `retention_ms` overrides ARGV 12)  2 the cursor's
--   run-id bucket
--   3 the tenant's live set  4 the tenant's runs stream  5 the tenant's schedule → job hash
-- ARGV 1 scope: 's' a schedule, 'j' a job, 't' the tenant
--      2 the job id ('' for the tenant, or for a schedule: read from KEYS 5)
--      3 the schedule id ('' unless scope 's')
--      4 lowest time (ms, '' for none)  5 highest time (ms, '' for none), inclusive
--      6 'desc' (newest first) or 'asc'  7 start after this run id ('' for none)
--      8 matches to skip  9 page size
--      10 the runs kept: '' every run (unfinished ones too), '*' every finished run, or the
--        outcomes kept, comma-separated as positions in the outcome list (1-based)
--      11 '1' to count every match (the total)  12 default retention (ms)
--      13, 14 the template of unfinished records (prefix, suffix around a run id)
--      15 the prefix of a job's keys, 16 the job hash's suffix, 17 the job runs' suffix
--      18 the prefix of a schedule's keys, 19 its positions' suffix  20 the suffix of a job's
--        positions  21-24 the suffix of a job's positions of each outcome, in the outcome
--        list's order  25 the cursor's field in its run-id bucket
-- Returns { total (-1 when not counted), has_more (0/1), id1, record1, id2, record2, ... }:
-- an unfinished run's record is its hash's field list; a finished one's is its stream entry's
-- field list followed by 'job', 'sched' and '~' (see record.rs). A cursor that names no run
-- of the log is the error reply NOCURSOR.
local scope, job, sched = ARGV[1], ARGV[2], ARGV[3]
if scope == 's' and job == '' then
  job = redis.call('HGET', KEYS[5], sched) or ''
end
local desc = ARGV[6] == 'desc'
local after = ARGV[7]
local skip, size = tonumber(ARGV[8]), tonumber(ARGV[9])
local keeps = ARGV[10]
local count = ARGV[11] == '1'
local RUN_P, RUN_S = ARGV[13], ARGV[14]
local JOB_P, JOB_S, JOB_RUNS_S = ARGV[15], ARGV[16], ARGV[17]
local SCHED_P, POSITIONS_S, JOB_POS_S = ARGV[18], ARGV[19], ARGV[20]
local out = { -1, 0 }

local lo, hi = bounds(KEYS[1], ARGV[12], ARGV[4], ARGV[5])

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

-- The outcomes kept, as suffixes of a schedule's positions ({} for all runs).
local outcome_suffixes = {}
local want = {}
if keeps ~= '' and keeps ~= '*' then
  for c in string.gmatch(keeps, '%d+') do
    want[c] = true
    outcome_suffixes[#outcome_suffixes + 1] = ARGV[20 + tonumber(c)]
  end
end

-- The unfinished runs of the scope in the time bounds, oldest first (run ids).
local function live_runs()
  if keeps ~= '' then
    return {}
  end
  local max = hi and ('(' .. int((hi + 1) * 1024)) or '+inf'
  local members = redis.call('ZRANGEBYSCORE', KEYS[3], int(lo * 1024), max)
  local prefix = ''
  if scope == 's' then
    prefix = job .. '|' .. sched .. '|'
  elseif scope == 'j' then
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

-- A finished run's record (its stream entry's fields), from job j's runs stream.
local function record(j, xid)
  local e = redis.call('XRANGE', JOB_P .. j .. JOB_RUNS_S, xid, xid)[1]
  return e and e[2]
end

-- Adds a finished run to the page.
local function emit_finished(j, xid, fields)
  fields = fields or record(j, xid)
  if not fields then
    return
  end
  out[#out + 1] = xid
  out[#out + 1] = answered(fields, j, JOB_P .. j .. JOB_S)
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

-- Positions: a dense stream `key` whose entries at ids 0-from .. 0-to hold increasing stream
-- ids (field `x`).
local function position_of(key, p)
  local e = redis.call('XRANGE', key, '0-' .. int(p), '0-' .. int(p))[1]
  return e and e[2][2]
end
-- The first position in [a, b + 1] whose stream id is not below `id` (b + 1 if none).
local function lower_bound(key, a, b, id)
  local l, h = a, b + 1
  while l < h do
    local m = math.floor((l + h) / 2)
    local x = position_of(key, m)
    if x and id_below(x, id) then
      l = m + 1
    else
      h = m
    end
  end
  return l
end

-- A source of finished runs: the positions of `key` within the bounds and after the cursor
-- (a stream id or nil): { key, from, to } (empty when from > to).
local function source(key, cursor)
  local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)[1]
  if not first then
    return nil
  end
  local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)[1]
  local from, to = select(2, parse_id(first[1])), select(2, parse_id(last[1]))
  local a, b = from, to
  if id_below(first[2][2], int(lo) .. '-0') then
    from = lower_bound(key, a, b, int(lo) .. '-0')
  end
  if hi and not id_below(last[2][2], int(hi + 1) .. '-0') then
    to = lower_bound(key, from, b, int(hi + 1) .. '-0') - 1
  end
  if cursor then
    local c = lower_bound(key, from, to, cursor)
    if desc then
      to = math.min(to, c - 1)
    elseif position_of(key, c) == cursor then
      from = c + 1
    else
      from = c
    end
  end
  if from > to then
    return nil
  end
  return { key = key, from = from, to = to }
end

-- The sources of a schedule's or a job's finished runs: the schedule's positions, or the
-- job's (of the outcomes kept).
local function sources(cursor)
  local keys = {}
  if scope == 's' then
    keys[1] = SCHED_P .. sched .. POSITIONS_S
  elseif #outcome_suffixes > 0 then
    for _, suffix in ipairs(outcome_suffixes) do
      keys[#keys + 1] = JOB_P .. job .. suffix
    end
  else
    keys[1] = JOB_P .. job .. JOB_POS_S
  end
  local list = {}
  for _, key in ipairs(keys) do
    local src = source(key, cursor)
    if src then
      list[#list + 1] = src
    end
  end
  return list
end

-- The finished part from positions: its count and a page function. page(s, n) adds up to n
-- runs after skipping s, in the query's order, and returns whether more follow.
local function positional_part(cursor)
  local list = sources(cursor)
  local n = 0
  for _, src in ipairs(list) do
    n = n + src.to - src.from + 1
  end
  local function page(s, size)
    if s >= n or size <= 0 then
      return n > s
    end
    local picked = {}
    if #list == 1 then
      local src = list[1]
      local entries
      if desc then
        entries = redis.call('XREVRANGE', src.key, '0-' .. int(src.to - s),
          '0-' .. int(src.from), 'COUNT', size)
      else
        entries = redis.call('XRANGE', src.key, '0-' .. int(src.from + s),
          '0-' .. int(src.to), 'COUNT', size)
      end
      for _, e in ipairs(entries) do
        picked[#picked + 1] = e[2][2]
      end
    else
      -- Several outcomes: the first s + size of each, merged by stream id.
      local all = {}
      for _, src in ipairs(list) do
        local take = math.min(src.to - src.from + 1, s + size)
        local entries
        if desc then
          entries = redis.call('XREVRANGE', src.key, '0-' .. int(src.to),
            '0-' .. int(src.to - take + 1))
        else
          entries = redis.call('XRANGE', src.key, '0-' .. int(src.from),
            '0-' .. int(src.from + take - 1))
        end
        for _, e in ipairs(entries) do
          all[#all + 1] = e[2][2]
        end
      end
      table.sort(all, function(a, b)
        if desc then return id_below(b, a) end
        return id_below(a, b)
      end)
      for k = s + 1, math.min(#all, s + size) do
        picked[#picked + 1] = all[k]
      end
    end
    for _, xid in ipairs(picked) do
      emit_finished(job, xid, nil)
    end
    return n > s + size
  end
  return n, function() return n end, page
end

-- The finished part from a time-ordered stream (the tenant's runs, or a job's records): its
-- count (nil when not asked for and not free), a count function and a page function.
-- `resolve(e)` gives an entry's job and record fields (nil when it is only an index entry),
-- `wanted(fields)` whether a record passes the filter (nil: every entry passes unread).
local function time_part(stream, cursor, resolve, wanted)
  local low, high = int(lo) .. '-0', hi and (int(hi) .. '-18446744073709551615') or '+'
  if cursor then
    if desc then high = '(' .. cursor else low = '(' .. cursor end
  end
  local filtered = wanted ~= nil
  local function keep(e)
    local j, fields = resolve(e)
    if not filtered then
      return j, fields
    end
    fields = fields or record(j, e[1])
    if fields and wanted(fields) then
      return j, fields
    end
    return nil
  end
  -- A walk of the range: counts matches (all of them when not emitting) and emits the page.
  local function walk(s, size, emit)
    local matched, l, h = 0, low, high
    while true do
      local batch = 512
      local entries
      if desc then
        entries = redis.call('XREVRANGE', stream, h, l, 'COUNT', batch)
      else
        entries = redis.call('XRANGE', stream, l, h, 'COUNT', batch)
      end
      for _, e in ipairs(entries) do
        local j, fields = keep(e)
        if j then
          matched = matched + 1
          if emit and matched > s + size then
            return matched, true
          elseif emit and matched > s then
            emit_finished(j, e[1], fields)
          end
        end
      end
      if #entries < batch then
        return matched, false
      end
      local last = entries[#entries][1]
      if desc then h = '(' .. last else l = '(' .. last end
    end
  end
  local whole = false
  if not filtered and not hi and not cursor then
    local first = redis.call('XRANGE', stream, '-', '+', 'COUNT', 1)[1]
    whole = not first or not id_below(first[1], low)
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
  local function page(s, size)
    if size <= 0 then
      return total() > s
    end
    if whole then
      if s >= n then
        return false
      end
      local entries
      if desc then
        entries = redis.call('XREVRANGE', stream, '+', '-', 'COUNT', s + size)
      else
        entries = redis.call('XRANGE', stream, '-', '+', 'COUNT', s + size)
      end
      for k = s + 1, #entries do
        local j, fields = resolve(entries[k])
        emit_finished(j, entries[k][1], fields)
      end
      return n > s + size
    end
    local _, more = walk(s, size, true)
    return more
  end
  return n, total, page
end

-- The cursor: an unfinished run (its place among the live runs) or a finished one (its
-- stream id).
local live = live_runs()
local cursor = nil
if after ~= '' then
  local state = redis.call('HGET', KEYS[2], ARGV[25])
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
    local rest = {}
    if desc then
      for k = 1, at - 1 do rest[#rest + 1] = live[k] end
    else
      for k = at + 1, #live do rest[#rest + 1] = live[k] end
    end
    live = rest
    cursor = 'live'
  else
    -- A finished run: newest first, every unfinished run came before it.
    cursor = state
    if desc then
      live = {}
    end
  end
end

-- The log's two parts, in the query's order.
local live_part = live
if desc then
  live_part = {}
  for k = #live, 1, -1 do live_part[#live_part + 1] = live[k] end
end
local fin_n, fin_total, fin_page = 0, function() return 0 end, function() return false end
if not (cursor == 'live' and not desc) then
  local c = cursor ~= 'live' and cursor or nil
  local function kept(fields)
    return want[string.sub(fields[20], -1)] == true
  end
  local job_records = function(e) return job, e[2] end
  if scope == 't' then
    local tenant_entry = function(e) return e[2][2], nil end
    fin_n, fin_total, fin_page = time_part(KEYS[4], c, tenant_entry, next(want) and kept or nil)
  elseif scope == 's' and next(want) then
    -- A schedule's runs of some outcomes: its job's records of its number and those outcomes.
    local k = redis.call('HGET', JOB_P .. job .. JOB_S, 's@' .. sched) or ''
    local of_sched = function(fields) return fields[4] == k and kept(fields) end
    fin_n, fin_total, fin_page = time_part(JOB_P .. job .. JOB_RUNS_S, c, job_records, of_sched)
  elseif scope == 'j' and redis.call('HEXISTS', JOB_P .. job .. JOB_S, 'holes') == 1 then
    -- The cap removed positions from the middle of the job's: its records, walked.
    local filter = next(want) and kept or nil
    fin_n, fin_total, fin_page = time_part(JOB_P .. job .. JOB_RUNS_S, c, job_records, filter)
  else
    fin_n, fin_total, fin_page = positional_part(c)
  end
end
local n_live = #live_part
if count then
  out[1] = n_live + (fin_n or fin_total())
end

local function emit_live_page(s, n)
  for k = s + 1, math.min(n_live, s + n) do
    emit_live(live_part[k])
  end
  return n_live > s + n
end
if desc then
  local taken = math.max(0, math.min(size, n_live - skip))
  local more = emit_live_page(skip, size)
  if fin_page(math.max(0, skip - n_live), size - taken) then more = true end
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
