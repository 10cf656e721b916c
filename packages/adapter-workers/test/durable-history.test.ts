// Resume history kept in the Durable Object's SQLite storage: a client that reconnects after the
// object was evicted from memory (workerd evicts an idle object 10 s after its last event), or
// after workerd itself restarted, gets what it missed and no realtime:gap while the messages are
// within the window; beyond the window (size or ttl) it gets a gap, and storage is pruned.
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, openSse, openWs, post, sleep, type WsMessage } from '../../../test/helpers/clients.js'
import { startWorkerd } from './workerd.js'

/** workerd evicts an idle Durable Object 10 s after its last event; wait past that, touching nothing. */
const EVICTION_WAIT_MS = 13_000

type Server = Awaited<ReturnType<typeof startWorkerd>>
const statsOf = async (base: string) => (await fetch(`${base}/stats`)).json()
const tick = (base: string, channel: string, n: number) => post(`${base}/publish`, { channel, event: 'tick', data: { channel, n } })

/** An SSE client on one channel that remembers the last event id, as EventSource does. */
async function sseOn(base: string, channel: string, lastEventId?: string) {
  const client = await openSse(`${base}/events?channel=${channel}`, lastEventId === undefined ? {} : { headers: { 'Last-Event-ID': lastEventId } })
  await client.inbox.next((event) => event.event === 'realtime:connected')
  return {
    ...client,
    lastId: () => [...client.inbox.items].reverse().find((event) => event.id !== undefined)?.id,
    ticks: () => client.inbox.items.filter((event) => event.event === 'tick').map((event) => JSON.parse(event.data).n as number),
    gaps: () => client.inbox.items.filter((event) => event.event === 'realtime:gap').map((event) => JSON.parse(event.data)),
  }
}

/** The cursor map a WebSocket client presents as `lastEventId`: the newest cursor of each stream. */
function cursorMapOf(frames: WsMessage[]): string {
  const cursors = new Map<string, string>()
  for (const frame of frames) {
    if (frame.event === 'realtime:connected') {
      for (const entry of String(frame.data.cursor).split(',').filter(Boolean)) {
        const [key, cursor] = entry.split('=')
        cursors.set(key!, cursor!)
      }
    } else if (frame.event === 'realtime:subscribed' && frame.data.cursor) {
      cursors.set('c.' + encodeURIComponent(frame.data.channel), frame.data.cursor)
    } else if (frame.id !== undefined) cursors.set(frame.channel === undefined ? 'b' : 'c.' + encodeURIComponent(frame.channel), frame.id)
  }
  return [...cursors].map(([key, cursor]) => `${key}=${cursor}`).join(',')
}

describe('workers: resume history in the Durable Object storage', () => {
  let server: Server
  let base: string

  beforeAll(async () => {
    server = await startWorkerd({ REALTIME_FIXTURE: JSON.stringify({ history: { size: 5 } }) })
    base = server.url
  })
  afterAll(async () => {
    await server?.close()
  })

  it('after the object was evicted: missed messages are replayed without a gap; past the window, a gap', async () => {
    // SSE: gets n=1, leaves; n=2 and n=3 are published while it is away.
    const missed = await sseOn(base, 'news')
    await tick(base, 'news', 1)
    await missed.inbox.next((event) => event.event === 'tick')
    const missedId = missed.lastId()!
    missed.close()
    // WebSocket: leaves with its cursors; nothing is published to its streams meanwhile (the phone
    // that reconnects after idle seconds).
    const idle = await openWs(`${base}/ws?channel=quiet&resume=1`)
    await idle.inbox.next((message) => message.event === 'realtime:connected')
    await tick(base, 'quiet', 1)
    await idle.inbox.next((message) => message.event === 'tick')
    const idleCursors = cursorMapOf(idle.inbox.items)
    idle.close()
    await idle.closed
    // SSE on a busy channel: 8 messages published while it is away, the window keeps 5.
    const overflowed = await sseOn(base, 'busy')
    await tick(base, 'busy', 1)
    await overflowed.inbox.next((event) => event.event === 'tick')
    const overflowedId = overflowed.lastId()!
    overflowed.close()
    for (let n = 2; n <= 3; n++) await tick(base, 'news', n)
    for (let n = 2; n <= 9; n++) await tick(base, 'busy', n)
    expect((await statsOf(base)).delivered).toBeGreaterThan(0)

    // Nothing touches the object now: no request, no socket, no stream.
    await sleep(EVICTION_WAIT_MS)
    const woke = await statsOf(base)
    expect(woke.delivered, 'the object was evicted: its counters restarted').toBe(0)

    const resumed = await sseOn(base, 'news', missedId)
    const back = await openWs(`${base}/ws?channel=quiet&lastEventId=${encodeURIComponent(idleCursors)}`)
    await back.inbox.next((message) => message.event === 'realtime:connected')
    const late = await sseOn(base, 'busy', overflowedId)
    await resumed.inbox.next((event) => event.event === 'tick' && JSON.parse(event.data).n === 3)
    await late.inbox.next((event) => event.event === 'realtime:gap')
    // Live messages continue the same streams.
    await tick(base, 'news', 4)
    await tick(base, 'quiet', 2)
    await resumed.inbox.next((event) => event.event === 'tick' && JSON.parse(event.data).n === 4)
    await back.inbox.next((message) => message.event === 'tick' && message.data.n === 2)

    expect(resumed.gaps(), 'messages within the window: no gap after the object was evicted').toEqual([])
    expect(resumed.ticks()).toEqual([2, 3, 4])
    expect(
      back.inbox.items.filter((message) => message.event === 'realtime:gap'),
      'nothing was missed: no gap',
    ).toEqual([])
    expect(back.inbox.items.filter((message) => message.event === 'tick').map((message) => message.data.n)).toEqual([2])
    // Beyond the window: an explicit gap, where the stream continues, and nothing replayed.
    expect(late.gaps()).toEqual([{ channel: 'busy', reason: 'window', cursor: expect.stringMatching(/:9$/) }])
    expect(late.ticks()).toEqual([])

    const stats = await statsOf(base)
    // At most `size` messages per stream are kept: news 4, quiet 2, busy 5 (of 9).
    expect(stats.storedHistory).toMatchObject({ messages: 4 + 2 + 5 })
    for (const client of [resumed, late]) client.close()
    back.close()
  }, 60_000)
})

describe('workers: resume history across a workerd restart, and its ttl', () => {
  const persist = mkdtempSync(join(tmpdir(), 'realtime-do-'))
  const settings = { REALTIME_FIXTURE: JSON.stringify({ history: { ttl: 15_000 } }) }
  let server: Server | undefined
  afterAll(async () => {
    await server?.close()
    rmSync(persist, { recursive: true, force: true })
  })

  it('replays from storage after a restart; once the ttl passed, a gap and the messages are deleted', async () => {
    server = await startWorkerd(settings, { persist })
    const first = await sseOn(server.url, 'news')
    await tick(server.url, 'news', 1)
    await first.inbox.next((event) => event.event === 'tick')
    const cursor = first.lastId()!
    first.close()
    // Eight publishes at once (they share commits): every one that was answered is stored.
    await Promise.all(Array.from({ length: 8 }, (_, index) => tick(server!.url, 'news', index + 2)))
    const published = Date.now()
    await server.close()

    // A new workerd process on the same storage: the object is created anew.
    server = await startWorkerd(settings, { persist })
    expect(Date.now() - published, 'the restart took less than the ttl').toBeLessThan(15_000)
    const again = await sseOn(server.url, 'news', cursor)
    await eventually(() => again.ticks().length >= 8, 5000, 'the eight missed ticks')
    await sleep(100)
    expect(again.gaps()).toEqual([])
    expect(again.ticks().sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9])
    const ids = again.inbox.items.filter((event) => event.event === 'tick').map((event) => Number(/c\.news=[^,]*:(\d+)/.exec(event.id!)![1]))
    expect(ids, 'replayed in publish order, offsets 2 to 9').toEqual([2, 3, 4, 5, 6, 7, 8, 9])
    again.close()
    expect((await statsOf(server.url)).storedHistory).toMatchObject({ messages: 9 })

    // Past the ttl the messages are gone: the same cursor now gets a gap, and storage is pruned.
    await sleep(Math.max(0, published + 15_000 + 10_500 - Date.now()))
    const expired = await sseOn(server.url, 'news', cursor)
    await expired.inbox.next((event) => event.event === 'realtime:gap')
    // Only news lost messages: the broadcast stream (nothing ever published) continues without a gap.
    expect(expired.gaps()).toEqual([{ channel: 'news', reason: 'window', cursor: expect.stringMatching(/:9$/) }])
    expect(expired.ticks()).toEqual([])
    expired.close()
    expect((await statsOf(server.url)).storedHistory).toMatchObject({ messages: 0 })
  }, 90_000)
})

describe('workers: an object declared with new_classes (key-value storage, no SQL)', () => {
  let server: Server | undefined
  afterAll(async () => {
    await server?.close()
  })

  it('falls back to the history in memory: resume works while the object stays, nothing is stored', async () => {
    server = await startWorkerd({}, { sqlite: false, capture: true })
    const first = await sseOn(server.url, 'news')
    await tick(server.url, 'news', 1)
    await first.inbox.next((event) => event.event === 'tick')
    const cursor = first.lastId()!
    first.close()
    await tick(server.url, 'news', 2)
    const again = await sseOn(server.url, 'news', cursor)
    await again.inbox.next((event) => event.event === 'tick')
    expect(again.gaps()).toEqual([])
    expect(again.ticks()).toEqual([2])
    again.close()
    const stats = await statsOf(server.url)
    expect(stats.storedHistory).toBeNull()
    expect(stats.errors).toEqual([])
    // The object said why, once.
    await eventually(() => server!.output().includes('cannot store history'), 5000, 'the warning')
    expect(server.output().match(/cannot store history \(SQL is not enabled/g)).toHaveLength(1)
  }, 30_000)
})
