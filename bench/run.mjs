#!/usr/bin/env node
// Runs every benchmark case, one server at a time: the server pinned to core 0, the load generator
// to core 1 (`taskset`), both driven over stdin/stdout (see README.md). Prints a Markdown table and
// the ratios, and writes the raw figures to bench/results/<date>.json.
//
//   node bench/run.mjs [--n 1000,10000] [--only realtime-ws,ws,...] [--skip bun] [--repeat 2]
//                      [--deliveries 1000000] [--paced 20] [--rate 5] [--no-pin] [--memory-only] [--no-burst]
//                      [--no-marginal]   (connect all N in one step: no marginal memory figure)
//                      [--write]   (also replaces the "## Every server, one run" section of RESULTS.md)
//   node bench/run.mjs --from bench/results/<file>.json [--write]   (report a saved run again)
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { canPin, parseArguments, sleep, start as startProcess, waitFor } from './lib/process.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, '..')
const bun = join(root, 'node_modules/.bin/bun')

/**
 * The servers under test. `runtime` says how to start `file`; `ours` marks this library.
 * Bun entries run only when the Bun runtime and the file are present (bench/bun is maintained
 * with the Bun adapter).
 */
const SERVERS = [
  { name: 'realtime-ws', file: 'servers/realtime.mjs', env: { BENCH_TRANSPORT: 'websocket' }, ours: true, transport: 'ws' },
  { name: 'realtime-sse', file: 'servers/realtime.mjs', env: { BENCH_TRANSPORT: 'sse' }, ours: true, transport: 'sse' },
  { name: 'ws', file: 'servers/ws.mjs', transport: 'ws' },
  { name: 'socketio', file: 'servers/socketio.mjs', transport: 'ws' },
  { name: 'crossws', file: 'servers/crossws.mjs', transport: 'ws' },
  { name: 'better-sse', file: 'servers/better-sse.mjs', transport: 'sse' },
  { name: 'node-sse', file: 'servers/node-sse.mjs', transport: 'sse' },
  { name: 'floor', file: 'servers/floor.mjs', transport: 'ws', reference: true },
  { name: 'realtime-bun-ws', file: 'bun/servers/realtime.ts', env: { BENCH_TRANSPORT: 'websocket' }, runtime: 'bun', ours: true, transport: 'ws' },
  { name: 'realtime-bun-sse', file: 'bun/servers/realtime.ts', env: { BENCH_TRANSPORT: 'sse' }, runtime: 'bun', ours: true, transport: 'sse' },
  { name: 'bun-publish', file: 'bun/servers/bun-publish.ts', runtime: 'bun', transport: 'ws' },
]

const options = parseArguments(process.argv.slice(2))
const pin = options['no-pin'] === undefined && canPin()
const sizes = String(options.n ?? '1000,10000').split(',').map(Number)
const repeat = Number(options.repeat ?? 1)
const deliveries = Number(options.deliveries ?? 1_000_000)
const pacedCount = Number(options.paced ?? 20)
const pacedRate = Number(options.rate ?? 5)
const only = options.only ? String(options.only).split(',') : undefined
const skip = options.skip ? String(options.skip).split(',') : []
const servers = SERVERS.filter((server) => {
  if (only && !only.includes(server.name)) return false
  if (skip.some((word) => server.name.includes(word))) return false
  if (!existsSync(join(here, server.file))) return false
  if (server.runtime === 'bun' && !existsSync(bun)) return false
  return true
})

if (!existsSync(join(root, 'packages/adapter-node/dist/index.js'))) {
  console.error('build first: pnpm build (the benchmark imports packages/adapter-node/dist)')
  process.exit(1)
}

const machine = {
  cpu: cpus()[0]?.model,
  cores: cpus().length,
  memoryGb: Math.round(totalmem() / 2 ** 30),
  node: process.version,
  bun: existsSync(bun) ? spawnSync(bun, ['--version']).stdout?.toString().trim() : undefined,
  pinned: pin,
  loadBefore: loadavg().map((value) => value.toFixed(2)).join(' '),
}
console.error(`# machine: ${JSON.stringify(machine)}`)

const results = []
const saved = options.from ? JSON.parse(readFileSync(String(options.from), 'utf8')) : undefined
if (saved) {
  Object.assign(machine, saved.machine)
  results.push(...saved.results)
  process.argv.splice(2, Infinity, ...saved.argv)
}
for (let round = 1; round <= (saved ? 0 : repeat); round++) {
  for (const n of sizes) {
    for (const server of servers) {
      const result = await runCase(server, n).catch((error) => ({ server: server.name, n, error: String(error?.stack ?? error) }))
      result.round = round
      results.push(result)
      console.error(JSON.stringify(result))
    }
  }
}
if (!saved) {
  machine.loadAfter = loadavg().map((value) => value.toFixed(2)).join(' ')
  machine.date = new Date().toISOString()
  mkdirSync(join(here, 'results'), { recursive: true })
  const stamp = machine.date.replace(/[:.]/g, '-')
  writeFileSync(join(here, 'results', `${stamp}.json`), JSON.stringify({ machine, argv: process.argv.slice(2), results }, null, 2) + '\n')
}
const table = report(machine, results)
console.log(table)
if (options.write) writeSection(table)

// ---- one case ---------------------------------------------------------------------------------

async function runCase(server, n) {
  const serverProcess = startProcess(
    server.runtime === 'bun' ? [bun, join(here, server.file)] : [process.execPath, '--expose-gc', join(here, server.file)],
    { core: pin ? 0 : undefined, cwd: here, env: server.env },
  )
  const load = startProcess([process.execPath, join(here, 'load.mjs')], { core: pin ? 1 : undefined, cwd: here })
  try {
    const ready = await serverProcess.ready
    await load.ready
    const result = { server: server.name, n, ours: server.ours === true, transport: server.transport, reference: server.reference === true }
    // Node's process.hrtime is the system's monotonic clock in every process; Bun's counts from its
    // own start. The offset between the server's clock and the load generator's (median of 5) puts
    // publish times (burst t0, each message's t) on the load generator's clock.
    const offsets = []
    for (let probe = 0; probe < 5; probe++) {
      const before = (await load.call('clock')).now
      const at = (await serverProcess.call('clock')).now
      const after = (await load.call('clock')).now
      offsets.push(at - (before + after) / 2)
    }
    const offset = offsets.sort((a, b) => a - b)[2]
    result.clockOffsetMicros = Math.round(offset)

    // Memory per idle connection, two figures from one connect sequence (README.md#method):
    // - the issue's: (RSS with N connections - RSS before any) / N;
    // - marginal: (RSS with N - RSS with the first N/10) / (0.9 N), which leaves out the one-time
    //   costs that arrive with the first connections (lazily compiled code, pools, runtime
    //   structures). The same two steps for every server. `--no-marginal` connects N at once.
    // R0 settles like R1 and R2: start-up leaves pages V8 hands back only seconds later.
    const before = await settledMemory(serverProcess)
    const target = { kind: ready.kind, port: ready.port, path: ready.path, concurrency: 100 }
    const steps = []
    const first = options['no-marginal'] === undefined && n >= 10 ? Math.round(n / 10) : 0
    let atTenth
    // Server CPU while connecting (both steps, the settling pause left out): a figure the load
    // generator's own speed does not limit, unlike connections per second.
    let connectCpu = 0
    const connectStep = async (count) => {
      await serverProcess.call('mark')
      const step = await load.call('connect', { ...target, n: count })
      await waitFor(async () => (await serverProcess.call('count')).count >= connectedSoFar + step.ok, 30_000, `${server.name}: ${connectedSoFar + step.ok} registered`)
      const cpu = await serverProcess.call('cpu')
      connectCpu += cpu.user + cpu.system
      connectedSoFar += step.ok
      return step
    }
    let connectedSoFar = 0
    if (first > 0) {
      steps.push(await connectStep(first))
      atTenth = await settledMemory(serverProcess)
    }
    steps.push(await connectStep(n - first))
    const connected = steps.reduce((sum, step) => sum + step.ok, 0)
    const failed = steps.reduce((sum, step) => sum + step.failed, 0)
    if (failed > 0) result.connectFailed = failed
    // Connections per second while connecting (the settling pause between the steps left out).
    result.connectPerSecond = Math.round((connected / steps.reduce((sum, step) => sum + step.ms, 0)) * 1000)
    result.connectCpuMicros = +(connectCpu / connected).toFixed(1)
    await waitFor(async () => (await serverProcess.call('count')).count >= connected, 30_000, `${server.name}: ${connected} registered`)
    const after = await settledMemory(serverProcess)
    const kb = (bytes, count) => +(bytes / count / 1024).toFixed(2)
    result.rssBeforeMb = +(before.rss / 2 ** 20).toFixed(1)
    result.rssAfterMb = +(after.rss / 2 ** 20).toFixed(1)
    result.kbPerConnection = kb(after.rss - before.rss, connected)
    result.heapKbPerConnection = kb(after.heapUsed - before.heapUsed, connected)
    result.heapTotalKbPerConnection = kb(after.heapTotal - before.heapTotal, connected)
    if (atTenth && connected > steps[0].ok) {
      const added = connected - steps[0].ok
      result.firstConnections = steps[0].ok
      result.rssAtFirstMb = +(atTenth.rss / 2 ** 20).toFixed(1)
      result.marginalKbPerConnection = kb(after.rss - atTenth.rss, added)
      result.marginalHeapKbPerConnection = kb(after.heapUsed - atTenth.heapUsed, added)
      result.marginalHeapTotalKbPerConnection = kb(after.heapTotal - atTenth.heapTotal, added)
    }
    if (options['memory-only']) return result

    // Burst: M messages at once, N*M deliveries. A small unmeasured burst warms the JIT first.
    const m = Math.max(1, Math.round(deliveries / connected))
    if (options['no-burst'] === undefined) {
      await burst(serverProcess, load, Math.max(1, Math.round(m / 10)), offset)
      const measured = await burst(serverProcess, load, m, offset)
      result.burstM = m
      result.burstDelivered = measured.received
      result.burstComplete = measured.done === measured.clients
      result.burstUsPerDelivery = +(measured.cpuMicros / measured.received).toFixed(3)
      result.burstDeliveriesPerSecond = Math.round(measured.received / ((measured.last - (measured.t0 - offset)) / 1e6))
    }

    // Paced: `pacedCount` messages at `pacedRate` per second.
    await load.call('expect', { count: pacedCount, latency: true, timeout: 60_000, offset })
    await serverProcess.call('mark')
    await serverProcess.call('paced', { count: pacedCount, interval: Math.round(1000 / pacedRate) })
    const paced = await load.final
    const pacedCpu = await serverProcess.call('cpu')
    result.pacedDelivered = paced.received
    result.pacedComplete = paced.done === paced.clients
    result.pacedUsPerDelivery = +((pacedCpu.user + pacedCpu.system) / paced.received).toFixed(3)
    result.latencyP50Ms = +(paced.p50 / 1000).toFixed(2)
    result.latencyP99Ms = +(paced.p99 / 1000).toFixed(2)
    return result
  } finally {
    serverProcess.kill()
    await load.call('close').catch(() => {})
    load.kill()
    await sleep(300)
  }
}

/**
 * `mem` (after GC) once the heap settled: V8 returns freed pages some seconds after a burst of
 * allocation (connection setup), so the lower RSS of two readings, 1 s and 7 s from now.
 */
async function settledMemory(serverProcess) {
  await sleep(1000)
  const early = await serverProcess.call('mem')
  await sleep(6000)
  const late = await serverProcess.call('mem')
  return late.rss < early.rss ? late : early
}

async function burst(serverProcess, load, m, offset) {
  await load.call('expect', { count: m, latency: false, timeout: 120_000, offset })
  await serverProcess.call('mark')
  const { t0 } = await serverProcess.call('burst', { m })
  const final = await load.final
  // Collecting the burst's garbage is part of its cost (and keeps it out of the paced phase).
  await serverProcess.call('gc')
  const cpu = await serverProcess.call('cpu')
  return { ...final, t0, cpuMicros: cpu.user + cpu.system }
}

// ---- report -----------------------------------------------------------------------------------

function report(machine, results) {
  const lines = []
  // Rows from --memory-only / --no-burst runs (and from saved runs without the marginal figures)
  // show a dash where a figure was not measured.
  const ok = results.filter((result) => !result.error)
  const show = (value, format) => (value === undefined ? '–' : format(value))
  const columns = [
    ['server', (r) => r.server + (r.ours ? ' **(ours)**' : r.reference ? ' (reference)' : '')],
    ['N', (r) => r.n.toLocaleString('en')],
    ['connect/s', (r) => r.connectPerSecond.toLocaleString('en') + (r.connectFailed ? ` (${r.connectFailed} failed)` : '')],
    ['connect server CPU us', (r) => show(r.connectCpuMicros, (v) => v.toFixed(0))],
    ['KB/conn (RSS)', (r) => r.kbPerConnection.toFixed(1)],
    ['KB/conn marginal (RSS)', (r) => show(r.marginalKbPerConnection, (v) => v.toFixed(1))],
    ['KB/conn (heap)', (r) => r.heapKbPerConnection.toFixed(1)],
    ['KB/conn marginal (heap)', (r) => show(r.marginalHeapKbPerConnection, (v) => v.toFixed(1))],
    ['burst M', (r) => show(r.burstM, String)],
    ['burst us/delivery', (r) => show(r.burstUsPerDelivery, (v) => v.toFixed(2) + (r.burstComplete ? '' : ' (incomplete)'))],
    ['burst deliveries/s', (r) => show(r.burstDeliveriesPerSecond, (v) => v.toLocaleString('en'))],
    ['paced us/delivery', (r) => show(r.pacedUsPerDelivery, (v) => v.toFixed(2) + (r.pacedComplete ? '' : ' (incomplete)'))],
    ['p50 ms', (r) => show(r.latencyP50Ms, (v) => v.toFixed(2))],
    ['p99 ms', (r) => show(r.latencyP99Ms, (v) => v.toFixed(2))],
  ]
  const rounds = [...new Set(ok.map((result) => result.round))]
  for (const round of rounds) {
    lines.push(`### Round ${round}`, '')
    lines.push('| ' + columns.map(([name]) => name).join(' | ') + ' |')
    lines.push('|' + columns.map(() => '---').join('|') + '|')
    for (const result of ok.filter((r) => r.round === round)) lines.push('| ' + columns.map(([, cell]) => cell(result)).join(' | ') + ' |')
    lines.push('')
    lines.push(...ratios(ok.filter((r) => r.round === round)), '')
  }
  for (const failed of results.filter((result) => result.error)) lines.push(`- ${failed.server} N=${failed.n} round ${failed.round} failed: ${failed.error.split('\n')[0]}`)
  lines.push('', `Machine: ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGb} GB, Node ${machine.node}${machine.bun ? `, Bun ${machine.bun}` : ''}; pinned: ${machine.pinned}; load average before ${machine.loadBefore}, after ${machine.loadAfter}.`)
  return lines.join('\n')
}

/**
 * Ours divided by each competitor of the same transport, per N (below 1 means we use less), and
 * for memory also ours minus theirs (the Node memory targets are differences: at most + 2 KB).
 * "KB/conn" is the issue's figure, "marginal" the one without the first tenth's one-time costs.
 */
function ratios(round) {
  const lines = [
    '| ours vs. | N | connect/s | connect server CPU | burst us/delivery | paced us/delivery | KB/conn | KB/conn marginal | KB/conn ours − other | KB/conn marginal ours − other | p99 latency |',
    '|---|---|---|---|---|---|---|---|---|---|---|',
  ]
  const ratio = (a, b) => (a !== undefined && b > 0 ? (a / b).toFixed(2) : 'n/a')
  const difference = (a, b) => (a !== undefined && b !== undefined ? `${a - b >= 0 ? '+' : '−'}${Math.abs(a - b).toFixed(1)} KB` : 'n/a')
  for (const ours of round.filter((r) => r.ours)) {
    for (const other of round.filter((r) => !r.ours && r.n === ours.n && r.transport === ours.transport)) {
      lines.push(
        `| ${ours.server} / ${other.server} | ${ours.n.toLocaleString('en')} | ${ratio(ours.connectPerSecond, other.connectPerSecond)} | ${ratio(ours.connectCpuMicros, other.connectCpuMicros)} | ${ratio(ours.burstUsPerDelivery, other.burstUsPerDelivery)} | ${ratio(ours.pacedUsPerDelivery, other.pacedUsPerDelivery)} | ${ratio(ours.kbPerConnection, other.kbPerConnection)} | ${ratio(ours.marginalKbPerConnection, other.marginalKbPerConnection)} | ${difference(ours.kbPerConnection, other.kbPerConnection)} | ${difference(ours.marginalKbPerConnection, other.marginalKbPerConnection)} | ${ratio(ours.latencyP99Ms, other.latencyP99Ms)} |`,
      )
    }
  }
  return lines
}

/** Replaces (or appends) the generated section of RESULTS.md; the other sections stay as they are. */
function writeSection(table) {
  const file = join(here, 'RESULTS.md')
  const heading = '## Every server, one run'
  const command = `node bench/run.mjs ${process.argv.slice(2).join(' ')}`.trim()
  const section = [
    heading,
    '',
    `\`${command}\`, ${(machine.date ?? new Date().toISOString()).slice(0, 10)}. Server CPU is the server's own (\`process.cpuUsage()\`), per delivered 100-byte message; KB/conn is memory per idle connection as issue #11 defines it, RSS (and V8 heap used) after GC with N idle connections minus before any, divided by N; KB/conn marginal is the same from N/10 to N connections, divided by 0.9 N, which leaves out the one-time costs of the first connections (the same two steps for every server). Ratios: ours divided by the other server of the same transport (below 1: ours uses less). Method: [README](README.md#method). Generated by \`--write\`.`,
    '',
    table.replaceAll('### Round', '#### Round'),
    '',
  ].join('\n')
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '# Benchmark results\n\n'
  const start = text.indexOf(heading)
  let next
  if (start !== -1) {
    next = text.indexOf('\n## ', start + heading.length)
    writeFileSync(file, text.slice(0, start) + section + (next === -1 ? '' : text.slice(next + 1)))
  } else writeFileSync(file, text.trimEnd() + '\n\n' + section)
}

// ---- helpers ----------------------------------------------------------------------------------

