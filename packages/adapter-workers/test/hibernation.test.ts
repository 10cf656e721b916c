// The realtime object hibernates (workerd evicts it after 10 s without an event, keeping its
// WebSockets open) and wakes again: broadcast, sendTo and channel broadcasts made afterwards from
// Worker requests still reach every connection opened before, handlers still run, and hooks do
// not run twice. `restored` in stats() proves the registry was rebuilt from hibernated sockets.
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { eventually, openSse, openWs, post, sleep } from '../../../test/helpers/clients.js'
import { startWorkerd } from './workerd.js'

/** workerd evicts an idle Durable Object 10 s after its last event; wait past that, touching nothing. */
const EVICTION_WAIT_MS = 13_000

/** Gives the object events (each lets it check for dead peers) until `client` is closed; its close. */
async function pokeUntilClosed(client: { closed: Promise<{ code: number; reason: string }> }, poke: () => Promise<unknown>) {
  let closed: { code: number; reason: string } | undefined
  void client.closed.then((value) => (closed = value))
  for (let round = 0; round < 50 && !closed; round++) {
    await sleep(200)
    await poke()
  }
  return closed
}

describe('workers: the Durable Object hibernates and wakes', () => {
  let server: Awaited<ReturnType<typeof startWorkerd>>
  let base: string
  const stats = async () => (await fetch(`${base}/stats`)).json()

  beforeAll(async () => {
    server = await startWorkerd({ REALTIME_FIXTURE: JSON.stringify({ heartbeat: 300, maxMessageBytes: 1024 }) })
    base = server.url
  })
  afterAll(async () => {
    await server?.close()
  })

  it('delivers broadcast, sendTo and channel messages to connections opened before it hibernated', async () => {
    const alice = await openWs(`${base}/ws?user=alice`)
    expect((await alice.subscribe('orders')).event).toBe('realtime:subscribed')
    await alice.inbox.next((message) => message.event === 'connected')
    const bob = await openWs(`${base}/ws?user=bob`)
    expect((await bob.subscribe('news')).event).toBe('realtime:subscribed')
    // 'chat' is a presence channel in the demo.
    expect((await bob.subscribe('chat')).event).toBe('realtime:subscribed')
    await bob.inbox.next((message) => message.event === 'realtime:presence' && message.data.action === 'snapshot')
    const anonymous = await openWs(`${base}/ws`)
    // More channel names than fit the socket's 2,048-byte attachment: they move to storage.
    const crowded = await openWs(`${base}/ws?user=carol`)
    const many = Array.from({ length: 12 }, (_, index) => `room-${index}-${'x'.repeat(180)}`)
    for (const channel of many) expect((await crowded.subscribe(channel)).event).toBe('realtime:subscribed')
    const before = await stats()
    expect(before).toMatchObject({ connections: 4, websocket: 4, users: 3, restored: 0 })

    // A client that pings, and will stop doing so.
    const pinger = await openWs(`${base}/ws`)
    await eventually(async () => (await stats()).connections === 5)

    // Nothing touches the object now: no request, no message, no SSE stream.
    await sleep(EVICTION_WAIT_MS)
    // A protocol ping is answered by the runtime itself, also while the object is hibernated.
    pinger.send('{"event":"realtime:ping"}')
    expect(JSON.parse((await pinger.inbox.next((message) => message.event === 'realtime:pong')).raw)).toEqual({ event: 'realtime:pong', data: null })

    // The first request wakes the object: it rebuilds the registry from the hibernated sockets.
    await post(`${base}/publish`, { event: 'after-wake', data: { n: 1 } })
    for (const client of [alice, bob, anonymous, crowded, pinger]) await client.inbox.next((message) => message.event === 'after-wake')
    const after = await stats()
    expect(after.restored, 'connections rebuilt from hibernated sockets (the object lost its memory)').toBe(5)
    expect(after).toMatchObject({ connections: 5, websocket: 5, users: 3 })
    expect(after.channels).toBe(3 + many.length)
    // Presence comes back silently: bob is still a member, and nobody got a second snapshot or join.
    const members = await (await fetch(`${base}/presence?channel=chat`)).json()
    expect(members).toEqual([{ userId: 'bob', connections: 1, data: { name: 'bob' } }])

    await post(`${base}/publish`, { user: 'alice', event: 'for-alice', data: 1 })
    await post(`${base}/publish`, { channel: 'orders', event: 'new-order', data: { id: 7 } })
    await post(`${base}/publish`, { channel: many[11], event: 'crowded', data: 'last room' })
    await post(`${base}/publish`, { event: 'marker', data: null })
    for (const client of [alice, bob, anonymous, crowded]) await client.inbox.next((message) => message.event === 'marker')
    expect((await alice.inbox.next((message) => message.event === 'for-alice')).data).toBe(1)
    expect(await alice.inbox.next((message) => message.event === 'new-order')).toMatchObject({ channel: 'orders', data: { id: 7 } })
    expect(await crowded.inbox.next((message) => message.event === 'crowded')).toMatchObject({ channel: many[11], data: 'last room' })
    for (const other of [bob, anonymous, crowded]) {
      expect(other.inbox.items.some((message) => message.event === 'for-alice' || message.event === 'new-order')).toBe(false)
    }
    expect(bob.inbox.items.some((message) => message.event === 'crowded')).toBe(false)
    // Restoring a member is not a join: onJoin ('connected') ran once, before hibernation.
    expect(alice.inbox.items.filter((message) => message.event === 'connected')).toHaveLength(1)

    // The route's handlers are back (the object replayed the route): the spec's echo still answers.
    alice.send(JSON.stringify({ still: 'here' }))
    expect(JSON.parse((await alice.inbox.next((message) => message.raw.includes('echo'))).raw)).toEqual({ echo: { still: 'here' } })
    // Channel hooks and authorization are back too.
    expect((await bob.subscribe('private:alice')).data.code).toBe('REALTIME_FORBIDDEN')
    expect((await bob.subscribe('orders')).event).toBe('realtime:subscribed')
    await bob.inbox.next((message) => message.event === 'connected')

    // The pinger stopped pinging: once two heartbeat intervals passed, the object closes it with
    // 4000 at its next event. The others never pinged, so they are left to the runtime.
    expect((await pokeUntilClosed(pinger, stats))?.code).toBe(4000)

    // New connections join the same registry as the restored ones.
    const sse = await openSse(`${base}/events?user=alice`)
    await eventually(async () => (await stats()).connections === 5)
    await post(`${base}/publish`, { user: 'alice', event: 'both', data: 2 })
    await alice.inbox.next((message) => message.event === 'both')
    await sse.inbox.next((event) => event.event === 'both')
    sse.close()

    expect(bob.inbox.items.filter((message) => message.event === 'realtime:presence')).toHaveLength(1)
    const watcher = await openWs(`${base}/ws?user=watcher`)
    await watcher.subscribe('chat')
    await watcher.inbox.next((message) => message.event === 'realtime:presence' && message.data.action === 'snapshot' && message.data.members.length === 2)

    // Closing restored connections cleans up users, channels and presence (with a leave announcement).
    bob.close()
    const left = await watcher.inbox.next((message) => message.event === 'realtime:presence' && message.data.action === 'leave')
    expect(left.data.member.userId).toBe('bob')
    watcher.close()
    for (const client of [alice, bob, anonymous, crowded]) client.close()
    await eventually(
      async () => {
        const now = await stats()
        return now.connections === 0 && now.users === 0 && now.channels === 0
      },
      5000,
      'the registry to empty',
    )
    expect((await stats()).errors).toEqual([])
  }, 60_000)

  it('closes a client that pinged and then went silent with 4000 (heartbeat timeout), and only that one', async () => {
    const pinging = await openWs(`${base}/ws`)
    const silent = await openWs(`${base}/ws`)
    const quiet = await openWs(`${base}/ws`) // never pings: left to the runtime
    silent.send('{"event":"realtime:ping"}')
    await silent.inbox.next((message) => message.event === 'realtime:pong')
    let keepPinging = true
    const pingLoop = (async () => {
      while (keepPinging) {
        pinging.send('{"event":"realtime:ping"}')
        await sleep(100)
      }
    })()
    // Publishing gives the object events to look at; the silent client stopped pinging.
    const closed = await pokeUntilClosed(silent, () => post(`${base}/publish`, { event: 'tick', data: null }))
    keepPinging = false
    await pingLoop
    expect(closed?.code).toBe(4000)
    await post(`${base}/publish`, { event: 'still-here', data: null })
    await pinging.inbox.next((message) => message.event === 'still-here')
    await quiet.inbox.next((message) => message.event === 'still-here')
    pinging.close()
    quiet.close()
    await eventually(async () => (await stats()).connections === 0)
  }, 30_000)
})

describe('workers: a token expiry survives hibernation', () => {
  let server: Awaited<ReturnType<typeof startWorkerd>>
  let base: string
  const stats = async () => (await fetch(`${base}/stats`)).json()

  beforeAll(async () => {
    server = await startWorkerd()
    base = server.url
  })
  afterAll(async () => {
    await server?.close()
  })

  it('lets the object leave memory with an expiry pending; its alarm wakes it to ask for a fresh token, then to close with 4002', async () => {
    // The demo's tokens are `demo:<user>:<expires at>`. The request for a fresh token is due at
    // half the time left (20 s from now), the close at 40 s; workerd evicts an idle object 10 s
    // after its last event.
    const expiresAt = Date.now() + 40_000
    const ws = await openWs(`${base}/ws?resume=1&token=${encodeURIComponent(`demo:expiring:${expiresAt}`)}`)
    await ws.inbox.next((message) => message.event === 'realtime:connected')
    // Nothing touches the object from now on: no request, no message.
    const refresh = await ws.inbox.next((message) => message.event === 'realtime:refresh', 30_000, 'realtime:refresh')
    expect(refresh.data.expiresAt).toBe(expiresAt)
    expect(Date.now(), 'asked when it was due, not later').toBeLessThan(expiresAt - 15_000)
    // A timer would have kept the object in memory (restored 0); with the alarm it left, and the
    // alarm woke it, which rebuilt the connection (and its deadline) from the socket's attachment.
    expect((await stats()).restored, 'the connection was restored from hibernation').toBe(1)
    const error = await ws.inbox.next((message) => message.event === 'realtime:error', 30_000, 'realtime:error')
    expect(error.data.code).toBe('REALTIME_TOKEN_EXPIRED')
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt)
    expect(await ws.closed).toMatchObject({ code: 4002, reason: 'token expired' })
    expect(await stats()).toMatchObject({ connections: 0, errors: [] })
  }, 60_000)

  it('keeps its alarm at the earliest pending deadline, moves it when that connection closes, and removes it after the last', async () => {
    const first = Date.now() + 60_000
    const second = Date.now() + 120_000
    const open = async (user: string, expiresAt: number) => {
      const ws = await openWs(`${base}/ws?resume=1&token=${encodeURIComponent(`demo:${user}:${expiresAt}`)}`)
      await ws.inbox.next((message) => message.event === 'realtime:connected')
      return ws
    }
    const a = await open('alarm-a', first)
    const b = await open('alarm-b', second)
    // The demo renews tokens: each connection is asked for a fresh one 30 s before its expiry (at
    // half the time left when less: a few ms later for the first).
    const near = (value: number | null, expected: number) => value !== null && Math.abs(value - expected) < 1000
    await eventually(async () => near((await stats()).nextDeadline, first - 30_000), 5000, "the alarm at a's request for a token")
    a.close()
    // Left set, it would wake the object for nothing (restoring every socket if it hibernated).
    await eventually(async () => near((await stats()).nextDeadline, second - 30_000), 5000, "the alarm moved to b's")
    b.close()
    await eventually(async () => (await stats()).nextDeadline === null, 5000, 'the alarm deleted')
    await eventually(async () => (await stats()).connections === 0, 5000, 'both closed')
  })
})
