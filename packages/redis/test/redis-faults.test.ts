// Faults with real processes: the test's own redis-server is stopped and started again (losing
// everything: no persistence) under two server processes with connected clients. Nothing crashes
// or hangs, local delivery goes on, clients stay connected and get realtime:gap, and cross-process
// delivery comes back by itself.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, openSse, openWs, post, sleep } from '../../../test/helpers/clients.js'
import type { SpawnedServer } from '../../../test/helpers/spawn-server.js'
import { bunAvailable, startFixture } from './helpers/fixtures.js'
import { ownRedis, uniquePrefix } from './helpers/redis.js'
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
    closers.push(() => wsA.close(), () => wsB.close(), () => sseB.close())
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
    expect(wsB.inbox.items.some((message) => message.data === 'during-a'), 'B never got what A published during the outage').toBe(false)
    // Nobody was disconnected, and nothing crashed.
    for (const client of [wsA, wsB]) expect(client.socket.readyState).toBe(client.socket.OPEN)
    expect(`${a.output()}${b.output()}`).not.toMatch(/Unhandled|uncaught|TypeError|ReferenceError/i)
  }, 60_000)
})
