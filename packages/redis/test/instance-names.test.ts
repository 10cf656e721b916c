// Instance names on Redis (issue #21): instances of different names stay apart on one Redis prefix,
// within a process (one redisBroker each, or one shared) and across processes, while the instances
// of one name in several processes are one application. A default name taken twice on one prefix
// in one process fails at createRealtime instead of leaking.
import { createRealtime, RealtimeError } from '@loewen-digital/realtime-core'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually, openSse, openWs, post } from '../../../test/helpers/clients.js'
import type { SpawnedServer } from '../../../test/helpers/spawn-server.js'
import { redisNamespace } from '../src/_namespace.js'
import { redisBroker } from '../src/index.js'
import { bunAvailable, startFixture } from './helpers/fixtures.js'
import { startProcess, type Process } from './helpers/hubs.js'
import { deleteKeys, testRedis, uniquePrefix, type TestRedis } from './helpers/redis.js'

const redis: TestRedis = await testRedis()
const prefixes: string[] = []
const prefix = (name: string) => {
  const made = uniquePrefix(name)
  prefixes.push(made)
  return made
}
afterAll(async () => {
  if (redis.url) for (const made of prefixes) await deleteKeys(redis.url, made)
  await redis.stop()
})

describe('the Redis namespace (Broker.namespace)', () => {
  it('is host, port, db and prefix, without credentials; ioredis options win over the url, as in ioredis', async () => {
    expect(redisNamespace('redis://user:secret@cache.internal:6380/2', undefined, 'app')).toBe('redis cache.internal:6380/2 app')
    expect(redisNamespace('rediss://cache.internal', undefined, 'realtime')).toBe('redis cache.internal:6379/0 realtime')
    expect(redisNamespace('redis://127.0.0.1:6379', { host: 'other', port: 7000, db: 1 }, 'p')).toBe('redis other:7000/1 p')
    const broker = redisBroker({ url: 'redis://127.0.0.1:1/4', prefix: 'x', onError: () => {} })
    expect(broker.namespace).toBe('redis 127.0.0.1:1/4 x')
    await broker.close()
  })
})

describe.skipIf(redis.skip !== undefined)('instance names on one Redis prefix, in one process', () => {
  const cleanup: Array<() => unknown> = []
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!()
  })
  const started = async (...args: Parameters<typeof startProcess>): Promise<Process> => {
    const next = await startProcess(...args)
    cleanup.push(() => next.close())
    return next
  }

  it("keeps the SSE and the WebSocket instance apart, each on its own redisBroker (before names, each got the other's broadcasts)", async () => {
    const options = { url: redis.url, prefix: prefix('names-apart') }
    // No names: the defaults, 'sse' and 'websocket' (the module docs' two instances).
    const sse = await started(options, { driver: 'sse', name: undefined })
    const ws = await started(options, { driver: 'websocket', name: undefined })
    const onSse = await sse.client('news')
    const onWs = await ws.client('news')
    await sse.tick('news', 'sse-news')
    await ws.tick('news', 'ws-news')
    await sse.realtime.broadcast({ event: 'tick', data: 'sse-all' })
    await ws.realtime.broadcast({ event: 'tick', data: 'ws-all' })
    await sse.tick('news', 'sse-end')
    await ws.tick('news', 'ws-end')
    await eventually(() => onSse.ticks().includes('sse-end') && onWs.ticks().includes('ws-end'), 5000, 'both markers')
    expect([...onSse.ticks()].sort()).toEqual(['sse-all', 'sse-end', 'sse-news'])
    expect([...onWs.ticks()].sort()).toEqual(['ws-all', 'ws-end', 'ws-news'])
  })

  it('refuses a default name taken twice on one prefix in one process; one given on purpose is one application', async () => {
    const options = { url: redis.url, prefix: prefix('names-clash') }
    await started(options, { name: undefined })
    const broker = redisBroker({ ...options, onError: () => {} })
    cleanup.push(() => broker.close())
    let code: string | undefined
    try {
      createRealtime({ broker })
    } catch (error) {
      code = RealtimeError.isInstance(error) ? error.code : String(error)
    }
    expect(code).toBe('REALTIME_NAME_IN_USE')
    // The same name, given explicitly to both: the same application, as in two processes.
    const a = await started(options, { name: 'app' })
    const b = await started(options, { name: 'app' })
    const onB = await b.client('news')
    await a.tick('news', 'from-a')
    await eventually(() => onB.ticks().includes('from-a'), 5000, "a's tick on b")
  })
})

describe.skipIf(redis.skip !== undefined)(`instance names across processes (node + ${bunAvailable ? 'bun' : 'node'}) on Redis`, () => {
  const closers: Array<() => unknown> = []
  let servers: SpawnedServer[] = []
  afterAll(async () => {
    while (closers.length) await closers.pop()!()
    await Promise.all(servers.map((server) => server.close()))
  })

  it("reaches the connections of the same name in every process, and no other name's", async () => {
    const options = { url: redis.url, prefix: prefix('names-cross') }
    servers = await Promise.all([startFixture('node', options), startFixture(bunAvailable ? 'bun' : 'node', options)])
    const [a, b] = servers as [SpawnedServer, SpawnedServer]
    // The fixture's two instances share the process's broker: `realtime` (default name) and `limited`.
    const clients = {
      mainA: await openSse(`${a.url}/events?user=ann&channel=news`),
      limitedA: await openWs(`${a.url}/limited/ws?user=ann&channel=news&resume=1`),
      mainB: await openWs(`${b.url}/ws?user=ann&channel=news&resume=1`),
      limitedB: await openSse(`${b.url}/limited/events?user=ann&channel=news`),
    }
    closers.push(...Object.values(clients).map((client) => () => client.close()))
    const events = (client: (typeof clients)[keyof typeof clients]) => (client.inbox.items as Array<{ event?: string }>).map((item) => item.event ?? '')
    for (const client of Object.values(clients)) await eventually(() => events(client).includes('realtime:connected'), 5000, 'connected')
    for (const target of [{}, { user: 'ann' }, { channel: 'news' }]) {
      await post(`${b.url}/limited/publish`, { ...target, event: 'for-limited', data: target })
      await post(`${a.url}/publish`, { ...target, event: 'for-main', data: target })
    }
    await post(`${b.url}/limited/publish`, { event: 'marker', data: null })
    await post(`${a.url}/publish`, { event: 'marker', data: null })
    const application = (client: (typeof clients)[keyof typeof clients]) => events(client).filter((event) => !event.startsWith('realtime:'))
    for (const [name, client] of Object.entries(clients)) {
      await eventually(() => application(client).length >= 4, 5000, `${name}: its instance's three messages and the marker`)
    }
    const own = (event: string) => [event, event, event, 'marker'].sort()
    expect(application(clients.mainA).sort()).toEqual(own('for-main'))
    expect(application(clients.mainB).sort()).toEqual(own('for-main'))
    expect(application(clients.limitedA).sort()).toEqual(own('for-limited'))
    expect(application(clients.limitedB).sort()).toEqual(own('for-limited'))
  })
})
