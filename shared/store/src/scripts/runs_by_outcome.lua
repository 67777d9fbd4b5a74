-- The query engine's path for outcome filters on a job: the job's outcome indexes (sorted sets
-- of run ids scored by fire time), so totals are ZCOUNTs and a page reads only what it shows.
--
-- KEYS 1 the tenant hash (its optional `retention_ms` overrides ARGV 8)  2.. the outcome indexes
-- ARGV 1 lowest fire time (ms, or '-inf')  2 highest (ms, or '+inf')  3 'desc' or 'asc'
--      4 matches to skip  5 page size
--      6, 7 the template of run record keys: the prefix and the suffix to put around a run id
--      8 default retention (ms)  9 '1' to count the total
-- Returns { total (-1 when not counted), has_more (0/1), id1, record1, ... } like runs_query,
-- where the id is the run's stream id.
local lo, hi, order = ARGV[1], ARGV[2], ARGV[3]
local skip, size = tonumber(ARGV[4]), tonumber(ARGV[5])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local floor = now - tonumber(redis.call('HGET', KEYS[1], 'retention_ms') or ARGV[8])
if lo == '-inf' or tonumber(lo) < floor then
  lo = tostring(math.max(floor, 0))
end
local out = { -1, 0 }
local total = 0
if ARGV[9] == '1' then
  for i = 2, #KEYS do
    total = total + redis.call('ZCOUNT', KEYS[i], lo, hi)
  end
  out[1] = total
end
-- Merge the first skip+size+1 of every index by score.
local want = skip + size + 1
local merged = {}
for i = 2, #KEYS do
  local part
  if order == 'desc' then
    part = redis.call('ZREVRANGEBYSCORE', KEYS[i], hi, lo, 'WITHSCORES', 'LIMIT', 0, want)
  else
    part = redis.call('ZRANGEBYSCORE', KEYS[i], lo, hi, 'WITHSCORES', 'LIMIT', 0, want)
  end
  for j = 1, #part, 2 do
    merged[#merged + 1] = { part[j], tonumber(part[j + 1]) }
  end
end
if order == 'desc' then
  table.sort(merged, function(a, b) if a[2] ~= b[2] then return a[2] > b[2] end return a[1] > b[1] end)
else
  table.sort(merged, function(a, b) if a[2] ~= b[2] then return a[2] < b[2] end return a[1] < b[1] end)
end
if #merged > skip + size then out[2] = 1 end
for i = skip + 1, math.min(#merged, skip + size) do
  local rec = redis.call('HGETALL', ARGV[6] .. merged[i][1] .. ARGV[7])
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
