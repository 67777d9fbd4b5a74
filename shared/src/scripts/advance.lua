-- Move a schedule's due entry after its fire was published: fenced and compare-and-set.
-- KEYS 1 lease  2 due partition.
-- ARGV 1 token "<owner>:<epoch>"  2 member  3 score the leader read  4 new score, or "" to remove.
-- Returns 1 advanced, 0 the entry changed meanwhile (left alone), -1 the caller is not the
-- leader (fenced off).
if redis.call('GET', KEYS[1]) ~= ARGV[1] then
  return -1
end
local score = redis.call('ZSCORE', KEYS[2], ARGV[2])
if not score or tonumber(score) ~= tonumber(ARGV[3]) then
  return 0
end
if ARGV[4] == '' then
  redis.call('ZREM', KEYS[2], ARGV[2])
else
  redis.call('ZADD', KEYS[2], ARGV[4], ARGV[2])
end
return 1
