-- The leader's step before publishing a fire: create its run record (see run_lib.lua).
-- KEYS and ARGV: the common head of run_lib.lua.
-- Returns materialize()'s code.
return materialize()
