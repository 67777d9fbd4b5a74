-- Deactivates a finished schedule (SAP's deactivation on completion), a compare-and-set: the
-- schedule's stored definition is replaced only while it is still the one the caller read, so
-- a change made meanwhile (by the API) is never overwritten and a deleted schedule is never
-- written back.
--
-- A job with a `notifications` URL gets its `schedule.deactivated` note in the same step.
--
-- KEYS 1 the job's schedules hash  2 the tenant's notes due (notes.lua)
-- ARGV 1 the schedule id  2 the definition the caller read  3 the definition to store
--      4 now (ms)  5, 6 the template of a note's key  7, 8 the template of a job's notes,
--      then, for a note: 9 its id, 10 the job id, then its fields (name, value, ...)
-- Returns 1 when replaced, 0 when the stored definition is another (or gone).

if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  if ARGV[9] then
    local notes = { due = KEYS[2], note = { ARGV[5], ARGV[6] }, list = { ARGV[7], ARGV[8] } }
    add_note(notes, ARGV[9], ARGV[10], ARGV[4], { unpack(ARGV, 11) })
  end
  return 1
end
return 0
