// What keeping the resume history in the Durable Object's SQLite storage costs the Workers fan-out
// (issue #21): the demo in workerd (bench/lib/workerd-demo.mjs) with a SQLite-backed object (history
// written to storage on every publish) against the same bundle with a key-value-backed object (the
// fallback: history in memory only, as before #21), alternating, side by side in one run.
// Usage (after pnpm build): node bench/workers-history.mjs [--n 100] [--messages 400] [--rounds 3] [--concurrency 1,8]
// N WebSocket clients get every broadcast; M broadcasts are published through the Worker's
// /publish route by `concurrency` publishers at once. Reported per storage kind: publishes/s,
// deliveries/s, publish-to-delivery latency (p50, p99), workerd CPU ms per 1,000 deliveries, and
// what the object stored. The median of the rounds is printed, and sqlite/kv ratios.
import { execSync, spawn } from 'node:child_process'
import { readFileSync } from 'node:fs'
import WebSocket from 'ws'

const argv = process.argv.slice(2)
const option = (name, fallback) => {
  const index = argv.indexOf(`--${name}`)
  return index === -1 ? fallback : argv[index + 1]
}
const N = Number(option('n', 100))
const M = Number(option('messages', 400))
const ROUNDS = Number(option('rounds', 3))
const CONCURRENCY = String(option('concurrency', '1,8')).split(',').map(Number)
const root = new URL('..', import.meta.url).pathname
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const TICKS = (() => {
  const value = Number(execSync('getconf CLK_TCK').toString().trim())
  return value > 0 ? value : 100
})()

async function startServer(storage) {
  const child = spawn('node', ['bench/lib/workerd-demo.mjs'], {
    cwd: root,
    env: { ...process.env, REALTIME_FIXTURE: JSON.stringify({ maxConnections: 100_000 }), REALTIME_DO_STORAGE: storage },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let out = ''
  child.stderr.on('data', (chunk) => (out += chunk))
  const base = await new Promise((resolve, reject) => {
    child.stdout.on('data', (chunk) => {
      out += chunk
      const match = /https?:\/\/[^\s/]+/.exec(out)
      if (match) resolve(match[0])
    })
    setTimeout(() => reject(new Error(out)), 90_000)
  })
  return { base, child }
}

/** The workerd process: the deepest descendant of the spawned one. */
function workerdPid(child) {
  let pid = child.pid
  for (;;) {
    let children = ''
    try {
      children = execSync(`pgrep -P ${pid}`).toString().trim()
    } catch {
      return pid
    }
    if (!children) return pid
    pid = Number(children.split('\n')[0])
  }
}
const cpuMs = (pid) => {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS
}

async function openClients(base, count) {
  const clients = []
  for (let index = 0; index < count; index++) {
    const socket = new WebSocket(base.replace(/^http/, 'ws') + '/ws')
    const client = { socket, seen: 0, latencies: [], waiter: undefined }
    socket.on('message', (raw) => {
      const frame = JSON.parse(raw.toString())
      if (frame.event !== 'bench') return
      client.seen++
      client.latencies.push(Date.now() - frame.data.at)
      if (client.waiter && client.seen >= client.waiter.count) client.waiter.resolve()
    })
    await new Promise((resolve, reject) => {
      socket.once('open', resolve)
      socket.once('error', reject)
    })
    clients.push(client)
  }
  return clients
}

const publish = (base, n) =>
  fetch(`${base}/publish`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ event: 'bench', data: { n, at: Date.now() } }) }).then((response) => response.text())

async function measure(base, pid, clients, concurrency) {
  for (const client of clients) {
    client.seen = 0
    client.latencies = []
  }
  const all = Promise.all(clients.map((client) => new Promise((resolve) => (client.waiter = { count: M, resolve }))))
  const cpuBefore = cpuMs(pid)
  const start = performance.now()
  let next = 0
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < M) await publish(base, next++)
    }),
  )
  const published = performance.now()
  await all
  const elapsed = performance.now() - start
  const cpu = cpuMs(pid) - cpuBefore
  const latencies = clients.flatMap((client) => client.latencies).sort((a, b) => a - b)
  return {
    publishesPerS: Math.round((M / (published - start)) * 1000),
    deliveriesPerS: Math.round(((N * M) / elapsed) * 1000),
    p50ms: latencies[Math.floor(latencies.length * 0.5)],
    p99ms: latencies[Math.floor(latencies.length * 0.99)],
    cpuMsPer1000: Math.round((cpu / ((N * M) / 1000)) * 100) / 100,
  }
}

async function run(storage) {
  const { base, child } = await startServer(storage)
  try {
    const pid = workerdPid(child)
    const clients = await openClients(base, N)
    for (let n = 0; n < 20; n++) await publish(base, -1) // warm up (counts are reset before measuring)
    await sleep(300)
    const results = {}
    for (const concurrency of CONCURRENCY) results[`c${concurrency}`] = await measure(base, pid, clients, concurrency)
    results.stored = (await (await fetch(`${base}/stats`)).json()).storedHistory
    for (const client of clients) client.socket.terminate()
    return results
  } finally {
    child.kill('SIGTERM')
    await sleep(500)
    if (child.exitCode === null) child.kill('SIGKILL')
  }
}

const rounds = { sqlite: [], kv: [] }
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? ['sqlite', 'kv'] : ['kv', 'sqlite']
  for (const storage of order) {
    const result = await run(storage)
    rounds[storage].push(result)
    console.error(`round ${round + 1} ${storage}: ${JSON.stringify(result)}`)
  }
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
const summary = { n: N, messages: M, rounds: ROUNDS }
for (const concurrency of CONCURRENCY) {
  const key = `c${concurrency}`
  const row = {}
  for (const storage of ['sqlite', 'kv']) {
    row[storage] = Object.fromEntries(['publishesPerS', 'deliveriesPerS', 'p50ms', 'p99ms', 'cpuMsPer1000'].map((field) => [field, median(rounds[storage].map((result) => result[key][field]))]))
  }
  row.ratio = Object.fromEntries(Object.keys(row.sqlite).map((field) => [field, Math.round((row.sqlite[field] / row.kv[field]) * 100) / 100]))
  summary[key] = row
}
summary.stored = { sqlite: rounds.sqlite.at(-1).stored, kv: rounds.kv.at(-1).stored }
console.log(JSON.stringify(summary, null, 2))
process.exit(0)
