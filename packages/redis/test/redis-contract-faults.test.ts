// The four faults of Redis itself that used to break the delivery contract, each against a
// redis-server the test starts on its own port (never the shared one), with two hubs ("processes")
// on it and SSE clients read from the hubs: every message is delivered once, in order per
// publisher, or the client is told with realtime:gap; a process never stays silently behind.
import { Redis } from 'ioredis'
import { afterEach, describe, expect, it } from 'vitest'
import type { BrokerMessage } from '@loewen-digital/realtime-core'
import { eventually, sleep } from '../../../test/helpers/clients.js'
import { brokers, pausableProxy, uniquePrefix } from './helpers/redis.js'
import { ownRedisServer, type OwnRedisServer } from './helpers/redis-server.js'
import { duplicates, startProcess, type Client, type Process } from './helpers/hubs.js'
// @ts-expect-error plain JavaScript script
import { redisServerBinary } from '../../../scripts/ensure-redis.mjs'

const skip = process.env.REALTIME_REDIS_SKIP ?? (redisServerBinary() ? undefined : 'no redis-server binary')
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, index) => from + index)

describe.skipIf(skip !== undefined)('the Redis broker under the faults Redis really has', () => {
  const cleanup: Array<() => unknown> = []
  afterEach(async () => {
    while (cleanup.length) await cleanup.pop()!()
  })
  async function server(): Promise<OwnRedisServer> {
    const started = await ownRedisServer()
    cleanup.push(() => started.stop())
    return started
  }
  async function processes(count: number, options: Parameters<typeof startProcess>[0]): Promise<Process[]> {
    const started: Process[] = []
    for (let index = 0; index < count; index++) {
      const next = await startProcess(options)
      cleanup.push(() => next.close())
      started.push(next)
    }
    return started
  }
  const received = (clients: Client[], values: unknown[]) => () => clients.every((client) => values.every((value) => client.ticks().includes(value)))

  it('Redis back with older data (a snapshot): the stream starts over with a new epoch, live and on resume', async () => {
    const redis = await server()
    const [a, b] = await processes(2, { url: redis.url, prefix: uniquePrefix('rollback'), commandTimeout: 1000 })
    const clients = [await a!.client('room'), await b!.client('room')]
    for (const n of range(1, 10)) await (n % 2 ? a! : b!).tick('room', n)
    await eventually(received(clients, range(1, 10)), 10_000, 'ticks 1-10')
    await redis.save()
    for (const n of range(11, 20)) await (n % 2 ? a! : b!).tick('room', n)
    await eventually(received(clients, range(11, 20)), 10_000, 'ticks 11-20')
    const cursorAt15 = clients[1]!.idOf(15)!
    // Redis dies and comes back from its snapshot: the stream's offset is 10 again, same epoch.
    await redis.restart()
    await eventually(() => a!.broker.connected && b!.broker.connected, 20_000, 'both reconnected')
    for (const n of range(21, 30)) await a!.tick('room', n)
    await eventually(received(clients, range(21, 30)), 15_000, 'ticks 21-30 at every client (before the fix: dropped as duplicates, no gap)')
    for (const client of clients) {
      expect(client.ticks()).toEqual(range(1, 30))
      const gaps = client.gaps().filter((gap) => gap.channel === 'room')
      expect(gaps.map((gap) => gap.reason)).toEqual(['epoch'])
      // The gap comes before the first message of the new epoch.
      const order = client.events
        .filter((event) => (event.event === 'realtime:gap' && event.data.channel === 'room') || event.data === 21)
        .map((event) => event.event)
      expect(order).toEqual(['realtime:gap', 'tick'])
    }
    // A client that had read up to 15 before the crash resumes: an epoch gap, not messages 26-30
    // passed off as 16-20.
    const resumed = await b!.client('room', cursorAt15)
    await eventually(() => resumed.gaps().length > 0, 10_000, 'a gap for the resumed client')
    expect(resumed.gaps()[0]!.reason).toBe('epoch')
    expect(resumed.ticks()).toEqual([])
    await a!.tick('room', 31)
    await eventually(() => resumed.ticks().includes(31), 10_000, 'live after the gap')
    expect(resumed.ticks()).toEqual([31])
  }, 90_000)

  it('older data under live connections (a replica promoted behind a proxy): a live duplicate starts the stream over', async () => {
    const redis = await server()
    const prefix = uniquePrefix('rollback-live')
    const [a] = await processes(1, { url: redis.url, prefix, commandTimeout: 1000 })
    const client = await a!.client('room')
    for (const n of range(1, 10)) await a!.tick('room', n)
    await eventually(received([client], range(1, 10)), 10_000, 'ticks 1-10')
    // The data goes back to offset 5 without any connection noticing; then a process that never
    // saw the stream publishes: its message gets offset 6 again.
    const admin = new Redis(redis.url)
    cleanup.push(() => admin.disconnect())
    // The hubs' topic on the broker carries their instance name ('app', see helpers/hubs.ts).
    const stream = `${prefix}:stream:{channel:room@app}`
    const kept = (await admin.xrange(stream, '-', '5-0')) as Array<[string, string[]]>
    await admin.multi().hset(`${prefix}:meta:{channel:room@app}`, 'offset', 5).del(stream).exec()
    for (const [id, fields] of kept) await admin.xadd(stream, id, ...fields)
    const [other] = await processes(1, { url: redis.url, prefix, commandTimeout: 1000 })
    await other!.tick('room', 'reused-offset')
    await eventually(
      () => client.gaps().some((gap) => gap.channel === 'room'),
      10_000,
      'a gap at the client (before: the message was dropped as a duplicate, no gap)',
    )
    expect(
      client
        .gaps()
        .filter((gap) => gap.channel === 'room')
        .map((gap) => gap.reason),
    ).toEqual(['epoch'])
    await other!.tick('room', 'next')
    await eventually(() => client.ticks().includes('next'), 10_000, 'the next message, in the new epoch')
  }, 60_000)

  it('a process whose connections go silent (half-open) is replaced, catches up and tells the others', async () => {
    const redis = await server()
    const proxy = await pausableProxy(redis.url)
    cleanup.push(() => proxy.close())
    const prefix = uniquePrefix('silent')
    const [a] = await processes(1, { url: proxy.url, prefix, commandTimeout: 1000 })
    const [b] = await processes(1, { url: redis.url, prefix, commandTimeout: 1000 })
    const [clientA, clientB] = [await a!.client('room'), await b!.client('room')]
    await b!.tick('room', 1)
    await eventually(received([clientA!, clientB!], [1]), 10_000, 'tick 1')
    let sawDown = false
    const watch = setInterval(() => (sawDown ||= !a!.broker.connected), 20)
    cleanup.push(() => clearInterval(watch))
    proxy.silence()
    for (const n of range(2, 6)) await b!.tick('room', n)
    await a!.tick('room', 'from-a')
    // A's clients get what B published meanwhile (filled from the stream once A is on a new
    // connection); before the fix A's command connection stayed silent and A never caught up.
    await eventually(received([clientA!], range(2, 6)), 30_000, "B's ticks at A's client")
    expect(sawDown, 'connected turned false while A could not reach Redis').toBe(true)
    // B's clients get A's message or an outage gap (it never reached Redis: a gap).
    await eventually(
      () => clientB!.ticks().includes('from-a') || clientB!.gaps().some((gap) => gap.reason === 'outage'),
      20_000,
      "A's message or an outage gap at B's client",
    )
    await eventually(() => a!.broker.connected, 10_000, 'A connected again')
    await b!.tick('room', 7)
    await a!.tick('room', 'after')
    await eventually(received([clientA!, clientB!], [7, 'after']), 10_000, 'delivery both ways again')
    for (const client of [clientA!, clientB!]) {
      expect(client.ticks().filter((data) => typeof data === 'number')).toEqual(range(1, 7))
      expect(duplicates(client.ticks())).toBe(0)
    }
  }, 90_000)

  it('a publish that timed out while Redis stalled is delivered once, and an outage gap only if it was lost', async () => {
    const redis = await server()
    const prefix = uniquePrefix('stall')
    const [a, b] = await processes(2, { url: redis.url, prefix, commandTimeout: 1000 })
    const clients = [await a!.client('room'), await b!.client('room')]
    await a!.tick('room', 1)
    await eventually(received(clients, [1]), 10_000, 'tick 1')
    redis.freeze()
    try {
      // Times out after commandTimeout; reaches A's clients at once.
      await a!.tick('room', 2)
      await eventually(() => clients[0]!.ticks().includes(2), 5000, "tick 2 at A's client during the stall")
      await sleep(2500)
    } finally {
      redis.thaw()
    }
    await eventually(() => a!.broker.connected && b!.broker.connected, 20_000, 'both connected after the stall')
    // One outage noticed, counted once (stats().broker and the realtime.broker.outages counter read it).
    expect(a!.broker.outages).toBe(1)
    await b!.tick('room', 3)
    await eventually(received(clients, [3]), 15_000, 'tick 3')
    await sleep(300)
    // Before the fix A's clients got 2 twice: locally, and again when Redis ran the queued publish.
    expect(clients[0]!.ticks()).toEqual([1, 2, 3])
    // B's clients got 2 (the publish ran after all) and no gap, or (Redis settled it as never to
    // run) no 2 and an outage gap: never both, never neither.
    const [gotIt, gap] = [clients[1]!.ticks().includes(2), clients[1]!.gaps().some((entry) => entry.reason === 'outage')]
    expect(gotIt !== gap, `B's client: message ${gotIt}, outage gap ${gap}`).toBe(true)
    expect(clients[1]!.ticks().filter((data) => data !== 2)).toEqual([1, 3])
    expect(duplicates(clients[1]!.ticks())).toBe(0)
    // One report for the outage, not one per timed-out publish.
    const reports = a!.errors.filter((message) => /^publishing to|unreachable/i.test(message))
    expect(reports, reports.join('; ')).toHaveLength(1)
  }, 90_000)

  it('a message delivered without Redis never overtakes an earlier publish whose copy is still on its way', async () => {
    const redis = await server()
    const proxy = await pausableProxy(redis.url)
    cleanup.push(() => proxy.close())
    const [a] = await processes(1, { url: proxy.url, prefix: uniquePrefix('overtake'), commandTimeout: 1000 })
    const client = await a!.client('room')
    await a!.tick('room', 1)
    await eventually(() => client.ticks().includes(1), 5000, 'tick 1')
    // Redis takes tick 2, but its copy does not reach A (A's subscriber connection went silent)...
    proxy.silenceSubscribers()
    await a!.tick('room', 2)
    await sleep(100)
    expect(client.ticks()).toEqual([1])
    // ...then Redis is cut off: tick 3 reaches A's client without Redis, after tick 2.
    proxy.pause()
    await eventually(() => !a!.broker.connected, 5000, 'A noticed the outage')
    await a!.tick('room', 3)
    await eventually(() => client.ticks().includes(3), 5000, 'tick 3 without Redis')
    // Before the fix: [1, 3], and tick 2 only after the reconnect.
    expect(client.ticks()).toEqual([1, 2, 3])
    proxy.resume()
    await eventually(() => a!.broker.connected, 20_000, 'A reconnected')
    await a!.tick('room', 4)
    await eventually(() => client.ticks().includes(4), 10_000, 'tick 4 through Redis')
    await sleep(200)
    // Tick 2's copy, read from the stream after the reconnect, is not delivered again.
    expect(client.ticks()).toEqual([1, 2, 3, 4])
    // Tick 3 never reached Redis: the stream's other readers were told.
    expect(client.gaps().map((gap) => gap.reason)).toEqual(['outage'])
  }, 40_000)

  it('without history too, a publish that timed out reaches the publishing process once', async () => {
    const redis = await server()
    const prefix = uniquePrefix('stall-plain')
    const pool = brokers(() => ({ url: redis.url, prefix, commandTimeout: 1000, history: false }))
    cleanup.push(() => pool.closeAll())
    const [a, b] = [await pool.create(), await pool.create()]
    for (const side of [a, b]) side.broker.addTopic!('channel:plain')
    const tick = (side: typeof a, data: number) => side.broker.publish({ topic: 'channel:plain', event: 'n', data })
    const data = (side: typeof a) => side.of('channel:plain').map((message) => message.data)
    await eventually(
      async () => {
        await tick(a, 0)
        return data(b).includes(0)
      },
      10_000,
      'both subscribed',
    )
    redis.freeze()
    try {
      await tick(a, 1)
      await sleep(1500)
    } finally {
      redis.thaw()
    }
    await eventually(() => a.broker.connected && b.broker.connected, 20_000, 'both connected after the stall')
    await tick(b, 2)
    await eventually(() => data(a).includes(2) && data(b).includes(2), 10_000, 'delivery again')
    await sleep(300)
    expect(data(a).filter((value) => value !== 0)).toEqual([1, 2])
    // (0 was published until b had it: several are expected.)
    expect(duplicates(data(b).filter((value) => value !== 0))).toBe(0)
  }, 60_000)

  it("keeps one publisher's order while the script cache is flushed under it", async () => {
    const redis = await server()
    const prefix = uniquePrefix('noscript')
    const pool = brokers(() => ({ url: redis.url, prefix, commandTimeout: 5000 }))
    cleanup.push(() => pool.closeAll())
    const a = await pool.create()
    const b = await pool.create()
    b.broker.addTopic!('channel:order')
    await b.broker.position!('channel:order')
    const admin = new Redis(redis.url)
    cleanup.push(() => admin.disconnect())
    let flushing = true
    const flusher = (async () => {
      while (flushing) {
        await admin.script('FLUSH')
        await sleep(2)
      }
    })()
    // A co-tenant whose publishes load the script again at any moment (so a publish sent after one
    // that got NOSCRIPT can run before that one is sent again).
    const c = await pool.create()
    let coTenant = true
    const other = (async () => {
      let n = 0
      while (coTenant) await Promise.all(range(1, 20).map(() => c.broker.publish({ topic: 'channel:other', event: 'n', data: ++n } as BrokerMessage)))
    })()
    const total = 3000
    const published: number[] = []
    for (let start = 1; start <= total; start += 100) {
      await Promise.all(
        range(start, start + 99).map(async (n) => {
          const message = { topic: 'channel:order', event: 'n', data: n } as BrokerMessage
          await a.broker.publish(message)
          if (message.offset !== undefined) published.push(n)
        }),
      )
    }
    flushing = false
    coTenant = false
    await Promise.all([flusher, other])
    const arrived = () =>
      b
        .of('channel:order')
        .filter((message) => message.gap === undefined)
        .map((message) => message.data as number)
    await eventually(() => arrived().length >= published.length, 20_000, 'every message that Redis took, at b')
    const order = arrived()
    let inversions = 0
    for (let index = 1; index < order.length; index++) if (order[index]! < order[index - 1]!) inversions++
    expect(inversions, 'messages of one publisher that arrived after a later one').toBe(0)
    // None had to go local-only: a publish that got NOSCRIPT is sent again, in its place.
    expect(order, `local-only publishes: ${a.errors.length} (${a.errors.slice(0, 3).join('; ')})`).toEqual(range(1, total))
  }, 90_000)
})
