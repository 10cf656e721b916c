// The Lua scripts of cluster-wide presence. Each touches one key only (a topic's presence hash, or
// the owners' sorted set), so each stays within one hash slot on a Redis Cluster. An owner is one
// incarnation of a process's presence (`<process id>` or `<process id>.<n>` after it came back from
// the dead); its deadline in `owners` is in Redis's clock, so the processes' clocks never matter.

const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`

/**
 * KEYS: owners. ARGV: owner, ttl (ms), key ttl (ms), `1` when the owner must exist already.
 * Sets the owner's deadline to now + ttl and returns what it was: `0` not registered (newly added),
 * `1` lapsed but not yet claimed by a sweeper (revived), `2` alive; `-1` (nothing changed) when it
 * had to exist and does not: a sweeper claimed it (its entries are being removed) or Redis lost it.
 */
export const OWNER_REFRESH_SCRIPT = `${NOW}
local score = tonumber(redis.call('ZSCORE', KEYS[1], ARGV[1]))
if not score and ARGV[4] == '1' then return -1 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
if not score then return 0 end
if score < now then return 1 end
return 2
`

/**
 * KEYS: owners. ARGV: owners. Returns `{ now, deadline1, deadline2, ... }` (ms, Redis clock), `-1`
 * for an owner that is not registered (claimed by a sweeper, or gone).
 */
export const OWNER_LIVENESS_SCRIPT = `${NOW}
local result = {now}
for index = 1, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[index])
  result[index + 1] = score and tonumber(score) or -1
end
return result
`

/**
 * KEYS: owners. ARGV: limit. Claims up to `limit` owners whose deadline passed: removes them from
 * the set and returns them. Atomic, so each dead owner is claimed by exactly one process.
 */
export const CLAIM_SCRIPT = `${NOW}
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, owner in ipairs(lapsed) do redis.call('ZREM', KEYS[1], owner) end
return lapsed
`

/**
 * KEYS: a presence hash. ARGV: dead owners. Deletes their entries and returns the deleted values
 * (`<owner>\\n<entry JSON>`). Atomic, so each entry is handed over (and its leave announced) once.
 */
export const EXPIRE_SCRIPT = `
local dead = {}
for index = 1, #ARGV do dead[ARGV[index]] = true end
local all = redis.call('HGETALL', KEYS[1])
local removed = {}
for index = 1, #all, 2 do
  local value = all[index + 1]
  local owner = string.match(value, '^([^\\n]*)\\n')
  if owner and dead[owner] then
    redis.call('HDEL', KEYS[1], all[index])
    removed[#removed + 1] = value
  end
end
return removed
`
