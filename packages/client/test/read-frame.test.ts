// readFrame (src/frame.ts): the one path by which both transports turn what arrived into the
// message the client uses, or into the realtime:error that reports why it was dropped.
import { describe, expect, it } from 'vitest'
import { readFrame } from '../src/frame.js'

const MAX = 1_048_576
const code = (message: { event: string; data?: any }) => (message.event === 'realtime:error' ? message.data.code : undefined)

describe('readFrame, a WebSocket frame (no SSE event name)', () => {
  it('passes a well-formed frame through as the message', () => {
    const frame = { event: 'order', data: { id: 1 }, channel: 'orders', id: 'e1:4' }
    expect(readFrame(JSON.stringify(frame), undefined, MAX)).toEqual(frame)
    expect(readFrame('{"event":"realtime:connected","data":{"id":"c1","cursor":"b=e:1"}}', undefined, MAX)).toEqual({
      event: 'realtime:connected',
      data: { id: 'c1', cursor: 'b=e:1' },
    })
  })

  it('gives text that is not a frame (not JSON, or JSON without an event) as realtime:raw', () => {
    for (const text of ['hello', '{"data":1}', '42', 'null', '{"event":7}']) {
      expect(readFrame(text, undefined, MAX), text).toEqual({ event: 'realtime:raw', data: text })
    }
  })

  it('reports a binary frame, a malformed one, and one over max bytes, each with its code', () => {
    expect(readFrame(new ArrayBuffer(4), undefined, MAX)).toMatchObject({
      event: 'realtime:error',
      data: { code: 'REALTIME_BAD_FRAME', message: 'dropped a bad frame from the server: a binary frame' },
    })
    expect(code(readFrame('{"event":"realtime:connected","data":{"id":1}}', undefined, MAX))).toBe('REALTIME_BAD_FRAME')
    expect(code(readFrame('{"event":"x","id":"not a cursor"}', undefined, MAX))).toBe('REALTIME_BAD_FRAME')
    expect(code(readFrame('{"event":"realtime:state","data":{}}', undefined, MAX))).toBe('REALTIME_BAD_FRAME') // the client's own event
    expect(readFrame(JSON.stringify({ event: 'x', data: 'é'.repeat(40) }), undefined, 64)).toMatchObject({
      data: { code: 'REALTIME_MESSAGE_TOO_BIG', message: 'dropped a message over maxMessageBytes (64)' },
    })
  })

  it('counts bytes as UTF-8, not characters, and takes max 0 as no limit', () => {
    const text = JSON.stringify({ event: 'x', data: 'é'.repeat(30) }) // 53 characters, 83 bytes
    const bytes = new TextEncoder().encode(text).length
    expect(text.length).toBeLessThan(64)
    expect(bytes).toBeGreaterThan(64)
    expect(code(readFrame(text, undefined, 64))).toBe('REALTIME_MESSAGE_TOO_BIG')
    expect(code(readFrame(text, undefined, bytes - 1))).toBe('REALTIME_MESSAGE_TOO_BIG')
    expect(readFrame(text, undefined, bytes)).toMatchObject({ event: 'x' })
    expect(readFrame(JSON.stringify({ event: 'x', data: 'a'.repeat(5000) }), undefined, 0)).toMatchObject({ event: 'x' })
  })
})

describe('readFrame, the data of an SSE event', () => {
  it('wraps the JSON data of a named event as the message of that event', () => {
    expect(readFrame('{"id":1}', 'order', MAX)).toEqual({ event: 'order', data: { id: 1 } })
    expect(readFrame('null', 'order', MAX)).toEqual({ event: 'order', data: null })
  })

  it('gives an unnamed event as realtime:raw, JSON or not', () => {
    expect(readFrame('{"event":"order"}', 'message', MAX)).toEqual({ event: 'realtime:raw', data: '{"event":"order"}' })
    expect(readFrame('plain', 'message', MAX)).toEqual({ event: 'realtime:raw', data: 'plain' })
  })

  it('reports data that is not JSON, and control events whose data is malformed', () => {
    expect(readFrame('not json', 'order', MAX)).toMatchObject({
      data: { code: 'REALTIME_BAD_FRAME', message: 'dropped a bad frame from the server: order: data is not JSON' },
    })
    expect(code(readFrame('{"channel":5}', 'realtime:subscribed', MAX))).toBe('REALTIME_BAD_FRAME')
    expect(code(readFrame('"text"', 'realtime:gap', MAX))).toBe('REALTIME_BAD_FRAME')
  })
})
