#!/usr/bin/env node
// Scaling on one machine: 1, 2 and 4 Node processes behind one port (node:cluster) with the Redis
// broker, against one process with the in-memory broker. The clients (bench/load.mjs, raw TCP, in
// one process) connect to the one port and the cluster spreads them over the processes. Reports
// deliveries per second of a burst, server CPU per delivery, publish-to-receipt latency of paced
// messages (p50/p99), the Redis commands per publish (INFO commandstats deltas) and Redis CPU per
// 1,000 deliveries (INFO cpu deltas); with `--redis cluster`, the same on a local Redis Cluster of
// three primaries (`redisBroker({ cluster })`, sharded pub/sub), with each shard's script calls,
// SPUBLISHes and CPU. Not part of `npm test`. Method: README.md#scaling-several-processes-behind-one-port.
//
//   node bench/scaling.mjs [--clients 1000] [--deliveries 2000000] [--paced 100] [--rate 20]
//                          [--processes 1,2,4] [--transports ws,sse] [--repeat 1] [--inflight 64]
//                          [--workload broadcast|users] [--publishes 20000]   (users: messages in the burst)
//                          [--redis single|cluster|single,cluster]   (default single: one Redis; cluster:
//                                                                  a Redis Cluster of three primaries of its
//                                                                  own, on the first free ports from
//                                                                  --cluster-port, default 7200;
//                                                                  --cluster-primaries 3)
//                          [--redis-url redis://127.0.0.1:6385]   (single; default: REDIS_URL if set,
//                                                                  else a redis-server of its own)
//                          [--json file]   (default: bench/results/scaling-<date>.json)
//                          [--no-redis-memory]   (skip the Redis memory per stream)
import { existsSync, mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { redisAnswers, startRedisServer } from '../scripts/ensure-redis.mjs'
import { parseArguments, start as startProcess, sleep, waitFor } from './lib/process.mjs'
import { makeData } from './lib/message.mjs'
import { startRedisCluster } from './lib/redis-cluster.mjs'
import { deleteKeys, redisCommand, redisDelta, redisSnapshot } from './lib/redis-info.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const options = parseArguments(process.argv.slice(2))
const CLIENTS = Number(options.clients ?? 1000)
const DELIVERIES = Number(options.deliveries ?? 2_000_000)
const PACED = Number(options.paced ?? 100)
// broadcast: every message to every client; users: every client its own user, every message to one
// user (`sendTo`, one topic per user, followed by the one process that holds the user).
const WORKLOAD = options.workload === 'users' ? 'users' : 'broadcast'
const PUBLISHES = Number(options.publishes ?? 20_000)
const RATE = Number(options.rate ?? 20)
const PROCESSES = String(options.processes ?? '1,2,4').split(',').map(Number)
const TRANSPORTS = String(options.transports ?? 'ws,sse').split(',')
const REPEAT = Number(options.repeat ?? 1)
// single: one redis-server; cluster: a Redis Cluster of three primaries (sharded pub/sub).
const MODES = String(options.redis ?? 'single').split(',')
if (MODES.length === 0 || MODES.some((mode) => mode !== 'single' && mode !== 'cluster')) {
  console.error('--redis takes single, cluster or single,cluster')
  process.exit(1)
}
const INFLIGHT = Number(options.inflight ?? 64)

if (!existsSync(join(here, '../packages/adapter-node/dist/index.js')) || !existsSync(join(here, '../packages/redis/dist/index.js'))) {
  console.error('build first: pnpm build (the benchmark imports packages/adapter-node/dist and packages/redis/dist)')
  process.exit(1)
}

const load = () => loadavg().map((value) => value.toFixed(2)).join(' ')
const machine = { cpu: cpus()[0]?.model, cores: cpus().length, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, loadBefore: load(), date: new Date().toISOString() }
console.error(`# machine: ${JSON.stringify(machine)}`)

// A Redis of its own by default: commandstats and CPU then count this benchmark's work only.
let redis
let cluster
if (MODES.includes('single')) {
  const redisUrl = options['redis-url'] ?? process.env.REDIS_URL
  if (redisUrl) {
    if (!(await redisAnswers(redisUrl))) throw new Error(`no Redis answers at ${redisUrl}`)
    redis = { url: redisUrl, stop: async () => {} }
  } else redis = await startRedisServer()
}
if (MODES.includes('cluster')) {
  cluster = await startRedisCluster({ primaries: Number(options['cluster-primaries'] ?? 3), firstPort: Number(options['cluster-port'] ?? 7200) }).catch(async (error) => {
    await redis?.stop()
    throw error
  })
  machine.clusterNodes = cluster.nodes
}
machine.redis = (await redisCommand(redis?.url ?? cluster.nodes[0], ['INFO', 'server'])).match(/redis_version:(\S+)/)?.[1]
const prefix = `rt-scaling:${process.pid}`

// The broker column: memory, redis (one Redis) or cluster (a Redis Cluster).
const scenarios = [{ processes: 1, broker: 'memory' }, ...MODES.flatMap((mode) => PROCESSES.map((processes) => ({ processes, broker: mode === 'single' ? 'redis' : 'cluster' })))]
const results = []
try {
  for (let round = 1; round <= REPEAT; round++) {
    for (const transport of TRANSPORTS) {
      for (const scenario of scenarios) {
        const result = await runScenario({ ...scenario, transport }).catch((error) => ({ ...scenario, transport, error: String(error?.stack ?? error) }))
        result.round = round
        results.push(result)
        console.error(JSON.stringify(result))
      }
    }
  }
  if (!options['no-redis-memory']) {
    if (redis) {
      machine.redisMemory = await redisMemory({ url: redis.url }, [redis.url])
      console.error(JSON.stringify({ redisMemory: machine.redisMemory }))
    }
    if (cluster) {
      machine.clusterMemory = await redisMemory({ cluster: cluster.nodes }, cluster.nodes)
      console.error(JSON.stringify({ clusterMemory: machine.clusterMemory }))
    }
  }
} finally {
  if (redis) {
    await deleteKeys(redis.url, `${prefix}:*`)
    await redis.stop()
  }
  // The cluster is the benchmark's own: its keys go with it.
  await cluster?.stop()
}
machine.loadAfter = load()
const json = options.json ? String(options.json) : join(here, 'results', `scaling-${machine.date.replace(/[:.]/g, '-')}.json`)
mkdirSync(dirname(json), { recursive: true })
writeFileSync(json, JSON.stringify({ machine, argv: process.argv.slice(2), results }, null, 2) + '\n')
console.log(report(machine, results))
if (results.some((result) => result.error)) process.exitCode = 1

// ---- one scenario -------------------------------------------------------------------------------

async function runScenario({ processes, broker, transport }) {
  const users = WORKLOAD === 'users'
  const result = { workload: WORKLOAD, transport, processes, broker, clients: CLIENTS, loadBefore: load() }
  const env = { BENCH_PROCESSES: String(processes), BENCH_TRANSPORT: transport === 'sse' ? 'sse' : 'websocket' }
  if (users) Object.assign(env, { BENCH_USERS: String(CLIENTS) })
  if (broker === 'redis') Object.assign(env, { BENCH_REDIS_URL: redis.url, BENCH_PREFIX: prefix })
  if (broker === 'cluster') Object.assign(env, { BENCH_REDIS_CLUSTER: cluster.nodes.join(','), BENCH_PREFIX: prefix })
  // The Redis servers whose INFO is read around the burst: the one Redis, or every primary.
  const onRedis = broker === 'redis' ? [redis.url] : broker === 'cluster' ? cluster.nodes : undefined
  const server = startProcess([process.execPath, join(here, 'servers/scaling-cluster.mjs')], { cwd: here, env })
  const loader = startProcess([process.execPath, join(here, 'load.mjs')], { cwd: here })
  try {
    const ready = await server.ready
    await loader.ready
    const path = users ? '/?user={user}' : ready.path
    const connected = await loader.call('connect', { kind: ready.kind, port: ready.port, path, n: CLIENTS, concurrency: 50, users: CLIENTS })
    if (connected.failed > 0) result.connectFailed = connected.failed
    await waitFor(async () => (await server.call('count')).count >= connected.ok, 30_000, `${connected.ok} registered`)
    result.perProcess = (await server.call('count')).perProcess
    const memory = await server.call('mem')
    result.rssPerProcessMb = memory.perProcess.map((rss) => +(rss / 2 ** 20).toFixed(1))

    // Burst: M messages per client, published by every process in turn (64 in flight in all):
    // broadcast, M broadcasts (N*M deliveries); users, M*N messages to one user each.
    const m = Math.max(1, Math.round((users ? PUBLISHES : DELIVERIES) / connected.ok))
    const total = users ? m * connected.ok : m
    await burst(server, loader, Math.max(1, Math.round(m / 10)), users ? Math.max(1, Math.round(m / 10)) * connected.ok : Math.max(1, Math.round(m / 10)), onRedis)
    const measured = await burst(server, loader, m, total, onRedis)
    result.burstM = total
    result.burstComplete = measured.done === measured.clients
    result.deliveries = measured.received
    result.deliveriesPerSecond = Math.round(measured.received / ((measured.last - measured.t0) / 1e6))
    result.publishesPerSecond = Math.round(total / ((measured.last - measured.t0) / 1e6))
    result.serverCpuUsPerDelivery = +(measured.cpuMicros / measured.received).toFixed(3)
    // Per publish per process: what each process spends on a message whatever its clients.
    result.serverCpuUsPerPublish = +(measured.cpuMicros / total).toFixed(1)
    result.cpuPerProcessMs = measured.perProcess.map((micros) => Math.round(micros / 1000))
    if (measured.redis) {
      result.redisCallsPerPublish = +(measured.redis.total / total).toFixed(2)
      result.redisScriptCallsPerPublish = +(((measured.redis.calls.evalsha ?? 0) + (measured.redis.calls.eval ?? 0)) / total).toFixed(2)
      result.redisCalls = measured.redis.calls
      result.redisCpuMsPer1000Deliveries = +((measured.redis.cpuSeconds * 1e3 * 1000) / measured.received).toFixed(3)
      result.redisCpuUsPerPublish = +((measured.redis.cpuSeconds * 1e6) / total).toFixed(1)
      if (broker === 'cluster') {
        // Per shard: its script calls (the publishes of the topics it owns), SPUBLISHes, CPU, and
        // its CPU per script call (what one shard spends on one publish).
        result.shards = measured.redis.shards.map(({ node, calls, cpuSeconds }) => {
          const scripts = (calls.evalsha ?? 0) + (calls.eval ?? 0)
          return {
            node,
            scriptCalls: scripts,
            spublish: calls.spublish ?? 0,
            shareOfPublishes: +(scripts / total).toFixed(3),
            cpuMs: +(cpuSeconds * 1e3).toFixed(1),
            cpuUsPerScriptCall: scripts ? +((cpuSeconds * 1e6) / scripts).toFixed(1) : undefined,
            calls,
          }
        })
      }
    }

    // Paced, from the processes in turn: broadcast, PACED messages at RATE per second; users, two
    // messages to each user, one message every millisecond (at most 1,000 per second).
    await loader.call('expect', { count: users ? 2 : PACED, latency: true, timeout: 60_000 })
    await server.call('mark')
    await server.call('paced', users ? { count: 2 * connected.ok, interval: 1 } : { count: PACED, interval: Math.round(1000 / RATE) })
    const paced = await loader.final
    const pacedCpu = await server.call('cpu')
    result.pacedServerCpuUsPerDelivery = +((pacedCpu.user + pacedCpu.system) / paced.received).toFixed(2)
    result.pacedComplete = paced.done === paced.clients
    result.latencyP50Ms = +(paced.p50 / 1000).toFixed(2)
    result.latencyP99Ms = +(paced.p99 / 1000).toFixed(2)
    result.loadAfter = load()
    return result
  } finally {
    await loader.call('close').catch(() => {})
    loader.kill()
    server.kill()
    await sleep(500)
  }
}

/** `total` publishes; every client expects `m` of them. */
async function burst(server, loader, m, total, onRedis) {
  await loader.call('expect', { count: m, latency: false, timeout: 120_000 })
  const snapshot = () => (onRedis ? Promise.all(onRedis.map((url) => redisSnapshot(url))) : undefined)
  const before = await snapshot()
  await server.call('mark')
  const { t0 } = await server.call('burst', { m: total, inflight: INFLIGHT })
  const final = await loader.final
  const cpu = await server.call('cpu')
  const after = await snapshot()
  return { ...final, t0, cpuMicros: cpu.user + cpu.system, perProcess: cpu.perProcess, redis: before && sumDeltas(onRedis, before, after) }
}

/** The deltas of every Redis server summed (`calls`, `total`, `cpuSeconds`), and each one's (`shards`). */
function sumDeltas(nodes, before, after) {
  const shards = nodes.map((node, index) => ({ node, ...redisDelta(before[index], after[index]) }))
  const calls = {}
  for (const shard of shards) for (const [command, count] of Object.entries(shard.calls)) calls[command] = (calls[command] ?? 0) + count
  return { calls, total: shards.reduce((sum, shard) => sum + shard.total, 0), cpuSeconds: shards.reduce((sum, shard) => sum + shard.cpuSeconds, 0), shards }
}

// ---- Redis memory per stream -------------------------------------------------------------------

/**
 * What a stream keeps in Redis (INFO memory `used_memory` deltas, default history: 100 messages,
 * 5 minutes): one message in each of 10,000 channels (a header and a stream per topic, as many
 * per-user topics would), then 100 messages in each of 100 channels (full histories).
 */
async function redisMemory(target, nodes) {
  const { createRealtime } = await import('@loewen-digital/realtime-node')
  const { redisBroker } = await import('../packages/redis/dist/index.js')
  const broker = redisBroker({ ...target, prefix: `${prefix}:memory` })
  await broker.ready()
  const realtime = createRealtime({ broker, onError: () => {} })
  // On a cluster, summed over the primaries.
  const usedOne = async (url) => Number((await redisCommand(url, ['INFO', 'memory'])).match(/used_memory:(\d+)/)[1])
  const used = async () => (await Promise.all(nodes.map(usedOne))).reduce((sum, bytes) => sum + bytes, 0)
  const fill = async (channels, messages, tag) => {
    const before = await used()
    for (let index = 0; index < channels; index += 100) {
      const batch = []
      for (let channel = index; channel < Math.min(channels, index + 100); channel++) {
        for (let seq = 0; seq < messages; seq++) batch.push(realtime.toChannel(`${tag}-${channel}`).broadcast({ event: 'm', data: makeData(seq) }))
      }
      await Promise.all(batch)
    }
    return (await used()) - before
  }
  try {
    const one = await fill(10_000, 1, 'one')
    const full = await fill(100, 100, 'full')
    return { bytesPerStreamWithOneMessage: Math.round(one / 10_000), bytesPerFullStream: Math.round(full / 100), bytesPerMessage: Math.round(full / 10_000) }
  } finally {
    await realtime.close()
    if (target.url) await deleteKeys(target.url, `${prefix}:memory:*`)
  }
}

// ---- report -------------------------------------------------------------------------------------

function report(machine, results) {
  const lines = []
  const number = (value) => (value === undefined ? '–' : Number(value).toLocaleString('en-US'))
  lines.push(
    `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, Node ${machine.node}, Redis ${machine.redis}; load average before ${machine.loadBefore}, after ${machine.loadAfter}.`,
    WORKLOAD === 'users'
      ? `${CLIENTS} clients, each its own user; burst of ${number(PUBLISHES)} messages to one user each (\`sendTo\`, ${INFLIGHT} in flight); latency over two messages per user, one per millisecond. Raw figures: ${json}.`
      : `${CLIENTS} clients; burst of ${number(DELIVERIES)} deliveries (broadcasts, ${INFLIGHT} in flight); latency over ${PACED} broadcasts at ${RATE}/s. Raw figures: ${json}.`,
    '',
  )
  for (const [what, memory] of [['Redis', machine.redisMemory], ['Redis Cluster (summed over the primaries)', machine.clusterMemory]]) {
    if (!memory) continue
    lines.push(
      `${what} memory (used_memory deltas, 100-byte data, default history): ${number(memory.bytesPerStreamWithOneMessage)} bytes per stream holding one message (10,000 channels), ${number(memory.bytesPerFullStream)} bytes per stream holding 100 (100 channels), ${number(memory.bytesPerMessage)} bytes per message of a full stream.`,
      '',
    )
  }
  if (machine.clusterNodes) lines.push(`Redis Cluster: ${machine.clusterNodes.length} primar${machine.clusterNodes.length === 1 ? 'y' : 'ies'} (${machine.clusterNodes.join(', ')}), no replicas, on the same machine.`, '')
  for (const transport of TRANSPORTS) {
    const rows = results.filter((result) => result.transport === transport)
    lines.push(`### ${transport === 'sse' ? 'SSE' : 'WebSocket'}`, '')
    lines.push(
      '| round | processes | broker | clients per process | deliveries/s | vs 1 process in memory | server CPU µs/delivery (all processes) | deliveries per server CPU-second | paced: server CPU µs/delivery | paced: p50 / p99 ms | Redis commands/publish (script calls) | Redis CPU µs/publish | Redis CPU ms per 1,000 deliveries | RSS per process MB | load avg (1 min) |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    )
    for (const row of rows) {
      if (row.error) {
        lines.push(`| ${row.round} | ${row.processes} | ${row.broker} | error: ${row.error.split('\n')[0]} |`)
        continue
      }
      const base = rows.find((other) => other.round === row.round && other.broker === 'memory')
      const ratio = base?.deliveriesPerSecond ? (row.deliveriesPerSecond / base.deliveriesPerSecond).toFixed(2) : '–'
      lines.push(
        `| ${row.round} | ${row.processes} | ${row.broker} | ${row.perProcess.join(' / ')} | ${number(row.deliveriesPerSecond)}${row.burstComplete ? '' : ' (incomplete)'} | ${ratio} | ${row.serverCpuUsPerDelivery} | ${number(Math.round(1e6 / row.serverCpuUsPerDelivery))} | ${row.pacedServerCpuUsPerDelivery} | ${row.latencyP50Ms} / ${row.latencyP99Ms} | ${row.redisCallsPerPublish === undefined ? '–' : `${row.redisCallsPerPublish} (${row.redisScriptCallsPerPublish})`} | ${row.redisCpuUsPerPublish ?? '–'} | ${row.redisCpuMsPer1000Deliveries ?? '–'} | ${row.rssPerProcessMb.join(' / ')} | ${row.loadBefore.split(' ')[0]} |`,
      )
    }
    lines.push('')
    for (const broker of ['redis', 'cluster']) {
      const first = rows.find((row) => row.broker === broker && row.redisCalls)
      if (!first) continue
      const perPublish = Object.entries(first.redisCalls).map(([command, count]) => `${command} ${+(count / first.burstM).toFixed(2)}`)
      lines.push(`${broker === 'redis' ? 'Redis' : 'Redis Cluster (all primaries)'} commands per publish (INFO commandstats, first ${broker} row; commands run inside a script are counted too): ${perPublish.join(', ')}.`, '')
    }
    const sharded = rows.filter((row) => row.shards)
    if (sharded.length > 0) {
      lines.push(
        'Per shard (INFO commandstats and INFO cpu of each primary over the burst; a shard runs the publishes of the topics whose slots it owns):',
        '',
        '| round | processes | shard | share of publishes | script calls | SPUBLISH | shard CPU ms | shard CPU µs per script call |',
        '|---|---|---|---|---|---|---|---|',
      )
      for (const row of sharded) {
        for (const shard of row.shards) {
          lines.push(`| ${row.round} | ${row.processes} | ${new URL(shard.node).port} | ${(shard.shareOfPublishes * 100).toFixed(1)}% | ${number(shard.scriptCalls)} | ${number(shard.spublish)} | ${shard.cpuMs} | ${shard.cpuUsPerScriptCall ?? '–'} |`)
        }
      }
      lines.push('')
    }
  }
  return lines.join('\n')
}

