// The browser bundle stays under 5 kB min+gzip: runs scripts/size.mjs, which exits 1 above it.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

it('the browser bundle is under 5 kB min+gzip', () => {
  const script = fileURLToPath(new URL('../scripts/size.mjs', import.meta.url))
  const result = spawnSync(process.execPath, [script], { encoding: 'utf8' })
  expect(result.stderr).toBe('')
  expect(result.status).toBe(0)
  const { minified, gzipped, limit } = JSON.parse(result.stdout)
  console.log(`browser bundle: ${minified} bytes minified, ${gzipped} bytes min+gzip (limit ${limit})`)
  expect(limit).toBe(5 * 1024)
  expect(gzipped).toBeGreaterThan(500) // it measured the real bundle
  expect(gzipped).toBeLessThanOrEqual(limit)
}, 60_000)
