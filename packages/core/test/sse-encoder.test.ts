import { describe, expect, it } from 'vitest'
import { encodeSseComment, encodeSseEvent, RealtimeError } from '@loewen-digital/realtime-core'

describe('encodeSseEvent', () => {
  it('writes id, event and data lines and ends with a blank line', () => {
    expect(encodeSseEvent({ id: '7', event: 'update', data: '{"a":1}' })).toBe('id: 7\nevent: update\ndata: {"a":1}\n\n')
  })

  it('splits data on every kind of line break', () => {
    expect(encodeSseEvent({ data: 'a\nb\r\nc\rd' })).toBe('data: a\ndata: b\ndata: c\ndata: d\n\n')
  })

  it('writes retry as a whole number', () => {
    expect(encodeSseEvent({ data: 'x', retry: 1500.7 })).toBe('retry: 1500\ndata: x\n\n')
  })

  it.each(['a\nb', 'a\rb', 'a\r\nb'])('rejects CR/LF in event %j with REALTIME_INVALID_FIELD', (event) => {
    let caught: unknown
    try {
      encodeSseEvent({ event, data: 'x' })
    } catch (error) {
      caught = error
    }
    expect(RealtimeError.isInstance(caught)).toBe(true)
    expect((caught as RealtimeError).code).toBe('REALTIME_INVALID_FIELD')
  })

  it('rejects CR, LF and NUL in id', () => {
    for (const id of ['1\n2', '1\r', '\u0000']) expect(() => encodeSseEvent({ id, data: 'x' })).toThrow(/SSE id/)
  })

  it('keeps comments on one line', () => {
    expect(encodeSseComment()).toBe(':\n\n')
    expect(encodeSseComment('a\nb')).toBe(': a b\n\n')
  })
})
