// Faults with real processes: the test's own redis-server is stopped and started again (losing
// everything: no persistence) under two server processes with connected clients. Nothing crashes
// or hangs, local delivery goes on, clients stay connected and get realtime:gap, and cross-process
// delivery comes back by itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, openSse, openWs, post, sleep } from '../../../test/helpers/clients.js'
import type { SpawnedServer } from '../../../test/helpers/spawn-server.js'
import { bunAvailable, startFixture } from './helpers/fixtures.js'
import { deleteKeys, ownRedis, pausableProxy, testRedis, uniquePrefix } from './helpers/redis.js'
// @ts-expect-error plain JavaScript script
import { redisServerBinary } from '../../../scripts/ensure-redis.mjs'

const skip = process.env.REALTIME_REDIS_SKIP ?? (redisServerBinary() ? undefined : 'no redis-server binary')
const second = bunAvailable ? 'bun' : 'node'

describe.skipIf(skip !== undefined)(`Redis restart under two processes (node + ${second})`, () => {
  let redis: Awaited<ReturnType<typeof ownRedis>>
  let a: SpawnedServer
  let b: SpawnedServer
  const closers: Array<() => unknown> = []
  beforeAll(async () => {
    redis = await ownRedis()
    const settings = { url: redis.url, prefix: uniquePrefix('faults'), commandTimeout: 1000 }
    ;[a, b] = await Promise.all([startFixture('node', settings), startFixture(second, settings)])
  }, 60_000)
  afterAll(async () => {
    while (closers.length) await closers.pop()!()
    await Promise.all([a?.close(), b?.close()])
    await redis?.stop()
  })

  it('survives a Redis restart: local delivery meanwhile, gaps after, then cross-process delivery again', async () => {
    const wsA = await openWs(`${a.url}/ws?channel=room&resume=1`)
    const wsB = await openWs(`${b.url}/ws?channel=room&resume=1`)
    const sseB = await openSse(`${b.url}/events?channel=room`)
    closers.push(
      () => wsA.close(),
      () => wsB.close(),
      () => sseB.close(),
    )
    await wsA.inbox.next((message) => message.event === 'realtime:connected')
    await wsB.inbox.next((message) => message.event === 'realtime:connected')
    await sseB.inbox.next((event) => event.event === 'realtime:connected')
    await post(`${a.url}/publish`, { channel: 'room', event: 'tick', data: 'before' })
    await wsB.inbox.next((message) => message.data === 'before')
    const before = (await wsB.inbox.next((message) => message.data === 'before')).id!

    await redis.stop()
    // Publishing answers (no hang) and reaches the publishing process's own clients.
    expect((await post(`${a.url}/publish`, { channel: 'room', event: 'tick', data: 'during-a' })).status).toBe(200)
    expect((await post(`${b.url}/publish`, { channel: 'room', event: 'tick', data: 'during-b' })).status).toBe(200)
    const localA = await wsA.inbox.next((message) => message.data === 'during-a')
    expect(localA.id, 'a message Redis never had carries no cursor').toBeUndefined()
    await wsB.inbox.next((message) => message.data === 'during-b')
    await sseB.inbox.next((event) => event.data === '"during-b"')
    // New connections are still accepted, and the processes still answer.
    const late = await openWs(`${b.url}/ws?channel=room`)
    closers.push(() => late.close())
    for (const server of [a, b]) expect((await fetch(`${server.url}/stats`)).status).toBe(200)

    await redis.restart()
    // Every client of the stream learns that it may have missed something: the history was lost.
    for (const client of [wsA, wsB]) {
      const gap = await client.inbox.next((message) => message.event === 'realtime:gap' && message.data.channel === 'room', 15_000, 'a gap for room')
      expect(gap.data.reason).toBe('epoch')
      expect(gap.data.cursor.split(':')[0]).not.toBe(before.split(':')[0])
    }
    await sseB.inbox.next((event) => event.event === 'realtime:gap', 15_000, 'an SSE gap')
    // Cross-process delivery is back: publish until B's clients see it (A may still be reconnecting).
    let n = 0
    await eventually(
      async () => {
        await post(`${a.url}/publish`, { channel: 'room', event: 'tick', data: `after-${++n}` })
        await sleep(100)
        return wsB.inbox.items.some((message) => String(message.data).startsWith('after-'))
      },
      15_000,
      'delivery from A to B after the restart',
    )
    const after = wsB.inbox.items.filter((message) => String(message.data).startsWith('after-'))
    expect(after[0]!.id!.split(':')[0]).not.toBe(before.split(':')[0])
    expect(
      wsB.inbox.items.some((message) => message.data === 'during-a'),
      'B never got what A published during the outage',
    ).toBe(false)
    // Nobody was disconnected, and nothing crashed.
    for (const client of [wsA, wsB]) expect(client.socket.readyState).toBe(client.socket.OPEN)
    expect(`${a.output()}${b.output()}`).not.toMatch(/Unhandled|uncaught|TypeError|ReferenceError/i)
  }, 60_000)
})

describe.skipIf(skip !== undefined)(`a process cut off from Redis (node + ${second}, through a TCP proxy)`, () => {
  let redis: Awaited<ReturnType<typeof testRedis>>
  let proxyA: Awaited<ReturnType<typeof pausableProxy>>
  let proxyB: Awaited<ReturnType<typeof pausableProxy>>
  let a: SpawnedServer
  let b: SpawnedServer
  const prefix = uniquePrefix('cut')
  const closers: Array<() => unknown> = []
  beforeAll(async () => {
    redis = await testRedis()
    proxyA = await pausableProxy(redis.url!)
    proxyB = await pausableProxy(redis.url!)
    const settings = { prefix, commandTimeout: 1000 }
    ;[a, b] = await Promise.all([startFixture('node', { ...settings, url: proxyA.url }), startFixture(second, { ...settings, url: proxyB.url })])
  }, 60_000)
  afterAll(async () => {
    while (closers.length) await closers.pop()!()
    await Promise.all([a?.close(), b?.close()])
    await Promise.all([proxyA?.close(), proxyB?.close()])
    await deleteKeys(redis.url!, prefix)
    await redis.stop()
  })

  it('B misses nothing while cut off: its clients get every message late, in order, without a gap', async () => {
    const wsB = await openWs(`${b.url}/ws?channel=feed&resume=1`)
    const sseB = await openSse(`${b.url}/events?channel=feed`)
    closers.push(
      () => wsB.close(),
      () => sseB.close(),
    )
    await wsB.inbox.next((message) => message.event === 'realtime:connected')
    await sseB.inbox.next((event) => event.event === 'realtime:connected')
    await post(`${a.url}/publish`, { channel: 'feed', event: 'tick', data: 1 })
    await wsB.inbox.next((message) => message.data === 1)
    proxyB.pause()
    for (let n = 2; n <= 10; n++) await post(`${a.url}/publish`, { channel: 'feed', event: 'tick', data: n })
    proxyB.resume()
    await post(`${a.url}/publish`, { channel: 'feed', event: 'tick', data: 11 })
    await eventually(() => wsB.inbox.items.filter((message) => message.event === 'tick').length >= 11, 15_000, 'all eleven on B')
    await eventually(() => sseB.inbox.items.filter((event) => event.event === 'tick').length >= 11, 15_000, 'all eleven on B (SSE)')
    await sleep(100)
    const expected = Array.from({ length: 11 }, (_, index) => index + 1)
    expect(wsB.inbox.items.filter((message) => message.event === 'tick').map((message) => message.data)).toEqual(expected)
    expect(sseB.inbox.items.filter((event) => event.event === 'tick').map((event) => Number(event.data))).toEqual(expected)
    expect(wsB.inbox.items.some((message) => message.event === 'realtime:gap')).toBe(false)
  }, 60_000)

  it("A publishes while cut off: A's clients get it at once, every client of the stream gets an outage gap afterwards", async () => {
    const wsA = await openWs(`${a.url}/ws?channel=alerts&resume=1`)
    const wsB = await openWs(`${b.url}/ws?channel=alerts&resume=1`)
    closers.push(
      () => wsA.close(),
      () => wsB.close(),
    )
    await wsA.inbox.next((message) => message.event === 'realtime:connected')
    await wsB.inbox.next((message) => message.event === 'realtime:connected')
    await post(`${a.url}/publish`, { channel: 'alerts', event: 'tick', data: 'first' })
    await wsB.inbox.next((message) => message.data === 'first')
    proxyA.pause()
    expect((await post(`${a.url}/publish`, { channel: 'alerts', event: 'tick', data: 'cut' })).status).toBe(200)
    await wsA.inbox.next((message) => message.data === 'cut')
    proxyA.resume()
    for (const client of [wsA, wsB]) {
      const gap = await client.inbox.next((message) => message.event === 'realtime:gap', 15_000, 'an outage gap')
      expect(gap.data).toMatchObject({ channel: 'alerts', reason: 'outage' })
    }
    await post(`${a.url}/publish`, { channel: 'alerts', event: 'tick', data: 'later' })
    await wsB.inbox.next((message) => message.data === 'later')
    const stream = (items: Array<{ event?: string; data?: unknown }>) =>
      items
        .filter((message) => message.event === 'tick' || message.event === 'realtime:gap')
        .map((message) => (message.event === 'tick' ? message.data : message.event))
    expect(stream(wsB.inbox.items)).toEqual(['first', 'realtime:gap', 'later'])
    // A later client resuming from before the outage, on either process, gets the gap from the history too.
    const cursor = wsB.inbox.items.find((message) => message.data === 'first')!.id!
    const resumed = await openWs(`${b.url}/ws`)
    closers.push(() => resumed.close())
    resumed.send({ event: 'realtime:subscribe', data: { channel: 'alerts', cursor } })
    await resumed.inbox.next((message) => message.data === 'later')
    expect(stream(resumed.inbox.items)).toEqual(['realtime:gap', 'later'])
  }, 60_000)
})
