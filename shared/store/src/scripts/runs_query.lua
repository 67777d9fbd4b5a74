-- The run-log query engine: one page of a run stream, filtered, with the records it points to.
--
-- KEYS 1 stream (a tenant's, a job's or a schedule's runs)  2 the tenant hash (its optional
--   `retention_ms` overrides ARGV 10)  3 (optional) the schedule's rank index, used for offset
--   pages without a filter or an upper bound.
-- ARGV 1 lowest stream id ('-' or an id; '(' prefix = exclusive)
--      2 highest stream id ('+' or an id; '(' prefix = exclusive)
--      3 'desc' (newest first) or 'asc'
--      4 matches to skip  5 page size
--      6, 7 the template of run record keys: the prefix and the suffix to put around a run id
--      8 outcomes to keep, comma-separated ('' keeps every run; e.g. 'failure,error')
--      9 '1' to count every match (the total), '0' to stop after the page
--      10 default retention (ms): nothing older than now minus the retention is shown
-- Returns { total (-1 when not counted), has_more (0/1), id1, record1, id2, record2, ... }
-- where each record is an HGETALL field list. Entries whose record has expired are skipped.
local lo, hi, order = ARGV[1], ARGV[2], ARGV[3]
local skip, size = tonumber(ARGV[4]), tonumber(ARGV[5])
local RUN_PREFIX, RUN_SUFFIX = ARGV[6], ARGV[7]
local count = ARGV[9] == '1'
local want = {}
local filtered = ARGV[8] ~= ''
for o in string.gmatch(ARGV[8], '[^,]+') do want[o] = true end
local out = { -1, 0 }

local function record_key(run)
  return RUN_PREFIX .. run .. RUN_SUFFIX
end

local function ms_of(id)
  return tonumber(string.match(id, '^%(?(%d+)'))
end
-- A stream id's milliseconds and sequence ('(' prefix ignored; a missing sequence is 0).
local function id_parts(id)
  local ms, seq = string.match(id, '^%(?(%d+)%-?(%d*)')
  return tonumber(ms), tonumber(seq) or 0
end
-- Nothing past the retention age: raise the lower bound to now - retention.
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local floor = now - tonumber(redis.call('HGET', KEYS[2], 'retention_ms') or ARGV[10])
if lo == '-' or ms_of(lo) < floor then
  lo = math.max(floor, 0) .. '-0'
end

-- Fast path: no filter, no upper bound, and no entry of the stream older than the lower bound
-- (nothing past retention): the total is the stream length.
-- Rank path: offset pages of a schedule's run log read its rank index, so a deep offset is a
-- rank lookup (O(log N)) instead of a walk of the stream. Rank scores are stream ids as
-- ms * 1024 + seq; an index that still holds scores of the earlier form (ms + seq / 4096, all
-- below 2^41) until the retention sweep rescales them is left to the stream walk.
local function rank_ready()
  local head = redis.call('ZRANGE', KEYS[3], 0, 0, 'WITHSCORES')
  return #head == 0 or tonumber(head[2]) >= 2199023255552
end
if KEYS[3] and not filtered and hi == '+' and string.sub(lo, 1, 1) ~= '(' and rank_ready() then
  -- As a string: Lua would write a number this large with 14 digits.
  local min = string.format('%d', ms_of(lo) * 1024)
  local total = redis.call('ZCOUNT', KEYS[3], min, '+inf')
  out[1] = total
  if skip >= total or size == 0 then
    return out
  end
  local last = math.min(skip + size, total) - 1
  local ids
  if order == 'desc' then
    ids = redis.call('ZRANGE', KEYS[3], skip, last, 'REV')
  else
    local expired = redis.call('ZCOUNT', KEYS[3], '-inf', '(' .. min)
    ids = redis.call('ZRANGE', KEYS[3], expired + skip, expired + last)
  end
  if total > skip + size then out[2] = 1 end
  for _, run in ipairs(ids) do
    local rec = redis.call('HGETALL', record_key(run))
    if #rec > 0 then
      local xid = ''
      for j = 1, #rec, 2 do
        if rec[j] == 'xid' then xid = rec[j + 1] end
      end
      out[#out + 1] = xid
      out[#out + 1] = rec
    end
  end
  return out
end

local whole = false
if not filtered and hi == '+' then
  if lo == '-' then
    whole = true
  else
    -- Whole only when the bound excludes no entry: the first entry is at or past an
    -- inclusive bound, or strictly past an exclusive one (a cursor in the first entry's
    -- millisecond is not the start of the stream).
    local first = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)
    if #first == 0 then
      whole = true
    else
      local fms, fseq = id_parts(first[1][1])
      local lms, lseq = id_parts(lo)
      local exclusive = string.sub(lo, 1, 1) == '('
      whole = fms > lms or (fms == lms and (fseq > lseq or (fseq == lseq and not exclusive)))
    end
  end
end
if whole then
  local total = redis.call('XLEN', KEYS[1])
  out[1] = total
  if skip >= total or size == 0 then
    return out
  end
  local entries
  if order == 'desc' then
    entries = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', skip + size + 1)
  else
    entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', skip + size + 1)
  end
  for i = skip + 1, math.min(#entries, skip + size) do
    local e = entries[i]
    local run = e[2][2]
    local rec = redis.call('HGETALL', record_key(run))
    if #rec > 0 then
      out[#out + 1] = e[1]
      out[#out + 1] = rec
    end
  end
  out[1] = total
  if #entries > skip + size then out[2] = 1 end
  return out
end

local matched, taken = 0, 0
local batch = 512
while true do
  local entries
  if order == 'desc' then
    entries = redis.call('XREVRANGE', KEYS[1], hi, lo, 'COUNT', batch)
  else
    entries = redis.call('XRANGE', KEYS[1], lo, hi, 'COUNT', batch)
  end
  for i = 1, #entries do
    local e = entries[i]
    local key = record_key(e[2][2])
    local ok
    if filtered then
      local o = redis.call('HGET', key, 'outcome')
      ok = o and want[o]
    else
      ok = redis.call('EXISTS', key) == 1
    end
    if ok then
      matched = matched + 1
      if matched > skip and taken < size then
        taken = taken + 1
        out[#out + 1] = e[1]
        out[#out + 1] = redis.call('HGETALL', key)
      elseif matched > skip + size then
        out[2] = 1
        if not count then
          return out
        end
      end
    end
  end
  if #entries < batch then
    break
  end
  local last = entries[#entries][1]
  if order == 'desc' then hi = '(' .. last else lo = '(' .. last end
end
if count then out[1] = matched end
return out
