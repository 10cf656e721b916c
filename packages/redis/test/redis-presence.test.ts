// Cluster-wide presence against a real redis-server: entries of every process, removal, expiry of
// a process that stopped refreshing, and entries written again after Redis lost them.
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { eventually, sleep } from '../../../test/helpers/clients.js'
import { redisBroker } from '../src/index.js'
import { brokers, deleteKeys, pausableProxy, testRedis, uniquePrefix, type TestRedis } from './helpers/redis.js'

const redis: TestRedis = await testRedis()

describe.skipIf(redis.skip !== undefined)('redis presence', () => {
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
  const byId = (entries: Array<{ connectionId: string }>) => [...entries].sort((x, y) => x.connectionId.localeCompare(y.connectionId))

  it('lists the entries of every process; remove answers whether the entry existed', async () => {
    prefix = uniquePrefix('presence')
    const a = await pool.create()
    const b = await pool.create()
    await a.broker.presence.add('channel:room', { connectionId: 'a1', userId: 'alice', data: { color: 'red' } })
    await b.broker.presence.add('channel:room', { connectionId: 'b1', userId: 'bob' })
    await b.broker.presence.add('user:bob', { connectionId: 'b1', userId: 'bob' })
    expect(byId(await a.broker.presence.list('channel:room'))).toEqual([
      { connectionId: 'a1', userId: 'alice', data: { color: 'red' } },
      { connectionId: 'b1', userId: 'bob' },
    ])
    expect(await a.broker.presence.list('user:bob')).toEqual([{ connectionId: 'b1', userId: 'bob' }])
    expect(await a.broker.presence.remove('channel:room', 'b1')).toBe(true)
    expect(await a.broker.presence.remove('channel:room', 'b1')).toBe(false)
    expect(await b.broker.presence.list('channel:room')).toEqual([{ connectionId: 'a1', userId: 'alice', data: { color: 'red' } }])
    expect(await b.broker.presence.list('channel:nobody')).toEqual([])
  })

  it('reports an outage once: not each refresh or sweep of presence that failed meanwhile, nor a sweep before the first connect', async () => {
    prefix = uniquePrefix('presence-quiet')
    const proxy = await pausableProxy(redis.url!)
    const errors: string[] = []
    const broker = redisBroker({
      url: proxy.url,
      prefix,
      commandTimeout: 500,
      presence: { ttl: 600, refresh: 150 },
      onError: (error) => errors.push(error.message),
    })
    try {
      // As the hub does when it is created, before Redis answered: listening starts the sweeper.
      const stop = broker.presence.onExpired!(() => {})
      await broker.ready()
      await broker.presence.add('channel:room', { connectionId: 'a1' })
      await sleep(300)
      expect(errors, 'before the first connect').toEqual([])
      proxy.pause()
      await eventually(() => !broker.connected, 5000, 'the outage noticed')
      // About ten refreshes and several sweeps fail meanwhile.
      await sleep(1500)
      proxy.resume()
      await eventually(() => broker.connected, 20_000, 'reconnected')
      await eventually(async () => (await admin.hkeys(`${prefix}:presence:{channel:room}`)).join() === 'a1', 5000, 'the entry written again')
      expect(
        errors.filter((message) => message.startsWith('presence')),
        errors.join('; '),
      ).toEqual([])
      expect(errors.length, errors.join('; ')).toBeLessThanOrEqual(1)
      expect(broker.outages).toBe(1)
      stop()
    } finally {
      await broker.close()
      await proxy.close()
    }
  })

  it("drops a process's entries once it stops refreshing (crash or cut off), and deletes them", async () => {
    prefix = uniquePrefix('presence-expiry')
    const proxy = await pausableProxy(redis.url!)
    try {
      const presence = { ttl: 600, refresh: 150 }
      const a = await pool.create({ presence })
      const b = await pool.create({ presence, url: proxy.url })
      await a.broker.presence.add('channel:room', { connectionId: 'a1' })
      await b.broker.presence.add('channel:room', { connectionId: 'b1' })
      expect(await a.broker.presence.list('channel:room')).toHaveLength(2)
      // b is cut off from Redis and cannot refresh: after the ttl its entries are gone for everyone.
      proxy.pause()
      await eventually(async () => (await a.broker.presence.list('channel:room')).length === 1, 5000, "b's entry to expire")
      expect(await a.broker.presence.list('channel:room')).toEqual([{ connectionId: 'a1' }])
      // a's sweeper claims b and deletes its entries.
      await eventually(async () => (await admin.hkeys(`${prefix}:presence:{channel:room}`)).join() === 'a1', 5000, "b's entry deleted")
      // b comes back: it writes its entries again.
      proxy.resume()
      await eventually(async () => (await a.broker.presence.list('channel:room')).length === 2, 10_000, "b's entry to come back")
    } finally {
      await proxy.close()
    }
  })

  it('writes its entries again when Redis lost them', async () => {
    prefix = uniquePrefix('presence-lost')
    const a = await pool.create({ presence: { ttl: 2000, refresh: 100 } })
    await a.broker.presence.add('user:carol', { connectionId: 'c1', userId: 'carol' })
    await admin.del(`${prefix}:presence:{user:carol}`)
    await admin.zrem(`${prefix}:owners`, a.broker.processId)
    expect(await a.broker.presence.list('user:carol')).toEqual([])
    await eventually(async () => (await a.broker.presence.list('user:carol')).length === 1, 5000, 'the entry written again')
  })

  it('on close, its entries stop being listed at once', async () => {
    prefix = uniquePrefix('presence-close')
    const a = await pool.create()
    const b = await pool.create()
    await a.broker.presence.add('channel:room', { connectionId: 'a1' })
    await b.broker.presence.add('channel:room', { connectionId: 'b1' })
    await a.broker.close()
    expect(await b.broker.presence.list('channel:room')).toEqual([{ connectionId: 'b1' }])
  })
})
