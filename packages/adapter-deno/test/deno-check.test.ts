// `deno check` on the adapter source, on the proof that the real `Deno` namespace fits the
// adapter's structural interface, on the demo and on the fixtures.
import { expect, it } from 'vitest'
import { runDeno } from './_deno.js'

it('type-checks the adapter, its fit to the real Deno API, the demo and the fixtures with deno check', () => {
  const files = [
    'packages/adapter-deno/src/index.ts',
    'packages/adapter-deno/test/fixtures/deno-api.check.ts',
    'packages/adapter-deno/test/fixtures/adapter-server.ts',
    'packages/adapter-deno/test/fixtures/default-export.ts',
    'apps/demo-deno/server.ts',
    'apps/demo-deno/deno-serve.ts',
    'apps/demo-deno/which-adapter.ts',
  ]
  // --sloppy-imports: the source imports `./x.js` for `./x.ts`, as tsc and the Node packages do.
  const result = runDeno(['check', '--sloppy-imports', ...files])
  expect(result.status, result.output).toBe(0)
  for (const file of files) expect(result.output).toContain(`Check ${file}`)
}, 120_000)
