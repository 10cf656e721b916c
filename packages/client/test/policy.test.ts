// The pure parts: the cursor map of docs/protocol.md and the reconnect policy of docs/errors.md.
import { formatCursorMap as serverFormat, parseCursorMap as serverParse } from '@loewen-digital/realtime-core'
import { describe, expect, it } from 'vitest'
import { formatCursorMap, isNewer, parseCursorMap, streamKey } from '../src/cursor-map.js'
import { backoff, isFinalCloseCode, isFinalStatus, later, LATER_SECONDS } from '../src/reconnect-policy.js'

describe('cursor map', () => {
  it('names streams as the protocol does', () => {
    expect(streamKey(undefined)).toBe('b')
    expect(streamKey('realtime:broadcast')).toBe('b')
    expect(streamKey('realtime:user')).toBe('u')
    expect(streamKey('orders')).toBe('c.orders')
    expect(streamKey('a,b=c:d')).toBe('c.a%2Cb%3Dc%3Ad')
  })

  it('parses and formats the server format round trip', () => {
    const text = 'b=k2x9a0c1:14,u=p0q1r2s3:3,c.orders=z9y8x7w6:7,c.a%2Cb=e:0'
    const map = parseCursorMap(text)
    expect([...map]).toEqual([
      ['b', 'k2x9a0c1:14'],
      ['u', 'p0q1r2s3:3'],
      ['c.orders', 'z9y8x7w6:7'],
      ['c.a%2Cb', 'e:0'],
    ])
    expect(formatCursorMap(map)).toBe(text)
    expect([...parseCursorMap('')]).toEqual([])
    expect([...parseCursorMap('garbage,,=x,b=e:1')]).toEqual([['b', 'e:1']])
  })

  it('reads and writes exactly what the server core does', () => {
    const server = new Map([
      ['b', { epoch: 'k2x9a0c1', offset: 14 }],
      ['c.' + encodeURIComponent('room,1=a:b'), { epoch: 'z9', offset: 0 }],
    ])
    const text = serverFormat(server)
    expect([...parseCursorMap(text)]).toEqual([...server].map(([key, cursor]) => [key, `${cursor.epoch}:${cursor.offset}`]))
    expect(serverParse(formatCursorMap(parseCursorMap(text)))).toEqual(server)
  })

  it('orders cursors by offset within an epoch; another epoch always counts as new', () => {
    expect(isNewer(undefined, 'e:0')).toBe(true)
    expect(isNewer('e:4', 'e:5')).toBe(true)
    expect(isNewer('e:5', 'e:5')).toBe(false)
    expect(isNewer('e:10', 'e:9')).toBe(false)
    expect(isNewer('e:10', 'f:1')).toBe(true)
  })
})

describe('reconnect policy', () => {
  it('stops on the close codes that mean "do not reconnect"', () => {
    for (const code of [1000, 1002, 1003, 1007, 1009, 1010, 4002, 4403, 4999]) expect(isFinalCloseCode(code), String(code)).toBe(true)
    for (const code of [1001, 1006, 1008, 1011, 1012, 1013, 1015, 4000, 4001]) expect(isFinalCloseCode(code), String(code)).toBe(false)
  })

  it('stops on refusing statuses, not on "later" or server errors', () => {
    for (const status of [204, 400, 401, 403, 404]) expect(isFinalStatus(status), String(status)).toBe(true)
    for (const status of [408, 429, 500, 502, 503]) expect(isFinalStatus(status), String(status)).toBe(false)
  })

  it('backs off exponentially with jitter, up to the maximum', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const base = Math.min(30_000, 1000 * 2 ** attempt)
      for (let sample = 0; sample < 20; sample++) {
        const delay = backoff(attempt, 1000, 30_000)
        expect(delay).toBeGreaterThanOrEqual(base / 2)
        expect(delay).toBeLessThanOrEqual(base)
      }
    }
    const samples = new Set(Array.from({ length: 20 }, () => backoff(3, 1000, 30_000)))
    expect(samples.size, 'jittered').toBeGreaterThan(1)
  })

  it('waits at least Retry-After (seconds or a date), else the default', () => {
    for (let sample = 0; sample < 20; sample++) {
      const seconds = later('7')
      expect(seconds).toBeGreaterThanOrEqual(7000)
      expect(seconds).toBeLessThanOrEqual(10_500)
      expect(later(null)).toBeGreaterThanOrEqual(LATER_SECONDS * 1000)
      expect(later('soon')).toBeGreaterThanOrEqual(LATER_SECONDS * 1000)
      expect(later(new Date(Date.now() + 60_000).toUTCString())).toBeGreaterThanOrEqual(58_000)
    }
  })
})
