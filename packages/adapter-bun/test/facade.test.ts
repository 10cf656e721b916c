// On Bun, the facade `@loewen-digital/realtime` and the spec's `@loewen-digital/fullstack/realtime`
// resolve to this adapter (the `bun` export condition), not to the Node one.
import { spawnSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'
import { bunBinary } from './bun-binary.js'

describe('the facade on Bun', () => {
  it('resolves to @loewen-digital/realtime-bun', () => {
    const run = spawnSync(bunBinary, [fileURLToPath(new URL('./fixtures/facade.ts', import.meta.url))], { encoding: 'utf8', timeout: 20_000 })
    expect(run.status, run.stderr).toBe(0)
    expect(JSON.parse(run.stdout.trim())).toEqual({ facade: 'bun', fullstack: 'bun', serve: true, websocket: true, platform: 'bun' })
  })
})
