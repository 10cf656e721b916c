// The Lua scripts the broker runs. Each runs atomically in Redis, so the offset a message gets, its
// place in the stream and its place in the pub/sub order are one decision: every process sees
// every stream in offset order. A stream's header (`meta`: epoch and last offset) is created on
// first use; when it is missing the stream's history is gone, so a new random epoch starts.

/** Returns the stream's epoch and offset after creating the header when it is missing. */
const HEADER = `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
end
`

const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`

/**
 * KEYS: meta, stream. ARGV: new epoch, body, pub/sub channel, history size, history ttl (ms),
 * header ttl (ms), required epoch (empty: any). Appends the message to the stream with id
 * `<offset>-0` and publishes `<epoch>\n<offset>\n<body>`. Returns `{ epoch, offset }`, or
 * `{ '', -1 }` without publishing when the stream's epoch is not the required one.
 */
export const PUBLISH_SCRIPT = `
if ARGV[7] ~= '' and redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[7] then return {'', -1} end
${HEADER}
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
${NOW}
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], offset .. '-0', 'b', ARGV[2], 'at', now)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[3], epoch .. '\\n' .. offset .. '\\n' .. ARGV[2])
return {epoch, offset}
`

/**
 * KEYS: meta, stream. ARGV: new epoch, since offset (-1: only the position), history ttl (ms),
 * header ttl (ms). Returns `{ epoch, offset, id1, body1, id2, body2, ... }`: the stream's position
 * and its entries after `since` that are younger than the ttl, oldest first.
 */
export const READ_SCRIPT = `${HEADER}
redis.call('PEXPIRE', KEYS[1], ARGV[4])
local offset = tonumber(redis.call('HGET', KEYS[1], 'offset'))
local since = tonumber(ARGV[2])
local result = {epoch, offset}
if since < 0 or since >= offset then return result end
${NOW}
local oldest = now - tonumber(ARGV[3])
local entries = redis.call('XRANGE', KEYS[2], (since + 1) .. '-0', '+')
for _, entry in ipairs(entries) do
  local fields = entry[2]
  local body, at = nil, 0
  for index = 1, #fields, 2 do
    if fields[index] == 'b' then body = fields[index + 1] elseif fields[index] == 'at' then at = tonumber(fields[index + 1]) end
  end
  if body and at >= oldest then
    result[#result + 1] = entry[1]
    result[#result + 1] = body
  end
end
return result
`

/**
 * KEYS: presence hash. ARGV: process key prefix. Returns the live entries' values, deleting those
 * whose process key has expired (their process stopped refreshing it).
 */
export const PRESENCE_LIST_SCRIPT = `
local all = redis.call('HGETALL', KEYS[1])
local alive = {}
local result = {}
for index = 1, #all, 2 do
  local value = all[index + 1]
  local process = string.match(value, '^([^\\n]*)\\n') or ''
  local live = alive[process]
  if live == nil then
    live = process ~= '' and redis.call('EXISTS', ARGV[1] .. process) == 1
    alive[process] = live
  end
  if live then
    result[#result + 1] = value
  else
    redis.call('HDEL', KEYS[1], all[index])
  end
end
return result
`
