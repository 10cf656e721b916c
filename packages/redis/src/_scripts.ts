// The Lua scripts the broker runs. Each runs atomically in Redis, so the offset a message gets, its
// place in the stream and its place in the pub/sub order are one decision: every process sees
// every stream in offset order. A stream's header (`meta`: epoch and last offset) is created on
// first use; when it is missing the stream's history is gone, so a new random epoch starts; when
// its offset is behind what a caller already saw, Redis came back with older data, and a new epoch
// starts too.

/**
 * Leaves `epoch` (the stream's epoch) set, after creating the header when it is missing or starting
 * the stream over when its offset went backwards: the caller saw offset ARGV[known offset] in epoch
 * ARGV[known epoch], and the header says that epoch ends earlier. That happens when Redis comes back
 * with older data (a restart from an RDB snapshot, a lagging replica promoted): the offsets after the
 * header's would be assigned again to new messages, which clients holding the old ones would take
 * for duplicates. A new epoch makes every holder of the old one get a gap instead.
 */
function header(knownEpoch: string, knownOffset: string): string {
  return `
local epoch = redis.call('HGET', KEYS[1], 'epoch')
if epoch and ${knownEpoch} == epoch and tonumber(redis.call('HGET', KEYS[1], 'offset')) < tonumber(${knownOffset}) then epoch = false end
if not epoch then
  epoch = ARGV[1]
  redis.call('DEL', KEYS[2])
  redis.call('HSET', KEYS[1], 'epoch', epoch, 'offset', 0)
end
`
}

const NOW = `
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000 + math.floor(tonumber(time[2]) / 1000)
`

/**
 * KEYS: meta, stream, publisher (all of one topic: one hash tag, one slot). ARGV: new epoch, body,
 * pub/sub channel (the topic's, same slot), history size, history ttl (ms), header ttl (ms),
 * required epoch (empty: any), publish sequence number (empty: none), known epoch, known offset
 * (the caller's latest position in the stream, empty: none), the sequence number of the
 * publisher's previous publish to this topic whose outcome it does not know yet (empty: none).
 *
 * Appends the message to the stream with id `<offset>-0` and publishes `<epoch>\n<offset>\n<body>`
 * (`PUBLISH`, or `SPUBLISH` on a cluster: {@link publishScript}).
 * Returns `{ epoch, offset }`, or `{ '', -1 }` without publishing when the stream's epoch is not
 * the required one, `{ '', -2 }` when the sequence number was cancelled (or a later one ran),
 * `{ '', -3 }` when the previous publish it names has not run yet, `{ '', -4 }` when this very
 * sequence number ran already (the command was sent again).
 *
 * The publisher hash (per process and topic: `last`, the last sequence number that ran,
 * `cancelled`, every number up to it will never run) keeps one process's publishes to a topic in
 * the order it sent them, whatever happens to the script cache (a publish that got NOSCRIPT is sent
 * again and those behind it wait for it), and lets {@link RESOLVE_SCRIPT} decide for good whether a
 * publish that timed out ran. Sequence numbers are the process's, so one topic sees gaps between
 * them: the chain is carried by the previous number instead.
 */
export function publishScript(command: 'PUBLISH' | 'SPUBLISH'): string {
  return `
local seq = tonumber(ARGV[8])
if seq then
  local settled = redis.call('HMGET', KEYS[3], 'last', 'cancelled')
  local last = tonumber(settled[1] or 0)
  if seq == last then return {'', -4} end
  local done = math.max(last, tonumber(settled[2] or 0))
  if seq <= done then return {'', -2} end
  local previous = tonumber(ARGV[11])
  if previous and previous > done then return {'', -3} end
end
if ARGV[7] ~= '' and redis.call('HGET', KEYS[1], 'epoch') ~= ARGV[7] then return {'', -1} end
${header('ARGV[9]', 'ARGV[10]')}
local offset = redis.call('HINCRBY', KEYS[1], 'offset', 1)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
${NOW}
redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], offset .. '-0', 'b', ARGV[2], 'at', now)
redis.call('PEXPIRE', KEYS[2], ARGV[5])
redis.call('${command}', ARGV[3], epoch .. '\\n' .. offset .. '\\n' .. ARGV[2])
if seq then
  redis.call('HSET', KEYS[3], 'last', seq)
  redis.call('PEXPIRE', KEYS[3], ARGV[6])
end
return {epoch, offset}
`
}

/** {@link publishScript} for one Redis (`PUBLISH`). */
export const PUBLISH_SCRIPT = publishScript('PUBLISH')

/**
 * KEYS: publisher (of one process and topic). ARGV: sequence number, ttl (ms). Cancels every
 * publish of the process to the topic up to the sequence number that has not run yet (it never
 * will: {@link publishScript} refuses it) and returns the last one that ran. Idempotent, so a lost
 * answer is harmless.
 */
export const RESOLVE_SCRIPT = `
local last = tonumber(redis.call('HGET', KEYS[1], 'last') or 0)
local cancelled = tonumber(redis.call('HGET', KEYS[1], 'cancelled') or 0)
redis.call('HSET', KEYS[1], 'cancelled', math.max(cancelled, tonumber(ARGV[1])))
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return last
`

/**
 * KEYS: meta, stream. ARGV: new epoch, since offset (-1: only the position), history ttl (ms),
 * header ttl (ms), known epoch, known offset (the caller's latest position, empty: none).
 * Returns `{ epoch, offset, id1, body1, id2, body2, ... }`: the stream's position and its entries
 * after `since` that are younger than the ttl, oldest first.
 */
export const READ_SCRIPT = `${header('ARGV[5]', 'ARGV[6]')}
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
