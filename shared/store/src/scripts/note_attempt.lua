-- Records an attempt to deliver a note (notes.lua): delivered, due again, or given up. Only a
-- pending note takes it: a second claimer's attempt on a note delivered meanwhile changes
-- nothing.
--
-- KEYS 1 the note  2 the tenant's notes due
-- ARGV 1 the note's id  2 the attempt's instant (ms)  3 the state it leaves (delivered,
--      pending, failed)  4 the HTTP status ('' none)  5 the error ('' none)  6 when the next
--      attempt is due (ms; '' none)
-- Returns 1 when recorded, 0 when the note is gone or not pending.

local note, due, id = KEYS[1], KEYS[2], ARGV[1]
if redis.call('HGET', note, 'st') ~= 'pending' then
  if redis.call('EXISTS', note) == 0 then
    redis.call('ZREM', due, id)
  end
  return 0
end
redis.call('HINCRBY', note, 'tries', 1)
redis.call('HSET', note, 'st', ARGV[3], 'last_at', ARGV[2])
for _, f in ipairs({ { 'lh', ARGV[4] }, { 'le', ARGV[5] }, { 'next_at', ARGV[6] } }) do
  if f[2] == '' then
    redis.call('HDEL', note, f[1])
  else
    redis.call('HSET', note, f[1], f[2])
  end
end
if ARGV[3] == 'delivered' then
  redis.call('HSET', note, 'done_at', ARGV[2])
end
if ARGV[6] == '' then
  redis.call('ZREM', due, id)
else
  redis.call('ZADD', due, ARGV[6], id)
end
redis.call('PEXPIRE', note, 604800000)
return 1
