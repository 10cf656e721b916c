// The Redis broker against a real redis-server: offsets, fan-out only to interested processes,
// shared history, ordering without holes across reconnects, gap notices, history off.
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import type { BrokerMessage } from '@loewen-digital/realtime-core'
import { eventually, sleep } from '../../../test/helpers/clients.js'
import { redisBroker } from '../src/index.js'
import { brokers, deleteKeys, offsets, pausableProxy, testRedis, uniquePrefix, type TestRedis } from './helpers/redis.js'

const redis: TestRedis = await testRedis()
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index)

describe.skipIf(redis.skip !== undefined)('redis broker', () => {
  let prefix: string
  let admin: Redis
  const pool = brokers(() => ({ url: redis.url, prefix }))
  beforeAll(() => {
    admin = new Redis(redis.url!)
  })
  afterEach(async () => {
    await pool.closeAll()
    await deleteKeys(redis.url!, prefix)
  })
  afterAll(async () => {
    admin.disconnect()
    await redis.stop()
  })
  const fresh = (name: string) => (prefix = uniquePrefix(name))

  it('assigns one epoch and consecutive offsets per stream, and every process receives them', async () => {
    fresh('offsets')
    const a = await pool.create()
    const b = await pool.create()
    b.broker.addTopic!('channel:news')
    a.broker.addTopic!('channel:news')
    await b.broker.position!('channel:news')
    await a.broker.position!('channel:news')
    const published = { topic: 'channel:news', event: 'tick', data: { n: 1 } } as Parameters<typeof a.broker.publish>[0]
    await a.broker.publish(published)
    expect(published.offset).toBe(1)
    expect(published.epoch).toMatch(/^[a-z0-9]{12}$/)
    await b.broker.publish({ topic: 'channel:news', event: 'tick', data: { n: 2 } })
    await a.broker.publish({ topic: 'broadcast', event: 'hello', data: 'all', except: 'conn-1' })
    for (const side of [a, b]) {
      await eventually(() => side.of('channel:news').length === 2 && side.of('broadcast').length === 1, 5000, 'both messages')
      expect(side.of('channel:news').map((message) => [message.offset, (message.data as { n: number }).n, message.epoch])).toEqual([
        [1, 1, published.epoch],
        [2, 2, published.epoch],
      ])
      expect(side.of('broadcast')[0]).toMatchObject({ event: 'hello', data: 'all', except: 'conn-1', offset: 1 })
    }
    expect(a.errors).toEqual([])
  })

  it('subscribes a process only to the pub/sub channels of topics it has connections in', async () => {
    fresh('interest')
    const a = await pool.create({ unsubscribeDelay: 50 })
    const b = await pool.create()
    const channel = `${prefix}:topic:{channel:only-a}`
    a.broker.addTopic!('channel:only-a')
    await a.broker.position!('channel:only-a')
    expect(await admin.pubsub('NUMSUB', channel)).toEqual([channel, 1])
    await b.broker.publish({ topic: 'channel:only-a', event: 'x', data: 1 })
    await eventually(() => a.of('channel:only-a').length === 1, 5000, 'a receives')
    await b.broker.publish({ topic: 'broadcast', event: 'marker', data: 1 })
    await eventually(() => b.of('broadcast').length === 1, 5000, 'b receives the marker')
    expect(b.of('channel:only-a')).toEqual([])
    // Two local connections, then both leave: unsubscribed only after the last.
    a.broker.addTopic!('channel:only-a')
    a.broker.removeTopic!('channel:only-a')
    await sleep(50)
    expect(await admin.pubsub('NUMSUB', channel)).toEqual([channel, 1])
    a.broker.removeTopic!('channel:only-a')
    await eventually(async () => ((await admin.pubsub('NUMSUB', channel)) as [string, number])[1] === 0, 5000, 'unsubscribed')
    expect(await admin.pubsub('NUMSUB', `${prefix}:topic:{broadcast}`)).toEqual([`${prefix}:topic:{broadcast}`, 2])
  })

  it('shares history: a position taken in one process resumes in another, with gaps for window and epoch', async () => {
    fresh('history')
    const a = await pool.create({ history: { size: 5, ttl: 60_000 } })
    const b = await pool.create({ history: { size: 5, ttl: 60_000 } })
    const start = (await a.broker.position!('user:42'))!
    expect(start.offset).toBe(0)
    for (let n = 1; n <= 3; n++) await a.broker.publish({ topic: 'user:42', event: 'tick', data: n })
    const replay = await b.broker.history!('user:42', start)
    expect(replay.ok && replay.messages.map((message) => [message.offset, message.data, message.epoch])).toEqual([
      [1, 1, start.epoch],
      [2, 2, start.epoch],
      [3, 3, start.epoch],
    ])
    expect(await b.broker.history!('user:42', { epoch: start.epoch, offset: 3 })).toEqual({ ok: true, messages: [] })
    for (let n = 4; n <= 9; n++) await b.broker.publish({ topic: 'user:42', event: 'tick', data: n })
    expect(await a.broker.history!('user:42', { epoch: start.epoch, offset: 3 })).toEqual({
      ok: false,
      reason: 'window',
      position: { epoch: start.epoch, offset: 9 },
    })
    const tail = await a.broker.history!('user:42', { epoch: start.epoch, offset: 4 })
    expect(tail.ok && tail.messages.map((message) => message.data)).toEqual([5, 6, 7, 8, 9])
    expect(await a.broker.history!('user:42', { epoch: 'otherepoch', offset: 3 })).toMatchObject({ ok: false, reason: 'epoch' })
    expect(await a.broker.history!('user:42', { epoch: start.epoch, offset: 99 })).toMatchObject({ ok: false, reason: 'epoch' })
    // Redis loses the stream: a new epoch, and the old cursor gets an epoch gap.
    await admin.del(`${prefix}:meta:{user:42}`, `${prefix}:stream:{user:42}`)
    const after = (await b.broker.position!('user:42'))!
    expect(after.epoch).not.toBe(start.epoch)
    expect(await a.broker.history!('user:42', { epoch: start.epoch, offset: 9 })).toEqual({
      ok: false,
      reason: 'epoch',
      position: { epoch: after.epoch, offset: 0 },
    })
  })

  it('gives a window gap for messages older than the ttl', async () => {
    fresh('ttl')
    const a = await pool.create({ history: { size: 100, ttl: 200 } })
    const start = (await a.broker.position!('channel:short'))!
    await a.broker.publish({ topic: 'channel:short', event: 'tick', data: 1 })
    expect(await a.broker.history!('channel:short', start)).toMatchObject({ ok: true })
    await sleep(400)
    await a.broker.publish({ topic: 'channel:short', event: 'tick', data: 2 })
    expect(await a.broker.history!('channel:short', start)).toMatchObject({ ok: false, reason: 'window', position: { offset: 2 } })
    const recent = await a.broker.history!('channel:short', { epoch: start.epoch, offset: 1 })
    expect(recent.ok && recent.messages.map((message) => message.data)).toEqual([2])
  })

  it('delivers every stream in offset order without holes when two processes publish at once', async () => {
    fresh('race')
    const a = await pool.create()
    const b = await pool.create()
    const c = await pool.create()
    await c.broker.position!('broadcast')
    const count = 200
    await Promise.all([
      Promise.all(range(1, count).map((n) => a.broker.publish({ topic: 'broadcast', event: 'a', data: n }))),
      Promise.all(range(1, count).map((n) => b.broker.publish({ topic: 'broadcast', event: 'b', data: n }))),
    ])
    for (const side of [a, b, c]) {
      await eventually(() => side.of('broadcast').length >= 2 * count, 10_000, 'every message')
      expect(offsets(side.of('broadcast'))).toEqual(range(1, 2 * count))
      expect(
        side
          .of('broadcast')
          .filter((message) => message.event === 'a')
          .map((message) => message.data),
      ).toEqual(range(1, count))
    }
  })

  it('fills what a process missed while cut off from Redis from the stream: nothing lost, nothing twice', async () => {
    fresh('fill')
    const proxy = await pausableProxy(redis.url!)
    try {
      const a = await pool.create()
      const b = await pool.create({ url: proxy.url })
      b.broker.addTopic!('channel:live')
      await b.broker.position!('channel:live')
      for (let n = 1; n <= 5; n++) await a.broker.publish({ topic: 'channel:live', event: 'tick', data: n })
      await eventually(() => b.of('channel:live').length === 5, 5000, 'first five')
      proxy.pause()
      await eventually(() => !b.broker.connected, 5000, 'b notices the cut')
      for (let n = 6; n <= 20; n++) await a.broker.publish({ topic: 'channel:live', event: 'tick', data: n })
      proxy.resume()
      await eventually(() => b.broker.connected, 10_000, 'b reconnects')
      for (let n = 21; n <= 25; n++) await a.broker.publish({ topic: 'channel:live', event: 'tick', data: n })
      await eventually(() => b.of('channel:live').length >= 25, 10_000, 'all 25')
      await sleep(100)
      expect(b.of('channel:live').map((message) => message.data)).toEqual(range(1, 25))
      expect(b.of('channel:live').some((message) => message.gap !== undefined)).toBe(false)
      expect(b.errors.length, 'the outage was reported').toBeGreaterThan(0)
    } finally {
      await proxy.close()
    }
  })

  it('answers identical resumes in flight or just answered with one read, but not once a newer message reached the process', async () => {
    fresh('shared-reads')
    const proxy = await pausableProxy(redis.url!)
    const monitor = await admin.monitor()
    try {
      const a = await pool.create({ url: proxy.url })
      const b = await pool.create()
      a.broker.addTopic!('channel:storm')
      await a.broker.position!('channel:storm')
      for (let n = 1; n <= 3; n++) await b.broker.publish({ topic: 'channel:storm', event: 'tick', data: n })
      await eventually(() => a.of('channel:storm').length === 3, 5000, 'three messages')
      const epoch = a.of('channel:storm')[0]!.epoch!
      const resume = (offset: number) => a.broker.history!('channel:storm', { epoch, offset })
      const replayed = async (result: ReturnType<typeof resume>) => {
        const answer = await result
        return answer.ok ? answer.messages.map((message) => message.data) : answer.reason
      }
      const scripts: string[][] = []
      monitor.on('monitor', (_time: string, args: string[]) => {
        if (/^eval/i.test(args[0] ?? '') && args.some((arg) => arg.includes('channel:storm'))) scripts.push(args)
      })
      const scriptsSettled = async (count: number, what: string) => {
        await eventually(() => scripts.length >= count, 5000, what)
        await sleep(100)
        expect(scripts.length, what).toBe(count)
      }
      await sleep(50)
      // A reconnect storm: 50 clients resume the stream from the same message at once, then one
      // more a moment later.
      const storm = await Promise.all(Array.from({ length: 50 }, () => replayed(resume(1))))
      expect(storm).toEqual(Array.from({ length: 50 }, () => [2, 3]))
      expect(await replayed(resume(1))).toEqual([2, 3])
      await scriptsSettled(1, 'one read for the 51 resumes')
      // The reply is not reused after a second.
      await sleep(1100)
      expect(await replayed(resume(1))).toEqual([2, 3])
      await scriptsSettled(2, 'a read of its own a second later')
      // A read in flight (its reply held), then message 4 reaches this process: a resume asked for
      // now must not be given the older reply (message 4 reached the hub before its connection
      // followed the stream, so only the read can give it to that connection).
      proxy.holdReplies()
      const early = replayed(resume(0))
      await eventually(() => scripts.length === 3, 5000, 'the early read ran in Redis')
      await b.broker.publish({ topic: 'channel:storm', event: 'tick', data: 4 })
      await eventually(() => a.of('channel:storm').length === 4, 5000, 'message 4 handed over')
      const late = replayed(resume(0))
      await sleep(50)
      proxy.releaseReplies()
      expect(await early).toEqual([1, 2, 3])
      expect(await late).toEqual([1, 2, 3, 4])
      expect(a.errors).toEqual([])
    } finally {
      proxy.releaseReplies()
      monitor.disconnect()
      await proxy.close()
    }
  })

  it('turns what the stream no longer has into a window gap notice, then goes on', async () => {
    fresh('window-notice')
    const proxy = await pausableProxy(redis.url!)
    try {
      const history = { size: 5, ttl: 60_000 }
      const a = await pool.create({ history })
      const b = await pool.create({ url: proxy.url, history })
      await b.broker.position!('broadcast')
      await a.broker.publish({ topic: 'broadcast', event: 'tick', data: 1 })
      await eventually(() => b.of('broadcast').length === 1, 5000, 'first')
      proxy.pause()
      await eventually(() => !b.broker.connected, 5000, 'b notices the cut')
      // Approximate trimming keeps at least `size` entries; publish far more than one stream node holds.
      for (let n = 2; n <= 400; n++) await a.broker.publish({ topic: 'broadcast', event: 'tick', data: n })
      proxy.resume()
      await a.broker.publish({ topic: 'broadcast', event: 'tick', data: 401 })
      await eventually(() => b.of('broadcast').some((message) => message.data === 401), 10_000, 'the live message after the outage').catch((error) => {
        console.log(b.broker.connected, b.errors, JSON.stringify(b.of('broadcast').slice(-5)))
        throw error
      })
      const received = b.of('broadcast')
      const notice = received.find((message) => message.gap !== undefined)!
      expect(notice).toMatchObject({ gap: 'window', event: 'realtime:gap' })
      const afterNotice = received.slice(received.indexOf(notice) + 1)
      expect(afterNotice.map((message) => message.offset)).toEqual(range(notice.offset! + 1, 401))
      expect(received.slice(0, received.indexOf(notice)).map((message) => message.offset)).toEqual([1])
    } finally {
      await proxy.close()
    }
  })

  it('while Redis is unreachable: publishes reach local connections without a cursor; afterwards every process gets an outage notice', async () => {
    fresh('outage')
    const proxy = await pausableProxy(redis.url!)
    try {
      const a = await pool.create({ url: proxy.url })
      const b = await pool.create()
      await b.broker.position!('channel:room')
      b.broker.addTopic!('channel:room')
      a.broker.addTopic!('channel:room')
      await a.broker.position!('channel:room')
      await b.broker.position!('channel:room')
      await a.broker.publish({ topic: 'channel:room', event: 'tick', data: 1 })
      proxy.pause()
      await eventually(() => !a.broker.connected, 5000, 'a notices the cut')
      const local = { topic: 'channel:room', event: 'tick', data: 2 }
      await a.broker.publish(local)
      expect(a.of('channel:room').at(-1)).toMatchObject({ data: 2 })
      expect(a.of('channel:room').at(-1)!.offset).toBeUndefined()
      expect(a.errors.some((error) => error.includes('unreachable') || error.includes('Redis'))).toBe(true)
      proxy.resume()
      await eventually(() => a.broker.connected, 10_000, 'a reconnects')
      for (const side of [a, b]) await eventually(() => side.of('channel:room').some((message) => message.gap === 'outage'), 10_000, 'outage notice')
      expect(b.of('channel:room').map((message) => [message.offset, message.gap ?? message.data])).toEqual([
        [1, 1],
        [2, 'outage'],
      ])
      await a.broker.publish({ topic: 'channel:room', event: 'tick', data: 3 })
      await eventually(() => b.of('channel:room').length === 3, 5000, 'live again')
      expect(b.of('channel:room')[2]).toMatchObject({ offset: 3, data: 3 })
    } finally {
      await proxy.close()
    }
  })

  it('publishes ephemeral messages (presence updates) without storing them or giving them a cursor', async () => {
    fresh('ephemeral')
    const a = await pool.create()
    const b = await pool.create()
    b.broker.addTopic!('presence:chat')
    b.broker.addTopic!('channel:chat')
    await b.broker.position!('channel:chat')
    await a.broker.publish({ topic: 'presence:chat', event: 'realtime:presence', data: { action: 'join' }, ephemeral: true })
    await a.broker.publish({ topic: 'channel:chat', event: 'realtime:presence', data: { action: 'leave' }, ephemeral: true })
    await a.broker.publish({ topic: 'channel:chat', event: 'say', data: 'hi' })
    await eventually(() => b.of('channel:chat').length === 2 && b.of('presence:chat').length === 1, 5000, 'all three')
    expect(b.of('presence:chat')[0]).toEqual({ topic: 'presence:chat', event: 'realtime:presence', data: { action: 'join' }, ephemeral: true })
    expect(b.of('channel:chat').map((message) => [message.event, message.offset])).toEqual([
      ['realtime:presence', undefined],
      ['say', 1],
    ])
    expect(await admin.exists(`${prefix}:stream:{presence:chat}`, `${prefix}:meta:{presence:chat}`)).toBe(0)
  })

  it('starts without Redis: publishes reach local connections after at most commandTimeout, and it connects once Redis is there', async () => {
    fresh('late-redis')
    const proxy = await pausableProxy(redis.url!)
    proxy.pause()
    try {
      const errors: string[] = []
      const broker = redisBroker({ url: proxy.url, prefix, commandTimeout: 300, onError: (error) => errors.push(error.message) })
      const received: BrokerMessage[] = []
      broker.subscribe((message) => received.push(message))
      broker.addTopic!('broadcast')
      await expect(broker.ready()).rejects.toMatchObject({ code: 'REALTIME_TRANSPORT_ERROR' })
      // A connection arriving now gets no position: it must learn about the outage later.
      await expect(broker.position!('broadcast')).rejects.toMatchObject({ code: 'REALTIME_TRANSPORT_ERROR' })
      await broker.publish({ topic: 'broadcast', event: 'early', data: 1 })
      expect(received).toEqual([{ topic: 'broadcast', event: 'early', data: 1 }])
      expect(errors.length).toBeGreaterThan(0)
      proxy.resume()
      await eventually(() => broker.connected, 10_000, 'connected once Redis answers')
      await eventually(() => received.some((message) => message.gap === 'outage'), 5000, 'the outage notice')
      await broker.publish({ topic: 'broadcast', event: 'late', data: 2 })
      await eventually(() => received.some((message) => message.event === 'late'), 5000, 'live delivery')
      expect(received.at(-1)).toMatchObject({ event: 'late' })
      expect(received.filter((message) => message.gap !== undefined).map((message) => message.gap)).toEqual(['outage'])
      await broker.close()
    } finally {
      await proxy.close()
    }
  })

  it('without history: no cursors, no position, resume is disabled, fan-out still works', async () => {
    fresh('no-history')
    const a = await pool.create({ history: false })
    const b = await pool.create({ history: false })
    expect(a.broker.keepsHistory).toBe(false)
    expect(await a.broker.position!('broadcast')).toBeUndefined()
    expect(await a.broker.history!('broadcast', { epoch: 'x', offset: 1 })).toEqual({ ok: false, reason: 'disabled' })
    b.broker.addTopic!('channel:plain')
    await sleep(100)
    await a.broker.publish({ topic: 'channel:plain', event: 'tick', data: 1 })
    await eventually(() => b.of('channel:plain').length === 1, 5000, 'delivered')
    expect(b.of('channel:plain')[0]).toEqual({ topic: 'channel:plain', event: 'tick', data: 1 })
    expect(await admin.exists(`${prefix}:stream:{channel:plain}`)).toBe(0)
  })

  it('refuses invalid options with REALTIME_INVALID_OPTION', async () => {
    fresh('options')
    await expect(pool.create({ history: { size: 0 } })).rejects.toMatchObject({ code: 'REALTIME_INVALID_OPTION' })
    await expect(pool.create({ commandTimeout: -1 })).rejects.toMatchObject({ code: 'REALTIME_INVALID_OPTION' })
  })
})
