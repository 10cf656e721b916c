// Smoke test of bench/scaling.mjs (issue #21): the scaling benchmark runs end to end on a tiny
// load (one process in memory, two processes behind one port on Redis, 20 WebSocket clients), every
// client gets every message, the cluster spreads the clients over both processes, and a publish
// costs Redis one script call. No timings are asserted: the figures themselves are the benchmark's.
import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { afterAll, expect, it } from 'vitest'
// @ts-expect-error plain JavaScript script
import { redisServerBinary } from '../scripts/ensure-redis.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const skip = process.env.REALTIME_REDIS_SKIP ?? (process.env.REDIS_URL || redisServerBinary() ? undefined : 'no Redis')
const folder = mkdtempSync(join(tmpdir(), 'bench-scaling-'))
afterAll(() => rmSync(folder, { recursive: true, force: true }))

interface Row {
  processes: number
  broker: string
  error?: string
  perProcess: number[]
  burstComplete: boolean
  pacedComplete: boolean
  deliveries: number
  redisScriptCallsPerPublish?: number
}

it.skipIf(skip !== undefined)(
  'bench/scaling.mjs runs: 1 process in memory, 2 processes on Redis behind one port',
  async () => {
    const json = join(folder, 'scaling.json')
    const args = [
      'bench/scaling.mjs',
      '--clients',
      '20',
      '--deliveries',
      '2000',
      '--paced',
      '5',
      '--rate',
      '50',
      '--processes',
      '2',
      '--transports',
      'ws',
      '--no-redis-memory',
      '--json',
      json,
    ]
    const { code, stderr } = await new Promise<{ code: number | null; stderr: string }>((resolve) => {
      const child = execFile(process.execPath, args, { cwd: root, timeout: 18_000 }, (error, _stdout, stderr) =>
        resolve({ code: error ? (child.exitCode ?? 1) : 0, stderr }),
      )
    })
    expect(code, stderr).toBe(0)
    const { results } = JSON.parse(readFileSync(json, 'utf8')) as { results: Row[] }
    expect(results.map((row) => `${row.processes} ${row.broker}`)).toEqual(['1 memory', '2 redis'])
    for (const row of results) {
      expect(row.error).toBeUndefined()
      expect(row.burstComplete).toBe(true)
      expect(row.pacedComplete).toBe(true)
      expect(row.deliveries).toBe(2000)
      expect(row.perProcess.reduce((sum, count) => sum + count, 0)).toBe(20)
    }
    const clustered = results[1]!
    expect(clustered.perProcess).toHaveLength(2)
    expect(Math.min(...clustered.perProcess)).toBeGreaterThan(0)
    expect(clustered.redisScriptCallsPerPublish).toBe(1)
  },
  20_000,
)
