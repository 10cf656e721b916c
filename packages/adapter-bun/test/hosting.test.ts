// Bun specifics, against the real Bun runtime: plugging into an existing Bun.serve call
// (withServer + websocket), native fan-out (the sockets' Bun subscriptions, `except`, two instances
// on one server), Bun's own limits (maxPayloadLength, backpressure), SSE streams and Bun's idle
// timeout, and serve()'s error hook.
import { connect as connectTcp } from 'node:net'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { eventually, openSse, openWs, post, sleep } from '../../../test/helpers/clients.js'
import { spawnServer, type SpawnedServer } from '../../../test/helpers/spawn-server.js'
import { bunBinary } from './bun-binary.js'

let fixture: SpawnedServer
let own: string
let served: string
let bare: string
let hono: string
let idle: string
const cleanups: Array<() => void> = []
const track = <T extends { close: () => void }>(client: T): T => {
  cleanups.push(() => client.close())
  return client
}
const stats = async (query = '') => (await fetch(`${own}/stats${query}`)).json()
/** A WebSocket client of the `own` server plus its connection id (sent by onOpen). */
const connect = async (query = '') => {
  const ws = track(await openWs(`${own}/ws${query}`))
  const hello = await ws.inbox.next((message) => message.raw.startsWith('{"id"'))
  return Object.assign(ws, { id: JSON.parse(hello.raw).id as string })
}

beforeAll(async () => {
  fixture = await spawnServer(bunBinary, [fileURLToPath(new URL('./fixtures/existing-server.ts', import.meta.url))])
  const urls = JSON.parse(
    fixture
      .output()
      .split('\n')
      .find((line) => line.startsWith('{'))!,
  )
  ;({ own, served, bare, hono, idle } = urls)
})
afterAll(async () => {
  await fixture?.close()
})
beforeEach(async () => {
  while (cleanups.length) cleanups.pop()!()
  await eventually(async () => (await stats()).connections === 0 && (await stats('?instance=other')).connections === 0, 5000, 'no connections left')
})

describe('an existing Bun.serve call with withServer() and websocket', () => {
  it('upgrades inside the application fetch, which still gets the server as its second argument', async () => {
    const ws = await connect('?user=alice')
    ws.send('{"event":"realtime:ping","data":1}')
    expect((await ws.inbox.next((message) => message.event === 'realtime:pong')).data).toBe(1)
    expect(await (await fetch(`${own}/port`)).json()).toEqual({ port: Number(new URL(own).port) })
  })

  it('subscribes each socket natively to its instance topics', async () => {
    const ws = await connect('?user=alice')
    await (await fetch(`${own}/join?id=${ws.id}&channel=orders`)).json()
    const topics = await (await fetch(`${own}/subscriptions?id=${ws.id}`)).json()
    expect(topics.sort()).toEqual(['realtime#1:broadcast', 'realtime#1:channel:orders', 'realtime#1:user:alice'])
    ws.send({ event: 'realtime:unsubscribe', data: { channel: 'orders' } })
    await ws.inbox.next((message) => message.event === 'realtime:unsubscribed')
    expect((await (await fetch(`${own}/subscriptions?id=${ws.id}`)).json()).sort()).toEqual(['realtime#1:broadcast', 'realtime#1:user:alice'])
  })

  it('lays an idle connection out in 112 bytes, every field inline', async () => {
    // JSC reserves room for 12 inline fields in 112 bytes and for 18 in 160: the core's ten fields
    // plus the adapter's `ws` and `server` fit the smaller one (bench/bun/README.md). A failure
    // here means a field was added to Connection or BunWebSocketConnection.
    const ws = await connect()
    expect(await (await fetch(`${own}/layout?id=${ws.id}`)).json()).toEqual({ bytes: 112, outOfLine: false })
  })

  it('keeps two instances on one server apart', async () => {
    const first = await connect()
    const second = await connect('?instance=other')
    expect(await (await fetch(`${own}/subscriptions?id=${second.id}&instance=other`)).json()).toEqual(['realtime#2:broadcast'])
    await post(`${own}/publish`, { event: 'only-main', data: 1 })
    await post(`${own}/publish?instance=other`, { event: 'only-other', data: 2 })
    await first.inbox.next((message) => message.event === 'only-main')
    await second.inbox.next((message) => message.event === 'only-other')
    await sleep(50)
    expect(first.inbox.items.some((message) => message.event === 'only-other')).toBe(false)
    expect(second.inbox.items.some((message) => message.event === 'only-main')).toBe(false)
  })

  it('skips the excepted connection only, for broadcast and channels, WebSocket and SSE alike', async () => {
    const sender = await connect()
    const peer = await connect()
    const sse = track(await openSse(`${own}/events?channel=room`))
    await sse.inbox.next((event) => event.event === 'realtime:subscribed')
    for (const ws of [sender, peer]) await ws.subscribe('room')
    await post(`${own}/publish`, { event: 'hello', data: 1, except: sender.id })
    await post(`${own}/publish`, { channel: 'room', event: 'chat', data: 2, except: sender.id })
    await post(`${own}/publish`, { channel: 'room', event: 'marker', data: 3 })
    for (const ws of [sender, peer]) await ws.inbox.next((message) => message.event === 'marker')
    await sse.inbox.next((event) => event.event === 'marker')
    expect(peer.inbox.items.map((message) => message.event)).toEqual(expect.arrayContaining(['hello', 'chat']))
    expect(sse.inbox.items.map((event) => event.event)).toEqual(expect.arrayContaining(['hello', 'chat']))
    expect(sender.inbox.items.some((message) => message.event === 'hello' || message.event === 'chat')).toBe(false)
  })

  it('reaches every connection of a user through the native user topic, and nobody else', async () => {
    const alice = await connect('?user=alice')
    const aliceSse = track(await openSse(`${own}/events?user=alice`))
    const bob = await connect('?user=bob')
    await eventually(async () => (await stats()).users === 2)
    await post(`${own}/publish`, { user: 'alice', event: 'direct', data: 1 })
    await post(`${own}/publish`, { event: 'marker', data: null })
    await alice.inbox.next((message) => message.event === 'direct')
    await aliceSse.inbox.next((event) => event.event === 'direct')
    await bob.inbox.next((message) => message.event === 'marker')
    expect(bob.inbox.items.some((message) => message.event === 'direct')).toBe(false)
  })

  it('refuses an oversized message natively: 1009 to the client, MESSAGE_TOO_BIG to onError, 1009 to onClose', async () => {
    await post(`${own}/errors/clear`, {})
    const ws = await connect()
    ws.send('x'.repeat(4096))
    expect((await ws.closed).code).toBe(1009)
    await eventually(
      async () => {
        const now = await stats()
        return (
          now.errors.some((error: { code: string }) => error.code === 'REALTIME_MESSAGE_TOO_BIG') &&
          now.closes.some((close: { id: string; code: number }) => close.id === ws.id && close.code === 1009)
        )
      },
      3000,
      'the error and the close to be reported',
    )
  })

  it('lets Bun close a subscriber that stopped reading (backpressureLimit) and keeps publishing to the others', async () => {
    const slow = await connect()
    const fast = await connect()
    ;(slow.socket as unknown as { _socket: { pause(): void } })._socket.pause()
    const count = 1500 // 24 MB in all: more than 4 MiB plus the kernel buffers of a reader that stopped reading
    await fetch(`${own}/flood?count=${count}&size=16000`)
    await fast.inbox.next((message) => message.event === 'flood' && message.data.index === count - 1, 20_000, 'the last flood message')
    expect(fast.inbox.items.filter((message) => message.event === 'flood')).toHaveLength(count)
    // Bun closes it without a close frame: the peer cannot take one anyway, and reconnects.
    await eventually(
      async () => (await stats()).closes.some((close: { id: string; code: number }) => close.id === slow.id && close.code === 1006),
      5000,
      'the slow reader to be closed',
    )
    expect(fast.socket.readyState).toBe(1)
  }, 30_000)

  it('closes a connection that stopped reading its direct writes with 4001 (slow consumer)', async () => {
    const slow = await connect()
    ;(slow.socket as unknown as { _socket: { pause(): void } })._socket.pause()
    await fetch(`${own}/flood?count=1500&size=16000&to=${slow.id}`)
    await eventually(
      async () =>
        (await stats()).closes.some(
          (close: { id: string; code: number; reason: string }) => close.id === slow.id && close.code === 4001 && close.reason === 'slow consumer',
        ),
      5000,
      'the slow reader to be closed with 4001',
    )
  }, 30_000)

  it("exempts SSE streams from Bun's idle timeout (the stream lives on its heartbeat)", async () => {
    const sse = track(await openSse(`${idle}/`))
    await eventually(() => sse.retries.length > 0)
    await sleep(7000) // that server's idleTimeout is 1 s (Bun cuts an idle request within about 4 s), heartbeats are off
    await post(`${own}/publish`, { event: 'still-open', data: 1 })
    await sse.inbox.next((event) => event.event === 'still-open')
  }, 15_000)

  it('frees an SSE connection whose client went away, with onClose, on Bun', async () => {
    const sse = await openSse(`${own}/events?user=leaver&channel=orders`)
    await eventually(async () => (await stats()).connections === 1)
    sse.close()
    await eventually(
      async () => {
        const now = await stats()
        return now.connections === 0 && now.users === 0 && now.channels === 0
      },
      3000,
      'the registry to empty',
    )
  })
})

describe('Hono on Bun: { fetch: withServer(app.fetch), websocket }', () => {
  it('upgrades and streams through Hono routes, and Hono still gets the server as c.env', async () => {
    const ws = track(await openWs(`${hono}/ws`))
    ws.send('hello')
    await ws.inbox.next((message) => message.raw === 'hono:hello')
    const sse = track(await openSse(`${hono}/events`))
    await post(`${own}/publish`, { event: 'via-hono', data: 1 })
    await sse.inbox.next((event) => event.event === 'via-hono')
    await ws.inbox.next((message) => message.event === 'via-hono')
    expect(await (await fetch(`${hono}/env`)).json()).toEqual({ port: Number(new URL(hono).port) })
  })
})

describe('a bad handshake', () => {
  it('answers 400 when Bun cannot upgrade the request (no Sec-WebSocket-Key)', async () => {
    const { port } = new URL(own)
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connectTcp(Number(port), '127.0.0.1', () =>
        socket.write('GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n'),
      )
      let text = ''
      socket.on('data', (chunk) => {
        text += chunk
        if (text.includes('\r\n\r\n')) {
          socket.destroy()
          resolve(text)
        }
      })
      socket.on('error', reject)
    })
    expect(answer).toMatch(/^HTTP\/1\.1 400/)
  })
})

describe('without withServer()', () => {
  it('answers an upgrade with 500 and reports REALTIME_UPGRADE_UNAVAILABLE', async () => {
    await post(`${own}/errors/clear`, {})
    const refused = await openWs(bare).catch((error) => error)
    expect(refused.status).toBe(500)
    await eventually(async () =>
      (await stats()).errors.some(
        (error: { code: string; message: string }) => error.code === 'REALTIME_UPGRADE_UNAVAILABLE' && error.message.includes('withServer'),
      ),
    )
  })
})

describe('realtime.close() on Bun', () => {
  it('sends realtime:reconnect, closes WebSocket clients with 1012, ends SSE streams, and refuses new connections', async () => {
    const ws = await connect('?instance=other')
    const sse = track(await openSse(`${own}/events?instance=other`))
    await eventually(async () => (await stats('?instance=other')).connections === 2)
    await post(`${own}/shutdown?instance=other`, {})
    expect((await ws.closed).code).toBe(1012)
    await ws.inbox.next((message) => message.event === 'realtime:reconnect')
    await sse.inbox.next((event) => event.event === 'realtime:reconnect')
    await sse.done
    expect((await fetch(`${own}/events?instance=other`)).status).toBe(503)
  })
})

describe('serve()', () => {
  it('serves realtime.handle() for SSE and WebSocket on one route; one instance publishes to both of its servers', async () => {
    const sse = track(await openSse(`${served}/`))
    expect(sse.response.headers.get('content-type')).toBe('text/event-stream')
    const ws = track(await openWs(`${served}/`))
    await post(`${own}/publish`, { event: 'both', data: 1 })
    await sse.inbox.next((event) => event.event === 'both')
    await ws.inbox.next((message) => message.event === 'both')
  })

  it('answers 500 when the handler throws and reports the error to onError', async () => {
    const response = await fetch(`${served}/throw`)
    expect(response.status).toBe(500)
    await eventually(async () =>
      (await stats()).errors.some((error: { code: string; message: string }) => error.code === 'SERVE' && error.message === 'handler exploded'),
    )
  })
})
