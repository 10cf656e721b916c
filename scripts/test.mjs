// The whole test suite: every package's unit tests, the conformance suite on every runtime that
// has an adapter, and the package checks. Fails when a run executes no test.
// Usage: node scripts/test.mjs [vitest filters...]
import { spawnSync } from 'node:child_process'
import { mkdirSync, readFileSync, rmSync } from 'node:fs'
import { pnpm } from './_pnpm.mjs'
import { ensureRedis } from './ensure-redis.mjs'

const report = '.tmp/vitest-report.json'
rmSync(report, { force: true })
mkdirSync('.tmp', { recursive: true })

const filters = process.argv.slice(2)
// The Redis tests need a redis-server: REDIS_URL's when it answers, else one started on a free port
// (installing Debian's redis-server first when there is none).
const redis = await ensureRedis(undefined, { install: true })
if (redis.skip) {
  console.log(`Redis tests will be skipped: ${redis.skip}`)
  process.env.REALTIME_REDIS_SKIP = redis.skip
} else process.env.REDIS_URL = redis.url
// The browser tests need Debian's chromium: installed when missing; when it cannot be, the reason
// is printed and those tests are skipped (they print it too).
spawnSync('node', ['scripts/ensure-chromium.mjs'], { stdio: 'inherit' })
if (filters.length === 0) {
  // The linter (Biome, configured once in biome.json) over every package's source.
  pnpm(['run', 'lint'])
  // Types are part of the contract: every package, the tests and the spec snippets type-check.
  pnpm(['run', 'typecheck'])
  pnpm(['exec', 'tsc', '-p', 'tsconfig.json'])
  // Bun's fixtures import the facade, which is no dependency of the Bun adapter: checked here, once
  // every package is built, not in the adapter's own typecheck (turbo may be rebuilding the facade then).
  pnpm(['exec', 'tsc', '-p', 'packages/adapter-bun/test/tsconfig.json'])
}
const vitest = spawnSync(
  'node',
  ['node_modules/vitest/vitest.mjs', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...filters],
  { stdio: 'inherit', env: process.env },
)
await redis.stop?.()

let summary
try {
  summary = JSON.parse(readFileSync(report, 'utf8'))
} catch {
  console.error('vitest wrote no report: the test run did not complete')
  process.exit(vitest.status || 1)
}
const { numPassedTests: passed, numFailedTests: failed, numPendingTests: skipped, numTotalTests: total } = summary
console.log(`\n${passed} passed, ${failed} failed, ${skipped} skipped`)
if (vitest.status !== 0) process.exit(vitest.status ?? 1)
if (passed === 0 || total === 0) {
  console.error('no test was executed: failing the run')
  process.exit(1)
}

if (filters.length === 0) {
  // Every published package passes publint.
  pnpm(['run', 'lint:packages'])
}
