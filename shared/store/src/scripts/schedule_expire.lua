-- Removes an inactive one-time schedule not run for long (SAP: "one-time schedules are deleted
-- if they haven't been run in the last 30 days"), a compare-and-set, as the API deletes one:
-- its definition and its entry in the tenant's schedule -> job map, and its members of the
-- lifecycle indexes. Only while its stored definition is still the one the caller read and its
-- mark in the index the one the caller read, so a write made meanwhile (by the API) keeps it.
--
-- KEYS 1 the job's schedules hash  2 the tenant's schedule -> job map  3 the tenant's
--      inactive one-time schedules  4 the tenant's unreachable schedules (zsets of
--      `<job>|<schedule>`)
-- ARGV 1 the schedule id  2 the definition the caller read  3 the schedule's member of the
--      zsets  4 its mark in the one-time index the caller read (ms)
-- Returns 1 when removed, 0 when the definition or the mark is another (or gone).

if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2]
    or tonumber(redis.call('ZSCORE', KEYS[3], ARGV[3]) or '-1') ~= tonumber(ARGV[4]) then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZREM', KEYS[3], ARGV[3])
redis.call('ZREM', KEYS[4], ARGV[3])
return 1
