// Cross-process fan-out through Redis compared with one process: throughput of a burst and the
// publish-to-receipt latency of paced messages, for WebSocket clients on the publishing process
// ("local") and on another process ("remote"). Not part of `npm test`.
// Usage: node bench/redis/run.mjs [--clients 100] [--burst 5000] [--paced 1000] [--rate 500]
import { spawn } from 'node:child_process'
import { createConnection } from 'node:net'
import { fileURLToPath } from 'node:url'
import WebSocket from 'ws'
import { ensureRedis } from '../../scripts/ensure-redis.mjs'

const argument = (name, fallback) => {
  const index = process.argv.indexOf(`--${name}`)
  return index === -1 ? fallback : Number(process.argv[index + 1])
}
const CLIENTS = argument('clients', 100)
const BURST = argument('burst', 5000)
const PACED = argument('paced', 1000)
const RATE = argument('rate', 500)
const root = fileURLToPath(new URL('../../', import.meta.url))
const now = () => performance.timeOrigin + performance.now()

function startServer(env) {
  const child = spawn(process.execPath, ['bench/redis/server.mjs'], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'inherit'] })
  return new Promise((resolve, reject) => {
    let output = ''
    child.stdout.on('data', (chunk) => {
      output += chunk
      const match = /http:\/\/[^\s/]+/.exec(output)
      if (match) resolve({ url: match[0], stop: () => new Promise((done) => (child.once('exit', done), child.kill('SIGTERM'))) })
    })
    child.once('exit', (code) => reject(new Error(`bench server exited with ${code}: ${output}`)))
  })
}

/** A WebSocket client that counts ticks and records publish-to-receipt latencies when asked. */
async function client(url, side) {
  const socket = new WebSocket(url.replace('http', 'ws') + '/ws')
  const state = { side, count: 0, latencies: null, socket }
  socket.on('message', (data) => {
    state.count++
    if (state.latencies) state.latencies.push(now() - JSON.parse(data.toString()).data.t)
  })
  await new Promise((resolve, reject) => (socket.once('open', resolve), socket.once('error', reject)))
  return state
}

const post = async (url, body) => (await fetch(url, { method: 'POST', body: JSON.stringify(body) })).json()
const waitFor = async (check, timeout = 60_000) => {
  const start = Date.now()
  while (!check()) {
    if (Date.now() - start > timeout) throw new Error('timed out')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}
const percentile = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]
}

async function scenario(name, servers) {
  const clients = []
  for (let index = 0; index < CLIENTS; index++) {
    const server = servers[index % servers.length]
    clients.push(await client(server.url, server === servers[0] ? 'local' : 'remote'))
  }
  const publisher = servers[0].url
  // Warm-up.
  await post(`${publisher}/burst`, { count: 200 })
  await waitFor(() => clients.every((c) => c.count >= 200))
  // Throughput: a burst, from the first publish to the last delivery on every client.
  for (const c of clients) c.count = 0
  const start = now()
  await post(`${publisher}/burst`, { count: BURST })
  const published = now() - start
  await waitFor(() => clients.every((c) => c.count >= BURST))
  const elapsed = now() - start
  // Latency: paced messages.
  for (const c of clients) {
    c.count = 0
    c.latencies = []
  }
  await post(`${publisher}/burst`, { count: PACED, rate: RATE })
  await waitFor(() => clients.every((c) => c.count >= PACED))
  const latency = (side) => {
    const values = clients.filter((c) => c.side === side).flatMap((c) => c.latencies)
    return values.length ? { p50: percentile(values, 50), p99: percentile(values, 99) } : undefined
  }
  for (const c of clients) c.socket.terminate()
  return {
    name,
    processes: servers.length,
    clients: CLIENTS,
    burst: BURST,
    publishesPerSecond: Math.round(BURST / (elapsed / 1000)),
    publishMs: Math.round(published),
    deliveriesPerSecond: Math.round((BURST * CLIENTS) / (elapsed / 1000)),
    local: latency('local'),
    remote: latency('remote'),
  }
}

/** Deletes the bench's keys (one EVAL over a raw RESP connection: no client library needed here). */
function deleteKeys(url, prefix) {
  const args = ['EVAL', "for _, key in ipairs(redis.call('KEYS', ARGV[1])) do redis.call('DEL', key) end", '0', `${prefix}:*`]
  const { hostname, port } = new URL(url)
  return new Promise((resolve) => {
    const socket = createConnection({ host: hostname, port: Number(port || 6379) }, () => {
      socket.end(`*${args.length}\r\n` + args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join(''))
    })
    socket.on('data', () => socket.destroy())
    socket.on('close', resolve)
    socket.on('error', resolve)
  })
}

const redis = await ensureRedis()
if (redis.skip) {
  console.error(`no Redis: ${redis.skip}`)
  process.exit(1)
}
const prefix = `rt-bench:${process.pid}`
const results = []
try {
  let servers = [await startServer({})]
  results.push(await scenario('one process, in-memory broker', servers))
  await Promise.all(servers.map((server) => server.stop()))
  const onRedis = { BENCH_REDIS_URL: redis.url, BENCH_PREFIX: prefix }
  servers = [await startServer(onRedis)]
  results.push(await scenario('one process, Redis broker', servers))
  await Promise.all(servers.map((server) => server.stop()))
  servers = [await startServer(onRedis), await startServer(onRedis)]
  results.push(await scenario('two processes, Redis broker', servers))
  await Promise.all(servers.map((server) => server.stop()))
} finally {
  await deleteKeys(redis.url, prefix)
  await redis.stop()
}

const ms = (value) => (value === undefined ? '–' : value.toFixed(2))
console.log(`\n${CLIENTS} WebSocket clients; burst of ${BURST} broadcasts (64 in flight); latency over ${PACED} broadcasts at ${RATE}/s\n`)
console.log('| scenario | publishes/s | deliveries/s | latency p50 / p99 local (ms) | latency p50 / p99 remote (ms) |')
console.log('|---|---:|---:|---:|---:|')
for (const r of results) {
  console.log(`| ${r.name} | ${r.publishesPerSecond} | ${r.deliveriesPerSecond} | ${ms(r.local?.p50)} / ${ms(r.local?.p99)} | ${ms(r.remote?.p50)} / ${ms(r.remote?.p99)} |`)
}
console.log('\n' + JSON.stringify(results))
