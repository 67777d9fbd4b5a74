-- Takes a schedule out of one of the tenant's lifecycle indexes (its unreachable schedules, or
-- its inactive one-time schedules) while its mark there is still the one the caller read: a
-- write that marked it again meanwhile keeps it.
--
-- KEYS 1 the index (a zset of `<job>|<schedule>`)
-- ARGV 1 the schedule's member  2 the mark the caller read (ms)
-- Returns 1 when removed, 0 when the mark is another (or gone).

if tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]) or '-1') == tonumber(ARGV[2]) then
  return redis.call('ZREM', KEYS[1], ARGV[1])
end
return 0
