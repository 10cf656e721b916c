// What an idle connection keeps on Node: not the web Request (rebuilt on demand, equal to the
// original) and, for SSE streams on serve(), not the web stream. Plus serve().close() for both
// kinds of connection now that HTTP sockets are left to Node's own bookkeeping.
import { afterEach, describe, expect, it } from 'vitest'
import { createRealtime, serve, type Connection, type NodeWebSocketConnection } from '@loewen-digital/realtime-node'
import { eventually, openSse, openWs, sleep } from '../../../test/helpers/clients.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function start() {
  const realtime = createRealtime({ heartbeat: 0 })
  const seen: Array<{ connection: Connection; request: Request; sameInOnOpen?: boolean }> = []
  const server = await serve({
    port: 0,
    fetch: (request) => {
      if (request.headers.get('accept')?.includes('text/event-stream')) {
        const { response, stream } = realtime.sse(request)
        seen.push({ connection: stream, request })
        return response
      }
      return realtime.upgrade(request, {
        onOpen: (connection) => void seen.push({ connection, request, sameInOnOpen: connection.request === request }),
      })
    },
  })
  cleanups.push(() => server.close(), () => realtime.close({ drainTimeout: 100 }))
  return { realtime, server, seen }
}

describe.each(['websocket', 'sse'] as const)('%s: the request of an idle connection', (transport) => {
  it('is rebuilt on demand: an equal Request (URL, method, headers) whose signal aborts when the connection closes', async () => {
    const { realtime, server, seen } = await start()
    const url = `${server.url}/live?room=7`
    const headers = { 'x-team': 'blue', cookie: 'session=abc; theme=dark' }
    const client = transport === 'sse' ? await openSse(url, { headers }) : await openWs(url, { headers })
    await eventually(() => seen.length === 1 && realtime.stats().connections === 1)
    if (transport === 'websocket') expect(seen[0]!.sameInOnOpen, 'onOpen sees the very request').toBe(true)
    await sleep(20) // the WebSocket's request is compacted once its opening handlers ran
    const { connection, request: original } = seen[0]!
    const rebuilt = connection.request
    expect(rebuilt).not.toBe(original)
    expect(rebuilt).toBeInstanceOf(Request)
    expect(rebuilt.url).toBe(original.url)
    expect(rebuilt.method).toBe('GET')
    // A WebSocket's leaves out the headers of the handshake itself, and the single-use upgrade
    // token `serve()` added to the handler's request (dead once the socket was taken); an SSE
    // stream's keeps all.
    const handshake = new Set(['connection', 'upgrade', 'sec-websocket-key', 'sec-websocket-version', 'sec-websocket-extensions', 'x-realtime-upgrade-token'])
    if (transport === 'websocket') expect(original.headers.has('x-realtime-upgrade-token'), 'the handler saw the token').toBe(true)
    const expected = [...original.headers].filter(([name]) => transport === 'sse' || !handshake.has(name))
    expect([...rebuilt.headers]).toEqual(expected)
    expect(expected.length).toBeGreaterThanOrEqual(3)
    expect(rebuilt.headers.get('cookie')).toBe('session=abc; theme=dark')
    expect(new URL(rebuilt.url).searchParams.get('room')).toBe('7')
    expect(rebuilt.clone().headers.get('x-team')).toBe('blue')
    expect(connection.request, 'built once, then the same object').toBe(rebuilt)
    expect(rebuilt.signal.aborted).toBe(false)
    client.close()
    await eventually(() => realtime.stats().connections === 0)
    expect(rebuilt.signal.aborted).toBe(true)
  })
})

describe('serve().close()', () => {
  it('ends SSE streams and WebSocket connections alike', async () => {
    const realtime = createRealtime({ heartbeat: 0 })
    const server = await serve({ port: 0, fetch: (request) => realtime.handle(request) })
    cleanups.push(() => realtime.close({ drainTimeout: 100 }))
    const sse = await openSse(server.url)
    const ws = await openWs(server.url)
    await eventually(() => realtime.stats().connections === 2)
    await server.close()
    await sse.done
    expect((await ws.closed).code).toBe(1006)
    await eventually(() => realtime.stats().connections === 0, 5000, 'both connections to be released')
  })
})

describe('websocket: events without listeners per socket', () => {
  it('keeps no listeners on the ws socket, and listeners the application adds still run', async () => {
    const realtime = createRealtime({ heartbeat: 0 })
    const received: string[] = []
    const heard: string[] = []
    const server = await serve({
      port: 0,
      fetch: (request) =>
        realtime.upgrade(request, {
          onOpen: (connection) => {
            const { ws } = connection as NodeWebSocketConnection
            heard.push(`listeners:${ws.listenerCount('message') + ws.listenerCount('close') + ws.listenerCount('error') + ws.listenerCount('pong')}`)
            ws.on('message', (data) => void heard.push(`message:${data.toString()}`))
            ws.on('close', (code) => void heard.push(`close:${code}`))
          },
          onMessage: (_connection, message) => void received.push(message),
        }),
    })
    cleanups.push(() => server.close(), () => realtime.close({ drainTimeout: 100 }))
    const ws = await openWs(server.url)
    await eventually(() => heard.length > 0)
    ws.send('hello')
    await eventually(() => received.length > 0 && heard.includes('message:hello'))
    ws.socket.close(4100, 'bye')
    await eventually(() => heard.includes('close:4100'))
    expect(received).toEqual(['hello'])
    expect(heard).toEqual(['listeners:0', 'message:hello', 'close:4100'])
    await eventually(() => realtime.stats().connections === 0)
  })
})
