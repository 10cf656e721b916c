import { describe, expect, it } from 'vitest'
import { Outbound, parseControlFrame, RealtimeError } from '@loewen-digital/realtime-core'

const codeOf = (run: () => unknown) => {
  try {
    run()
  } catch (error) {
    return RealtimeError.isInstance(error) ? error.code : 'not a RealtimeError'
  }
  return 'no error'
}

describe('parseControlFrame', () => {
  it('leaves application messages alone, even ones that mention the prefix', () => {
    expect(parseControlFrame('{"chat":"hi"}')).toBeUndefined()
    expect(parseControlFrame('not json "realtime: yes"')).toBeUndefined()
    expect(parseControlFrame('{"text":"realtime:subscribe"}')).toBeUndefined()
    expect(parseControlFrame('{"event":"update","data":"realtime:x"}')).toBeUndefined()
  })

  it('parses subscribe (with an optional cursor), unsubscribe and ping', () => {
    expect(parseControlFrame('{"event":"realtime:subscribe","data":{"channel":"orders"}}')).toEqual({ event: 'realtime:subscribe', channel: 'orders' })
    expect(parseControlFrame('{"event":"realtime:subscribe","data":{"channel":"o","cursor":"e:3"}}')).toEqual({
      event: 'realtime:subscribe',
      channel: 'o',
      cursor: 'e:3',
    })
    expect(parseControlFrame(' { "event" : "realtime:unsubscribe", "data": {"channel":"o"} }')).toEqual({ event: 'realtime:unsubscribe', channel: 'o' })
    expect(parseControlFrame('{"event":"realtime:ping","data":1}')).toEqual({ event: 'realtime:ping', data: 1 })
  })

  it('rejects malformed control frames with REALTIME_BAD_FRAME', () => {
    expect(codeOf(() => parseControlFrame('{"event":"realtime:subscribe"}'))).toBe('REALTIME_BAD_FRAME')
    expect(codeOf(() => parseControlFrame('{"event":"realtime:subscribe","data":{"channel":""}}'))).toBe('REALTIME_BAD_FRAME')
    expect(codeOf(() => parseControlFrame('{"event":"realtime:subscribe","data":{"channel":"a\\nb"}}'))).toBe('REALTIME_BAD_FRAME')
    expect(codeOf(() => parseControlFrame('{"event":"realtime:subscribe","data":{"channel":"x","cursor":5}}'))).toBe('REALTIME_BAD_FRAME')
    expect(codeOf(() => parseControlFrame(`{"event":"realtime:subscribe","data":{"channel":"${'x'.repeat(201)}"}}`))).toBe('REALTIME_BAD_FRAME')
  })

  it('rejects unknown control events with REALTIME_UNKNOWN_CONTROL', () => {
    expect(codeOf(() => parseControlFrame('{"event":"realtime:teleport"}'))).toBe('REALTIME_UNKNOWN_CONTROL')
  })
})

describe('Outbound', () => {
  it('encodes the WebSocket frame and the SSE block once, from the same JSON', () => {
    const outbound = new Outbound('new-order', { id: 1, note: 'a\nb' }, 'orders')
    expect(JSON.parse(outbound.text)).toEqual({ event: 'new-order', data: { id: 1, note: 'a\nb' }, channel: 'orders' })
    expect(outbound.sse).toBe('event: new-order\ndata: {"id":1,"note":"a\\nb"}\n\n')
    expect(outbound.text).toBe(outbound.text)
  })

  it('rejects unserializable data and bad event names with clear codes', () => {
    const circular: Record<string, unknown> = {}
    circular.self = circular
    expect(codeOf(() => new Outbound('x', circular))).toBe('REALTIME_INVALID_MESSAGE')
    expect(codeOf(() => new Outbound('x', 1n))).toBe('REALTIME_INVALID_MESSAGE')
    expect(codeOf(() => new Outbound('', 1))).toBe('REALTIME_INVALID_MESSAGE')
    expect(codeOf(() => new Outbound('a\rb', 1))).toBe('REALTIME_INVALID_FIELD')
  })

  it('sends undefined data as null', () => {
    expect(JSON.parse(new Outbound('ping', undefined).text)).toEqual({ event: 'ping', data: null })
  })
})
