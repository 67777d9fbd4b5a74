-- Notifications (prepended to the scripts that make them): a note is one event for a job's
-- `notifications` URL, a hash in the tenant's slot, due for delivery in the tenant's notes due
-- (a zset: id scored by the instant its next attempt is due, ms) and listed in its job's
-- notes (a zset: id scored by its creation). `N` names those keys: `due` the key, `note` and
-- `list` the templates (prefix, suffix) of a note's key by its id and a job's list by its id. A job keeps its newest NOTES_PER_JOB notes; a note lives
-- NOTE_TTL_MS after its last change. Its id is the event's, made of what it is about, so a
-- second making of one event is a no-op.
local NOTE_TTL_MS, NOTES_PER_JOB = 604800000, 100

-- Adds note `id` of job `job` at `now` (ms) with the fields `fields` (name, value, ...).
-- Returns 1 when added, 0 when it existed.
local function add_note(N, id, job, now, fields)
  local key = N.note[1] .. id .. N.note[2]
  if redis.call('EXISTS', key) == 1 then
    return 0
  end
  redis.call('HSET', key, 'j', job, 'at', now, 'st', 'pending', 'tries', '0', unpack(fields))
  redis.call('PEXPIRE', key, NOTE_TTL_MS)
  local due, listed = N.due, N.list[1] .. job .. N.list[2]
  redis.call('ZADD', due, now, id)
  redis.call('ZADD', listed, now, id)
  redis.call('PEXPIRE', listed, NOTE_TTL_MS)
  local over = redis.call('ZCARD', listed) - NOTES_PER_JOB
  if over > 0 then
    for _, old in ipairs(redis.call('ZRANGE', listed, 0, over - 1)) do
      redis.call('DEL', N.note[1] .. old .. N.note[2])
      redis.call('ZREM', due, old)
    end
    redis.call('ZREMRANGEBYRANK', listed, 0, over - 1)
  end
  return 1
end

