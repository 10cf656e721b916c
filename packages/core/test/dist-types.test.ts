// The published declarations of core must not mention any runtime: no Node, Bun, Deno or
// Workers types. Reads the built .d.ts, as a user's type checker would.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const declarations = readFileSync(fileURLToPath(new URL('../dist/index.d.ts', import.meta.url)), 'utf8')
const source = (name: string) => readFileSync(fileURLToPath(new URL(`../src/${name}`, import.meta.url)), 'utf8')

describe('core stays runtime-free', () => {
  it.each([
    ['node: imports', /from ['"]node:/],
    ['Node globals', /\b(Buffer|NodeJS|IncomingMessage|ServerResponse)\b/],
    ['Bun', /\bBun\b|from ['"]bun['"]|bun-types/],
    ['Deno', /\bDeno\./],
    ['Workers', /cloudflare:|DurableObjectState|WebSocketPair|@cloudflare\/workers-types/],
  ])('the built .d.ts mentions no %s', (_name, pattern) => {
    expect(declarations.length).toBeGreaterThan(1000)
    expect(declarations).not.toMatch(pattern)
  })

  it('no source file imports a runtime', () => {
    for (const name of ['index.ts', 'realtime.ts', 'connection.ts', 'sse-connection.ts', 'broker.ts', 'protocol.ts', 'message.ts']) {
      expect(source(name)).not.toMatch(/from ['"](node:|bun['"]|cloudflare:)|\bDeno\./)
    }
  })
})
