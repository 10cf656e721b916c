// The hub's modules that need no server (issue #20): topic grammar, registry, admission, channel
// configurations, and how a failed setup is reported.
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Admission } from '../src/hub/admission.js'
import { ChannelConfigs } from '../src/hub/channel-configs.js'
import { Expiry } from '../src/hub/expiry.js'
import { Registry } from '../src/hub/registry.js'
import { Reporting } from '../src/hub/reporting.js'
import { resolveSettings } from '../src/hub/settings.js'
import { BROADCAST_TOPIC, channelTopic, presenceTopic, topicKind, topicSubject, userTopic } from '../src/hub/topics.js'
import { TestConnection, idleOwner } from './_test-connection.js'
import { createRealtime, memoryBroker, Realtime, type Broker, type DeadlineScheduler, type PresenceStore, type RealtimeError } from '../src/index.js'
import { memoryPresence } from '../src/memory-broker.js'

const connection = (transport: 'sse' | 'websocket' = 'websocket') => new TestConnection(transport, new Request('http://app.test/'), idleOwner, {}, undefined)

describe('topics', () => {
  it('builds and reads every kind of topic, names with colons included', () => {
    expect(topicKind(BROADCAST_TOPIC)).toBe('broadcast')
    expect([topicKind(userTopic('a:b')), topicSubject(userTopic('a:b'))]).toEqual(['user', 'a:b'])
    expect([topicKind(channelTopic('user:x')), topicSubject(channelTopic('user:x'))]).toEqual(['channel', 'user:x'])
    expect([topicKind(presenceTopic('chat')), topicSubject(presenceTopic('chat'))]).toEqual(['presence', 'chat'])
    expect(topicKind('nonsense')).toBeUndefined()
    expect(userTopic(7)).toBe('user:7')
  })
})

describe('registry', () => {
  it('indexes connections by user and channel and forgets them when they go', () => {
    const registry = new Registry()
    const a = connection('sse')
    const b = connection()
    registry.add(a)
    registry.add(b)
    expect(registry.sseCount).toBe(1)
    expect(registry.setUser(a, 'alice')).toEqual({ left: false, arrived: true })
    expect(registry.setUser(b, 'alice')).toEqual({ left: false, arrived: false })
    expect(registry.userCount('alice')).toBe(2)
    expect(registry.addMember(a, 'x')).toBe(true)
    expect(registry.addMember(b, 'x')).toBe(false)
    expect(registry.removeMember(a, 'x')).toBe(false)
    expect(registry.removeMember(a, 'x')).toBeUndefined()
    expect(registry.removeMember(b, 'x')).toBe(true)
    expect(registry.channels.size).toBe(0)
    expect(registry.setUser(a, undefined)).toEqual({ left: false, arrived: false })
    expect(registry.setUser(b, undefined)).toEqual({ left: true, arrived: false })
    expect(registry.remove(a)).toBe(true)
    expect(registry.remove(a)).toBe(false)
    expect(registry.sseCount).toBe(0)
    expect(b.id).toBeTypeOf('string')
    registry.indexId(b)
    expect(registry.byId.get(b.id)).toBe(b)
  })
})

describe('expiry', () => {
  afterEach(() => {
    vi.useRealTimers()
  })

  it("keeps one deadline per connection with the platform's scheduler, and gives a restored connection the deadline it had", () => {
    vi.useFakeTimers({ now: 1_000_000, toFake: ['Date'] })
    const now = Date.now()
    const calls: unknown[][] = []
    const callbacks: Array<() => void> = []
    const scheduler: DeadlineScheduler = {
      schedule: (_connection, expiresAt, at, callback) => {
        calls.push(['schedule', expiresAt, at])
        return callbacks.push(callback) - 1
      },
      cancel: (_connection, handle) => void calls.push(['cancel', handle]),
    }
    // With `reauthenticate`, a WebSocket is asked for a fresh token 30 s before its expiry.
    const expiry = new Expiry(() => 'alice', new ChannelConfigs(), undefined as never, new Reporting(() => {}), scheduler)
    const socket = connection()
    const written: string[] = []
    socket.write = (outbound) => void written.push(outbound.text)
    expiry.set(socket, now + 100_000)
    expect(calls).toEqual([['schedule', now + 100_000, now + 70_000]])
    // Restored after the runtime dropped it, with the request for a fresh token due meanwhile:
    // asked at once, then the expiry is scheduled.
    expiry.resume(socket, now + 100_000, now - 1)
    expect(calls.slice(1)).toEqual([
      ['cancel', 0],
      ['schedule', now + 100_000, now - 1],
    ])
    callbacks[1]!()
    expect(written.map((text) => JSON.parse(text).event)).toEqual(['realtime:refresh'])
    expect(calls.at(-1)).toEqual(['schedule', now + 100_000, now + 100_000])
    // Restored after its expiry: closed when the deadline runs, with the reason said first.
    expiry.resume(socket, now - 5, now - 5)
    expect(calls.at(-1)).toEqual(['schedule', now - 5, now - 5])
    callbacks.at(-1)!()
    expect(JSON.parse(written.at(-1)!)).toMatchObject({ event: 'realtime:error', data: { code: 'REALTIME_TOKEN_EXPIRED' } })
    expect(socket.isClosed).toBe(true)
    // A callback of a deadline that was replaced does nothing.
    const before = written.length
    callbacks[0]!()
    expect(written).toHaveLength(before)
  })
})

describe('admission', () => {
  const make = (options: Parameters<typeof resolveSettings>[0] = {}, store: PresenceStore = memoryPresence()) => {
    const registry = new Registry()
    return { registry, admission: new Admission(resolveSettings(options), registry, store, new Reporting(() => {})) }
  }

  it('counts each refusal once by reason: 426, 403, 503, 429, and 1013 at open', async () => {
    const { registry, admission } = make({ maxConnections: 1, maxConnectionsPerUser: 1 })
    expect(admission.upgradeRequired(new Request('http://app.test/'))?.status).toBe(426)
    expect(admission.origin(new Request('http://app.test/', { headers: { Origin: 'https://evil.test' } }))?.status).toBe(403)
    expect(admission.origin(new Request('http://app.test/', { headers: { Origin: 'http://app.test' } }))).toBeUndefined()
    const alice = connection()
    registry.add(alice)
    registry.setUser(alice, 'alice')
    expect((admission.userCap('alice') as Response).status).toBe(429)
    expect(admission.userCap('bob')).toBeUndefined()
    expect(admission.capacity()?.status).toBe(503)
    expect(admission.roomAtOpen()).toBe(false)
    expect(admission.refusals).toMatchObject({ 'upgrade-required': 1, origin: 1, 'user-cap': 1, capacity: 2 })
    expect(admission.refused).toBe(5)
  })

  it('asks a distributed store for the per-user count, and refuses at once when this process is over the cap already', async () => {
    const entries = [{ connectionId: 'elsewhere', userId: 'carol' }]
    const store: PresenceStore = { add: async () => {}, remove: async () => true, list: async () => entries }
    const { registry, admission } = make({ maxConnectionsPerUser: 1 }, store)
    const pending = admission.userCap('carol')
    expect(pending).toBeInstanceOf(Promise)
    expect((await pending)?.status).toBe(429)
    const dave = connection()
    registry.add(dave)
    registry.setUser(dave, 'dave')
    expect(admission.userCap('dave')).toBeInstanceOf(Response)
  })
})

describe('channel configurations', () => {
  it('prefers the exact name, then the longest prefix, and replaces on re-registration', () => {
    const configs = new ChannelConfigs()
    const open = {}
    const closed = { authorize: () => false }
    const mid = { authorize: () => true }
    configs.set('*', open)
    configs.set('admin:*', closed)
    configs.set('admin:ops:*', mid)
    configs.set('admin:lobby', open)
    expect(configs.of('admin:secret')).toBe(closed)
    expect(configs.of('admin:ops:1')).toBe(mid)
    expect(configs.of('admin:lobby')).toBe(open)
    expect(configs.of('other')).toBe(open)
    configs.set('admin:*', mid)
    expect(configs.of('admin:secret')).toBe(mid)
    expect(() => configs.set('bad\u0000*', open)).toThrowError(expect.objectContaining({ code: 'REALTIME_INVALID_OPTION' }))
  })
})

describe('a failed setup', () => {
  const sse = (realtime: Realtime, query = '') => realtime.sse(new Request(`http://app.test/events${query}`, { headers: { Accept: 'text/event-stream' } }))

  it('is reported as identify only when identify failed', async () => {
    const errors: RealtimeError[] = []
    const closes: Array<[number, string]> = []
    const realtime = createRealtime({ identify: () => Promise.reject(new Error('no session')), onError: (error) => errors.push(error) })
    realtime.sse(new Request('http://app.test/events'), { onClose: (_socket, code, reason) => void closes.push([code, reason]) })
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(errors.map((error) => [error.code, error.message])).toEqual([['REALTIME_HANDLER_ERROR', 'identify threw: no session']])
    await realtime.close({ drainTimeout: 0 })
  })

  it('names the broker when the broker failed, not identify', async () => {
    const errors: RealtimeError[] = []
    const inner = memoryBroker()
    const broker: Broker = {
      ...inner,
      addTopic(topic) {
        if (topic.startsWith('user:')) throw new Error('broker down')
        inner.addTopic?.(topic)
      },
    }
    const realtime = createRealtime({ broker, identify: () => 'alice', onError: (error) => errors.push(error) })
    const { stream } = sse(realtime)
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(errors.map((error) => error.code)).toEqual(['REALTIME_TRANSPORT_ERROR'])
    expect(errors[0]!.message).toContain("opening the connection's streams failed: broker down")
    expect(stream.isClosed).toBe(true)
    expect(realtime.stats()).toMatchObject({ connections: 0, users: 0 })
    await realtime.close()
  })
})

describe('presence', () => {
  /**
   * A memory broker whose presence writes can be held: `held(topic)` decides which wait, before
   * (`before`) or after (`after`) they land, until `release()`. `live` mirrors the entries by topic.
   */
  const heldPresence = (held: (topic: string) => boolean, when: 'before' | 'after' = 'before') => {
    const inner = memoryBroker()
    const store = inner.presence!
    let release!: () => void
    const released = new Promise<void>((resolve) => (release = resolve))
    const live = new Map<string, Set<string>>()
    const presence: PresenceStore = {
      add: async (topic, entry) => {
        if (when === 'before' && held(topic)) await released
        await store.add(topic, entry)
        live.set(topic, (live.get(topic) ?? new Set()).add(entry.connectionId))
        if (when === 'after' && held(topic)) await released
      },
      remove: (topic, connectionId) => {
        live.get(topic)?.delete(connectionId)
        return store.remove(topic, connectionId)
      },
      list: (topic) => store.list(topic),
    }
    return { broker: { ...inner, presence } satisfies Broker, release, live }
  }
  const channelTopics = (topic: string) => topic.startsWith('channel:')
  const identify = (request: Request) => new URL(request.url).searchParams.get('user') ?? undefined
  const sseRequest = (query: string) => new Request(`http://app.test/events${query}`, { headers: { Accept: 'text/event-stream' } })
  const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

  it('announces a user whose two connections join at once exactly once, and not again for a third', async () => {
    // Both channel writes land before either join reads the channel back (two processes' round
    // trips interleaved): each finds two entries.
    let writes = 0
    const { broker, release } = heldPresence((topic) => {
      if (!channelTopics(topic)) return false
      if (++writes === 2) release()
      return true
    }, 'after')
    const joins: Array<string | undefined> = []
    const realtime = createRealtime({ broker, identify })
    realtime.channel('chat', { presence: true, onPresence: (change) => void (change.action === 'join' && joins.push(change.member.userId)) })
    const open = () => realtime.sse(sseRequest('?user=carol&channel=chat'))
    open()
    open()
    await vi.waitFor(async () => expect((await realtime.presence('chat'))[0]?.connections).toBe(2))
    await sleep(20)
    expect(joins).toEqual(['carol'])
    open()
    await vi.waitFor(async () => expect((await realtime.presence('chat'))[0]?.connections).toBe(3))
    await sleep(20)
    expect(joins).toEqual(['carol'])
    await realtime.close({ drainTimeout: 0 })
  })

  it('announces a user whose oldest connection closed before announcing it, for the younger ones', async () => {
    const inner = memoryBroker()
    const store = inner.presence!
    let releaseList!: () => void
    const listHeld = new Promise<void>((resolve) => (releaseList = resolve))
    let lists = 0
    // The first join's read of the channel waits: meanwhile a second tab joins (and, finding the
    // first tab's older entry, leaves the announcement to it), and the first tab closes.
    const presence: PresenceStore = {
      add: (topic, entry) => store.add(topic, entry),
      remove: (topic, connectionId) => store.remove(topic, connectionId),
      list: async (topic) => {
        if (channelTopics(topic) && ++lists === 1) await listHeld
        return store.list(topic)
      },
    }
    const changes: string[] = []
    const realtime = createRealtime({ broker: { ...inner, presence }, identify })
    realtime.channel('chat', { presence: true, onPresence: (change) => void changes.push(`${change.action}:${change.member.userId}`) })
    const first = realtime.sse(sseRequest('?user=carol&channel=chat')).stream
    await vi.waitFor(() => expect(lists).toBe(1))
    realtime.sse(sseRequest('?user=carol&channel=chat'))
    await vi.waitFor(() => expect(lists).toBe(2))
    await sleep(10)
    first.close()
    releaseList()
    await sleep(20)
    expect(changes).toEqual(['join:carol'])
    expect(await realtime.presence('chat')).toMatchObject([{ userId: 'carol', connections: 1 }])
    await realtime.close({ drainTimeout: 0 })
  })

  it('leaves no per-user entry behind for a connection that closed while it was being written', async () => {
    // Every write waits (a store's round trip, or its first registration), then lands.
    const { broker, release, live } = heldPresence(() => true)
    const realtime = createRealtime({ broker, identify })
    realtime.channel('chat', { presence: true })
    const { stream } = realtime.sse(sseRequest('?user=carol&channel=chat'))
    await sleep(10)
    stream.close()
    release()
    await sleep(50)
    expect([...live].filter(([, ids]) => ids.size > 0)).toEqual([])
    expect(await realtime.presence('chat')).toEqual([])
    await realtime.close({ drainTimeout: 0 })
  })

  it('leaves no member behind for a connection that closed while its presence data was awaited', async () => {
    const realtime = createRealtime({ identify })
    let described!: () => void
    const describing = new Promise<void>((resolve) => (described = resolve))
    realtime.channel('chat', { presence: { data: () => describing.then(() => ({ name: 'carol' })) } })
    const { stream } = realtime.sse(sseRequest('?user=carol&channel=chat'))
    await sleep(10)
    stream.close()
    described()
    await sleep(20)
    expect(await realtime.presence('chat')).toEqual([])
    await realtime.close({ drainTimeout: 0 })
  })

  it('never runs onJoin after onLeave for a connection that closed while joining', async () => {
    const { broker, release } = heldPresence(channelTopics)
    const hooks: string[] = []
    const realtime = createRealtime({ broker, identify })
    realtime.channel('chat', { presence: true, onJoin: () => void hooks.push('join'), onLeave: () => void hooks.push('leave') })
    const { stream } = realtime.sse(sseRequest('?user=carol&channel=chat'))
    await vi.waitFor(() => expect(stream.channels.has('chat')).toBe(true))
    stream.close()
    release()
    await sleep(20)
    // Both or neither, in that order: an application keeping a set of who is in the channel
    // (add on join, delete on leave) must not end with a connection that is gone.
    expect(hooks.at(-1) ?? 'leave').toBe('leave')
    expect(hooks.filter((hook) => hook === 'join').length).toBe(hooks.filter((hook) => hook === 'leave').length)
    await realtime.close({ drainTimeout: 0 })
  })

  it('runs onJoin once for a join that raced a leave and a rejoin', async () => {
    const { broker, release } = heldPresence(channelTopics)
    const hooks: string[] = []
    const realtime = createRealtime({ broker })
    realtime.channel('chat', { presence: true, onJoin: () => void hooks.push('join'), onLeave: () => void hooks.push('leave') })
    const { stream } = realtime.sse(sseRequest(''))
    await vi.waitFor(() => expect(realtime.stats().connections).toBe(1))
    const first = stream.join('chat')
    await sleep(5)
    expect(stream.leave('chat')).toBe(true)
    const second = stream.join('chat')
    await sleep(5)
    release()
    expect(await Promise.all([first, second])).toEqual([true, true])
    expect(hooks).toEqual(['join'])
    stream.leave('chat')
    expect(hooks).toEqual(['join', 'leave'])
    await realtime.close({ drainTimeout: 0 })
  })
})
