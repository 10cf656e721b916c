// What an SSE connection on web streams lets go of when it ends: a client that stopped reading
// loses the stream's queue after the close grace (the stream is errored, so the runtime drops the
// connection); one that reads gets everything and a clean end. HEAD opens no stream at all.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createRealtime, limits } from '../src/index.js'

const maxBufferedBytes = 64 * 1024
const payload = 'x'.repeat(8 * 1024)

afterEach(() => {
  vi.useRealTimers()
})

/** Reads a body to its end; resolves with the bytes read, or the error it ended with. */
async function drain(body: ReadableStream<Uint8Array>): Promise<{ bytes: number; error?: unknown }> {
  const reader = body.getReader()
  let bytes = 0
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) return { bytes }
      bytes += value.byteLength
    }
  } catch (error) {
    return { bytes, error }
  }
}

describe('SSE on web streams', () => {
  it('drops the queue of a slow consumer after the close grace, not before', async () => {
    vi.useFakeTimers()
    const realtime = createRealtime({ maxBufferedBytes, heartbeat: 0 })
    const closes: number[] = []
    const { response, stream } = realtime.sse(new Request('https://example.test/events'), { onClose: (_socket, code) => void closes.push(code) })
    for (let index = 0; index < 20 && stream.open; index++) await realtime.broadcast({ event: 'bulk', data: payload })
    expect(closes).toEqual([4001])
    expect(realtime.stats().connections).toBe(0)
    // Within the grace the queue is still there for the client to take.
    expect(stream.bufferedAmount).toBeGreaterThan(maxBufferedBytes)
    await vi.advanceTimersByTimeAsync(limits.SSE_CLOSE_GRACE_MS + 10)
    expect(stream.bufferedAmount).toBe(0)
    const read = await drain(response.body!)
    expect(read.error).toBeDefined()
    expect(read.bytes).toBe(0)
    await realtime.close({ drainTimeout: 0 })
  })

  it('ends the stream cleanly, everything delivered, for a client that takes it within the grace', async () => {
    const realtime = createRealtime({ maxBufferedBytes, heartbeat: 0 })
    const { response, stream } = realtime.sse(new Request('https://example.test/events'))
    for (let index = 0; index < 4; index++) await realtime.broadcast({ event: 'bulk', data: payload })
    const queued = stream.bufferedAmount
    expect(queued).toBeGreaterThan(4 * payload.length)
    stream.close()
    const read = await drain(response.body!)
    expect(read.error).toBeUndefined()
    expect(read.bytes).toBe(queued)
    await realtime.close({ drainTimeout: 0 })
  })

  it('answers HEAD with the SSE headers and no body, registering nothing', async () => {
    const realtime = createRealtime({ heartbeat: 0 })
    const { response, stream } = realtime.sse(new Request('https://example.test/events', { method: 'HEAD' }), { headers: { 'X-Extra': '1' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream')
    expect(response.headers.get('x-extra')).toBe('1')
    expect(response.body).toBeNull()
    expect(stream.open).toBe(false)
    expect(realtime.stats().connections).toBe(0)
    await realtime.close({ drainTimeout: 0 })
  })
})
