// SSE connection ids on Node are made by `flatRandomUuid` (src/_uuid.ts): version 4 UUIDs in the
// format of `crypto.randomUUID()`, never repeated, across refills of its random pool.
import { describe, expect, it } from 'vitest'
import { flatRandomUuid } from '../src/_uuid.js'

describe('flatRandomUuid', () => {
  it('makes distinct version 4 UUIDs with random bits everywhere else', () => {
    const ids = new Set<string>()
    const seen = new Array<Set<string>>(36).fill(undefined as never).map(() => new Set<string>())
    for (let count = 0; count < 2000; count++) {
      const id = flatRandomUuid()
      expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/)
      ids.add(id)
      for (let index = 0; index < 36; index++) seen[index]!.add(id[index]!)
    }
    expect(ids.size).toBe(2000)
    // Every hexadecimal position takes all 16 digits (but the version's, and the variant's 4).
    const counts = seen.map((digits) => digits.size)
    expect(counts.filter((size) => size === 16)).toHaveLength(32 - 2)
    expect(counts[14]).toBe(1)
    expect(counts[19]).toBe(4)
  })
})
