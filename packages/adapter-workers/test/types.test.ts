// The adapter type-checks twice: with web types only (what is published), and against
// @cloudflare/workers-types (test/types/runtime-compat.ts: the structural interfaces accept the
// runtime's real objects, and the exports fit ExportedHandler and the Durable Object contract).
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { expect, it } from 'vitest'

const root = fileURLToPath(new URL('../', import.meta.url))
const tsc = fileURLToPath(new URL('../../../node_modules/typescript/bin/tsc', import.meta.url))

it.each(['tsconfig.json', 'tsconfig.workers.json'])('type-checks with %s', async (config) => {
  const result = await promisify(execFile)('node', [tsc, '-p', config], { cwd: root }).catch((error) => error)
  expect(`${result.stdout ?? ''}${result.stderr ?? ''}`).toBe('')
}, 60_000)
