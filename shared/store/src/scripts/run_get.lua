-- One run's record and its extra log lines, by run id.
--
-- KEYS 1 the run's unfinished record  2 the run id's bucket  3 the tenant's runs stream  4 the
--   run's extra log lines  5 the tenant hash (its optional `retention_ms` overrides ARGV 5)
-- ARGV 1 the run id's field in its bucket  2 the prefix of a job's keys, 3 the job hash's suffix, 4 the job runs'
--   suffix  5 the default retention (ms)
-- Returns { record, extra lines }: an unfinished run's hash fields, or a finished run's stream
-- entry fields followed by 'job', 'sched' and '~' (see record.rs); an empty record when there
-- is no such run, or it is past the retention age (its place in the log older than now minus
-- the retention).
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local floor = now - tonumber(redis.call('HGET', KEYS[5], 'retention_ms') or ARGV[5])
local function expired(id)
  return tonumber(string.match(id or '', '^(%d+)') or '0') < floor
end
local extra = redis.call('LRANGE', KEYS[4], 0, -1)
local rec = redis.call('HGETALL', KEYS[1])
if #rec > 0 then
  for k = 1, #rec, 2 do
    if rec[k] == 'xid' and expired(rec[k + 1]) then
      return { {}, {} }
    end
  end
  return { rec, extra }
end
local xid = redis.call('HGET', KEYS[2], ARGV[1])
if not xid or xid == '' or expired(xid) then
  return { {}, {} }
end
local t = redis.call('XRANGE', KEYS[3], xid, xid)[1]
if not t then
  return { {}, extra }
end
local job = t[2][2]
local e = redis.call('XRANGE', ARGV[2] .. job .. ARGV[4], xid, xid)[1]
if not e then
  return { {}, extra }
end
local fields = e[2]
fields[#fields + 1] = 'job'
fields[#fields + 1] = job
fields[#fields + 1] = 'sched'
fields[#fields + 1] = redis.call('HGET', ARGV[2] .. job .. ARGV[3], 's#' .. fields[4]) or ''
fields[#fields + 1] = '~'
fields[#fields + 1] = '1'
return { fields, extra }
