#!/usr/bin/env node
// The Bun benchmark: the Bun adapter (bench/bun/servers/realtime.ts) against a plain Bun.serve +
// server.publish server (bench/bun/servers/bun-publish.ts), same load, same run, through the
// shared harness (bench/run.mjs: servers pinned to CPU 0, the load generator to CPU 1). Runs each
// case `--repeat` times (default 3), takes the median of each figure and prints the ratios; with
// `--write` it also replaces the "## Bun" section of bench/RESULTS.md. Not part of `npm test`.
//
//   node bench/bun/run.mjs [--n 1000,10000] [--repeat 3] [--memory-only] [--write]
//
// Memory per idle connection is reported twice (bench/README.md#method): as issue #3 defines it,
// (RSS with N - RSS before) / N, and marginal, (RSS with N - RSS with N/10) / (0.9 N).
import { spawnSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const bench = join(dirname(fileURLToPath(import.meta.url)), '..')
const argv = process.argv.slice(2)
const option = (name, fallback) => (argv.includes(`--${name}`) ? argv[argv.indexOf(`--${name}`) + 1] : fallback)
const sizes = option('n', '1000,10000')
const repeat = option('repeat', '3')
const write = argv.includes('--write')
const memoryOnly = argv.includes('--memory-only')

/** Runs the shared harness once and returns the results file it wrote. */
function harness(only, env = {}) {
  const before = new Set(existsSync(join(bench, 'results')) ? readdirSync(join(bench, 'results')) : [])
  const run = spawnSync(process.execPath, [join(bench, 'run.mjs'), '--n', sizes, '--repeat', repeat, '--only', only, ...(memoryOnly ? ['--memory-only'] : [])], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } })
  if (run.status !== 0) process.exit(run.status ?? 1)
  const written = readdirSync(join(bench, 'results')).filter((name) => !before.has(name)).sort().at(-1)
  return JSON.parse(readFileSync(join(bench, 'results', written), 'utf8'))
}

const withHistory = harness('bun-publish,realtime-bun-ws')
const withoutHistory = harness('realtime-bun-ws', { BENCH_HISTORY: 'false' })
for (const result of withoutHistory.results) result.server += ' (history: false)'
const results = [...withHistory.results, ...withoutHistory.results].filter((result) => !result.error)
const failed = [...withHistory.results, ...withoutHistory.results].filter((result) => result.error)

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}
const figures = ['burstUsPerDelivery', 'pacedUsPerDelivery', 'kbPerConnection', 'marginalKbPerConnection', 'heapKbPerConnection', 'marginalHeapKbPerConnection', 'connectPerSecond']
const rows = []
for (const n of sizes.split(',').map(Number)) {
  for (const server of ['bun-publish', 'realtime-bun-ws', 'realtime-bun-ws (history: false)']) {
    const runs = results.filter((result) => result.n === n && result.server === server)
    if (runs.length === 0) continue
    const row = { n, server, runs: runs.length, complete: memoryOnly ? undefined : runs.every((run) => run.burstComplete && run.pacedComplete) }
    for (const figure of figures) {
      // A figure not measured (burst and paced with --memory-only) stays undefined: shown as a dash.
      if (runs.some((run) => run[figure] === undefined)) continue
      row[figure] = median(runs.map((run) => run[figure]))
      row[`${figure}Range`] = [Math.min(...runs.map((run) => run[figure])), Math.max(...runs.map((run) => run[figure]))]
    }
    rows.push(row)
  }
}

const machine = withHistory.machine
const fixed = (value, digits = 2) => (value === undefined ? '–' : value.toFixed(digits))
const lines = ['## Bun', '']
lines.push(
  `\`node bench/bun/run.mjs --n ${sizes} --repeat ${repeat}${memoryOnly ? ' --memory-only' : ''}\`, ${new Date().toISOString().slice(0, 10)}: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, Bun ${machine.bun}, pinned: ${machine.pinned}, load average ${machine.loadBefore} before. Medians of ${repeat} runs per case, [min-max] beside them. Method: [README](README.md#method); 100-byte messages, a burst is N x M = 1,000,000 deliveries. KB/conn: memory per idle connection as the issue defines it, (after GC with N idle connections - before any) / N; marginal: (with N - with the first N/10) / (0.9 N), without the one-time costs of the first connections, measured the same way for both servers.`,
  '',
  '| N | server | burst us/delivery | paced us/delivery | KB/conn (RSS) | KB/conn marginal (RSS) | KB/conn (JS heap) | KB/conn marginal (JS heap) | connect/s | all delivered |',
  '|---|---|---|---|---|---|---|---|---|---|',
)
const range = (row, figure, digits = 2) => (row[figure] === undefined ? '–' : `${fixed(row[figure], digits)} [${row[`${figure}Range`].map((value) => fixed(value, digits)).join('-')}]`)
for (const row of rows) {
  lines.push(`| ${row.n.toLocaleString('en')} | ${row.server} | ${range(row, 'burstUsPerDelivery', 3)} | ${range(row, 'pacedUsPerDelivery')} | ${range(row, 'kbPerConnection')} | ${range(row, 'marginalKbPerConnection')} | ${fixed(row.heapKbPerConnection)} | ${fixed(row.marginalHeapKbPerConnection)} | ${Math.round(row.connectPerSecond).toLocaleString('en')} | ${row.complete === undefined ? '–' : row.complete ? 'yes' : 'NO'} |`)
}
lines.push('', 'Ratios of the medians, realtime-bun / bun-publish (the target is 1.2 at most):', '', '| N | variant | burst CPU per delivery | paced CPU per delivery | RSS per idle connection | RSS per idle connection, marginal |', '|---|---|---|---|---|---|')
for (const row of rows.filter((row) => row.server !== 'bun-publish')) {
  const plain = rows.find((other) => other.n === row.n && other.server === 'bun-publish')
  if (!plain) continue
  const ratio = (figure) => (row[figure] === undefined || plain[figure] === undefined ? 'n/a' : `${fixed(row[figure] / plain[figure])}x`)
  lines.push(`| ${row.n.toLocaleString('en')} | ${row.server} | ${ratio('burstUsPerDelivery')} | ${ratio('pacedUsPerDelivery')} | ${ratio('kbPerConnection')} | ${ratio('marginalKbPerConnection')} |`)
}
const verdicts = rows.filter((row) => row.server !== 'bun-publish').flatMap((row) => {
  const plain = rows.find((other) => other.n === row.n && other.server === 'bun-publish')
  if (!plain) return []
  // The target is judged on the issue's figures; the marginal RSS ratio is reported beside it.
  return [['burst CPU per delivery', 'burstUsPerDelivery'], ['RSS per idle connection', 'kbPerConnection'], ['marginal RSS per idle connection', 'marginalKbPerConnection', true]]
    .filter(([, figure]) => row[figure] !== undefined && plain[figure] !== undefined)
    .map(([label, figure, marginal]) => ({ label, row, marginal: marginal === true, over: row[figure] / plain[figure] > 1.2 }))
})
const judged = verdicts.filter((verdict) => !verdict.marginal)
const over = judged.filter((verdict) => verdict.over)
const list = (items) => items.map(({ label, row }) => `${label} (${row.server}, N=${row.n.toLocaleString('en')})`).join('; ')
const where = 'Where the memory goes: [bun/README.md](bun/README.md#memory-per-idle-connection).'
lines.push('', over.length === 0 ? `Every ratio${memoryOnly ? ' measured (memory only)' : ''} is within the 1.2 target.` : `Over the 1.2 target: ${list(over)}. ${where}`)
const marginalOver = verdicts.filter((verdict) => verdict.marginal && verdict.over)
if (verdicts.some((verdict) => verdict.marginal)) {
  lines.push('', marginalOver.length === 0 ? 'On the marginal figure (not the issue\'s), RSS per idle connection is within 1.2x.' : `On the marginal figure (not the issue's), over 1.2x: ${list(marginalOver)}.`)
}
for (const result of failed) lines.push(`- ${result.server} N=${result.n} failed: ${result.error.split('\n')[0]}`)
const report = lines.join('\n') + '\n'
console.log(report)

if (write) {
  const path = join(bench, 'RESULTS.md')
  const current = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmark results\n'
  const start = current.search(/^## Bun\s*$/m)
  let next
  if (start === -1) next = current.trimEnd() + '\n\n' + report
  else {
    const rest = current.slice(start + '## Bun'.length)
    const end = rest.search(/^## /m)
    next = current.slice(0, start) + report + (end === -1 ? '' : '\n' + rest.slice(end))
  }
  writeFileSync(path, next)
  console.error(`wrote the "## Bun" section of ${path}`)
}
