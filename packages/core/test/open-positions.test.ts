// Setting up a connection's broadcast stream from the broker's current position: answered at
// once (the in-memory broker), through a promise, through a thenable that is not a native
// promise (a client library's own), or not at all (a throwing broker). Runs on the core's own
// SSE (web streams), no adapter.
import { describe, expect, it } from 'vitest'
import { createRealtime, formatCursor, memoryBroker, type Broker, type Cursor, type RealtimeError } from '../src/index.js'

/** Reads SSE events from a response body until `realtime:connected` arrives; returns its data. */
async function connectedData(response: Response): Promise<{ id: string; cursor: string }> {
  const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
  let text = ''
  for (;;) {
    const { value, done } = await reader.read()
    if (done) throw new Error(`stream ended before realtime:connected: ${JSON.stringify(text)}`)
    text += value
    const match = /event: realtime:connected\ndata: (.*)\n/.exec(text)
    if (match) {
      await reader.cancel()
      return JSON.parse(match[1]!)
    }
  }
}

function withPosition(position: (inner: Broker, topic: string) => ReturnType<NonNullable<Broker['position']>>): { broker: Broker; inner: Broker } {
  const inner = memoryBroker()
  const broker: Broker = Object.assign(Object.create(inner) as Broker, { position: (topic: string) => position(inner, topic) })
  return { broker, inner }
}

describe('a connection starts at the broker position', () => {
  const cases: Array<[string, (inner: Broker, topic: string) => ReturnType<NonNullable<Broker['position']>>]> = [
    ['answered at once', (inner, topic) => inner.position!(topic)],
    ['answered through a promise', async (inner, topic) => inner.position!(topic)],
    [
      'answered through a thenable that is not a promise',
      (inner, topic) =>
        ({ then: (resolve: (cursor: Cursor | undefined) => void) => setTimeout(() => resolve(inner.position!(topic) as Cursor), 5) }) as unknown as Promise<
          Cursor | undefined
        >,
    ],
  ]
  for (const [name, position] of cases) {
    it(name, async () => {
      const { broker, inner } = withPosition(position)
      const realtime = createRealtime({ broker, heartbeat: 0 })
      await realtime.broadcast({ event: 'before', data: 1 })
      await realtime.broadcast({ event: 'before', data: 2 })
      // The broker holds the instance's topics under its name (the default: the driver).
      const expected = inner.position!('broadcast@sse') as Cursor
      expect(expected.offset).toBe(2)
      const { response } = realtime.sse(new Request('http://localhost/live'))
      const connected = await connectedData(response)
      expect(connected.cursor).toBe(`b=${formatCursor(expected)}`)
      await realtime.close({ drainTimeout: 10 })
    })
  }

  it('reports a throwing broker and still connects, with no cursor for the stream', async () => {
    const errors: RealtimeError[] = []
    const { broker } = withPosition(() => {
      throw new Error('broker down')
    })
    const realtime = createRealtime({ broker, heartbeat: 0, onError: (error) => errors.push(error) })
    const { response } = realtime.sse(new Request('http://localhost/live'))
    const connected = await connectedData(response)
    expect(connected.cursor).toBe('')
    expect(errors.map((error) => error.message)).toEqual([expect.stringContaining('broker down')])
    await realtime.close({ drainTimeout: 10 })
  })
})
