// A process that dies without closing (SIGKILL) leaves no ghosts: a real child process (the demo
// fixture on Node) holds presence members and a user's capped connections and is killed; the hubs
// that survive it (three, each on its own broker, all sweeping) announce each of its members'
// `leave` once, stop listing them, and stop counting them against the per-user cap.
import type { Realtime } from '@loewen-digital/realtime-core'
import { Redis } from 'ioredis'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { eventually, openSse, sleep } from '../../../test/helpers/clients.js'
import type { SpawnedServer } from '../../../test/helpers/spawn-server.js'
import { startFixture } from './helpers/fixtures.js'
import { presenceChanges, startPresenceHub, type ClientEvent, type PresenceHub } from './helpers/hubs.js'
import { brokers, deleteKeys, pausableProxy, testRedis, uniquePrefix, type TestRedis } from './helpers/redis.js'

const redis: TestRedis = await testRedis()
/** Short liveness for the test: dead 1.5 s after the last refresh, swept within 0.3 s more. */
const presence = { ttl: 1500, refresh: 300 }
/** The documented bound: `ttl + refresh` after the last refresh (plus the publish). */
const BOUND_MS = presence.ttl + presence.refresh
const CAP = 4

describe.skipIf(redis.skip !== undefined)('a process killed with SIGKILL leaves no presence ghosts', () => {
  let prefix: string
  let admin: Redis
  const open: Array<() => unknown> = []
  beforeAll(() => {
    admin = new Redis(redis.url!)
  })
  afterEach(async () => {
    while (open.length) await open.pop()!()
    await deleteKeys(redis.url!, prefix)
  })
  afterAll(async () => {
    admin.disconnect()
    await redis.stop()
  })

  async function survivor(): Promise<PresenceHub> {
    const hub = await startPresenceHub({ url: redis.url, prefix, presence }, CAP)
    open.push(() => hub.close())
    return hub
  }

  const leaves = (events: ClientEvent[]) =>
    presenceChanges(events)
      .filter((change) => change.startsWith('leave:'))
      .map((change) => change.slice('leave:'.length))
      .sort()
  const memberList = async (realtime: Realtime) =>
    (await realtime.presence('chat')).map((member) => `${member.userId ?? 'anonymous'}:${member.connections}`).sort()

  it("each of its members leaves once for every other process's clients; members() and the per-user cap stop counting them", async () => {
    prefix = uniquePrefix('ghosts')
    const victim: SpawnedServer = await startFixture('node', { url: redis.url, prefix, presence })
    open.push(() => victim.close())
    const survivors = [await survivor(), await survivor(), await survivor()]
    const watchers = survivors.map((process, index) => process.client(`user=watcher${index}&channel=chat`))
    for (const watcher of watchers) await eventually(() => watcher.events.some((event) => event.event === 'realtime:presence'), 5000, 'the snapshot')

    // The victim: alice with two connections, bob, an anonymous member, and carol at the cap.
    const held = [
      await openSse(`${victim.url}/events?user=alice&channel=chat`),
      await openSse(`${victim.url}/events?user=alice&channel=chat`),
      await openSse(`${victim.url}/events?user=bob&channel=chat`),
      await openSse(`${victim.url}/events?channel=chat`),
    ]
    for (let index = 0; index < CAP; index++) held.push(await openSse(`${victim.url}/events?user=carol`))
    open.push(() => held.forEach((client) => client.close()))
    for (const client of held) await client.inbox.next((event) => event.event === 'realtime:connected')
    const everyone = ['alice:2', 'anonymous:1', 'bob:1', 'watcher0:1', 'watcher1:1', 'watcher2:1']
    await eventually(async () => (await memberList(survivors[0]!.realtime)).join() === everyone.join(), 5000, 'every member listed')
    // carol is at the cap: a fifth connection, on a survivor, is refused.
    const refused = survivors[1]!.client('user=carol')
    await eventually(() => refused.events.some((event) => event.event === 'realtime:error'), 5000, "carol's refusal")
    expect(refused.events.find((event) => event.event === 'realtime:error')!.data.code).toBe('REALTIME_TOO_MANY_CONNECTIONS')

    process.kill(victim.pid, 'SIGKILL')
    const killedAt = Date.now()
    for (const [index, watcher] of watchers.entries()) {
      await eventually(() => leaves(watcher.events).length >= 3, BOUND_MS + 5000, `watcher${index} to get the three leaves`)
    }
    const took = Date.now() - killedAt
    // Every sweeper has had several more rounds: still exactly one leave per member, everywhere.
    await sleep(BOUND_MS + 4 * presence.refresh)
    for (const watcher of watchers) expect(leaves(watcher.events)).toEqual(['alice', 'anonymous', 'bob'])
    const announced = survivors.flatMap((process) => process.changes.filter((change) => change.action === 'leave'))
    expect(announced.map((change) => String(change.member.userId ?? 'anonymous')).sort()).toEqual(['alice', 'anonymous', 'bob'])
    for (const process of survivors) expect(await memberList(process.realtime)).toEqual(['watcher0:1', 'watcher1:1', 'watcher2:1'])
    // The dead process's entries are gone from Redis, not only filtered out (topics carry the instance name, 'sse').
    expect((await admin.hkeys(`${prefix}:presence:{user:carol@sse}`)).length).toBe(0)
    expect((await admin.hvals(`${prefix}:presence:{channel:chat@sse}`)).map((value) => JSON.parse(value.slice(value.indexOf('\n') + 1)).userId).sort()).toEqual(
      ['watcher0', 'watcher1', 'watcher2'],
    )
    // carol's dead connections no longer count: she connects again, up to the cap.
    const back = survivors[2]!.client('user=carol')
    await eventually(() => back.events.some((event) => event.event === 'realtime:connected'), 5000, "carol's new connection")
    await sleep(200)
    expect(back.events.some((event) => event.event === 'realtime:error')).toBe(false)
    console.log(`[ghosts] leaves reached all watchers ${took} ms after SIGKILL (bound ${BOUND_MS} ms after the last refresh)`)
  }, 60_000)

  it('entries whose owner is no longer registered (its sweeper died half-way) are removed by the next list, and handed over once', async () => {
    prefix = uniquePrefix('ghosts-orphan')
    const pool = brokers(() => ({ url: redis.url, prefix, presence }))
    open.push(() => pool.closeAll())
    // The dying process reaches Redis through a proxy that is cut, so it cannot come back.
    const proxy = await pausableProxy(redis.url!)
    open.push(() => proxy.close())
    const dying = await pool.create({ url: proxy.url })
    const a = await pool.create()
    const b = await pool.create()
    const expired: Array<{ topic: string; ids: string[] }> = []
    for (const { broker } of [a, b])
      broker.presence.onExpired((event) => void expired.push({ topic: event.topic, ids: event.entries.map((entry) => entry.connectionId) }))
    await dying.broker.presence.add('channel:room', { connectionId: 'd1', userId: 'dora' })
    await a.broker.presence.add('channel:room', { connectionId: 'a1', userId: 'ann' })
    proxy.pause()
    // The owner vanishes from the registry without its entries being removed (as when the process
    // that claimed it died before removing them).
    await admin.zrem(`${prefix}:owners`, dying.broker.processId)
    const lists = await Promise.all([a.broker.presence.list('channel:room'), b.broker.presence.list('channel:room')])
    for (const listed of lists) expect(listed.map((entry) => entry.connectionId)).toEqual(['a1'])
    await eventually(() => expired.length > 0, 5000, 'the orphan handed over')
    await sleep(4 * presence.refresh)
    expect(expired).toEqual([{ topic: 'channel:room', ids: ['d1'] }])
    expect(await admin.hkeys(`${prefix}:presence:{channel:room}`)).toEqual(['a1'])
  })

  it('a process taken for dead that comes back (cut off longer than ttl) announces its members again', async () => {
    prefix = uniquePrefix('ghosts-revived')
    const proxy = await pausableProxy(redis.url!)
    open.push(() => proxy.close())
    const cutOff = await startPresenceHub({ url: proxy.url, prefix, presence, commandTimeout: 500 }, CAP)
    open.push(() => cutOff.close())
    const other = await survivor()
    const watcher = other.client('user=watcher&channel=chat')
    const alice = cutOff.client('user=alice&channel=chat')
    for (const client of [watcher, alice]) await eventually(() => client.events.some((event) => event.event === 'realtime:presence'), 5000, 'the snapshot')
    await eventually(() => presenceChanges(watcher.events).includes('join:alice'), 5000, "alice's join")
    // The process keeps alice connected, but cannot refresh: the other process takes it for dead.
    proxy.pause()
    await eventually(() => presenceChanges(watcher.events).includes('leave:alice'), BOUND_MS + 5000, "alice's leave")
    expect(await memberList(other.realtime)).toEqual(['watcher:1'])
    // Back: it writes alice's entry again and announces her.
    proxy.resume()
    await eventually(() => presenceChanges(watcher.events).at(-1) === 'join:alice', 15_000, "alice's join after the process came back")
    expect(presenceChanges(watcher.events)).toEqual(['join:alice', 'leave:alice', 'join:alice'])
    expect(await memberList(other.realtime)).toEqual(['alice:1', 'watcher:1'])
    // onPresence ran once per change, cluster-wide: the leave where alice was swept, the joins where she is.
    const ran = (hub: PresenceHub) => hub.changes.map((change) => `${change.action}:${change.member.userId}`)
    expect(ran(other)).toEqual(['join:watcher', 'leave:alice'])
    expect(ran(cutOff)).toEqual(['join:alice', 'join:alice'])
  }, 40_000)
})
