// Presence under generated interleavings: tabs of a few users open and close in two processes on one
// Redis, in any order, some at once. Whatever happened, once things settle the member list is exact
// and the last `join`/`leave` a watcher got about each user says whether it is there (docs/presence.md:
// a `join` or `leave` may come twice, the last word may not be wrong).
import fc from 'fast-check'
import { afterAll, afterEach, describe, expect, it } from 'vitest'
import { eventually, sleep } from '../../../test/helpers/clients.js'
import { presenceChanges, startPresenceHub, type PresenceHub } from './helpers/hubs.js'
import { deleteKeys, testRedis, uniquePrefix, type TestRedis } from './helpers/redis.js'

const redis: TestRedis = await testRedis()
const USERS = ['ann', 'ben'] as const

describe.skipIf(redis.skip !== undefined)('redis presence: generated interleavings across two processes', () => {
  let prefix: string
  const open: PresenceHub[] = []
  afterEach(async () => {
    while (open.length) await open.pop()!.close()
    await deleteKeys(redis.url!, prefix)
  })
  afterAll(() => redis.stop())

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
