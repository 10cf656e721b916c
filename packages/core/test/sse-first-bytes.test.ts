// The first bytes of every SSE stream: the `retry:` line of its instance (encoded once and shared
// by the streams), then `realtime:connected` with the stream's cursor map as its id.
import { describe, expect, it } from 'vitest'
import { createRealtime, Realtime, SseConnection, type Platform } from '../src/index.js'

/** Reads `body` until the `realtime:connected` event is complete. */
async function firstBytes(body: ReadableStream<Uint8Array>): Promise<string> {
  const reader = body.getReader()
  const decoder = new TextDecoder()
  let text = ''
  while (!/event: realtime:connected\n.*\n\n/.test(text)) {
    const { done, value } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
  }
  await reader.cancel()
  return text
}

describe('the first bytes of an SSE stream', () => {
  it("start with the instance's own retry line, then realtime:connected with its id line", async () => {
    const fast = createRealtime({ sseRetry: 1500, heartbeat: 0 })
    const slow = createRealtime({ sseRetry: 2500, heartbeat: 0 })
    const request = () => new Request('http://localhost/', { headers: { accept: 'text/event-stream' } })
    const texts: string[] = []
    for (const realtime of [fast, slow, fast, slow]) texts.push(await firstBytes(realtime.sse(request()).response.body!))
    for (const [index, text] of texts.entries()) {
      expect(text).toMatch(
        new RegExp(
          `^retry: ${index % 2 === 0 ? 1500 : 2500}\\n\\nid: b=[^\\n]+\\nevent: realtime:connected\\ndata: \\{"id":"[0-9a-f-]{36}","cursor":"b=[^"]+","heartbeat":0\\}\\n\\n$`,
        ),
      )
    }
    await Promise.all([fast.close(), slow.close()])
  })

  it('with deferStream: one chunk of retry line and realtime:connected, or two when another retry line was made since', async () => {
    // An adapter that writes streams itself (`deferStream`, as Node's serve() does); the body read
    // here is the web stream built from what is queued, chunk by chunk.
    const platform = (): Platform => ({
      name: 'deferred',
      createSse: (request, owner, handlers, userId, retry, headers) =>
        new SseConnection(request, owner, handlers, userId, retry, headers, { deferStream: true }),
    })
    const fast = new Realtime({ sseRetry: 1500, heartbeat: 0 }, platform())
    const slow = new Realtime({ sseRetry: 2500, heartbeat: 0 }, platform())
    const request = () => new Request('http://localhost/', { headers: { accept: 'text/event-stream' } })
    const chunksOf = async (body: ReadableStream<Uint8Array>) => {
      const reader = body.getReader()
      const decoder = new TextDecoder()
      const chunks: string[] = []
      while (!chunks.join('').includes('event: realtime:connected')) chunks.push(decoder.decode((await reader.read()).value))
      await reader.cancel()
      return chunks
    }
    const connected = /^id: b=[^\n]+\nevent: realtime:connected\ndata: \{"id":"[0-9a-f-]{36}","cursor":"b=[^"]+","heartbeat":0\}\n\n$/
    // One stream at a time: its retry line is the last one made, so the two share a chunk.
    // Read once announced (the body read earlier would build the web stream before it).
    const announced = () => new Promise((resolve) => setTimeout(resolve, 0))
    const lone = fast.sse(request()).response
    await announced()
    const alone = await chunksOf(lone.body!)
    expect(alone).toHaveLength(1)
    expect(alone[0]!.startsWith('retry: 1500\n\n')).toBe(true)
    expect(alone[0]!.slice('retry: 1500\n\n'.length)).toMatch(connected)
    // Two opened before either announces: the first one's retry line is no longer the last made.
    const first = fast.sse(request()).response
    const second = slow.sse(request()).response
    await announced()
    const [firstChunks, secondChunks] = [await chunksOf(first.body!), await chunksOf(second.body!)]
    expect(firstChunks[0]).toBe('retry: 1500\n\n')
    expect(firstChunks.slice(1).join('')).toMatch(connected)
    expect(secondChunks).toHaveLength(1)
    expect(secondChunks[0]!.startsWith('retry: 2500\n\n')).toBe(true)
    await Promise.all([fast.close(), slow.close()])
  })

  it('keep an event the handler sends before it returns ahead of realtime:connected, whose bytes are unchanged', async () => {
    const realtime = createRealtime({ sseRetry: 1500, heartbeat: 0 })
    const { response, stream } = realtime.sse(new Request('http://localhost/', { headers: { accept: 'text/event-stream' } }))
    stream.send({ event: 'hello', data: { a: 1 } })
    const text = await firstBytes(response.body!)
    const match = /^retry: 1500\n\nevent: hello\ndata: \{"a":1\}\n\nid: (b=[^\n]+)\nevent: realtime:connected\ndata: (.*)\n\n$/.exec(text)
    expect(match).not.toBeNull()
    expect(JSON.parse(match![2]!)).toEqual({ id: stream.id, cursor: match![1], heartbeat: 0 })
    await realtime.close()
  })
})
