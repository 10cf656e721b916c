// Two server processes (Node, and Bun when it is there) on one Redis, with real SSE and WebSocket
// clients on each: a message published in either reaches every matching connection in both, and
// a client resumes on the other process without loss, duplicates or disorder.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, openEventSource, openSse, openWs, post, sleep, type WsMessage } from '../../../test/helpers/clients.js'
import type { SpawnedServer } from '../../../test/helpers/spawn-server.js'
import { bunAvailable, keyOf, startFixture } from './helpers/fixtures.js'
import { deleteKeys, testRedis, uniquePrefix, type TestRedis } from './helpers/redis.js'

const redis: TestRedis = await testRedis()
const second = bunAvailable ? 'bun' : 'node'

describe.skipIf(redis.skip !== undefined)(`across processes (node + ${second}) on Redis`, () => {
  const prefix = uniquePrefix('cross')
  let a: SpawnedServer
  let b: SpawnedServer
  const closers: Array<() => unknown> = []
  beforeAll(async () => {
    ;[a, b] = await Promise.all([startFixture('node', { url: redis.url, prefix }), startFixture(second, { url: redis.url, prefix })])
  }, 60_000)
  afterAll(async () => {
    while (closers.length) await closers.pop()!()
    await Promise.all([a?.close(), b?.close()])
    await deleteKeys(redis.url!, prefix)
    await redis.stop()
  })

  it('broadcast, sendTo(userId) and channel broadcasts reach SSE and WebSocket clients on both processes', async () => {
    const clients = {
      sseA: await openSse(`${a.url}/events?user=ann&channel=news`),
      wsA: await openWs(`${a.url}/ws?user=ann&channel=news&resume=1`),
      sseB: await openSse(`${b.url}/events?user=ann&channel=news`),
      wsB: await openWs(`${b.url}/ws?user=bob&channel=news&resume=1`),
    }
    closers.push(...Object.values(clients).map((client) => () => client.close()))
    await clients.wsA.inbox.next((message) => message.event === 'realtime:connected')
    await clients.wsB.inbox.next((message) => message.event === 'realtime:connected')
    await clients.sseA.inbox.next((event) => event.event === 'realtime:connected')
    await clients.sseB.inbox.next((event) => event.event === 'realtime:connected')
    expect((await post(`${a.url}/publish`, { event: 'everyone', data: { from: 'a' } })).status).toBe(200)
    expect((await post(`${b.url}/publish`, { user: 'ann', event: 'for-ann', data: { from: 'b' } })).status).toBe(200)
    expect((await post(`${a.url}/publish`, { channel: 'news', event: 'headline', data: { from: 'a' } })).status).toBe(200)
    const events = (client: (typeof clients)[keyof typeof clients]) =>
      'socket' in client ? (client.inbox.items as WsMessage[]).map((message) => message.event) : client.inbox.items.map((event) => event.event)
    for (const [name, client] of Object.entries(clients)) {
      const expected = name === 'wsB' ? ['everyone', 'headline'] : ['everyone', 'for-ann', 'headline']
      await eventually(() => expected.every((event) => events(client).includes(event)), 5000, `${name} to receive ${expected}`)
    }
    await sleep(100)
    for (const [name, client] of Object.entries(clients)) {
      const appEvents = events(client).filter((event) => !String(event).startsWith('realtime:'))
      expect(appEvents, name).toEqual(name === 'wsB' ? ['everyone', 'headline'] : ['everyone', 'for-ann', 'headline'])
    }
    // Cursors are the same on both processes: one stream, one epoch, one offset per message.
    const headline = (client: typeof clients.wsA) => (client.inbox.items as WsMessage[]).find((message) => message.event === 'headline')!.id
    expect(headline(clients.wsA)).toBe(headline(clients.wsB))
    expect(clients.sseA.inbox.items.find((event) => event.event === 'headline')!.id).toBe(
      clients.sseB.inbox.items.find((event) => event.event === 'headline')!.id,
    )
  })

  it('a WebSocket client resumes on the other process: every missed message once, in order, no gap', async () => {
    const first = await openWs(`${a.url}/ws?user=resumer&resume=1&channel=orders`)
    closers.push(() => first.close())
    await first.inbox.next((message) => message.event === 'realtime:connected')
    const targets = [{}, { user: 'resumer' }, { channel: 'orders' }]
    const publish = (base: string, n: number) =>
      Promise.all(targets.map((target) => post(`${base}/publish`, { ...target, event: 'tick', data: { stream: Object.values(target)[0] ?? 'broadcast', n } })))
    for (let n = 1; n <= 5; n++) await publish(n % 2 ? a.url : b.url, n)
    await eventually(() => first.inbox.items.filter((message) => message.event === 'tick').length === 15, 5000, 'the first 15 ticks')
    const cursors = new Map<string, string>()
    for (const frame of first.inbox.items) {
      if (frame.event === 'realtime:connected')
        for (const entry of String(frame.data.cursor).split(',')) cursors.set(entry.split('=')[0]!, entry.split('=')[1]!)
      else if (frame.id !== undefined) cursors.set(keyOf(frame.channel), frame.id)
    }
    first.close()
    await first.closed
    for (let n = 6; n <= 20; n++) await publish(n % 2 ? a.url : b.url, n)
    const map = [...cursors].map(([key, cursor]) => `${key}=${cursor}`).join(',')
    const second = await openWs(`${b.url}/ws?user=resumer&channel=orders&lastEventId=${encodeURIComponent(map)}`)
    closers.push(() => second.close())
    for (let n = 21; n <= 25; n++) await publish(n % 2 ? a.url : b.url, n)
    const ticks = () => [...first.inbox.items, ...second.inbox.items].filter((message) => message.event === 'tick').map((message) => message.data)
    await eventually(() => ticks().length >= 75, 10_000, 'every tick')
    await sleep(150)
    for (const stream of ['broadcast', 'resumer', 'orders']) {
      expect(
        ticks()
          .filter((tick) => tick.stream === stream)
          .map((tick) => tick.n),
        stream,
      ).toEqual(Array.from({ length: 25 }, (_, index) => index + 1))
    }
    expect(second.inbox.items.some((message) => message.event === 'realtime:gap')).toBe(false)
  })

  it('an EventSource resumes on the other process through lastEventId', async () => {
    const first = openEventSource(`${b.url}/events?channel=sports`, ['tick', 'realtime:connected'])
    closers.push(() => first.close())
    await first.inbox.next((event) => event.event === 'realtime:connected')
    await post(`${a.url}/publish`, { channel: 'sports', event: 'tick', data: 1 })
    const one = await first.inbox.next((event) => event.event === 'tick')
    first.close()
    for (let n = 2; n <= 6; n++) await post(`${n % 2 ? a.url : b.url}/publish`, { channel: 'sports', event: 'tick', data: n })
    const resumed = openEventSource(`${a.url}/events?channel=sports&lastEventId=${encodeURIComponent(one.lastEventId)}`, ['tick', 'realtime:gap'])
    closers.push(() => resumed.close())
    await eventually(() => resumed.inbox.items.filter((event) => event.event === 'tick').length >= 5, 5000, 'the five missed ticks')
    await post(`${b.url}/publish`, { channel: 'sports', event: 'tick', data: 7 })
    await eventually(() => resumed.inbox.items.filter((event) => event.event === 'tick').length >= 6, 5000, 'the live tick')
    await sleep(100)
    expect(resumed.inbox.items.map((event) => `${event.event}:${event.data}`)).toEqual([2, 3, 4, 5, 6, 7].map((n) => `tick:${n}`))
  })

  it('caps connections per user across processes (presence): 429 on upgrade, an error and the end of the stream on SSE', async () => {
    const cap = 4
    for (let index = 0; index < cap; index++) {
      const client = await openWs(`${index % 2 ? b.url : a.url}/ws?user=greedy&resume=1`)
      closers.push(() => client.close())
      // realtime:connected comes once the connection's presence entry is written.
      await client.inbox.next((message) => message.event === 'realtime:connected')
    }
    const refused = await openWs(`${a.url}/ws?user=greedy`).catch((error) => error)
    expect(refused.status).toBe(429)
    const sse = await openSse(`${b.url}/events?user=greedy`)
    closers.push(() => sse.close())
    const error = await sse.inbox.next((event) => event.event === 'realtime:error')
    expect(JSON.parse(error.data).code).toBe('REALTIME_TOO_MANY_CONNECTIONS')
    await sse.done
  })

  it('presence spans processes: snapshot, join and leave across them, one member list', async () => {
    const members = async (base: string) =>
      ((await (await fetch(`${base}/presence?channel=chat`)).json()) as Array<{ userId: string; connections: number }>)
        .map((member) => `${member.userId}:${member.connections}`)
        .sort()
    const watcher = await openWs(`${a.url}/ws?user=watcher`)
    closers.push(() => watcher.close())
    await watcher.subscribe('chat')
    const visitor = await openWs(`${b.url}/ws?user=visitor`)
    closers.push(() => visitor.close())
    await visitor.subscribe('chat')
    const snapshot = await visitor.inbox.next((message) => message.event === 'realtime:presence' && message.data.action === 'snapshot')
    expect(snapshot.data.members.map((member: { userId: string }) => member.userId).sort()).toEqual(['visitor', 'watcher'])
    const joined = await watcher.inbox.next((message) => message.event === 'realtime:presence' && message.data.action === 'join')
    expect(joined.data.member.userId).toBe('visitor')
    // A second tab of the visitor, on the other process: one member with two connections, no new join.
    const tab = await openSse(`${a.url}/events?user=visitor&channel=chat`)
    closers.push(() => tab.close())
    await eventually(async () => (await members(a.url)).includes('visitor:2'), 5000, 'visitor with two connections')
    expect(await members(b.url)).toEqual(await members(a.url))
    tab.close()
    await eventually(async () => (await members(b.url)).includes('visitor:1'), 5000, 'visitor back to one connection')
    visitor.close()
    const left = await watcher.inbox.next((message) => message.event === 'realtime:presence' && message.data.action === 'leave', 5000, 'the leave')
    expect(left.data.member.userId).toBe('visitor')
    expect(watcher.inbox.items.filter((message) => message.event === 'realtime:presence' && message.data.action === 'join')).toHaveLength(1)
    expect(await members(a.url)).toEqual(['watcher:1'])
  })

  it('keeps maxConnections per process', async () => {
    const small = await Promise.all([
      startFixture('node', { url: redis.url, prefix }, { maxConnections: 1 }),
      startFixture(second, { url: redis.url, prefix }, { maxConnections: 1 }),
    ])
    closers.push(() => Promise.all(small.map((server) => server.close())))
    const first = await openWs(`${small[0]!.url}/ws`)
    closers.push(() => first.close())
    const other = await openWs(`${small[1]!.url}/ws`)
    closers.push(() => other.close())
    expect(((await openWs(`${small[0]!.url}/ws`).catch((error) => error)) as { status: number }).status).toBe(503)
  })
})
