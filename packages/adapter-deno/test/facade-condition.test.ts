// Deno picks the facade's `deno` export condition when it imports `@loewen-digital/realtime` from
// node_modules, with no flag: apps/demo-deno/which-adapter.ts reports what it resolved.
import { expect, it } from 'vitest'
import { runDeno } from './_deno.js'

it('resolves @loewen-digital/realtime and @loewen-digital/fullstack/realtime to the Deno adapter, with no flag', () => {
  const result = runDeno(['run', 'apps/demo-deno/which-adapter.ts'])
  expect(result.status, result.output).toBe(0)
  const answer = JSON.parse(result.output.trim().split('\n').at(-1)!)
  expect(answer.resolved).toMatch(/\/packages\/realtime\/dist\/deno\.js$/)
  expect(answer).toMatchObject({ facade: true, fullstack: true })
}, 60_000)
