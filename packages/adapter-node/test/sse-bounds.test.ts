// What one socket may hold of a Node server's SSE: requests pipelined behind a stream register
// nothing and are bounded (serve()), a response that never got its socket still learns that the
// socket went (a server of one's own with toRequest/writeResponse), and a dropped SSE stream's
// socket is destroyed whether the connection writes to the Node response or its body is streamed.
import { createServer, type Server } from 'node:http'
import { getRequestListener } from '@hono/node-server'
import { afterEach, describe, expect, it } from 'vitest'
import { createRealtime, inTurn, limits, serve, toRequest, writeResponse } from '@loewen-digital/realtime-node'
import { eventually, sleep } from '../../../test/helpers/clients.js'
import { rawRequest, requestHead, serverSocketState } from '../../../test/helpers/raw-http.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

const sseRequest = requestHead('GET', '/', { Accept: 'text/event-stream' })

async function startServe(
  handler?: (request: Request, realtime: ReturnType<typeof createRealtime>) => Response | Promise<Response>,
  options: Parameters<typeof createRealtime>[0] = {},
) {
  const realtime = createRealtime({ heartbeat: 0, ...options })
  const server = await serve({ port: 0, fetch: (request) => (handler ? handler(request, realtime) : realtime.sse(request).response) })
  cleanups.push(
    () => server.close(),
    () => realtime.close({ drainTimeout: 100 }),
  )
  return { realtime, server }
}

describe('pipelined requests on serve()', () => {
  it(`handles requests behind an SSE stream in turn: up to ${limits.MAX_PIPELINED_REQUESTS} wait and register nothing`, async () => {
    const { realtime, server } = await startServe()
    const client = await rawRequest(server.url, sseRequest.repeat(1 + limits.MAX_PIPELINED_REQUESTS))
    cleanups.push(() => client.socket.destroy())
    await eventually(() => client.received().includes('retry:'), 5000, 'the first stream')
    await sleep(200)
    expect(realtime.stats().connections).toBe(1)
    expect(client.socket.destroyed).toBe(false)
    client.socket.destroy()
    await eventually(() => realtime.stats().connections === 0, 5000, 'the stream to be released')
  })

  it(`destroys a socket with more than ${limits.MAX_PIPELINED_REQUESTS} requests waiting, and releases its stream`, async () => {
    const { realtime, server } = await startServe()
    // One write: the first is answered, the others queue behind it.
    const client = await rawRequest(server.url, sseRequest.repeat(2 + limits.MAX_PIPELINED_REQUESTS))
    await client.closed
    await eventually(() => realtime.stats().connections === 0, 5000, 'nothing registered')
  })

  it('destroys a socket that pipelines a WebSocket upgrade behind an SSE stream', async () => {
    const { realtime, server } = await startServe((request, realtime) => realtime.handle(request))
    const upgrade = requestHead('GET', '/', {
      Upgrade: 'websocket',
      Connection: 'Upgrade',
      'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==',
      'Sec-WebSocket-Version': '13',
    })
    const client = await rawRequest(server.url, sseRequest + upgrade)
    await client.closed
    // Before: a 101 inside the SSE body, and two connections on one socket.
    expect(client.received()).not.toContain('101 Switching Protocols')
    await eventually(() => realtime.stats().connections === 0, 5000, 'nothing registered')
  })

  it('answers pipelined plain requests in order, each once', async () => {
    let count = 0
    const { server } = await startServe(() => new Response(String(++count)))
    const client = await rawRequest(server.url, requestHead('GET', '/').repeat(5))
    cleanups.push(() => client.socket.destroy())
    await eventually(() => (client.received().match(/HTTP\/1\.1 200/g) ?? []).length === 5, 5000, 'five answers')
    const bodies = [...client.received().matchAll(/\r\n\r\n[0-9a-f]+\r\n(\d+)\r\n0\r\n\r\n/g)].map((match) => match[1])
    expect(bodies).toEqual(['1', '2', '3', '4', '5'])
  })
})

describe('a node:http server of its own (toRequest + writeResponse)', () => {
  it('releases every SSE connection pipelined on a socket once the socket closes', async () => {
    const realtime = createRealtime({ heartbeat: 0 })
    // Node hands every pipelined request to the handler at once, with a response that has no socket yet.
    const server: Server = createServer((incoming, outgoing) => {
      const request = toRequest(incoming, outgoing)!
      void writeResponse(realtime.sse(request).response, outgoing)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(
      () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
      () => realtime.close({ drainTimeout: 100 }),
    )
    const { port } = server.address() as { port: number }
    const client = await rawRequest(`http://127.0.0.1:${port}`, sseRequest.repeat(10))
    await eventually(() => realtime.stats().connections === 10, 5000, 'the ten streams (this server opens them all)')
    client.socket.destroy()
    await eventually(() => realtime.stats().connections === 0, 5000, 'every stream of the socket to be released')
  })
})

describe("a framework's request listener wrapped in inTurn()", () => {
  it('registers one SSE connection per pipelining socket and none once it closes (Hono node-server)', async () => {
    const realtime = createRealtime({ heartbeat: 0 })
    // Unwrapped, this listener registers all ten and releases one when the socket closes.
    const server: Server = createServer(inTurn(getRequestListener((request) => realtime.sse(request).response)))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    cleanups.push(
      () => new Promise((resolve) => (server.closeAllConnections(), server.close(resolve))),
      () => realtime.close({ drainTimeout: 100 }),
    )
    const { port } = server.address() as { port: number }
    const client = await rawRequest(`http://127.0.0.1:${port}`, sseRequest.repeat(10))
    await eventually(() => client.received().includes('retry:'), 5000, 'the first stream')
    await sleep(200)
    expect(realtime.stats().connections).toBe(1)
    client.socket.destroy()
    await eventually(() => realtime.stats().connections === 0, 5000, 'the stream to be released')
  })
})

describe('slow SSE consumers on Node', () => {
  const maxBufferedBytes = 256 * 1024
  const payload = 'x'.repeat(32 * 1024)

  /** Opens a stream from a client that never reads, broadcasts until it is cut; returns the server port and client port. */
  async function cutSlowConsumer(wrapBody: boolean) {
    const { realtime, server } = await startServe(
      (request, realtime) => {
        const { response } = realtime.sse(request)
        // A handler that wraps the response reads its web stream (as a framework would).
        return wrapBody ? new Response(response.body, response) : response
      },
      { maxBufferedBytes },
    )
    const client = await rawRequest(server.url, sseRequest, { paused: true })
    cleanups.push(() => client.socket.destroy())
    await eventually(() => realtime.stats().connections === 1, 5000, 'the stream')
    for (let sent = 0; sent < 2000 && realtime.stats().connections > 0; sent++) {
      await realtime.broadcast({ event: 'bulk', data: payload })
      if (sent % 8 === 7) await sleep(1)
    }
    expect(realtime.stats().connections).toBe(0)
    return { port: Number(new URL(server.url).port), client }
  }

  for (const wrapBody of [false, true]) {
    it(`destroys the socket after the close grace (${wrapBody ? 'body streamed by writeResponse' : 'written to the Node response'})`, async () => {
      const { port, client } = await cutSlowConsumer(wrapBody)
      expect(serverSocketState(port, client.localPort)).toBe('ESTABLISHED')
      await eventually(() => serverSocketState(port, client.localPort) !== 'ESTABLISHED', limits.SSE_CLOSE_GRACE_MS + 3000, 'the socket to be destroyed')
    })
  }
})
