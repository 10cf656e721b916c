// What one TCP connection may hold of an SSE server: pipelined requests register at most the one
// stream the socket can carry, HEAD opens nothing, a client that stops reading loses its socket
// after the slow-consumer cut, and a handshake without Host is refused like any other request.
// Part of the conformance suite: raw TCP clients against every runtime's fixture server.
import { afterEach, describe, expect, it } from 'vitest'
import { eventually, post, sleep } from '../helpers/clients.js'
import { canSeeSocketStates, firstStatus, rawRequest, requestHead, serverSocketState, type RawClient } from '../helpers/raw-http.js'

/** Grace after the slow-consumer cut, plus time for the runtime to act on it (see SSE_CLOSE_GRACE_MS). */
const SOCKET_RELEASE_TIMEOUT = 6000

/** The suite's `it` for a test a runtime may declare unsupported (see `ConformanceOptions`). */
type Requires = (capability: 'sse-socket-release', name: string, test: () => Promise<void>) => unknown

export function sseBoundsTests(getBase: () => string, stats: (prefix?: string) => Promise<any>, requires: Requires): void {
  describe('SSE bounds per socket', () => {
    const clients: RawClient[] = []
    const open = async (text: string, options?: { paused?: boolean }) => {
      const client = await rawRequest(getBase(), text, options)
      clients.push(client)
      return client
    }
    afterEach(() => {
      while (clients.length) clients.pop()!.socket.destroy()
    })

    it('registers one connection for SSE requests pipelined on one socket, none once it closes', async () => {
      const sse = requestHead('GET', '/events', { Accept: 'text/event-stream' })
      const client = await open(sse.repeat(12))
      // The first stream is answered; what happens to the requests behind it is the runtime's
      // (they wait on Node, Deno and workerd; Bun closes the socket), but none registers.
      await eventually(() => client.received().includes('retry:'), 5000, 'the first stream')
      await sleep(300)
      expect((await stats()).connections, 'connections registered by one pipelining socket').toBeLessThanOrEqual(1)
      client.socket.destroy()
      await eventually(async () => (await stats()).connections === 0, 5000, 'every connection of the socket to be released')
      // Nothing comes back later either.
      await sleep(300)
      expect((await stats()).connections).toBe(0)
    })

    it('keeps pipelined SSE requests from filling maxConnections', async () => {
      // The limited instance admits two connections: a pipelining socket must not take both.
      const sse = requestHead('GET', '/limited/events', { Accept: 'text/event-stream' })
      const client = await open(sse.repeat(10))
      await eventually(() => client.received().includes('retry:'), 5000, 'the first stream')
      await sleep(300)
      expect((await stats('/limited')).connections).toBeLessThanOrEqual(1)
      const other = await fetch(`${getBase()}/limited/events`, { headers: { Accept: 'text/event-stream' } })
      expect(other.status).toBe(200)
      await other.body?.cancel()
      client.socket.destroy()
      await eventually(async () => (await stats('/limited')).connections === 0, 5000, 'the limited registry to empty')
    })

    it('answers HEAD with the SSE headers and no body, registering nothing', async () => {
      const client = await open(requestHead('HEAD', '/events', { Accept: 'text/event-stream' }) + requestHead('GET', '/stats'))
      // The HEAD response ends, so the pipelined GET behind it is answered on the same socket.
      await eventually(() => /HTTP\/1\.1 200[^]*HTTP\/1\.1 200[^]*"connections":\d+/.test(client.received()), 5000, 'both responses')
      const text = client.received()
      expect(firstStatus(text)).toBe(200)
      expect(text.slice(0, text.indexOf('\r\n\r\n')).toLowerCase()).toContain('content-type: text/event-stream')
      expect(text).not.toContain('retry:')
      expect(JSON.parse(text.slice(text.indexOf('{'), text.lastIndexOf('}') + 1)).connections).toBe(0)
      await sleep(200)
      expect((await stats()).connections).toBe(0)
    })

    it('refuses a WebSocket upgrade without a Host header with 400', async () => {
      const upgrade = await open(
        requestHead(
          'GET',
          '/ws',
          { Upgrade: 'websocket', Connection: 'Upgrade', 'Sec-WebSocket-Key': 'dGhlIHNhbXBsZSBub25jZQ==', 'Sec-WebSocket-Version': '13' },
          null,
        ),
      )
      const sse = await open(requestHead('GET', '/events', { Accept: 'text/event-stream' }, null))
      await eventually(() => firstStatus(upgrade.received()) !== undefined && firstStatus(sse.received()) !== undefined, 5000, 'both answers')
      expect(firstStatus(upgrade.received())).toBe(400)
      // Node, Bun and workerd refuse any HTTP/1.1 request without Host themselves; Deno serves it.
      expect([400, 200]).toContain(firstStatus(sse.received()))
      sse.socket.destroy() // Deno serves it
      await eventually(async () => (await stats()).connections === 0, 5000, 'nothing registered')
    })

    const dropsSocket = 'drops the socket of an SSE client that stopped reading, shortly after the slow-consumer cut'
    if (!canSeeSocketStates()) it.skip(`${dropsSocket} [needs /proc/net/tcp]`, () => {})
    else
      requires('sse-socket-release', dropsSocket, async () => {
        const { port } = new URL(getBase())
        const slow = await open(requestHead('GET', '/events', { Accept: 'text/event-stream' }), { paused: true })
        await eventually(async () => (await stats()).connections === 1, 5000, 'the stream to register')
        expect(serverSocketState(Number(port), slow.localPort)).toBe('ESTABLISHED')
        // 64 KB events until the stream is cut (4 MiB default, plus what the kernel buffers).
        const payload = 'x'.repeat(64 * 1024)
        let published = 0
        while ((await stats()).connections > 0 && published < 500) {
          await post(`${getBase()}/publish`, { event: 'bulk', data: payload })
          published++
        }
        expect((await stats()).connections, `still registered after ${published} events of 64 KB`).toBe(0)
        await eventually(() => serverSocketState(Number(port), slow.localPort) !== 'ESTABLISHED', SOCKET_RELEASE_TIMEOUT, 'the server to let go of the socket')
      })
  })
}
