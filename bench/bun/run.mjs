#!/usr/bin/env node
// The Bun benchmark: the Bun adapter (bench/bun/servers/realtime.ts) against a plain Bun.serve +
// server.publish server (bench/bun/servers/bun-publish.ts), same load, same run, through the
// shared harness (bench/run.mjs: servers pinned to CPU 0, the load generator to CPU 1). Runs each
// case `--repeat` times (default 3), takes the median of each figure and prints the ratios; with
// `--write` it also replaces the "## Bun" section of bench/RESULTS.md. Not part of `npm test`.
//
//   node bench/bun/run.mjs [--n 1000,10000] [--repeat 3] [--write]
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

/** Runs the shared harness once and returns the results file it wrote. */
function harness(only, env = {}) {
  const before = new Set(existsSync(join(bench, 'results')) ? readdirSync(join(bench, 'results')) : [])
  const run = spawnSync(process.execPath, [join(bench, 'run.mjs'), '--n', sizes, '--repeat', repeat, '--only', only], { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, ...env } })
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
const figures = ['burstUsPerDelivery', 'pacedUsPerDelivery', 'kbPerConnection', 'heapKbPerConnection', 'connectPerSecond']
const rows = []
for (const n of sizes.split(',').map(Number)) {
  for (const server of ['bun-publish', 'realtime-bun-ws', 'realtime-bun-ws (history: false)']) {
    const runs = results.filter((result) => result.n === n && result.server === server)
    if (runs.length === 0) continue
    const row = { n, server, runs: runs.length, complete: runs.every((run) => run.burstComplete && run.pacedComplete) }
    for (const figure of figures) {
      row[figure] = median(runs.map((run) => run[figure]))
      row[`${figure}Range`] = [Math.min(...runs.map((run) => run[figure])), Math.max(...runs.map((run) => run[figure]))]
    }
    rows.push(row)
  }
}

const machine = withHistory.machine
const fixed = (value, digits = 2) => value.toFixed(digits)
const lines = ['## Bun', '']
lines.push(
  `\`node bench/bun/run.mjs --n ${sizes} --repeat ${repeat}\`, ${new Date().toISOString().slice(0, 10)}: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}, Bun ${machine.bun}, pinned: ${machine.pinned}, load average ${machine.loadBefore} before. Medians of ${repeat} runs per case, [min-max] beside them. Method: [README](README.md#method); 100-byte messages, a burst is N x M = 1,000,000 deliveries.`,
  '',
  '| N | server | burst us/delivery | paced us/delivery | KB/conn (RSS) | KB/conn (JS heap) | connect/s | all delivered |',
  '|---|---|---|---|---|---|---|---|',
)
const range = (row, figure, digits = 2) => `${fixed(row[figure], digits)} [${row[`${figure}Range`].map((value) => fixed(value, digits)).join('-')}]`
for (const row of rows) {
  lines.push(`| ${row.n.toLocaleString('en')} | ${row.server} | ${range(row, 'burstUsPerDelivery', 3)} | ${range(row, 'pacedUsPerDelivery')} | ${range(row, 'kbPerConnection')} | ${fixed(row.heapKbPerConnection)} | ${Math.round(row.connectPerSecond).toLocaleString('en')} | ${row.complete ? 'yes' : 'NO'} |`)
}
lines.push('', 'Ratios of the medians, realtime-bun / bun-publish (the target is 1.2 at most):', '', '| N | variant | burst CPU per delivery | paced CPU per delivery | RSS per idle connection |', '|---|---|---|---|---|')
for (const row of rows.filter((row) => row.server !== 'bun-publish')) {
  const plain = rows.find((other) => other.n === row.n && other.server === 'bun-publish')
  if (!plain) continue
  const ratio = (figure) => `${fixed(row[figure] / plain[figure])}x`
  lines.push(`| ${row.n.toLocaleString('en')} | ${row.server} | ${ratio('burstUsPerDelivery')} | ${ratio('pacedUsPerDelivery')} | ${ratio('kbPerConnection')} |`)
}
const verdicts = rows.filter((row) => row.server !== 'bun-publish').flatMap((row) => {
  const plain = rows.find((other) => other.n === row.n && other.server === 'bun-publish')
  if (!plain) return []
  return [['burst CPU per delivery', 'burstUsPerDelivery'], ['RSS per idle connection', 'kbPerConnection']].map(([label, figure]) => ({ label, row, over: row[figure] / plain[figure] > 1.2 }))
})
const over = verdicts.filter((verdict) => verdict.over)
lines.push('', over.length === 0 ? 'Every ratio is within the 1.2 target.' : `Over the 1.2 target: ${over.map(({ label, row }) => `${label} (${row.server}, N=${row.n.toLocaleString('en')})`).join('; ')}. Where the memory goes: [bun/README.md](bun/README.md#memory-per-idle-connection).`)
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
