// The client on Node against the real Node demo server, over both transports, with the real
// `eventsource` and `ws` implementations (and SSE again through the fetch transport, `./fetch`): events, channels, reconnect after a network blip
// (a TCP proxy that is cut while the server stays up), resume, restart gaps, refusals.
import { createServer, type Server } from 'node:http'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { WebSocketServer } from 'ws'
import { connect, type RealtimeClient } from '../src/index.js'
import { fetchEventSource } from '../src/fetch.js'
import { eventually, openSse } from '../../../test/helpers/clients.js'
import { startTcpProxy, type TcpProxy } from '../../../test/helpers/tcp-proxy.js'
import { CONTROL, fastReconnect, nodeTransports, publish, record, startServer, type DemoServer } from './_support.js'

type Events = {
  tick: { stream: string; n: number }
  notification: { message: string }
  connected: { channel: string }
}

/** `sse-fetch`: SSE through the fetch transport (`./fetch`) instead of an `EventSource`. */
const transports = ['sse', 'sse-fetch', 'websocket'] as const

/** The endpoint of each transport on the demo app. */
const route = (transport: (typeof transports)[number]) => (transport === 'websocket' ? '/ws' : '/events')

let server: DemoServer
const cleanups: Array<() => unknown> = []
let users = 0
/** A fresh user per client, so the per-user connection cap never interferes. */
const nextUser = () => `client-user-${++users}`

beforeAll(async () => {
  server = await startServer()
})
afterAll(async () => {
  await server?.close()
})
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!()
})

function open(transport: (typeof transports)[number], base: string, query: string, options: Parameters<typeof connect<Events>>[1] = {}) {
  const chosen = transport === 'sse-fetch' ? { transport: 'sse' as const, EventSource: fetchEventSource() } : { transport }
  const client = connect<Events>(`${base}${route(transport)}?${query}`, { ...nodeTransports, ...chosen, ...fastReconnect, ...options })
  cleanups.push(() => client.close())
  return client
}

const ticks = (inbox: ReturnType<typeof record>, stream: string) =>
  inbox.items.filter((item) => item.event === 'tick' && item.data.stream === stream).map((item) => item.data.n)
const range = (count: number) => Array.from({ length: count }, (_, index) => index + 1)

describe.each(transports)('client over %s on Node', (transport) => {
  it('reports connecting then open, and receives broadcast, user and channel events', async () => {
    const user = nextUser()
    const client = open(transport, server.url, `user=${user}`, { channels: ['news'] })
    expect(client.state).toBe('connecting')
    const inbox = record(client, ['tick', ...CONTROL])
    await inbox.next((item) => item.event === 'realtime:connected')
    expect(client.state).toBe('open')
    expect(inbox.items.find((item) => item.event === 'realtime:state')?.data).toMatchObject({ state: 'open', previous: 'connecting' })
    expect(client.id).toEqual(expect.any(String))
    await publish(server.url, { event: 'tick', data: { stream: 'broadcast', n: 1 } })
    await publish(server.url, { user, event: 'tick', data: { stream: 'user', n: 1 } })
    await publish(server.url, { channel: 'news', event: 'tick', data: { stream: 'news', n: 1 } })
    await publish(server.url, { channel: 'elsewhere', event: 'tick', data: { stream: 'elsewhere', n: 1 } })
    await inbox.next((item) => item.event === 'tick' && item.data.stream === 'news')
    await inbox.next((item) => item.event === 'tick' && item.data.stream === 'user')
    await inbox.next((item) => item.event === 'tick' && item.data.stream === 'broadcast')
    expect(ticks(inbox, 'elsewhere')).toEqual([])
    expect(client.cursor).toMatch(/(^|,)b=[\w-]+:\d+/)
    expect(client.cursor).toMatch(/(^|,)c\.news=[\w-]+:\d+/)
    if (transport === 'websocket') {
      expect(inbox.items.find((item) => item.event === 'tick' && item.data.stream === 'news')?.channel).toBe('news')
    }
  })

  it('subscribes and unsubscribes while connected', async () => {
    const client = open(transport, server.url, `user=${nextUser()}`)
    const inbox = record(client, ['tick', ...CONTROL])
    await inbox.next((item) => item.event === 'realtime:connected')
    client.subscribe('sports')
    expect(client.channels).toEqual(['sports'])
    await inbox.next((item) => item.event === 'realtime:subscribed' && item.data.channel === 'sports')
    await publish(server.url, { channel: 'sports', event: 'tick', data: { stream: 'sports', n: 1 } })
    await inbox.next((item) => item.event === 'tick' && item.data.stream === 'sports')
    const connections = () => inbox.items.filter((item) => item.event === 'realtime:connected').length
    const before = connections()
    client.unsubscribe('sports')
    expect(client.channels).toEqual([])
    if (transport === 'websocket') await inbox.next((item) => item.event === 'realtime:unsubscribed')
    else await eventually(() => connections() === before + 1, 5000, 'the stream reopened without the channel')
    await publish(server.url, { channel: 'sports', event: 'tick', data: { stream: 'sports', n: 2 } })
    // Same process, same connection: the broadcast after it cannot overtake the channel message.
    await publish(server.url, { event: 'tick', data: { stream: 'broadcast', n: 1 } })
    await inbox.next((item) => item.event === 'tick' && item.data.stream === 'broadcast')
    expect(ticks(inbox, 'sports')).toEqual([1])
  })

  it('after a network blip: reconnects, rejoins its channels and receives every message once, in order', async () => {
    const proxy: TcpProxy = await startTcpProxy(server.url)
    cleanups.push(() => proxy.close())
    const user = nextUser()
    const client = open(transport, proxy.url, `user=${user}`, { channels: ['blip'] })
    const inbox = record(client, ['tick', ...CONTROL])
    await inbox.next((item) => item.event === 'realtime:connected')
    // A channel joined after connecting must be rejoined too.
    client.subscribe('late')
    await inbox.next((item) => item.event === 'realtime:subscribed' && item.data.channel === 'late')
    const count = 20
    const targets = [{ stream: 'broadcast' }, { stream: user, user }, { stream: 'blip', channel: 'blip' }, { stream: 'late', channel: 'late' }]
    for (let n = 1; n <= count; n++) {
      if (n === 8) expect(proxy.cut()).toBeGreaterThan(0)
      for (const { stream, ...target } of targets) await publish(server.url, { ...target, event: 'tick', data: { stream, n } })
    }
    await eventually(() => inbox.items.filter((item) => item.event === 'tick').length >= count * targets.length, 10_000, 'every tick')
    // One more message through the live connection: anything duplicated would have arrived before it.
    await publish(server.url, { event: 'tick', data: { stream: 'sentinel', n: 1 } })
    await inbox.next((item) => item.event === 'tick' && item.data.stream === 'sentinel')
    for (const { stream } of targets) expect(ticks(inbox, stream), stream).toEqual(range(count))
    expect(
      inbox.items.some((item) => item.event === 'realtime:state' && item.data.state === 'reconnecting'),
      'it did reconnect',
    ).toBe(true)
    expect(inbox.items.filter((item) => item.event === 'realtime:connected').length).toBeGreaterThanOrEqual(2)
    expect(inbox.items.some((item) => item.event === 'realtime:gap')).toBe(false)
    expect(client.state).toBe('open')
    expect(client.channels.sort()).toEqual(['blip', 'late'])
  }, 30_000)

  it('resumes from a saved cursor (the lastEventId option) in a new client', async () => {
    const user = nextUser()
    const first = open(transport, server.url, `user=${user}`, { channels: ['saved'] })
    const firstInbox = record(first, ['tick', ...CONTROL])
    await firstInbox.next((item) => item.event === 'realtime:connected')
    await publish(server.url, { channel: 'saved', event: 'tick', data: { stream: 'saved', n: 1 } })
    await firstInbox.next((item) => item.event === 'tick')
    const saved = first.cursor
    first.close()
    expect(first.state).toBe('closed')
    for (let n = 2; n <= 4; n++) await publish(server.url, { channel: 'saved', event: 'tick', data: { stream: 'saved', n } })
    const second = open(transport, server.url, `user=${user}`, { channels: ['saved'], lastEventId: saved })
    const inbox = record(second, ['tick', ...CONTROL])
    await eventually(() => ticks(inbox, 'saved').length >= 3, 5000, 'the missed ticks')
    await publish(server.url, { channel: 'saved', event: 'tick', data: { stream: 'saved', n: 5 } })
    await eventually(() => ticks(inbox, 'saved').includes(5), 5000, 'the live tick')
    expect(ticks(inbox, 'saved')).toEqual([2, 3, 4, 5])
  })

  it('drops a channel the server refuses (authorize) and reports REALTIME_FORBIDDEN', async () => {
    const client = open(transport, server.url, `user=alice-${nextUser()}`, { channels: ['private:bob'] })
    const inbox = record(client, ['tick', ...CONTROL])
    const error = await inbox.next((item) => item.event === 'realtime:error')
    expect(error.data).toMatchObject({ code: 'REALTIME_FORBIDDEN', channel: 'private:bob' })
    expect(client.channels).toEqual([])
    expect(client.state).not.toBe('closed')
  })

  it('waits at least Retry-After when the server answers 503', async () => {
    // The demo's /limited instance takes two connections (once the previous test's have gone).
    await eventually(async () => (await (await fetch(`${server.url}/limited/stats`)).json()).connections === 0, 5000, 'no connections on /limited')
    const holders = await Promise.all([openSse(`${server.url}/limited/events`), openSse(`${server.url}/limited/events`)])
    cleanups.push(() => holders.forEach((holder) => holder.close()))
    expect(holders.map((holder) => holder.response.status)).toEqual([200, 200])
    // (maxReconnectDelay caps Retry-After too: above 5 s here.)
    const client = open(transport, server.url.replace(/$/, '/limited'), `user=${nextUser()}`, { maxReconnectDelay: 60_000 })
    const inbox = record(client, CONTROL)
    const state = await inbox.next((item) => item.event === 'realtime:state' && item.data.state === 'reconnecting')
    expect(state.data.status).toBe(503)
    // Retry-After: 5 on the demo: the client may not come back sooner.
    expect(state.data.delay).toBeGreaterThanOrEqual(5000)
    expect(client.state).toBe('reconnecting')
  })
})

describe('server restart on Node', () => {
  it.each(transports)(
    'over %s: reconnects to the restarted server and reports each stream it could not recover',
    async (transport) => {
      const first = await startServer()
      let second: DemoServer | undefined
      cleanups.push(async () => {
        await first.close().catch(() => {})
        await second?.close()
      })
      const client = open(transport, first.url, `user=${nextUser()}`, { channels: ['news'] })
      const inbox = record(client, ['tick', ...CONTROL])
      await inbox.next((item) => item.event === 'realtime:connected')
      await publish(first.url, { channel: 'news', event: 'tick', data: { stream: 'news', n: 1 } })
      await inbox.next((item) => item.event === 'tick')
      await first.close()
      await inbox.next((item) => item.event === 'realtime:state' && item.data.state === 'reconnecting')
      second = await startServer(first.port)
      const gaps = () => inbox.items.filter((item) => item.event === 'realtime:gap').map((item) => item.data)
      await eventually(
        () => gaps().some((gap) => gap.channel === 'news') && gaps().some((gap) => gap.channel === 'realtime:broadcast'),
        15_000,
        'gaps for news and broadcast',
      )
      for (const gap of gaps()) expect(gap.reason).toBe('epoch')
      await inbox.next((item) => item.event === 'realtime:state' && item.data.state === 'open' && item.data.previous === 'reconnecting', 10_000)
      await publish(second.url, { channel: 'news', event: 'tick', data: { stream: 'news', n: 2 } })
      await eventually(() => ticks(inbox, 'news').includes(2), 5000, 'a live tick after the restart')
      expect(ticks(inbox, 'news')).toEqual([1, 2])
    },
    30_000,
  )
})

describe('WebSocket specifics on Node', () => {
  it('pings, notices a network that silently drops traffic, reconnects and resumes once it is back', async () => {
    const proxy = await startTcpProxy(server.url)
    cleanups.push(() => proxy.close())
    const user = nextUser()
    const client = open('websocket', proxy.url, `user=${user}`, { pingInterval: 150 })
    const inbox = record(client, ['tick', 'realtime:pong', ...CONTROL])
    await inbox.next((item) => item.event === 'realtime:pong', 5000, 'a pong')
    proxy.stall()
    await publish(server.url, { user, event: 'tick', data: { stream: user, n: 1 } })
    await inbox.next((item) => item.event === 'realtime:state' && item.data.state === 'reconnecting', 5000, 'the dead connection to be noticed')
    expect(inbox.items.find((item) => item.event === 'realtime:state' && item.data.state === 'reconnecting')?.data).toMatchObject({ code: 4000 })
    await publish(server.url, { user, event: 'tick', data: { stream: user, n: 2 } })
    proxy.resume()
    await eventually(() => ticks(inbox, user).length >= 2, 10_000, 'both ticks after the network came back')
    expect(ticks(inbox, user)).toEqual([1, 2])
    expect(client.state).toBe('open')
  })

  it('sends no pings with pingInterval: 0', async () => {
    const client = open('websocket', server.url, `user=${nextUser()}`, { pingInterval: 0 })
    const inbox = record(client, ['realtime:pong', ...CONTROL])
    await inbox.next((item) => item.event === 'realtime:connected')
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect(inbox.items.some((item) => item.event === 'realtime:pong')).toBe(false)
  })

  it('send() reaches the server (the demo echoes it back as raw text)', async () => {
    const client = open('websocket', server.url, `user=${nextUser()}`)
    const inbox = record(client, CONTROL)
    expect(client.send({ hello: 1 }), 'not open yet').toBe(false)
    await inbox.next((item) => item.event === 'realtime:connected')
    expect(client.send({ hello: 'world' })).toBe(true)
    const raw = await inbox.next((item) => item.event === 'realtime:raw')
    expect(JSON.parse(raw.data)).toEqual({ echo: { hello: 'world' } })
  })

  describe('close codes', () => {
    let wss: WebSocketServer
    let base: string
    let handshakes = 0
    let closeWith: { code: number; reason: string } | undefined
    beforeAll(async () => {
      wss = new WebSocketServer({ port: 0, host: '127.0.0.1' })
      await new Promise((resolve) => wss.once('listening', resolve))
      base = `ws://127.0.0.1:${(wss.address() as { port: number }).port}`
      wss.on('connection', (socket) => {
        handshakes++
        socket.send(JSON.stringify({ event: 'realtime:connected', data: { id: String(handshakes), cursor: '' } }))
        if (closeWith) socket.close(closeWith.code, closeWith.reason)
      })
    })
    afterAll(() => new Promise((resolve) => wss.close(resolve)))

    async function closedWith(code: number, options: { maxReconnectDelay?: number } = {}) {
      handshakes = 0
      closeWith = { code, reason: `closing with ${code}` }
      const client = connect(`${base}/`, { transport: 'websocket', WebSocket: nodeTransports.WebSocket, ...fastReconnect, ...options })
      cleanups.push(() => client.close())
      const inbox = record(client, CONTROL)
      const state = await inbox.next((item) => item.event === 'realtime:state' && (item.data.state === 'closed' || item.data.state === 'reconnecting'))
      return { client, inbox, state: state.data }
    }

    it.each([4403, 1003, 1009])('%i: stops for good and reports REALTIME_REFUSED', async (code) => {
      const { client, inbox, state } = await closedWith(code)
      expect(state).toMatchObject({ state: 'closed', code })
      expect(client.state).toBe('closed')
      expect(inbox.items.find((item) => item.event === 'realtime:error')?.data).toMatchObject({ code: 'REALTIME_REFUSED', closeCode: code })
      expect(handshakes).toBe(1)
    })

    it('1000: stops without an error', async () => {
      const { inbox, state } = await closedWith(1000)
      expect(state).toMatchObject({ state: 'closed', code: 1000 })
      expect(inbox.items.some((item) => item.event === 'realtime:error')).toBe(false)
    })

    it.each([4000, 4001, 1012, 1011])('%i: reconnects', async (code) => {
      const { client, state } = await closedWith(code)
      expect(state).toMatchObject({ state: 'reconnecting', code })
      closeWith = undefined
      await eventually(() => client.state === 'open' && handshakes === 2, 5000, 'the second connection')
    })

    it.each([1013, 1008])('%i: waits "later" (at least 5 s) before reconnecting', async (code) => {
      const { state } = await closedWith(code, { maxReconnectDelay: 60_000 })
      expect(state).toMatchObject({ state: 'reconnecting', code })
      expect(state.delay).toBeGreaterThanOrEqual(5000)
    })

    it('1013: maxReconnectDelay caps the "later" wait', async () => {
      const { state } = await closedWith(1013, { maxReconnectDelay: 400 })
      expect(state).toMatchObject({ state: 'reconnecting', code: 1013 })
      expect(state.delay).toBeLessThanOrEqual(400)
    })
  })
})

describe('refused handshakes on Node', () => {
  let refuser: Server
  let base: string
  let requests = 0
  beforeAll(async () => {
    refuser = createServer((request, response) => {
      requests++
      response.writeHead(403, { 'Content-Type': 'text/plain' }).end('forbidden')
    })
    refuser.on('upgrade', (_request, socket) => {
      requests++
      socket.end('HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n')
    })
    await new Promise<void>((resolve) => refuser.listen(0, '127.0.0.1', resolve))
    base = `http://127.0.0.1:${(refuser.address() as { port: number }).port}`
  })
  afterAll(() => new Promise((resolve) => refuser.close(resolve)))

  it.each(transports)('over %s: a 403 closes the client for good with REALTIME_REFUSED', async (transport) => {
    requests = 0
    const client: RealtimeClient<Events> = open(transport, base, 'user=x')
    const inbox = record(client, CONTROL)
    const state = await inbox.next((item) => item.event === 'realtime:state' && item.data.state !== 'connecting')
    expect(state.data).toMatchObject({ state: 'closed', status: 403 })
    expect(inbox.items.find((item) => item.event === 'realtime:error')?.data).toMatchObject({ code: 'REALTIME_REFUSED', status: 403 })
    // SSE asks once more (fetch) to learn the status EventSource hides; the fetch transport sees it.
    expect(requests).toBe(transport === 'sse' ? 2 : 1)
  })
})

describe('SSE specifics on Node', () => {
  it('send() returns false: SSE is one-way', async () => {
    const client = open('sse', server.url, `user=${nextUser()}`)
    const inbox = record(client, CONTROL)
    await inbox.next((item) => item.event === 'realtime:connected')
    expect(client.send('hello')).toBe(false)
  })

  it('delivers raw text (stream.send(text)) as realtime:raw', async () => {
    const client = open('sse', server.url, `user=${nextUser()}&raw=${encodeURIComponent('line one\nline two')}`)
    const inbox = record(client, CONTROL)
    const raw = await inbox.next((item) => item.event === 'realtime:raw')
    expect(raw.data).toBe('line one\nline two')
  })

  it("reconnects by its own policy (not the platform EventSource's retry:), resuming through the lastEventId parameter", async () => {
    const proxy = await startTcpProxy(server.url)
    cleanups.push(() => proxy.close())
    const client = open('sse', proxy.url, `user=${nextUser()}`)
    const inbox = record(client, ['tick', ...CONTROL])
    await inbox.next((item) => item.event === 'realtime:connected')
    await publish(server.url, { event: 'tick', data: { stream: 'broadcast', n: 1 } })
    await inbox.next((item) => item.event === 'tick')
    proxy.cut()
    const reconnecting = await inbox.next((item) => item.event === 'realtime:state' && item.data.state === 'reconnecting')
    // The client's own delay (fastReconnect: 50 ms doubling to 400, never below the 100 ms floor).
    expect(reconnecting.data.delay).toBeGreaterThanOrEqual(100)
    expect(reconnecting.data.delay).toBeLessThanOrEqual(400)
    await publish(server.url, { event: 'tick', data: { stream: 'broadcast', n: 2 } })
    await eventually(() => ticks(inbox, 'broadcast').includes(2), 5000, 'the tick published while away')
    expect(ticks(inbox, 'broadcast')).toEqual([1, 2])
    expect(inbox.items.filter((item) => item.event === 'realtime:connected').length).toBe(2)
  })
})
