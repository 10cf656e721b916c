// normalHref recognizes an absolute URL the WHATWG parser would return unchanged, without parsing
// it: whenever it answers, the answer must be exactly what `new URL(...)` makes of the same input.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { normalHref } from '../src/_normal-href.js'

/** What the URL parser makes of it, or undefined where it refuses. */
function parsed(protocol: string, authority: string, target: string): string | undefined {
  try {
    return new URL(`${protocol}://${authority}${target}`).href
  } catch {
    return undefined
  }
}

const characters = 'aZ09-._~!$&()*+,;=:@/?%#\\ "<>\'`{}|^[]\t\né.'.split('')
const hostCharacters = 'aZ09-.:[]@x%_'.split('')

describe('normalHref', () => {
  it('answers the usual request URLs without parsing', () => {
    expect(normalHref('http', '127.0.0.1:3000', '/')).toBe('http://127.0.0.1:3000/')
    expect(normalHref('http', 'localhost:5173', '/realtime?channel=a&lastEventId=b')).toBe('http://localhost:5173/realtime?channel=a&lastEventId=b')
    expect(normalHref('https', 'example.com', '/events')).toBe('https://example.com/events')
  })

  it('leaves to the parser what it would change', () => {
    for (const [authority, target] of [
      ['127.0.0.1:80', '/'], // default port, dropped
      ['Example.com', '/'], // upper case, lowered
      ['127.1', '/'], // IPv4 shorthand, expanded
      ['0x7f.0.0.1', '/'],
      ['host:03000', '/'], // zero-padded port
      ['host', '/a/../b'], // dot segments
      ['host', '/a/%2e%2e/b'],
      ['host', '/a b'], // encoded
      ['host', '/a#b'],
      ['host', '//other/'],
      ['user@host', '/'],
      ['xn--nxasmq6b.com', '/'],
      ['[::1]:3000', '/'],
    ] as const) {
      expect(normalHref('http', authority, target), `${authority}${target}`).toBeUndefined()
    }
  })

  it('whenever it answers, answers exactly what the URL parser makes of it (generated inputs)', () => {
    const target = fc.array(fc.constantFrom(...characters), { maxLength: 24 }).map((chars) => `/${chars.join('')}`)
    const host = fc.oneof(
      fc.array(fc.constantFrom(...hostCharacters), { minLength: 1, maxLength: 16 }).map((chars) => chars.join('')),
      fc.tuple(fc.nat(300), fc.nat(300), fc.nat(300), fc.nat(300)).map((parts) => parts.join('.')),
      fc.tuple(fc.constantFrom('localhost', '127.0.0.1', 'a.b', 'a-b.c', '-a.b', 'a.1', 'a.b.'), fc.option(fc.nat(70_000))).map(([name, port]) => (port === null ? name : `${name}:${port}`)),
    )
    fc.assert(
      fc.property(fc.constantFrom('http' as const, 'https' as const), host, target, (protocol, authority, path) => {
        const answer = normalHref(protocol, authority, path)
        if (answer !== undefined) expect(answer).toBe(parsed(protocol, authority, path))
      }),
      { numRuns: 20_000 },
    )
  })
})
