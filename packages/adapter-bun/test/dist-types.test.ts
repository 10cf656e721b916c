// The published declarations of the Bun adapter declare the Bun objects they use structurally:
// a user type-checks against them without bun-types, and with any version of it.
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { expect, it } from 'vitest'

it('the built .d.ts does not depend on bun-types', () => {
  const declarations = readFileSync(fileURLToPath(new URL('../dist/index.d.ts', import.meta.url)), 'utf8')
  expect(declarations).toContain('declare const websocket')
  expect(declarations).not.toMatch(/bun-types|from ['"]bun['"]|reference types=|\bServerWebSocket</)
})
