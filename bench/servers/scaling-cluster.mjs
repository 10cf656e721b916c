// N Node processes behind one port (`node:cluster`: the primary accepts and hands connections to
// the workers in turn), each running this library as a user would: createRealtime + serve() on the
// same port, default options except maxConnections, and the Redis broker when BENCH_REDIS_URL is
// set (BENCH_PREFIX is its key prefix), or on a Redis Cluster when BENCH_REDIS_CLUSTER is set (its
// nodes' URLs, comma-separated: `redisBroker({ cluster })`, sharded pub/sub). The primary speaks the server control protocol
// (bench/README.md) and relays each command to every worker over the cluster's IPC channel.
//
// Environment: BENCH_PROCESSES (default 1), BENCH_PORT (default 0: a free port), BENCH_TRANSPORT
// (websocket | sse), BENCH_REDIS_URL, BENCH_REDIS_CLUSTER, BENCH_PREFIX, BENCH_USERS (when set: clients connect with
// `?user=<id>`, and message k goes to user `user-<k mod BENCH_USERS>` with `sendTo` instead of to
// everyone with `broadcast`).
//
// Commands beyond the usual ones: `count` also answers `perProcess`; `mem` answers the sum and
// `perProcess` RSS; `cpu` answers the workers' sum (`user`, `system`) and the primary's own
// (`primaryUser`, `primarySystem`); `burst { m, inflight }` has every worker publish its share
// (message k from worker k mod N), at most `inflight` publishes in flight in all (split evenly);
// `paced { count, interval }` publishes one message every `interval` ms, from the workers in turn.
import cluster from 'node:cluster'
import { freePort } from '../lib/process.mjs'
import { createInterface } from 'node:readline'
import { makeData, nowMicros } from '../lib/message.mjs'

const PROCESSES = Number(process.env.BENCH_PROCESSES ?? 1)
const transport = process.env.BENCH_TRANSPORT === 'sse' ? 'sse' : 'websocket'

if (cluster.isPrimary) await primary()
else await worker()

// ---- primary ------------------------------------------------------------------------------------

async function primary() {
  const port = Number(process.env.BENCH_PORT) || (await freePort())
  // Round robin (the default on Linux, set here so no platform default changes the spread).
  cluster.schedulingPolicy = cluster.SCHED_RR
  cluster.setupPrimary({ execArgv: ['--expose-gc'] })
  const workers = []
  for (let index = 0; index < PROCESSES; index++) {
    workers.push(fork(cluster.fork({ BENCH_PORT: String(port), BENCH_WORKER: String(index) })))
  }
  await Promise.all(workers.map((w) => w.ready))
  const all = (cmd, args = {}) => Promise.all(workers.map((w) => w.call(cmd, args)))
  let mark = process.cpuUsage()

  const commands = {
    clock: () => ({ now: nowMicros() }),
    async count() {
      const counts = (await all('count')).map((r) => r.count)
      return { count: counts.reduce((a, b) => a + b, 0), perProcess: counts }
    },
    async mem() {
      const mems = await all('mem')
      return { rss: mems.reduce((a, m) => a + m.rss, 0), heapUsed: mems.reduce((a, m) => a + m.heapUsed, 0), perProcess: mems.map((m) => m.rss) }
    },
    async mark() {
      await all('mark')
      mark = process.cpuUsage()
      return {}
    },
    async cpu() {
      const usage = await all('cpu')
      const own = process.cpuUsage(mark)
      return {
        user: usage.reduce((a, u) => a + u.user, 0),
        system: usage.reduce((a, u) => a + u.system, 0),
        perProcess: usage.map((u) => u.user + u.system),
        primaryUser: own.user,
        primarySystem: own.system,
      }
    },
    async burst({ m, inflight = 64 }) {
      const share = Math.max(1, Math.ceil(inflight / workers.length))
      const replies = await Promise.all(workers.map((w, index) => w.call('burst', { m, from: index, step: workers.length, inflight: share })))
      return { t0: Math.min(...replies.map((r) => r.t0)), t1: Math.max(...replies.map((r) => r.t1)) }
    },
    paced({ count, interval }) {
      return new Promise((resolve, reject) => {
        let seq = 0
        const sent = []
        const timer = setInterval(() => {
          sent.push(workers[seq % workers.length].call('publish', { seq }))
          if (++seq === count) {
            clearInterval(timer)
            Promise.all(sent).then(() => resolve({}), reject)
          }
        }, interval)
      })
    },
  }
  const lines = createInterface({ input: process.stdin })
  lines.on('line', async (line) => {
    const { id, cmd, ...args } = JSON.parse(line)
    try {
      process.stdout.write(JSON.stringify({ id, ...(await commands[cmd](args)) }) + '\n')
    } catch (error) {
      process.stdout.write(JSON.stringify({ id, error: String(error?.stack ?? error) }) + '\n')
    }
  })
  const stop = () => {
    for (const w of workers) w.worker.kill('SIGKILL')
    process.exit(0)
  }
  lines.on('close', stop)
  process.on('SIGTERM', stop)
  const name = `realtime-${transport === 'sse' ? 'sse' : 'ws'} x${PROCESSES}${process.env.BENCH_REDIS_CLUSTER ? ' redis cluster' : process.env.BENCH_REDIS_URL ? ' redis' : ''}`
  process.stdout.write(JSON.stringify({ ready: true, name, port, kind: transport === 'sse' ? 'sse' : 'ws', path: '/' }) + '\n')
}

/** A worker handle: `call(cmd, args)` resolves with the worker's reply; `ready` once it listens. */
function fork(worker) {
  const waiting = new Map()
  let nextId = 1
  let readyResolve
  const handle = {
    worker,
    ready: new Promise((resolve) => (readyResolve = resolve)),
    call(cmd, args = {}) {
      const id = nextId++
      return new Promise((resolve, reject) => {
        waiting.set(id, { resolve, reject })
        worker.send({ id, cmd, ...args })
      })
    },
  }
  worker.on('message', (message) => {
    if (message.ready) return readyResolve()
    const pending = waiting.get(message.id)
    if (!pending) return
    waiting.delete(message.id)
    if (message.error) pending.reject(new Error(message.error))
    else pending.resolve(message)
  })
  worker.on('exit', (code) => {
    for (const pending of waiting.values()) pending.reject(new Error(`worker exited with ${code}`))
    process.stderr.write(`scaling-cluster: worker ${worker.id} exited (${code})\n`)
  })
  return handle
}


// ---- worker -------------------------------------------------------------------------------------

async function worker() {
  const { createRealtime, serve } = await import('@loewen-digital/realtime-node')
  let broker
  if (process.env.BENCH_REDIS_URL || process.env.BENCH_REDIS_CLUSTER) {
    const { redisBroker } = await import('../../packages/redis/dist/index.js')
    const target = process.env.BENCH_REDIS_CLUSTER ? { cluster: process.env.BENCH_REDIS_CLUSTER.split(',') } : { url: process.env.BENCH_REDIS_URL }
    broker = redisBroker({ ...target, prefix: process.env.BENCH_PREFIX })
    await broker.ready()
  }
  const users = Number(process.env.BENCH_USERS ?? 0)
  const identify = users ? (request) => new URL(request.url).searchParams.get('user') : undefined
  const realtime = createRealtime({ driver: transport, broker, identify, maxConnections: 100_000 })
  await serve({ fetch: (request) => realtime.handle(request), port: Number(process.env.BENCH_PORT) })
  const publish = users
    ? (seq) => realtime.sendTo(`user-${seq % users}`, { event: 'm', data: makeData(seq) })
    : (seq) => realtime.broadcast({ event: 'm', data: makeData(seq) })
  let mark = process.cpuUsage()

  const commands = {
    count: () => ({ count: realtime.stats().connections }),
    async mem() {
      for (let round = 0; round < 3; round++) {
        globalThis.gc()
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
      const usage = process.memoryUsage()
      return { rss: usage.rss, heapUsed: usage.heapUsed }
    },
    mark() {
      mark = process.cpuUsage()
      return {}
    },
    cpu: () => process.cpuUsage(mark),
    async publish({ seq }) {
      await publish(seq)
      return {}
    },
    /** Messages from, from + step, ... below m; `inflight` publishes awaited concurrently. */
    async burst({ m, from, step, inflight }) {
      const t0 = nowMicros()
      let next = from
      await Promise.all(
        Array.from({ length: inflight }, async () => {
          while (next < m) {
            const seq = next
            next += step
            await publish(seq)
          }
        }),
      )
      return { t0, t1: nowMicros() }
    },
  }
  process.on('message', async ({ id, cmd, ...args }) => {
    try {
      process.send({ id, ...(await commands[cmd](args)) })
    } catch (error) {
      process.send({ id, error: String(error?.stack ?? error) })
    }
  })
  process.on('disconnect', () => process.exit(0))
  process.send({ ready: true })
}
