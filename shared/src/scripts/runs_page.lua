-- One page of a run-log stream with the records it points to, in one round trip.
-- KEYS 1 stream.  ARGV 1 offset  2 count  3 "desc" or "asc"  4 key prefix of run hashes.
-- Returns { total, record1, record2, ... } where each record is an HGETALL field list;
-- entries whose record has expired are left out.
local total = redis.call('XLEN', KEYS[1])
local offset = tonumber(ARGV[1])
local count = tonumber(ARGV[2])
local out = { total }
if count <= 0 or offset >= total then
  return out
end
local entries
if ARGV[3] == 'desc' then
  entries = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', offset + count)
else
  entries = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', offset + count)
end
for i = offset + 1, #entries do
  local fields = entries[i][2]
  local run = nil
  for j = 1, #fields, 2 do
    if fields[j] == 'r' then run = fields[j + 1] end
  end
  if run then
    local rec = redis.call('HGETALL', ARGV[4] .. run)
    if #rec > 0 then
      out[#out + 1] = rec
    end
  end
end
return out
