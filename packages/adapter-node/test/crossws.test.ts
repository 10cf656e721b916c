// Nitro 2 / h3 1 (Nuxt 4) hosts: WebSockets through crossws hooks, SSE on h3's Node objects. Real
// crossws 0.3 (the Node adapter Nitro uses) and h3 1 on node:http, real `ws` clients: the hooks
// must give the same refusals, limits, channels, resume and heartbeats as every other WebSocket.
import { createServer, type Server } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import crossws from 'crossws/adapters/node'
import { createApp, defineEventHandler, sendStream, toNodeListener, toWebRequest } from 'h3'
import { afterEach, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createRealtime, crosswsHooks, nodeListener, type Realtime } from '@loewen-digital/realtime-node'
import { eventually, openSse, openWs, sleep } from '../../../test/helpers/clients.js'

const cleanups: Array<() => unknown> = []
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

async function listen(server: Server): Promise<string> {
  const sockets = new Set<Socket>()
  server.on('connection', (socket) => sockets.add(socket))
  server.on('upgrade', (_request, socket: Socket) => sockets.add(socket))
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(
    () => new Promise((resolve) => server.close(resolve)),
    () => {
      for (const socket of sockets) socket.destroy()
    },
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

/** A node:http server that hands upgrades to crossws's Node adapter, as Nitro's node-server does. */
async function serveHooks(realtime: Realtime, options: Parameters<typeof crosswsHooks>[1] = {}): Promise<string> {
  cleanups.push(() => realtime.close({ drainTimeout: 0 }))
  const adapter = crossws({ hooks: crosswsHooks(realtime, options) as never })
  const server = createServer((_request, response) => response.writeHead(404).end())
  server.on('upgrade', adapter.handleUpgrade)
  return listen(server)
}

/** The handshake's answer when it is refused. */
function refusal(url: string, headers: Record<string, string> = {}): Promise<{ status: number; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const socket = new WebSocket(url.replace(/^http/, 'ws'), { headers })
    socket.once('open', () => {
      socket.terminate()
      reject(new Error('the upgrade was accepted'))
    })
    socket.once('unexpected-response', (_request, response) => {
      resolve({ status: response.statusCode ?? 0, headers: response.headers })
      response.destroy()
    })
    socket.once('error', () => {})
  })
}

describe('crosswsHooks (crossws 0.3 Node adapter)', () => {
  it("runs the spec's handlers on one connection of the instance", async () => {
    const realtime = createRealtime()
    const closed: number[] = []
    const base = await serveHooks(realtime, {
      onMessage: async (socket, message) => {
        await socket.send(JSON.stringify({ echo: JSON.parse(message) }))
      },
      onClose: (socket) => {
        closed.push(realtime.stats().websocket)
      },
    })
    const ws = await openWs(`${base}/ws`)
    expect(realtime.stats()).toMatchObject({ connections: 1, websocket: 1 })
    ws.send({ text: 'hi' })
    expect(JSON.parse((await ws.inbox.next((message) => message.raw.includes('echo'))).raw)).toEqual({ echo: { text: 'hi' } })
    await realtime.broadcast({ event: 'update', data: { n: 1 } })
    expect((await ws.inbox.next((message) => message.event === 'update')).data).toEqual({ n: 1 })
    ws.close()
    await eventually(() => closed.length === 1, 2000, 'onClose')
    expect(realtime.stats().connections).toBe(0)
  })

  it('answers refusals with their HTTP status before crossws accepts', async () => {
    const realtime = createRealtime({
      maxConnections: 1,
      identify: (request) => request.headers.get('x-user') ?? undefined,
      maxConnectionsPerUser: 1,
    })
    const base = await serveHooks(realtime)
    expect((await refusal(`${base}/ws`, { Origin: 'https://evil.example' })).status).toBe(403)
    const first = await openWs(`${base}/ws`, { headers: { 'x-user': 'ada' } })
    const full = await refusal(`${base}/ws`)
    expect(full.status).toBe(503)
    expect(full.headers['retry-after']).toBeDefined()
    first.close()
    await eventually(() => realtime.stats().connections === 0, 2000, 'the first connection to leave')
    expect(realtime.stats().refusals).toMatchObject({ origin: 1, capacity: 1 })
  })

  it('identifies the user, joins ?channel= and resumes from ?lastEventId=', async () => {
    const realtime = createRealtime({ identify: (request) => request.headers.get('x-user') ?? undefined })
    const base = await serveHooks(realtime)
    const first = await openWs(`${base}/ws?channel=room&resume`, { headers: { 'x-user': 'ada' } })
    const connected = await first.inbox.next((message) => message.event === 'realtime:connected')
    await eventually(() => realtime.toChannel('room').size === 1, 2000, 'the channel join')
    expect([...realtime.toChannel('room').connections()][0]!.userId).toBe('ada')
    await realtime.sendTo('ada', { event: 'direct', data: 1 })
    await first.inbox.next((message) => message.event === 'direct')
    const cursor = connected.data.cursor as string
    first.close()
    await eventually(() => realtime.stats().connections === 0, 2000, 'the first connection to leave')
    await realtime.broadcast({ event: 'update', data: { n: 2 } })
    await realtime.broadcast({ event: 'update', data: { n: 3 } })
    const again = await openWs(`${base}/ws?lastEventId=${encodeURIComponent(cursor)}`)
    await eventually(() => again.inbox.items.filter((message) => message.event === 'update').length === 2, 2000, 'the missed updates')
    expect(again.inbox.items.filter((message) => message.event === 'update').map((message) => message.data.n)).toEqual([2, 3])
    again.close()
  })

  it('runs channel authorization on ?channel= as every transport does (after open, a realtime:error)', async () => {
    const realtime = createRealtime({ identify: (request) => request.headers.get('x-user') ?? undefined })
    realtime.channel('private', { authorize: (_socket, userId) => userId === 'ada' })
    const base = await serveHooks(realtime)
    const stranger = await openWs(`${base}/ws?channel=private`, { headers: { 'x-user': 'bob' } })
    const refused = await stranger.inbox.next((message) => message.event === 'realtime:error')
    expect(refused.data).toMatchObject({ code: 'REALTIME_FORBIDDEN', channel: 'private' })
    const member = await openWs(`${base}/ws?channel=private`, { headers: { 'x-user': 'ada' } })
    await eventually(() => realtime.toChannel('private').size === 1, 2000, 'the authorized join')
    stranger.close()
    member.close()
  })

  it('closes an oversized message with 1009 and limits the inbound rate', async () => {
    const realtime = createRealtime({ maxMessageBytes: 100, rateLimit: { messages: 3, interval: 10_000 }, onError: () => {} })
    const base = await serveHooks(realtime, { onMessage: () => {} })
    const big = await openWs(`${base}/ws`)
    big.send('x'.repeat(200))
    expect((await big.closed).code).toBe(1009)
    const chatty = await openWs(`${base}/ws`)
    for (let index = 0; index < 10; index++) chatty.send({ n: index })
    const closed = await Promise.race([chatty.closed, sleep(3000).then(() => undefined)])
    const limited = closed !== undefined || chatty.inbox.items.some((message) => message.event === 'realtime:error')
    expect(limited).toBe(true)
    expect(realtime.stats().rejected.rate_limited).toBeGreaterThan(0)
  })

  it('hands a peer that stops reading to the slow-consumer policy', async () => {
    const realtime = createRealtime({ maxBufferedBytes: 256 * 1024, onError: () => {} })
    const base = await serveHooks(realtime)
    const slow = await openWs(`${base}/ws`)
    const fast = await openWs(`${base}/ws`)
    ;(slow.socket as unknown as { _socket: Socket })._socket.pause() // reads nothing from here on
    const chunk = 'x'.repeat(64 * 1024)
    for (let index = 0; index < 200 && realtime.stats().slowConsumers === 0; index++) {
      await realtime.broadcast({ event: 'bulk', data: chunk })
      await sleep(1)
    }
    await eventually(() => realtime.stats().slowConsumers === 1, 5000, 'the slow consumer to be cut')
    await eventually(() => realtime.stats().websocket === 1, 5000, 'only the reading peer to remain')
    await realtime.broadcast({ event: 'after', data: 1 })
    await fast.inbox.next((message) => message.event === 'after')
    fast.close()
    slow.socket.terminate()
  }, 20_000)

  it('drops a peer that stops answering pings within two heartbeats', async () => {
    const realtime = createRealtime({ heartbeat: 200 })
    const reasons: string[] = []
    const base = await serveHooks(realtime, { onClose: (_socket, code, reason) => void reasons.push(`${code} ${reason}`) })
    const silent = new WebSocket(`${base.replace(/^http/, 'ws')}/ws`, { autoPong: false })
    silent.on('error', () => {})
    await new Promise((resolve) => silent.once('open', resolve))
    await eventually(() => realtime.stats().websocket === 1, 1000, 'the connection')
    await eventually(() => realtime.stats().websocket === 0, 1500, 'the silent peer to be dropped')
    expect(reasons).toEqual(['1006 heartbeat timeout'])
    silent.terminate()
  })
})

describe('nodeListener on h3 1 (Nitro 2)', () => {
  it('streams SSE unbuffered and notices a departed client at once', async () => {
    const realtime = createRealtime()
    cleanups.push(() => realtime.close({ drainTimeout: 0 }))
    const GET = (request: Request) => {
      const { response, stream } = realtime.sse(request)
      stream.send({ event: 'notification', data: { message: 'hello' } })
      return response
    }
    const sse = nodeListener(GET)
    const app = createApp()
    app.use(
      '/sse',
      defineEventHandler((event) => sse(event.node.req, event.node.res)),
    )
    const base = await listen(createServer(toNodeListener(app)))
    const client = await openSse(`${base}/sse`)
    expect(JSON.parse((await client.inbox.next((event) => event.event === 'notification')).data)).toEqual({ message: 'hello' })
    expect(realtime.stats().sse).toBe(1)
    client.close()
    await eventually(() => realtime.stats().sse === 0, 1000, 'the departed client to leave the stats')
  })

  it("(why) h3's own sendStream of the same response never notices the client leaving", async () => {
    const realtime = createRealtime({ heartbeat: 100 })
    cleanups.push(() => realtime.close({ drainTimeout: 0 }))
    const app = createApp()
    app.use(
      '/sse',
      defineEventHandler((event) => sendStream(event, realtime.sse(toWebRequest(event)).response.body!)),
    )
    const base = await listen(createServer(toNodeListener(app)))
    const client = await openSse(`${base}/sse`)
    await client.inbox.next((event) => event.event === 'realtime:connected')
    client.close()
    await sleep(1000) // ten heartbeats
    expect(realtime.stats().sse).toBe(1)
  })
})
