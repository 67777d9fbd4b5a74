-- Move due entries after their fires were published: fenced, and compare-and-set per entry.
-- KEYS 1 the shard's lease `<ns>:{sched…}:lease`  2 its deferred nominals
--   `<ns>:{sched…}:deferred`  3.. the due partition `<ns>:{sched…}:due:<p>` of each entry, in
--   entry order (all partitions of the shard: one hash slot).
-- ARGV 1 token "<owner>:<epoch>", then per entry: member, score the leader read, new score or
--   "" to remove, deferral: "" none, "x" forget the entry's deferred nominal instant, or the
--   nominal instant (ms) of a fire deferred to the new score (kept if one is already there:
--   the first deferral's instant is the fire's), "=" and the nominal instant of a replay that
--   waits its turn (stored with its "=": it replaces the one there, the previous replay
--   fired), or "!" and a nominal instant that replaces the one there (a replay deferred over
--   its tenant's quota: from now on a deferral like any other).
-- Returns one code per entry: 1 advanced, 0 the entry changed meanwhile (left alone), -1 the
-- caller is not the leader (fenced off; nothing is touched).
local n = #KEYS - 2
local out = {}
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  for k = 1, n do
    out[k] = -1
  end
  return out
end
local deferred = KEYS[2]
for k = 1, n do
  local i = 2 + (k - 1) * 4
  local due, member, defer = KEYS[2 + k], ARGV[i], ARGV[i + 3]
  local score = redis.call('ZSCORE', due, member)
  if not score or tonumber(score) ~= tonumber(ARGV[i + 1]) then
    out[k] = 0
  else
    if ARGV[i + 2] == '' then
      redis.call('ZREM', due, member)
    else
      redis.call('ZADD', due, ARGV[i + 2], member)
    end
    if defer == 'x' then
      redis.call('HDEL', deferred, member)
    elseif string.sub(defer, 1, 1) == '=' then
      redis.call('HSET', deferred, member, defer)
    elseif string.sub(defer, 1, 1) == '!' then
      redis.call('HSET', deferred, member, string.sub(defer, 2))
    elseif defer ~= '' then
      redis.call('HSETNX', deferred, member, defer)
    end
    out[k] = 1
  end
end
return out
