// Connection setup alone, fresh and warm: each server connects `--rounds` rounds of `--n` clients
// (kept open) and reports its own CPU per connect for each round. Round 1 is a fresh server
// (compiling the connection path, as after a deploy), later rounds a warm one. Servers are run in
// turn, `--repeat` times, on the pinned cores `run.mjs` uses. `--profile DIR` writes a CPU profile
// of each server process into DIR (Node's --cpu-prof).
//
//   node bench/connect-probe.mjs --only realtime-ws,ws,realtime-sse,node-sse --n 1000 --rounds 4
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { canPin, parseArguments, sleep, start, waitFor } from './lib/process.mjs'

const here = dirname(fileURLToPath(import.meta.url))
const options = parseArguments(process.argv.slice(2))
const n = Number(options.n ?? 1000)
const rounds = Number(options.rounds ?? 4)
const repeat = Number(options.repeat ?? 2)
const nodeFlags = options.profile ? ['--cpu-prof', `--cpu-prof-dir=${options.profile}`] : []
const pin = canPin()

const servers = {
  'realtime-ws': { file: 'servers/realtime.mjs', env: { BENCH_TRANSPORT: 'websocket' } },
  'realtime-sse': { file: 'servers/realtime.mjs', env: { BENCH_TRANSPORT: 'sse' } },
  ws: { file: 'servers/ws.mjs' },
  'node-sse': { file: 'servers/node-sse.mjs' },
}
const names = String(options.only ?? Object.keys(servers).join(',')).split(',')

/** Connects `rounds` rounds of `n` clients to one fresh server; µs of server CPU per connect per round. */
async function probe(name) {
  const server = servers[name]
  const serverProcess = start([process.execPath, '--expose-gc', ...nodeFlags, join(here, server.file)], { core: pin ? 0 : undefined, cwd: process.cwd(), env: server.env })
  const load = start([process.execPath, join(here, 'load.mjs')], { core: pin ? 1 : undefined, cwd: here })
  try {
    const ready = await serverProcess.ready
    await load.ready
    const perRound = []
    let connected = 0
    for (let round = 0; round < rounds; round++) {
      await serverProcess.call('gc')
      await serverProcess.call('mark')
      const step = await load.call('connect', { kind: ready.kind, port: ready.port, path: ready.path, concurrency: 100, n })
      await waitFor(async () => (await serverProcess.call('count')).count >= connected + step.ok, 30_000, `${name}: registered`)
      const cpu = await serverProcess.call('cpu')
      connected += step.ok
      perRound.push(Math.round((cpu.user + cpu.system) / step.ok))
    }
    return perRound
  } finally {
    await load.call('close').catch(() => {})
    load.kill()
    // Closing its stdin ends the server (server-control), which lets --cpu-prof write its profile.
    serverProcess.end()
    await sleep(options.profile ? 1500 : 300)
    serverProcess.kill()
  }
}

const results = Object.fromEntries(names.map((name) => [name, []]))
for (let run = 0; run < repeat; run++) for (const name of names) results[name].push(await probe(name))
console.log(`server CPU per connect (µs), rounds of ${n}, round 1 fresh; ${repeat} runs`)
for (const name of names) console.log(name.padEnd(14), results[name].map((runs) => runs.join(' ')).join(' | '))
