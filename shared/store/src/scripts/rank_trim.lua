-- Trims a schedule's rank index to the retention age. Scores of the earlier form (ms + seq /
-- 4096, all below 2^41) are first rescaled to the current one (ms * 1024 + seq), so an index
-- written before the change is trimmed by the same bound and read by rank again.
-- KEYS 1 the rank index  ARGV 1 the oldest time kept (ms)
-- Returns the entries removed.
local old = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(2199023255552', 'WITHSCORES')
for i = 1, #old, 2 do
  local score = tonumber(old[i + 1])
  local ms = math.floor(score)
  local seq = math.floor((score - ms) * 4096 + 0.5)
  redis.call('ZADD', KEYS[1], string.format('%d', ms * 1024 + math.min(seq, 1023)), old[i])
end
return redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf',
  '(' .. string.format('%d', tonumber(ARGV[1]) * 1024))
