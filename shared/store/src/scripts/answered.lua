-- Goes before the query scripts (`runs_query.lua`, `runs_search.lua`): what they share, the
-- bounds retention sets and a finished run's record as they answer it (record.rs reads it
-- back).

local function int(n)
  return string.format('%d', n)
end

-- A query's time bounds (ms, inclusive; nil: none) from its arguments `from` and `to`:
-- nothing past the retention age (the tenant hash's `retention_ms`, else `default`), so the
-- lower bound is at least now less it.
local function bounds(tenant_hash, default, from, to)
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  local retention = tonumber(redis.call('HGET', tenant_hash, 'retention_ms') or default)
  return math.max(0, now - retention, tonumber(from) or 0), tonumber(to)
end

-- Schedule numbers of a job → schedule ids, read once per call.
local answered_sched_ids = {}

-- A finished run's stream entry `fields` (of job j, whose hash is `job_hash`), as the query
-- scripts answer it: followed by 'job', 'sched' (the schedule id its number stands for) and
-- the marker '~'.
local function answered(fields, j, job_hash)
  local k = fields[4]
  local known = j .. '#' .. k
  local s = answered_sched_ids[known]
  if s == nil then
    s = redis.call('HGET', job_hash, 's#' .. k) or ''
    answered_sched_ids[known] = s
  end
  fields[#fields + 1] = 'job'
  fields[#fields + 1] = j
  fields[#fields + 1] = 'sched'
  fields[#fields + 1] = s
  fields[#fields + 1] = '~'
  fields[#fields + 1] = '1'
  return fields
end
