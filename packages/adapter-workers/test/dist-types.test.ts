// The published declarations describe workerd's objects with small structural interfaces: a user
// needs no @cloudflare/workers-types, and nothing leaks the module-scope declarations of workerd's
// globals (WebSocketPair, WebSocketRequestResponsePair).
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from 'vitest'

const declarations = readFileSync(fileURLToPath(new URL('../dist/index.d.ts', import.meta.url)), 'utf8')

describe('the Workers adapter’s published types', () => {
  it.each([
    ['imports of cloudflare: modules', /from ['"]cloudflare:/],
    ['@cloudflare/workers-types', /@cloudflare\/workers-types/],
    ['type references', /\/\/\/\s*<reference/],
    ['global declarations', /declare global|declare const WebSocketPair|declare const WebSocketRequestResponsePair/],
    ['Node types', /from ['"]node:|\bBuffer\b|NodeJS\./],
  ])('mention no %s', (_name, pattern) => {
    expect(declarations.length).toBeGreaterThan(1000)
    expect(declarations).not.toMatch(pattern)
  })

  it('export the Workers API', () => {
    for (const name of ['createRealtime', 'withRealtime', 'RealtimeDurableObject', 'WorkersRealtime', 'WorkersRealtimeOptions', 'WorkersRealtimeStats']) {
      expect(declarations).toMatch(new RegExp(`\\b${name}\\b`))
    }
  })
})
