// The Node fan-out fast paths: WebSocket frames built once and written to the socket, SSE events
// encoded once and written to the socket as HTTP/1.1 chunks once serve()/writeResponse() attached
// the Node response, and the web-stream path that other hosts (Hono's node-server) still use.
import { connect, type Socket } from 'node:net'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { serve as honoServe } from '@hono/node-server'
import { Hono } from 'hono'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { createRealtime, serve, type Connection } from '@loewen-digital/realtime-node'
import { eventually, openSse, openWs } from '../../../test/helpers/clients.js'
import { sendInEveryPhase } from './_send-in-every-phase.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

/** A realtime instance served by serve(); `opened` collects the server-side connections. */
async function start(options: Parameters<typeof createRealtime>[0] = {}) {
  const realtime = createRealtime({ heartbeat: 0, rateLimit: false, ...options })
  const opened: Connection[] = []
  const closed: Array<{ connection: Connection; code: number }> = []
  const server = await serve({
    port: 0,
    fetch: (request) => {
      if (request.headers.get('accept')?.includes('text/event-stream')) {
        const { response, stream } = realtime.sse(request, { onClose: (connection, code) => void closed.push({ connection, code }) })
        opened.push(stream)
        return response
      }
      return realtime.upgrade(request, {
        onOpen: (connection) => void opened.push(connection),
        onClose: (connection, code) => void closed.push({ connection, code }),
      })
    },
  })
  cleanups.push(
    () => server.close(),
    () => realtime.close({ drainTimeout: 100 }),
  )
  return { realtime, server, opened, closed }
}

/** Payload sizes that cover the three WebSocket length encodings (7-bit, 16-bit, 64-bit). */
const sizeOf = (index: number) => (index % 40 === 39 ? 70_000 : index % 3 === 0 ? 10 : 300)

describe('WebSocket fast path', () => {
  it('delivers a one-tick burst of every frame size to every client, complete and in order, with direct sends in between', async () => {
    const { realtime, server, opened } = await start({ maxBufferedBytes: 64 * 1024 * 1024 })
    const clients = await Promise.all(Array.from({ length: 12 }, () => openWs(server.url)))
    cleanups.push(() => clients.forEach((client) => client.close()))
    await eventually(() => realtime.stats().connections === clients.length)
    const messages = 240
    for (let index = 0; index < messages; index++) {
      void realtime.broadcast({ event: 'm', data: { index, pad: 'x'.repeat(sizeOf(index)) } })
      if (index % 60 === 0) {
        opened[0]!.send(`raw-${index}`)
        void realtime.sendTo(opened[0]!, { event: 'direct', data: index })
      }
    }
    for (const client of clients) {
      await client.inbox.next((message) => message.event === 'm' && message.data.index === messages - 1, 10_000, 'the last message')
      const received = client.inbox.items.filter((message) => message.event === 'm')
      expect(received.map((message) => message.data.index)).toEqual(Array.from({ length: messages }, (_, index) => index))
      expect(received.every((message) => message.data.pad.length === sizeOf(message.data.index))).toBe(true)
      expect(new Set(received.map((message) => message.id)).size).toBe(messages)
    }
    // On the first connection, each direct send sits right after the broadcast of the same tick step.
    const first = clients.find((client) => client.inbox.items.some((message) => message.raw === 'raw-0'))!
    const order = first.inbox.items.map((message) =>
      message.event === 'm' ? `m${message.data.index}` : message.event === 'direct' ? `d${message.data}` : message.raw,
    )
    for (const index of [0, 60, 120, 180]) {
      const at = order.indexOf(`m${index}`)
      expect(order.slice(at, at + 4)).toEqual([`m${index}`, `raw-${index}`, `d${index}`, `m${index + 1}`])
    }
  })

  it('writes broadcasts to the socket itself, one shared frame, never through ws.send', async () => {
    const { realtime, server, opened } = await start()
    const clients = await Promise.all(Array.from({ length: 3 }, () => openWs(server.url)))
    cleanups.push(() => clients.forEach((client) => client.close()))
    await eventually(() => opened.length === 3)
    const sends = opened.map((connection) => vi.spyOn((connection as unknown as { ws: { send: () => void } }).ws, 'send'))
    await realtime.broadcast({ event: 'm', data: 1 })
    await realtime.broadcast({ event: 'm', data: 2 })
    for (const client of clients) await client.inbox.next((message) => message.event === 'm' && message.data === 2)
    expect(sends.map((send) => send.mock.calls.length)).toEqual([0, 0, 0])
    opened[1]!.send('raw')
    expect(sends.map((send) => send.mock.calls.length)).toEqual([0, 1, 0])
  })

  it('stops writing to a connection that is closing and keeps serving the others', async () => {
    const { realtime, server, opened } = await start()
    const clients = await Promise.all(Array.from({ length: 2 }, () => openWs(server.url)))
    cleanups.push(() => clients.forEach((client) => client.close()))
    await eventually(() => opened.length === 2)
    opened[0]!.close(4002, 'bye')
    for (let index = 0; index < 5; index++) void realtime.broadcast({ event: 'm', data: index })
    expect((await clients[0]!.closed).code).toBe(4002)
    await clients[1]!.inbox.next((message) => message.event === 'm' && message.data === 4)
    expect(clients[0]!.inbox.items.filter((message) => message.event === 'm')).toEqual([])
  })
})

/** Hosts an SSE route on serve() (attached, written to the socket) or on Hono's node-server (web stream). */
const hosts = {
  async serve(fetch: (request: Request) => Response) {
    const server = await serve({ port: 0, fetch })
    cleanups.push(() => server.close())
    return server.url
  },
  async hono(fetch: (request: Request) => Response) {
    const app = new Hono()
    app.get('/', (c) => fetch(c.req.raw))
    const server = await new Promise<Server>((resolve) => {
      const started = honoServe({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' }, () => resolve(started as Server))
    })
    cleanups.push(
      () => new Promise((resolve) => server.close(resolve)),
      () => server.closeAllConnections(),
    )
    return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  },
}

describe.each(Object.keys(hosts) as Array<keyof typeof hosts>)('SSE fast path on %s', (host) => {
  it("writes each connection's whole cursor map as id: shared by broadcast-only streams, per connection otherwise", async () => {
    const realtime = createRealtime({ heartbeat: 0, identify: (request) => request.headers.get('x-user') })
    cleanups.push(() => realtime.close({ drainTimeout: 100 }))
    const url = await hosts[host]((request) => realtime.sse(request).response)
    const anonymous = await Promise.all([openSse(url), openSse(url)])
    const carol = await openSse(url, { headers: { 'x-user': 'carol' } })
    cleanups.push(() => [...anonymous, carol].forEach((client) => client.close()))
    await eventually(() => realtime.stats().connections === 3)
    await realtime.sendTo('carol', { event: 'note', data: 'for carol' })
    for (let index = 0; index < 50; index++) void realtime.broadcast({ event: 'm', data: { index, pad: 'y'.repeat(sizeOf(index)) } })
    const last = (client: typeof carol) => client.inbox.next((event) => event.event === 'm' && JSON.parse(event.data).index === 49, 10_000)
    const lastAnonymous = await Promise.all(anonymous.map(last))
    const lastCarol = await last(carol)
    expect(lastAnonymous[0]!.id).toMatch(/^b=[A-Za-z0-9_-]+:\d+$/)
    expect(lastAnonymous[1]!.id).toBe(lastAnonymous[0]!.id)
    expect(lastCarol.id).toMatch(new RegExp(`^b=${lastAnonymous[0]!.id!.slice(2)},u=[A-Za-z0-9_-]+:1$`))
    for (const client of [...anonymous, carol]) {
      const received = client.inbox.items.filter((event) => event.event === 'm').map((event) => JSON.parse(event.data))
      expect(received.map((data) => data.index)).toEqual(Array.from({ length: 50 }, (_, index) => index))
      expect(received.every((data) => data.pad.length === sizeOf(data.index))).toBe(true)
    }
  })

  it('keeps the order of events sent before the response is returned, while it is attached, and after', async () => {
    const realtime = createRealtime({ heartbeat: 0 })
    cleanups.push(() => realtime.close({ drainTimeout: 100 }))
    const sent: string[] = []
    const url = await hosts[host]((request) => {
      const { response, stream } = realtime.sse(request)
      sendInEveryPhase(stream, sent)
      return response
    })
    const client = await openSse(url)
    cleanups.push(() => client.close())
    await client.inbox.next((event) => event.event === 'step' && event.data === '"timeout"')
    expect(sent).toHaveLength(5)
    expect(client.inbox.items.filter((event) => event.event === 'step').map((event) => JSON.parse(event.data))).toEqual(sent)
    expect(client.raw.startsWith('retry: ')).toBe(true)
  })
})

describe('SSE on serve()', () => {
  it('answers an HTTP/1.0 client (no chunked encoding) with the same events', async () => {
    const { realtime, server } = await start()
    const socket = connect(server.port, '127.0.0.1')
    cleanups.push(() => socket.destroy())
    let text = ''
    socket.on('data', (chunk) => (text += chunk.toString()))
    socket.write('GET / HTTP/1.0\r\nAccept: text/event-stream\r\n\r\n')
    await eventually(() => realtime.stats().connections === 1)
    void realtime.broadcast({ event: 'm', data: { a: 1 } })
    void realtime.broadcast({ event: 'm', data: { a: 2 } })
    await eventually(() => text.includes('"a":2'))
    expect(text).not.toMatch(/transfer-encoding: chunked/i)
    const body = text.slice(text.indexOf('\r\n\r\n') + 4)
    expect(body).toMatch(/^retry: \d+\n\n/)
    expect(body).toMatch(/id: b=[^\n]+\nevent: m\ndata: \{"a":1\}\n\nid: b=[^\n]+\nevent: m\ndata: \{"a":2\}\n\n$/)
  })

  it('ends a stream whose reader stopped reading (4001) and keeps delivering everything to the others', async () => {
    const maxBufferedBytes = 128 * 1024
    const { realtime, server, closed, opened } = await start({ maxBufferedBytes })
    const port = server.port
    const healthy = await Promise.all(Array.from({ length: 5 }, () => openSse(server.url)))
    cleanups.push(() => healthy.forEach((client) => client.close()))
    const slow: Socket = connect(port, '127.0.0.1')
    cleanups.push(() => slow.destroy())
    slow.write('GET / HTTP/1.1\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n')
    await eventually(() => realtime.stats().connections === 6)
    slow.pause()
    const slowServerSide = opened.at(-1)!
    let maxObserved = 0
    const payload = 'z'.repeat(2000)
    const messages = 3000
    for (let index = 0; index < messages; index++) {
      await realtime.broadcast({ event: 'm', data: { index, payload } })
      if (slowServerSide.open) maxObserved = Math.max(maxObserved, slowServerSide.bufferedAmount)
      if (index % 20 === 19) await new Promise((resolve) => setImmediate(resolve))
    }
    await eventually(() => closed.some((close) => close.connection === slowServerSide), 10_000, 'the slow stream to close')
    expect(closed.map((close) => close.code)).toEqual([4001])
    expect(maxObserved).toBeLessThanOrEqual(maxBufferedBytes + 4096)
    for (const client of healthy) {
      await client.inbox.next((event) => event.event === 'm' && JSON.parse(event.data).index === messages - 1, 30_000)
      expect(client.inbox.items.filter((event) => event.event === 'm').length).toBe(messages)
    }
  }, 60_000)
})
