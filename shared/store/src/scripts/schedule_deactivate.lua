-- Deactivates a schedule the service ends, a compare-and-set: a finished schedule (SAP's
-- deactivation on completion, the leader's settle) or one whose endpoint has been unreachable
-- too long (the leader's lifecycle sweep). The schedule's stored definition is replaced only
-- while it is still the one the caller read, so a change made meanwhile (by the API) is never
-- overwritten and a deleted schedule is never written back; a deactivation for unreachability
-- also needs the schedule's unreachable mark to be the one the caller read (no run has had an
-- answer since).
--
-- The schedule leaves the tenant's unreachable schedules; a one-time schedule enters the
-- tenant's inactive one-time schedules, counted from now. A job with a `notifications` URL gets
-- its `schedule.deactivated` note in the same step.
--
-- KEYS 1 the job's schedules hash  2 the tenant's notes due (notes.lua)  3 the tenant's
--      unreachable schedules  4 the tenant's inactive one-time schedules (zsets of
--      `<job>|<schedule>`)
-- ARGV 1 the schedule id  2 the definition the caller read  3 the definition to store
--      4 the schedule's member of the zsets  5 its unreachable mark the caller read (ms; ''
--      for a completion: not checked)  6 '1' for a one-time schedule, else ''
--      7 now (ms)  8, 9 the template of a note's key  10, 11 the template of a job's notes,
--      then, for a note: 12 its id, 13 the job id, then its fields (name, value, ...)
-- Returns 1 when replaced, 0 when the stored definition is another (or gone), or the mark is.

if redis.call('HGET', KEYS[1], ARGV[1]) ~= ARGV[2] then
  return 0
end
if ARGV[5] ~= '' and tonumber(redis.call('ZSCORE', KEYS[3], ARGV[4]) or '-1') ~= tonumber(ARGV[5]) then
  return 0
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
redis.call('ZREM', KEYS[3], ARGV[4])
if ARGV[6] == '1' then
  redis.call('ZADD', KEYS[4], ARGV[7], ARGV[4])
end
if ARGV[12] then
  local notes = { due = KEYS[2], note = { ARGV[8], ARGV[9] }, list = { ARGV[10], ARGV[11] } }
  add_note(notes, ARGV[12], ARGV[13], ARGV[7], { unpack(ARGV, 14) })
end
return 1
