-- Move due entries after their fires were published: fenced, and compare-and-set per entry.
-- KEYS 1 the lease `<ns>:{sched}:lease`; the due partitions `<ns>:{sched}:due:<p>` and the
--   deferred nominals `<ns>:{sched}:deferred` are built from its prefix (same hash slot).
-- ARGV 1 token "<owner>:<epoch>", then per entry: partition, member, score the leader read,
--   new score or "" to remove, deferral: "" none, "x" forget the entry's deferred nominal
--   instant, or the nominal instant (ms) of a fire deferred to the new score (kept if one is
--   already there: the first deferral's instant is the fire's).
-- Returns one code per entry: 1 advanced, 0 the entry changed meanwhile (left alone), -1 the
-- caller is not the leader (fenced off; nothing is touched).
local n = (#ARGV - 1) / 5
local out = {}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  for k = 1, n do
    out[k] = -1
  end
  return out
end
local base = string.sub(KEYS[1], 1, #KEYS[1] - #':lease')
local prefix = base .. ':due:'
local deferred = base .. ':deferred'
for k = 1, n do
  local i = 2 + (k - 1) * 5
  local due, member, defer = prefix .. ARGV[i], ARGV[i + 1], ARGV[i + 4]
  local score = redis.call('ZSCORE', due, member)
  if not score or tonumber(score) ~= tonumber(ARGV[i + 2]) then
    out[k] = 0
  else
    if ARGV[i + 3] == '' then
      redis.call('ZREM', due, member)
    else
      redis.call('ZADD', due, ARGV[i + 3], member)
    end
    if defer == 'x' then
      redis.call('HDEL', deferred, member)
    elseif defer ~= '' then
      redis.call('HSETNX', deferred, member, defer)
    end
    out[k] = 1
  end
end
return out
