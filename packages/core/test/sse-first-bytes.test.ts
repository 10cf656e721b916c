// The first bytes of every SSE stream: the `retry:` line of its instance (encoded once and shared
// by the streams), then `realtime:connected` with the stream's cursor map as its id.
import { describe, expect, it } from 'vitest'
import { createRealtime } from '../src/index.js'

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
