#!/usr/bin/env node
// The reconnect storm: N clients connected to a server, a few messages, then the server is killed
// and started again (a deploy); while it is down more messages are published (by "the other
// instances", here: the new process before it listens). Every client then reconnects at once with
// the position of the last message it received, and must receive the messages it missed. Reported:
// the time from the new server listening until every client is connected, and until every client
// has caught up, and the server's CPU over the storm; ours against `ws` and Socket.IO, each with a
// naive catch-up from Redis (lib/storm-store.mjs), since neither resumes by itself across a restart.
// Redis keeps the history for every server (ours: the Redis broker). See README.md#reconnect-storm.
//
//   node bench/storm.mjs [--n 10000] [--before 5] [--missed 5] [--concurrency 500] [--repeat 1]
//                        [--only realtime-ws,ws,...] [--redis redis://127.0.0.1:6390] [--no-pin]
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { canPin, freePort, parseArguments, sleep, start as startProcess, waitFor } from './lib/process.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const SERVERS = [
  { name: 'realtime-ws', file: 'servers/storm-realtime.mjs', env: { BENCH_TRANSPORT: 'websocket' }, kind: 'ws', ours: true },
  { name: 'realtime-sse', file: 'servers/storm-realtime.mjs', env: { BENCH_TRANSPORT: 'sse' }, kind: 'sse', ours: true },
  { name: 'ws', file: 'servers/storm-ws.mjs', kind: 'ws-naive' },
  { name: 'socketio', file: 'servers/storm-socketio.mjs', kind: 'socketio' },
]

const options = parseArguments(process.argv.slice(2))
const n = Number(options.n ?? 10_000)
const before = Number(options.before ?? 5)
const missed = Number(options.missed ?? 5)
const concurrency = Number(options.concurrency ?? 500)
const repeat = Number(options.repeat ?? 1)
const pin = options['no-pin'] === undefined && canPin()
const only = options.only ? String(options.only).split(',') : undefined
const servers = SERVERS.filter((server) => !only || only.includes(server.name))

if (!existsSync(join(here, '../packages/redis/dist/index.js')) || !existsSync(join(here, '../packages/adapter-node/dist/index.js'))) {
  console.error('build first: pnpm build (the storm servers import packages/adapter-node/dist and packages/redis/dist)')
  process.exit(1)
}

let redisProcess
let redisUrl = options.redis ? String(options.redis) : undefined
if (!redisUrl) {
  const port = await freePort()
  redisProcess = spawn('redis-server', ['--port', String(port), '--save', '', '--appendonly', 'no'], { stdio: 'ignore' })
  redisUrl = `redis://127.0.0.1:${port}`
  await sleep(500)
}

const machine = { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, pinned: pin, loadBefore: loadavg().map((value) => value.toFixed(2)).join(' ') }
console.error(`# machine: ${JSON.stringify(machine)}; redis ${redisUrl}`)
const results = []
try {
  for (let round = 1; round <= repeat; round++) {
    for (const server of servers) {
      const result = await runCase(server).catch((error) => ({ server: server.name, error: String(error?.stack ?? error) }))
      result.round = round
      results.push(result)
      console.error(JSON.stringify(result))
    }
  }
} finally {
  redisProcess?.kill()
}
machine.loadAfter = loadavg().map((value) => value.toFixed(2)).join(' ')
console.log(report(results))

async function runCase(server) {
  const port = await freePort()
  const prefix = `storm:${server.name}:${Math.random().toString(36).slice(2, 8)}`
  const env = { ...server.env, PORT: String(port), STORM_REDIS_URL: redisUrl, STORM_PREFIX: prefix }
  const launch = (extra = {}) => startProcess([process.execPath, '--expose-gc', join(here, server.file)], { core: pin ? 0 : undefined, cwd: here, env: { ...env, ...extra } })
  let serverProcess = launch()
  const load = startProcess([process.execPath, join(here, 'storm-load.mjs')], { core: pin ? 1 : undefined, cwd: here })
  try {
    const ready = await serverProcess.ready
    await load.ready
    const connected = await load.call('connect', { kind: server.kind, port, path: ready.path, n, concurrency: 100 })
    if (connected.ok !== n) throw new Error(`${server.name}: ${connected.ok} of ${n} connected`)
    await waitFor(async () => (await serverProcess.call('count')).count >= n, 60_000, `${server.name}: ${n} registered`)
    // The messages every client sees before the restart: each then knows its position.
    const expecting = load.call('expect', { count: before })
    await serverProcess.call('publish', { count: before })
    const seen = await expecting
    if (seen.done !== n) throw new Error(`${server.name}: ${seen.done} of ${n} clients got the first messages`)

    // The restart: the process is killed; the new one stores `missed` messages before it listens.
    serverProcess.kill()
    const closed = await load.call('closed', {})
    if (closed.closed !== n) throw new Error(`${server.name}: ${closed.closed} of ${n} clients saw the server go`)
    serverProcess = launch({ STORM_PUBLISH_AT_START: String(missed) })
    await serverProcess.ready
    await serverProcess.call('mark')
    const storm = await load.call('reconnect', { port, concurrency, count: missed, timeout: 120_000 })
    const cpu = await serverProcess.call('cpu')
    return {
      server: server.name,
      ours: server.ours === true,
      n,
      missed,
      concurrency,
      ...storm,
      serverCpuMs: Math.round((cpu.user + cpu.system) / 1000),
    }
  } finally {
    serverProcess.kill()
    await load.call('close').catch(() => {})
    load.kill()
    await sleep(300)
  }
}

function report(results) {
  const lines = [
    '| server | N | reconnect all connected (ms) | all caught up (ms) | server CPU (ms) | clients caught up | failed handshakes |',
    '|---|---|---|---|---|---|---|',
  ]
  const ok = results.filter((result) => !result.error)
  for (const r of ok) {
    lines.push(`| ${r.server}${r.ours ? ' **(ours)**' : ''} | ${r.n.toLocaleString('en')} | ${r.connectedMs?.toFixed(0) ?? 'not all'} | ${r.caughtUpMs?.toFixed(0) ?? 'not all'} | ${r.serverCpuMs.toLocaleString('en')} | ${r.caughtUp.toLocaleString('en')} | ${r.failed} |`)
  }
  lines.push('', '| ours vs. | round | all connected | all caught up | server CPU |', '|---|---|---|---|---|')
  const ratio = (a, b) => (a !== undefined && b > 0 ? (a / b).toFixed(2) : 'n/a')
  for (const ours of ok.filter((r) => r.ours)) {
    for (const other of ok.filter((r) => !r.ours && r.round === ours.round)) {
      lines.push(`| ${ours.server} / ${other.server} | ${ours.round} | ${ratio(ours.connectedMs, other.connectedMs)} | ${ratio(ours.caughtUpMs, other.caughtUpMs)} | ${ratio(ours.serverCpuMs, other.serverCpuMs)} |`)
    }
  }
  for (const failed of results.filter((result) => result.error)) lines.push(`- ${failed.server} round ${failed.round} failed: ${failed.error.split('\n')[0]}`)
  lines.push('', `Machine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; pinned: ${machine.pinned}; ${missed} messages missed per client, ${before} seen before the restart, at most ${concurrency} handshakes in flight; load average before ${machine.loadBefore}, after ${machine.loadAfter}.`)
  return lines.join('\n')
}


