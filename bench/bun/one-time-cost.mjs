#!/usr/bin/env node
// What the first connections cost a Bun process once, step by step: RSS after GC (settled) at 0,
// 10, 100 and 1,000 idle WebSocket connections, for bun-publish.ts, for the same server with one
// small function per connection (bun-publish-hot.ts), and for this library (realtime.ts). Pinned
// like the benchmark (server on CPU 0, load on CPU 1). A diagnostic for bench/bun/README.md, not
// part of the benchmark's figures.
//
//   node bench/bun/one-time-cost.mjs [--repeat 2]
import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { canPin, sleep, start, waitFor } from '../lib/process.mjs'

const bench = join(dirname(fileURLToPath(import.meta.url)), '..')
const bun = join(bench, '..', 'node_modules/.bin/bun')
if (!existsSync(bun)) {
  console.error('Bun is not installed: run node scripts/setup.mjs first')
  process.exit(1)
}
const argv = process.argv.slice(2)
const repeat = Number(argv.includes('--repeat') ? argv[argv.indexOf('--repeat') + 1] : 2)
const pin = canPin()
const steps = [10, 100, 1000]
const servers = [
  ['bun-publish', 'bun/servers/bun-publish.ts', {}],
  ['bun-publish-hot', 'bun/servers/bun-publish-hot.ts', {}],
  ['realtime-bun-ws', 'bun/servers/realtime.ts', { BENCH_TRANSPORT: 'websocket' }],
  ['realtime-bun-ws, DFG off (diagnostic)', 'bun/servers/realtime.ts', { BENCH_TRANSPORT: 'websocket', BUN_JSC_useDFGJIT: 'false' }],
]

async function settled(server) {
  await sleep(1000)
  const early = await server.call('mem')
  await sleep(4000)
  const late = await server.call('mem')
  return Math.min(early.rss, late.rss)
}

const rows = []
for (let round = 1; round <= repeat; round++) {
  for (const [name, file, env] of servers) {
    const server = start([bun, join(bench, file)], { core: pin ? 0 : undefined, cwd: bench, env })
    const load = start([process.execPath, join(bench, 'load.mjs')], { core: pin ? 1 : undefined, cwd: bench })
    try {
      const ready = await server.ready
      await load.ready
      const readings = [await settled(server)]
      let count = 0
      for (const step of steps) {
        const result = await load.call('connect', { kind: ready.kind, port: ready.port, path: ready.path, n: step - count, concurrency: 100 })
        count += result.ok
        await waitFor(async () => (await server.call('count')).count >= count, 30_000, `${name}: ${count} registered`)
        readings.push(await settled(server))
      }
      rows.push({ name, round, readings })
    } finally {
      server.kill()
      await load.call('close').catch(() => {})
      load.kill()
      await sleep(300)
    }
  }
}

const mb = (bytes) => (bytes / 2 ** 20).toFixed(1)
console.log(`RSS growth in MB from the reading before (pinned: ${pin}), 0 -> 10 -> 100 -> 1,000 idle connections:\n`)
console.log('| server | round | RSS at 0 | 0-10 | 10-100 | 100-1,000 | 0-1,000 |')
console.log('|---|---|---|---|---|---|---|')
for (const { name, round, readings } of rows) {
  const deltas = readings.slice(1).map((value, index) => mb(value - readings[index]))
  console.log(`| ${name} | ${round} | ${mb(readings[0])} | ${deltas.join(' | ')} | ${mb(readings.at(-1) - readings[0])} |`)
}
