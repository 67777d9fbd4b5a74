-- Deactivates a finished schedule (SAP's deactivation on completion), a compare-and-set: the
-- schedule's stored definition is replaced only while it is still the one the caller read, so
-- a change made meanwhile (by the API) is never overwritten and a deleted schedule is never
-- written back.
--
-- KEYS 1 the job's schedules hash
-- ARGV 1 the schedule id  2 the definition the caller read  3 the definition to store
-- Returns 1 when replaced, 0 when the stored definition is another (or gone).

if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
  return 1
end
return 0
