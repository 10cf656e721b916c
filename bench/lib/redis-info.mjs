// One Redis command over a raw RESP connection (no client library), enough for what the
// benchmarks ask Redis directly: INFO sections (commands run, CPU used) and deleting their keys.
import { createConnection } from 'node:net'

/** Sends one command; resolves with its reply (a string, a number, or null). Arrays are not parsed. */
export function redisCommand(url, args) {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    let buffer = Buffer.alloc(0)
    const socket = createConnection({ host: hostname || '127.0.0.1', port: Number(port || 6379) }, () => {
      socket.write(`*${args.length}\r\n` + args.map((arg) => `$${Buffer.byteLength(String(arg))}\r\n${arg}\r\n`).join(''))
    })
    socket.on('data', (chunk) => {
      buffer = Buffer.concat([buffer, chunk])
      const line = buffer.indexOf('\r\n')
      if (line === -1) return
      const head = buffer.toString('latin1', 0, line)
      const type = head[0]
      let value
      if (type === '$') {
        const size = Number(head.slice(1))
        if (size === -1) value = null
        else if (buffer.length < line + 2 + size + 2) return
        else value = buffer.toString('utf8', line + 2, line + 2 + size)
      } else if (type === ':') value = Number(head.slice(1))
      else if (type === '+' || type === '_') value = type === '_' ? null : head.slice(1)
      else if (type === '-') {
        socket.destroy()
        return reject(new Error(head.slice(1)))
      } else value = head
      socket.destroy()
      resolve(value)
    })
    socket.on('error', reject)
  })
}

/**
 * `INFO commandstats` and `INFO cpu` at this moment: `{ calls: { command: count }, cpuSeconds }`,
 * where `cpuSeconds` is the server's user plus system CPU time.
 */
export async function redisSnapshot(url) {
  const text = await redisCommand(url, ['INFO', 'everything'])
  const calls = {}
  let cpuSeconds = 0
  for (const line of text.split('\r\n')) {
    const stat = /^cmdstat_([^:]+):calls=(\d+)/.exec(line)
    if (stat) calls[stat[1]] = Number(stat[2])
    const cpu = /^used_cpu_(user|sys):([\d.]+)$/.exec(line)
    if (cpu) cpuSeconds += Number(cpu[2])
  }
  return { calls, cpuSeconds }
}

/**
 * What ran between two snapshots: `{ calls: { command: count }, total, cpuSeconds }`, leaving out
 * the commands the benchmark itself sends to take the snapshots (INFO).
 */
export function redisDelta(before, after) {
  const calls = {}
  let total = 0
  for (const [command, count] of Object.entries(after.calls)) {
    if (command === 'info') continue
    const delta = count - (before.calls[command] ?? 0)
    if (delta > 0) {
      calls[command] = delta
      total += delta
    }
  }
  return { calls, total, cpuSeconds: after.cpuSeconds - before.cpuSeconds }
}

/** Deletes every key matching `pattern` (one EVAL of KEYS + DEL: for a benchmark's own prefix). */
export function deleteKeys(url, pattern) {
  return redisCommand(url, ['EVAL', "for _, key in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', key) end", '0', pattern]).catch(() => null)
}
