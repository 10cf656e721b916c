#!/usr/bin/env node
// Bounded soak test of the Node adapter: N connections (half SSE, half WebSocket, 500 users, all in
// one channel) for `seconds` with churn (clients dropped cleanly, with FIN or with RST, and as many
// opened) while broadcasts, channel messages and per-user messages flow. Then every client leaves
// and the server must be back to zero: stats() all zero, no TCP socket left, heap near its
// baseline. Exits 1 when a check fails. Server pinned to core 0, clients to core 1 (taskset).
//
//   node bench/soak.mjs [--connections 5000] [--seconds 60] [--churn 50] [--rate 2] [--snapshots <dir>]
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { canPin, sleep, start, waitFor } from './lib/process.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const argv = process.argv.slice(2)
const option = (name, fallback) => (argv.includes(`--${name}`) ? Number(argv[argv.indexOf(`--${name}`) + 1]) : fallback)
const connections = option('connections', 5000)
const seconds = option('seconds', 60)
const churnRate = option('churn', 50) // connections dropped and opened per second
const broadcastRate = option('rate', 2) // broadcasts per second (plus as many channel and per-user messages)
const users = 500
const snapshots = argv.includes('--snapshots') ? argv[argv.indexOf('--snapshots') + 1] : undefined
const path = '/?user={user}&channel=soak'
/** Heap may end this much above its baseline: the broker's bounded history and its stream headers. */
const heapSlackBytes = 8 * 2 ** 20

if (!existsSync(join(here, '../packages/adapter-node/dist/index.js'))) {
  console.error('build first: pnpm build')
  process.exit(1)
}

const pin = canPin()
const server = start([process.execPath, '--expose-gc', join(here, 'servers/soak.mjs')], { core: pin ? 0 : undefined, cwd: here })
const load = start([process.execPath, join(here, 'load.mjs')], { core: pin ? 1 : undefined, cwd: here })
const mb = (bytes) => +(bytes / 2 ** 20).toFixed(1)
const report = { connections, seconds, churnPerSecond: churnRate, broadcastsPerSecond: broadcastRate, pinned: pin }
const failures = []

try {
  const { port } = await server.ready
  await load.ready
  const baseline = await server.call('mem')
  if (snapshots) await server.call('snapshot', { file: join(snapshots, 'soak-baseline.heapsnapshot') })
  report.baseline = { rssMb: mb(baseline.rss), heapMb: mb(baseline.heapUsed) }

  const started = Date.now()
  const half = Math.floor(connections / 2)
  const ws = await load.call('connect', { kind: 'ws', port, path, n: half, users })
  const sse = await load.call('connect', { kind: 'sse', port, path, n: connections - half, users })
  report.connectSeconds = +((Date.now() - started) / 1000).toFixed(1)
  report.connectFailed = ws.failed + sse.failed
  await waitFor(async () => (await server.call('count')).count === ws.ok + sse.ok, 30_000, 'every connection to register')
  const connected = await server.call('mem')
  report.connected = { rssMb: mb(connected.rss), heapMb: mb(connected.heapUsed), stats: (await server.call('stats')).stats }

  // The soak: churn on the client side; broadcasts plus channel and per-user traffic on the server.
  await server.call('mark')
  let peak = connected
  const sampling = setInterval(async () => {
    const sample = await server.call('mem').catch(() => undefined)
    if (sample && sample.rss > peak.rss) peak = sample
  }, 5000)
  const [churn, , traffic] = await Promise.all([
    load.call('churn', { port, path, seconds, rate: churnRate, users }),
    server.call('paced', { count: seconds * broadcastRate, interval: Math.round(1000 / broadcastRate) }),
    server.call('traffic', { seconds, users, interval: Math.round(1000 / broadcastRate) }),
  ])
  clearInterval(sampling)
  const cpu = await server.call('cpu')
  const during = await server.call('stats')
  report.soak = {
    opened: churn.opened,
    closed: churn.closed,
    openFailed: churn.failed,
    broadcasts: seconds * broadcastRate,
    channelAndUserMessages: traffic.sent,
    delivered: during.stats.delivered,
    serverCpuSeconds: +((cpu.user + cpu.system) / 1e6).toFixed(1),
    peakRssMb: mb(peak.rss),
    peakHeapMb: mb(peak.heapUsed),
    stats: during.stats,
  }

  // Every surviving client still receives: one more burst reaches all of them.
  await sleep(1000)
  await waitFor(async () => (await server.call('count')).count === ws.ok + sse.ok + churn.opened - churn.closed, 30_000, 'churn to settle')
  await load.call('expect', { count: 5, timeout: 30_000 })
  await server.call('burst', { m: 5 })
  const final = await load.final
  report.afterChurn = { clients: final.clients, allReceived: final.done === final.clients }
  if (final.done !== final.clients) failures.push(`${final.clients - final.done} clients missed the final burst`)

  // Everyone leaves (cleanly, FIN or RST in turn); the server must be back to zero.
  await load.call('close', { mixed: true })
  await waitFor(async () => (await server.call('stats')).stats.connections === 0, 60_000, 'stats().connections to reach 0').catch((error) => failures.push(error.message))
  await sleep(1000)
  const early = await server.call('mem')
  await sleep(6000)
  const late = await server.call('mem')
  const end = late.rss < early.rss ? late : early
  if (snapshots) await server.call('snapshot', { file: join(snapshots, 'soak-end.heapsnapshot') })
  const { stats, sockets } = await server.call('stats')
  report.end = { rssMb: mb(end.rss), heapMb: mb(end.heapUsed), stats, tcpSockets: sockets }
  for (const key of ['connections', 'sse', 'websocket', 'channels', 'users']) {
    if (stats[key] !== 0) failures.push(`stats().${key} is ${stats[key]} after every client left`)
  }
  if (sockets !== 0) failures.push(`${sockets} TCP sockets still open after every client left`)
  if (end.heapUsed > baseline.heapUsed + heapSlackBytes) {
    failures.push(`heap ${mb(end.heapUsed)} MB after the soak, baseline ${mb(baseline.heapUsed)} MB (allowed: +${mb(heapSlackBytes)} MB)`)
  }
} catch (error) {
  failures.push(String(error?.stack ?? error))
} finally {
  server.kill()
  load.kill()
}

report.failures = failures
console.log(JSON.stringify(report, null, 2))
console.log(failures.length === 0 ? 'soak: passed' : `soak: FAILED\n- ${failures.join('\n- ')}`)
process.exit(failures.length === 0 ? 0 : 1)
