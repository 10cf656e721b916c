// Property-based fuzzing of everything that reads untrusted input or writes SSE fields: thousands
// of random inputs, no crash, no exception other than the documented RealtimeError, no injection.
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { encodeSseEvent, Outbound, parseControlFrame, parseCursorMap, RealtimeError, formatCursorMap } from '@loewen-digital/realtime-core'

const documented = (run: () => unknown) => {
  try {
    run()
    return true
  } catch (error) {
    return RealtimeError.isInstance(error)
  }
}

/** Parses an SSE block the way EventSource does and returns its events. */
function parseSse(text: string): Array<{ event?: string; id?: string; data: string }> {
  const events: Array<{ event?: string; id?: string; data: string }> = []
  let current: { event?: string; id?: string; data: string[] } = { data: [] }
  for (const line of text.split(/\r\n|\r|\n/)) {
    if (line === '') {
      if (current.data.length || current.event || current.id) events.push({ event: current.event, id: current.id, data: current.data.join('\n') })
      current = { data: [] }
      continue
    }
    const colon = line.indexOf(':')
    const field = colon === -1 ? line : line.slice(0, colon)
    let value = colon === -1 ? '' : line.slice(colon + 1)
    if (value.startsWith(' ')) value = value.slice(1)
    if (field === 'event') current.event = value
    else if (field === 'id') current.id = value
    else if (field === 'data') current.data.push(value)
  }
  return events
}

describe('fuzz', () => {
  it('parseControlFrame never throws anything but a documented RealtimeError', () => {
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.json(),
          fc.anything().map((value) => {
            try {
              return JSON.stringify({ event: 'realtime:subscribe', data: value }) ?? ''
            } catch {
              return ''
            }
          }),
        ),
        (text) => documented(() => parseControlFrame(text)),
      ),
      { numRuns: 5000 },
    )
  })

  it('an application message never becomes a control frame unless its event is reserved', () => {
    fc.assert(
      fc.property(
        fc.string().filter((event) => !event.startsWith('realtime:')),
        fc.jsonValue(),
        (event, data) => {
          return parseControlFrame(JSON.stringify({ event, data })) === undefined
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('encodeSseEvent writes exactly one event whose fields round-trip, or refuses with REALTIME_INVALID_FIELD', () => {
    fc.assert(
      fc.property(fc.option(fc.string(), { nil: undefined }), fc.string(), fc.option(fc.string(), { nil: undefined }), (event, data, id) => {
        let chunk: string
        try {
          chunk = encodeSseEvent({ event, data, id })
        } catch (error) {
          expect(RealtimeError.isInstance(error) && error.code === 'REALTIME_INVALID_FIELD').toBe(true)
          expect(/[\r\n]/.test(event ?? '') || /[\r\n\0]/.test(id ?? '')).toBe(true)
          return
        }
        const events = parseSse(chunk)
        expect(events).toHaveLength(1)
        expect(events[0]!.data).toBe(data.replace(/\r\n|\r/g, '\n'))
        expect(events[0]!.event).toBe(event)
        expect(events[0]!.id).toBe(id)
      }),
      { numRuns: 5000 },
    )
  })

  it('Outbound: any JSON data stays one data line; the WebSocket frame parses back to the message', () => {
    fc.assert(
      fc.property(
        fc.string({ minLength: 1 }).filter((event) => !/[\r\n]/.test(event)),
        fc.jsonValue(),
        fc.option(fc.string(), { nil: undefined }),
        (event, data, channel) => {
          const outbound = new Outbound(event, data, channel)
          const parsed = JSON.parse(outbound.text)
          expect(parsed.event).toBe(event)
          expect(parsed.data).toEqual(JSON.parse(JSON.stringify(data ?? null)))
          const events = parseSse(outbound.sse)
          expect(events).toHaveLength(1)
          expect(JSON.parse(events[0]!.data)).toEqual(parsed.data)
        },
      ),
      { numRuns: 3000 },
    )
  })

  it('parseCursorMap never throws and round-trips what formatCursorMap writes', () => {
    fc.assert(
      fc.property(fc.string(), (text) => documented(() => parseCursorMap(text))),
      { numRuns: 5000 },
    )
    fc.assert(
      fc.property(
        fc.dictionary(fc.string({ minLength: 1 }), fc.record({ epoch: fc.stringMatching(/^[A-Za-z0-9_-]{1,12}$/), offset: fc.nat() })),
        (channels) => {
          const map = new Map(Object.entries(channels).map(([name, cursor]) => ['c.' + encodeURIComponent(name), cursor]))
          if (map.size === 0) return
          expect(parseCursorMap(formatCursorMap(map))).toEqual(map)
        },
      ),
      { numRuns: 2000 },
    )
  })
})
