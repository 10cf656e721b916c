// Runs the type tests (typed-events.test-d.ts and the type-checked test files) through tsc, so a
// broken type contract fails `vitest run` as well as `pnpm typecheck`.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

const packageDir = fileURLToPath(new URL('..', import.meta.url))

it('the shared event map type-checks on server and client, and every @ts-expect-error is an error', () => {
  const tsc = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url))
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.test.json'], { cwd: packageDir, encoding: 'utf8' })
  expect(result.stdout + result.stderr).toBe('')
  expect(result.status).toBe(0)
}, 120_000)
