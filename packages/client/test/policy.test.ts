// The pure parts: the cursor map of docs/protocol.md and the reconnect policy of docs/errors.md.
import { formatCursorMap as serverFormat, parseCursorMap as serverParse } from '@loewen-digital/realtime-core'
import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { formatCursorMap, isCursor, isNewer, parseCursorMap, streamKey } from '../src/cursor-map.js'
import { frameProblem } from '../src/frame.js'
import { isFinalCloseCode, isFinalStatus, later, LATER_SECONDS, MAX_TIMER, MIN_DELAY, reconnectDelay } from '../src/reconnect-policy.js'

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
    const map = parseCursorMap(text)!
    expect([...map]).toEqual([
      ['b', 'k2x9a0c1:14'],
      ['u', 'p0q1r2s3:3'],
      ['c.orders', 'z9y8x7w6:7'],
      ['c.a%2Cb', 'e:0'],
    ])
    expect(formatCursorMap(map)).toBe(text)
    expect([...parseCursorMap('')!]).toEqual([])
  })

  it('refuses a whole map when any entry is malformed, so no bad position is ever stored', () => {
    for (const text of [
      'garbage',
      'b=e:1,,u=e:2',
      '=x,b=e:1',
      'b=e:1e400',
      'b=e:1.5',
      'b=e:-1',
      'b=e:Infinity',
      'b=e:0x10',
      'b=e:',
      'b=:1',
      'x=e:1',
      'c.=e:1',
      `b=${'e'.repeat(65)}:1`,
      'b=e:9007199254740992',
      'b=e:99999999999999999',
      `b=e:1,${'u=e:1,'.repeat(3000)}u=e:1`,
    ]) {
      expect(parseCursorMap(text), text.slice(0, 40)).toBeUndefined()
    }
    expect([...parseCursorMap(`b=${'e'.repeat(64)}:9007199254740991`)!]).toEqual([['b', `${'e'.repeat(64)}:9007199254740991`]])
  })

  it('accepts exactly the cursors whose offset is a non-negative safe integer in digits and whose epoch is 1-64 of [A-Za-z0-9_-]', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 80 }), (text) => {
        const colon = text.indexOf(':')
        const epoch = text.slice(0, colon)
        const offset = text.slice(colon + 1)
        const valid = colon > 0 && /^[A-Za-z0-9_-]{1,64}$/.test(epoch) && /^[0-9]+$/.test(offset) && offset.length <= 16 && Number.isSafeInteger(Number(offset))
        expect(isCursor(text)).toBe(valid)
      }),
      { numRuns: 2000 },
    )
    expect(isCursor(7)).toBe(false)
    expect(isCursor(null)).toBe(false)
    expect(isCursor({})).toBe(false)
    expect(isCursor('e:1e400')).toBe(false)
    expect(isCursor('e:9007199254740991')).toBe(true)
  })

  it('reads and writes exactly what the server core does', () => {
    const server = new Map([
      ['b', { epoch: 'k2x9a0c1', offset: 14 }],
      ['c.' + encodeURIComponent('room,1=a:b'), { epoch: 'z9', offset: 0 }],
    ])
    const text = serverFormat(server)
    expect([...parseCursorMap(text)!]).toEqual([...server].map(([key, cursor]) => [key, `${cursor.epoch}:${cursor.offset}`]))
    expect(serverParse(formatCursorMap(parseCursorMap(text)!))).toEqual(server)
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
    for (const code of [1000, 1002, 1003, 1007, 1009, 1010, 4003, 4403, 4999]) expect(isFinalCloseCode(code), String(code)).toBe(true)
    for (const code of [1001, 1006, 1008, 1011, 1012, 1013, 1015, 4000, 4001, 4002]) expect(isFinalCloseCode(code), String(code)).toBe(false)
  })

  it('stops on refusing statuses, not on "later" or server errors', () => {
    for (const status of [204, 400, 401, 403, 404]) expect(isFinalStatus(status), String(status)).toBe(true)
    for (const status of [408, 429, 500, 502, 503]) expect(isFinalStatus(status), String(status)).toBe(false)
  })

  it('stops on redirects (the client only sees those the transport could not follow)', () => {
    for (const status of [300, 301, 302, 307, 308]) expect(isFinalStatus(status), String(status)).toBe(true)
  })

  it('backs off exponentially with jitter, up to the maximum', () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const base = Math.min(30_000, 1000 * 2 ** attempt)
      for (let sample = 0; sample < 20; sample++) {
        const delay = reconnectDelay(attempt, 1000, 30_000)
        expect(delay).toBeGreaterThanOrEqual(base / 2)
        expect(delay).toBeLessThanOrEqual(base)
      }
    }
    const samples = new Set(Array.from({ length: 20 }, () => reconnectDelay(3, 1000, 30_000)))
    expect(samples.size, 'jittered').toBeGreaterThan(1)
  })

  it("waits at least the server's hint (Retry-After), with jitter, but never longer than the maximum", () => {
    for (let sample = 0; sample < 20; sample++) {
      const delay = reconnectDelay(0, 1000, 30_000, 7000)
      expect(delay).toBeGreaterThanOrEqual(7000)
      expect(delay).toBeLessThanOrEqual(10_500)
      expect(reconnectDelay(0, 1000, 30_000, 3_000_000_000)).toBe(30_000)
      // A hint of 0 (Retry-After: 0) does not undercut the backoff.
      expect(reconnectDelay(4, 1000, 30_000, 0)).toBeGreaterThanOrEqual(8000)
    }
  })

  it('never goes below the floor nor beyond the timer range, whatever the options', () => {
    fc.assert(
      fc.property(
        fc.nat({ max: 5000 }),
        fc.oneof(fc.double({ min: 0, noNaN: true }), fc.constant(0)),
        fc.oneof(fc.double({ min: 0, noNaN: true }), fc.constant(Infinity)),
        fc.oneof(fc.double({ min: 0, noNaN: true }), fc.constant(Infinity)),
        (attempt, initial, max, hint) => {
          const delay = reconnectDelay(attempt, initial, max, hint)
          expect(Number.isInteger(delay)).toBe(true)
          expect(delay).toBeGreaterThanOrEqual(MIN_DELAY)
          expect(delay).toBeLessThanOrEqual(Math.max(MIN_DELAY, Math.min(MAX_TIMER, Math.ceil(max))))
        },
      ),
    )
    expect(reconnectDelay(0, 0, 0)).toBe(MIN_DELAY)
    expect(reconnectDelay(50, 1000, Infinity)).toBe(MAX_TIMER)
  })

  it('reads Retry-After as seconds or a date, else the default', () => {
    expect(later('7')).toBe(7000)
    expect(later(' 0 ')).toBe(0)
    expect(later('3000000')).toBe(3_000_000_000)
    expect(later(null)).toBe(LATER_SECONDS * 1000)
    expect(later('soon')).toBe(LATER_SECONDS * 1000)
    expect(later(new Date(Date.now() + 60_000).toUTCString())).toBeGreaterThanOrEqual(58_000)
    expect(later(new Date(Date.now() - 60_000).toUTCString())).toBe(0)
  })
})

describe('frames from the server', () => {
  it('accepts what the server sends', () => {
    for (const frame of [
      { event: 'tick', data: { n: 1 } },
      { event: 'tick', data: null, channel: 'orders', id: 'k2x9:7' },
      { event: 'realtime:connected', data: { id: 'c1', cursor: '' } },
      { event: 'realtime:connected', data: { id: 'c1', cursor: 'b=k2x9:14,c.orders=z9:0' } },
      { event: 'realtime:subscribed', data: { channel: 'orders', cursor: 'z9:3' } },
      { event: 'realtime:subscribed', data: { channel: 'orders' } },
      { event: 'realtime:gap', data: { channel: 'orders', reason: 'epoch', cursor: null } },
      { event: 'realtime:error', data: { code: 'REALTIME_FORBIDDEN', message: 'no', channel: 'private' } },
      { event: 'realtime:reconnect', data: { code: 1012, reason: 'restart' } },
      { event: 'realtime:pong', data: 5 },
      { event: 'realtime:presence', data: { channel: 'room', action: 'join' } },
    ]) {
      expect(frameProblem(frame), JSON.stringify(frame)).toBeUndefined()
    }
  })

  it('names what is wrong with a malformed one', () => {
    for (const frame of [
      { event: 'tick', data: 1, id: 7 },
      { event: 'tick', data: 1, id: null },
      { event: 'tick', data: 1, id: {} },
      { event: 'tick', data: 1, id: 'e:1e400' },
      { event: 'tick', data: 1, channel: 5 },
      { event: 'tick', data: 1, channel: 'a\ud800b' },
      { event: 'realtime:connected', data: { id: 'c1', cursor: 'b=e:1e400' } },
      { event: 'realtime:connected', data: null },
      { event: 'realtime:connected', data: { cursor: '' } },
      { event: 'realtime:subscribed', data: { channel: 'orders', cursor: 5 } },
      { event: 'realtime:subscribed', data: { channel: '\udc00' } },
      { event: 'realtime:gap', data: { channel: 'orders', reason: 'epoch', cursor: 'e:-1' } },
      { event: 'realtime:error' },
      { event: 'realtime:error', data: null },
      { event: 'realtime:error', data: { code: 7, message: 'x' } },
      { event: 'realtime:state', data: { state: 'closed' } },
      { event: 'realtime:raw', data: 'x' },
    ]) {
      expect(frameProblem(frame), JSON.stringify(frame)).toEqual(expect.any(String))
    }
  })
})
