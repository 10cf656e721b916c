// Connection setup alone, fresh and warm: each server connects `--rounds` rounds of `--n` clients
// (kept open) and reports its own CPU per connect for each round. Round 1 is a fresh server
// (compiling the connection path, as after a deploy), later rounds a warm one. Servers are run in
// turn, `--repeat` times, on the pinned cores `run.mjs` uses. `--profile DIR` writes a CPU profile
// of each server process into DIR (Node's --cpu-prof; `--profile-interval` in µs, default 1000).
// `"--node-flags=--trace-opt --trace-deopt"` passes more flags to the servers (diagnosis). It
// reports the kernel's share of the CPU too. `--callgrind DIR` runs each server under
// `valgrind --tool=callgrind` with instrumentation off, turns it on for one round only (the second;
// `--callgrind-round 1` for the fresh server's first) and reports the instructions per connect of
// that round (all threads: a figure the machine's load does not move). `--calls` counts the
// JavaScript calls per connect of each server's rounds with V8's precise coverage
// (NODE_V8_COVERAGE): functions called at least 0.9 times per connect, summed per package (this
// library, each package in node_modules, Node's internals). Without callgrind it also
// reports the connect rate of each round and, for ours and its peer, the ratios run by run.
//
//   node bench/connect-probe.mjs --only realtime-ws,ws,realtime-sse,node-sse --n 1000 --rounds 4
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { canPin, parseArguments, sleep, start, waitFor } from './lib/process.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const options = parseArguments(process.argv.slice(2))
const n = Number(options.n ?? 1000)
const rounds = Number(options.rounds ?? 4)
const repeat = Number(options.repeat ?? 2)
const nodeFlags = options.profile
  ? ['--cpu-prof', `--cpu-prof-dir=${options.profile}`, `--cpu-prof-interval=${Number(options['profile-interval'] ?? 1000)}`]
  : []
if (options['node-flags']) nodeFlags.push(...String(options['node-flags']).split(' ').filter(Boolean))
const pin = canPin()
/** `--calls`: per server, the calls per connect of each run (see {@link callsPerConnect}). */
const calls = {}
/** The round (0-based) that callgrind counts. */
const countedRound = Number(options['callgrind-round'] ?? 2) - 1

const servers = {
  'realtime-ws': { file: 'servers/realtime.mjs', env: { BENCH_TRANSPORT: 'websocket' } },
  'realtime-sse': { file: 'servers/realtime.mjs', env: { BENCH_TRANSPORT: 'sse' } },
  ws: { file: 'servers/ws.mjs' },
  'node-sse': { file: 'servers/node-sse.mjs' },
  'sse-floor': { file: 'servers/sse-floor.mjs' },
}
const names = String(options.only ?? Object.keys(servers).join(',')).split(',')

/** Connects `rounds` rounds of `n` clients to one fresh server; µs of server CPU per connect per round. */
async function probe(name) {
  const server = servers[name]
  let connectedTotal = 0
  const callgrindFile = options.callgrind ? join(String(options.callgrind), `${name}-${Date.now()}.out`) : undefined
  const valgrind = callgrindFile ? ['valgrind', '--tool=callgrind', '--instr-atstart=no', `--callgrind-out-file=${callgrindFile}`] : []
  const coverage = options.calls ? mkdtempSync(join(tmpdir(), 'connect-calls-')) : undefined
  const serverProcess = start([...valgrind, process.execPath, '--expose-gc', ...nodeFlags, join(here, server.file)], {
    core: pin ? 0 : undefined,
    cwd: process.cwd(),
    env: coverage ? { ...server.env, NODE_V8_COVERAGE: coverage } : server.env,
  })
  const load = start([process.execPath, join(here, 'load.mjs')], { core: pin ? 1 : undefined, cwd: here })
  try {
    const ready = await serverProcess.ready
    await load.ready
    const perRound = []
    /** Connections per second of each round, as the load generator saw them (client side). */
    perRound.rates = []
    /** Of the server's CPU per connect, the µs spent in the kernel (system time). */
    perRound.system = []
    let connected = 0
    for (let round = 0; round < (callgrindFile ? countedRound + 1 : rounds); round++) {
      await serverProcess.call('gc')
      if (callgrindFile && round === countedRound) execFileSync('callgrind_control', ['-i', 'on', String(serverProcess.pid)], { stdio: 'ignore' })
      await serverProcess.call('mark')
      const step = await load.call('connect', { kind: ready.kind, port: ready.port, path: ready.path, concurrency: 100, n })
      await waitFor(async () => (await serverProcess.call('count')).count >= connected + step.ok, 30_000, `${name}: registered`)
      const cpu = await serverProcess.call('cpu')
      connected += step.ok
      perRound.push(Math.round((cpu.user + cpu.system) / step.ok))
      perRound.rates.push(Math.round((step.ok / step.ms) * 1000))
      perRound.system.push(Math.round(cpu.system / step.ok))
      if (callgrindFile && round === countedRound) {
        execFileSync('callgrind_control', ['-i', 'off', String(serverProcess.pid)], { stdio: 'ignore' })
        execFileSync('callgrind_control', ['-d', String(serverProcess.pid)], { stdio: 'ignore' })
        perRound.length = 0
        perRound.push(`${Math.round(instructions(callgrindFile) / step.ok)} instructions`)
      }
    }
    connectedTotal = connected
    return perRound
  } finally {
    await load.call('close').catch(() => {})
    load.kill()
    // Closing its stdin ends the server (server-control), which lets --cpu-prof write its profile.
    serverProcess.end()
    await sleep(options.profile || coverage ? 1500 : 300)
    serverProcess.kill()
    if (coverage) {
      ;(calls[name] ??= []).push(callsPerConnect(coverage, connectedTotal))
      rmSync(coverage, { recursive: true, force: true })
    }
  }
}

/** The package a file in node_modules belongs to (`ws`, `@scope/name`), from its URL's last node_modules. */
function packageOf(url) {
  const path = url.slice(url.lastIndexOf('/node_modules/') + '/node_modules/'.length).split('/')
  return path.slice(0, path[0].startsWith('@') ? 2 : 1).join('/')
}

/**
 * JavaScript calls per connect in a server's coverage files (written when it exited): the calls of
 * functions called at least 0.9 times per connect (what runs once or more per connect; start-up
 * runs fewer), per package: `library` (packages/), a node_modules package, or `node` (internals).
 */
function callsPerConnect(directory, connects) {
  const counts = {}
  for (const file of readdirSync(directory)) {
    for (const script of JSON.parse(readFileSync(join(directory, file), 'utf8')).result) {
      const url = script.url
      const group = url.startsWith('node:') ? 'node' : url.includes('/node_modules/') ? packageOf(url) : url.includes('/packages/') ? 'library' : undefined
      if (group === undefined) continue
      for (const fn of script.functions) {
        const count = fn.ranges[0].count
        if (count >= 0.9 * connects) counts[group] = (counts[group] ?? 0) + count
      }
    }
  }
  return Object.fromEntries(Object.entries(counts).map(([group, count]) => [group, Math.round((count / connects) * 10) / 10]))
}

/** Instructions (Ir) in every dump of a callgrind output file (`file`, `file.1`, ...: all threads). */
function instructions(file) {
  let total = 0
  for (const line of execFileSync('sh', ['-c', `cat ${file}*`], { encoding: 'utf8', maxBuffer: 1 << 30 }).split('\n')) {
    if (line.startsWith('totals:')) total += Number(line.split(' ')[1])
  }
  return total
}

const results = Object.fromEntries(names.map((name) => [name, []]))
for (let run = 0; run < repeat; run++) for (const name of names) results[name].push(await probe(name))
console.log(`server CPU per connect (µs), rounds of ${n}, round 1 fresh; ${repeat} runs`)
for (const name of names) console.log(name.padEnd(14), results[name].map((runs) => runs.join(' ')).join(' | '))
if (options.calls) {
  console.log(`JavaScript calls per connect (functions run at least 0.9 times per connect), by package; every run`)
  for (const name of names) for (const counted of calls[name] ?? []) console.log(name.padEnd(14), JSON.stringify(counted))
}
if (!options.callgrind) {
  console.log(`of which system (kernel) CPU per connect (µs), the same rounds`)
  for (const name of names) console.log(name.padEnd(14), results[name].map((runs) => runs.system.join(' ')).join(' | '))
  console.log(`connections per second (client side), the same rounds`)
  for (const name of names) console.log(name.padEnd(14), results[name].map((runs) => runs.rates.join(' ')).join(' | '))
  // Ours against the peer of the same transport, run by run (the servers alternate within a run,
  // so a ratio compares two servers measured moments apart): the median per round, and the spread.
  const median = (values) => {
    const sorted = [...values].sort((a, b) => a - b)
    const middle = sorted.length >> 1
    return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
  }
  for (const [ours, peer] of [['realtime-sse', 'node-sse'], ['realtime-ws', 'ws']]) {
    if (!results[ours] || !results[peer]) continue
    for (let round = 0; round < rounds; round++) {
      const rates = results[ours].map((runs, run) => runs.rates[round] / results[peer][run].rates[round])
      const cpus = results[ours].map((runs, run) => runs[round] / results[peer][run][round])
      console.log(
        `${ours} / ${peer}, round ${round + 1}: connect rate median ${median(rates).toFixed(2)} (${rates.map((x) => x.toFixed(2)).join(' ')}), server CPU per connect median ${median(cpus).toFixed(2)}`,
      )
    }
  }
}
