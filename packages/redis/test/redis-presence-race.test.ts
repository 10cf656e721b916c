// Presence races across two processes on one Redis. A user's last connection leaving in one process
// while a new connection of the same user joins in another: the two announcements travel
// separately, so the `join` may be published before the `leave`; the last word a client gets about
// the user must still be that it is present. Two tabs of one user joining at once in two processes:
// exactly one of them announces the user. And generated interleavings (fast-check): tabs of a few
// users open and close in both processes in any order, some at once; once things settle the member
// list is exact and the last `join`/`leave` a watcher got about each user says whether it is there
// (docs/presence.md: a `join` or `leave` may come twice, the last word may not be wrong).
import type { BrokerMessage, PresenceEntry } from '@loewen-digital/realtime-core'
import fc from 'fast-check'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually, sleep } from '../../../test/helpers/clients.js'
import { presenceChanges, startPresenceHub, type PresenceHub } from './helpers/hubs.js'
import { deleteKeys, testRedis, uniquePrefix, type TestRedis } from './helpers/redis.js'

const redis: TestRedis = await testRedis()
const USERS = ['ann', 'ben'] as const

describe.skipIf(redis.skip !== undefined)('redis presence: races across two processes', () => {
  let prefix: string
  const open: PresenceHub[] = []
  afterEach(async () => {
    while (open.length) await open.pop()!.close()
    await deleteKeys(redis.url!, prefix)
  })
  afterAll(() => redis.stop())

  it('a join published before the racing leave is followed by another join: the user ends up present', async () => {
    prefix = uniquePrefix('presence-race')
    const a = await startPresenceHub({ url: redis.url, prefix })
    const b = await startPresenceHub({ url: redis.url, prefix })
    open.push(a, b)
    // Process a's leave announcements wait at a gate: the interleaving a loaded Redis connection
    // or event loop produces now and then, made certain (the broker itself is the real one).
    let release!: () => void
    const gate = new Promise<void>((resolve) => (release = resolve))
    const publish = a.broker.publish.bind(a.broker)
    a.broker.publish = async (message: BrokerMessage) => {
      if ((message.data as { action?: string } | undefined)?.action === 'leave') await gate
      return publish(message)
    }
    const watcher = a.client('user=watcher&channel=chat')
    const first = a.client('user=alice&channel=chat')
    await eventually(() => presenceChanges(watcher.events).includes('join:alice'), 5000, "alice's join")
    // alice's only connection closes in a; a decides that she left (her leave waits at the gate).
    first.cancel()
    await eventually(async () => (await a.realtime.presence('chat')).every((member) => member.userId !== 'alice'), 5000, 'alice gone')
    // A new tab of alice opens in b before a's leave is out: b announces her join.
    const second = b.client('user=alice&channel=chat')
    await eventually(() => presenceChanges(watcher.events).filter((change) => change === 'join:alice').length === 2, 5000, "alice's second join")
    release()
    await eventually(() => presenceChanges(watcher.events).includes('leave:alice'), 5000, 'the late leave')
    await sleep(300)
    const changes = presenceChanges(watcher.events).filter((change) => change.endsWith(':alice'))
    expect(changes.slice(0, 3)).toEqual(['join:alice', 'join:alice', 'leave:alice'])
    // The last word: alice is present, as she is.
    expect(changes.at(-1)).toBe('join:alice')
    expect((await b.realtime.presence('chat')).find((member) => member.userId === 'alice')?.connections).toBe(1)
    expect(a.changes.map((change) => `${change.action}:${change.member.userId}`).filter((change) => change.endsWith(':alice'))).toEqual([
      'join:alice',
      'leave:alice',
      'join:alice',
    ])
    second.cancel()
  })

  it('two tabs of one user joining at once in two processes announce one join between them, not none', async () => {
    prefix = uniquePrefix('presence-race')
    const a = await startPresenceHub({ url: redis.url, prefix })
    const b = await startPresenceHub({ url: redis.url, prefix })
    open.push(a, b)
    const watcher = a.client('user=watcher&channel=chat')
    await eventually(() => watcher.events.some((event) => event.event === 'realtime:presence'), 5000, "the watcher's snapshot")
    // Both processes write carol's entry before either reads the channel back (each then finds
    // two): what two round trips to Redis under load do now and then, made certain.
    let release!: () => void
    const bothWritten = new Promise<void>((resolve) => (release = resolve))
    let written = 0
    for (const hub of [a, b]) {
      const presence = hub.broker.presence as { add(topic: string, entry: PresenceEntry): Promise<void> }
      const add = presence.add.bind(presence)
      presence.add = async (topic, entry) => {
        await add(topic, entry)
        if (!topic.startsWith('channel:') || entry.userId !== 'carol') return
        if (++written === 2) release()
        await bothWritten
      }
    }
    const tab1 = a.client('user=carol&channel=chat')
    const tab2 = b.client('user=carol&channel=chat')
    await eventually(async () => (await a.realtime.presence('chat')).find((member) => member.userId === 'carol')?.connections === 2, 5000, 'both tabs')
    await eventually(() => presenceChanges(watcher.events).includes('join:carol'), 5000, "carol's join")
    await sleep(300)
    expect(presenceChanges(watcher.events).filter((change) => change === 'join:carol')).toEqual(['join:carol'])
    const announced = [...a.changes, ...b.changes].filter((change) => change.member.userId === 'carol')
    expect(announced.map((change) => change.action)).toEqual(['join'])
    tab1.cancel()
    tab2.cancel()
  })

  it('ends with an exact member list and the right last word about every user', async () => {
    prefix = uniquePrefix('presence-property')
    const hubs = [await startPresenceHub({ url: redis.url, prefix }, 100), await startPresenceHub({ url: redis.url, prefix }, 100)]
    open.push(...hubs)
    const watcher = hubs[0]!.client('user=watcher&channel=chat')
    await eventually(() => watcher.events.some((event) => event.event === 'realtime:presence'), 5000, "the watcher's snapshot")
    const lastWord = (user: string) =>
      presenceChanges(watcher.events)
        .filter((change) => change.endsWith(`:${user}`))
        .at(-1)
    /** Waits until the list shows `counts` and the watcher's last word about each user agrees with it. */
    const settled = async (counts: Record<string, number>, label: string) => {
      await eventually(
        async () => {
          const members = await hubs[1]!.realtime.presence('chat')
          return USERS.every((user) => (members.find((member) => member.userId === user)?.connections ?? 0) === counts[user])
        },
        10_000,
        `${label}: the member list`,
      )
      // Announcements travel after the list changed: wait for them, then give a late one (a second
      // `join` or `leave`) time to arrive. The generous timeouts are for a loaded CI machine.
      await eventually(
        () => USERS.every((user) => (counts[user]! > 0 ? lastWord(user) === `join:${user}` : lastWord(user) !== `join:${user}`)),
        10_000,
        `${label}: the last word`,
      )
      await sleep(150)
      for (const user of USERS)
        expect(lastWord(user), `${label}: last word about ${user}`).toBe(
          counts[user]! > 0 ? `join:${user}` : lastWord(user) === undefined ? undefined : `leave:${user}`,
        )
    }
    const step = fc.record({
      process: fc.integer({ min: 0, max: 1 }),
      user: fc.constantFrom(...USERS),
      open: fc.boolean(),
      // 0: at once with the next step; otherwise a few ms, about one Redis round trip or two.
      wait: fc.constantFrom(0, 0, 1, 3),
    })
    let run = 0
    await fc.assert(
      fc.asyncProperty(fc.array(step, { minLength: 1, maxLength: 10 }), async (steps) => {
        run++
        const tabs: Record<string, Array<() => void>> = { ann: [], ben: [] }
        for (const { process, user, open: opens, wait } of steps) {
          if (opens) tabs[user]!.push(hubs[process]!.client(`user=${user}&channel=chat`).cancel)
          else tabs[user]!.shift()?.()
          if (wait > 0) await sleep(wait)
        }
        await settled({ ann: tabs.ann!.length, ben: tabs.ben!.length }, `run ${run} (${JSON.stringify(steps)})`)
        // Close every tab at once, from both processes: the users must end up left.
        for (const user of USERS) for (const cancel of tabs[user]!.splice(0)) cancel()
        await settled({ ann: 0, ben: 0 }, `run ${run}, all closed`)
      }),
      { numRuns: 12, endOnFailure: true },
    )
  }, 120_000)
})
