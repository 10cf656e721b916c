// Instance names on a shared broker (issue #21): instances that share a broker object or a backend
// namespace stay apart, as instances with brokers of their own always were; a name taken twice
// fails at createRealtime with REALTIME_NAME_IN_USE instead of losing or leaking messages.
import { describe, expect, it } from 'vitest'
import { scopeBroker } from '../src/hub/broker-scope.js'
import {
  createRealtime,
  memoryBroker,
  RealtimeError,
  type Broker,
  type BrokerMessage,
  type Cursor,
  type ExpiredPresence,
  type PresenceStore,
  type Realtime,
} from '../src/index.js'

const quiet = { onError: () => {} }
const codeOf = (run: () => unknown): string | undefined => {
  try {
    run()
  } catch (error) {
    return RealtimeError.isInstance(error) ? error.code : `not a RealtimeError: ${String(error)}`
  }
  return undefined
}

/** A memory broker that counts its `close` calls, and optionally declares a namespace. */
function countingBroker(namespace?: string): Broker & { closes: number } {
  const inner = memoryBroker()
  const broker = Object.assign(Object.create(inner) as Broker, {
    closes: 0,
    namespace,
    close() {
      broker.closes++
      return inner.close()
    },
  })
  return broker
}

/** The SSE events of a stream opened on `realtime`, as they arrive. */
function sseClient(realtime: Realtime, query = '') {
  const { response } = realtime.sse(new Request(`http://app.test/events${query}`, { headers: { Accept: 'text/event-stream' } }))
  const events: Array<{ event: string; data: unknown }> = []
  const reader = response.body!.getReader()
  const decoder = new TextDecoder()
  let buffer = ''
  void (async () => {
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }))
      if (done) return
      buffer += decoder.decode(value, { stream: true })
      let end: number
      while ((end = buffer.indexOf('\n\n')) !== -1) {
        const block = buffer.slice(0, end)
        buffer = buffer.slice(end + 2)
        const event = /^event: (.*)$/m.exec(block)?.[1]
        const data = /^data: (.*)$/m.exec(block)?.[1]
        if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) })
      }
    }
  })()
  return { events, names: () => events.map((event) => event.event).filter((name) => !name.startsWith('realtime:')) }
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 20))

describe('instances sharing one broker object', () => {
  it("delivers each instance's broadcasts, user and channel messages to its own connections only", async () => {
    const broker = memoryBroker()
    const sse = createRealtime({ ...quiet, driver: 'sse', broker })
    const ws = createRealtime({ ...quiet, driver: 'websocket', broker })
    expect([sse.name, ws.name]).toEqual(['sse', 'websocket'])
    const onSse = sseClient(sse, '?channel=news')
    const onWs = sseClient(ws, '?channel=news')
    await settle()
    await sse.broadcast({ event: 'sse-broadcast', data: 1 })
    await ws.broadcast({ event: 'ws-broadcast', data: 2 })
    await sse.toChannel('news').broadcast({ event: 'sse-news', data: 3 })
    await ws.toChannel('news').broadcast({ event: 'ws-news', data: 4 })
    await settle()
    // Before names, the second subscribe replaced the first: the SSE instance's clients got nothing
    // and the WebSocket instance's got both instances' messages.
    expect(onSse.names()).toEqual(['sse-broadcast', 'sse-news'])
    expect(onWs.names()).toEqual(['ws-broadcast', 'ws-news'])
    await Promise.all([sse.close({ drainTimeout: 0 }), ws.close({ drainTimeout: 0 })])
  })

  it('keeps presence and per-user counts apart', async () => {
    const broker = memoryBroker()
    const a = createRealtime({ ...quiet, name: 'a', broker, identify: () => 'ann', maxConnectionsPerUser: 1 })
    const b = createRealtime({ ...quiet, name: 'b', broker, identify: () => 'ann', maxConnectionsPerUser: 1 })
    a.channel('room', { presence: true })
    b.channel('room', { presence: true })
    sseClient(a, '?channel=room')
    await settle()
    expect((await a.presence('room')).map((member) => member.userId)).toEqual(['ann'])
    expect(await b.presence('room')).toEqual([])
    // ann's one connection to `a` does not count against her cap on `b`.
    const { response } = b.sse(new Request('http://app.test/events', { headers: { Accept: 'text/event-stream' } }))
    expect(response.status).toBe(200)
    await Promise.all([a.close({ drainTimeout: 0 }), b.close({ drainTimeout: 0 })])
  })

  it('refuses a second open instance of the same name, and frees the name on close', async () => {
    const broker = countingBroker()
    const first = createRealtime({ ...quiet, broker })
    expect(codeOf(() => createRealtime({ ...quiet, broker }))).toBe('REALTIME_NAME_IN_USE')
    expect(codeOf(() => createRealtime({ ...quiet, broker, name: 'sse' }))).toBe('REALTIME_NAME_IN_USE')
    const other = createRealtime({ ...quiet, broker, name: 'other' })
    await first.close()
    expect(broker.closes).toBe(0) // `other` still uses it
    const again = createRealtime({ ...quiet, broker })
    await other.close()
    await again.close()
    expect(broker.closes).toBe(1)
  })

  it('names the fix in the error', () => {
    const broker = memoryBroker()
    createRealtime({ ...quiet, broker })
    try {
      createRealtime({ ...quiet, broker })
      expect.unreachable()
    } catch (error) {
      expect((error as Error).message).toMatch(/'sse' .*default name.*createRealtime\(\{ name:/)
    }
  })

  it('leaves a broker of its own alone: the default memory broker is not named', () => {
    // Two instances without a broker never share one: no name can clash.
    createRealtime(quiet)
    createRealtime(quiet)
  })
})

describe('instances on broker objects of one namespace', () => {
  it('refuses a default name taken twice in one process', async () => {
    const first = createRealtime({ ...quiet, broker: countingBroker('ns-1') })
    expect(codeOf(() => createRealtime({ ...quiet, broker: countingBroker('ns-1') }))).toBe('REALTIME_NAME_IN_USE')
    expect(codeOf(() => createRealtime({ ...quiet, broker: countingBroker('ns-1'), name: 'sse' }))).toBe('REALTIME_NAME_IN_USE')
    // Another namespace, or another name: fine.
    createRealtime({ ...quiet, broker: countingBroker('ns-2') })
    createRealtime({ ...quiet, broker: countingBroker('ns-1'), driver: 'websocket' })
    await first.close()
    createRealtime({ ...quiet, broker: countingBroker('ns-1') })
  })

  it('lets instances given one name on purpose be one application, as across processes', () => {
    createRealtime({ ...quiet, broker: countingBroker('ns-3'), name: 'app' })
    createRealtime({ ...quiet, broker: countingBroker('ns-3'), name: 'app' })
    // But not with an instance that has it by default.
    createRealtime({ ...quiet, broker: countingBroker('ns-4') })
    expect(codeOf(() => createRealtime({ ...quiet, broker: countingBroker('ns-4'), name: 'sse' }))).toBe('REALTIME_NAME_IN_USE')
  })
})

describe('the name option', () => {
  it('accepts 1 to 64 of A-Z a-z 0-9 . _ - and nothing else', () => {
    for (const name of ['a', 'chat.v2_eu-1', 'x'.repeat(64)]) expect(codeOf(() => createRealtime({ ...quiet, name }))).toBeUndefined()
    for (const name of ['', 'a@b', 'a b', 'x'.repeat(65), 'ä', 'a:b', 'a/b', 7 as unknown as string]) {
      expect(codeOf(() => createRealtime({ ...quiet, name }))).toBe('REALTIME_INVALID_OPTION')
    }
  })
})

describe('scopeBroker', () => {
  it('adds the name to every topic it passes on and takes it off what comes back', () => {
    const broker = memoryBroker()
    const a = scopeBroker(broker, 'a', false)
    const b = scopeBroker(broker, 'b', false)
    const seenA: BrokerMessage[] = []
    const seenB: BrokerMessage[] = []
    a.subscribe((message) => seenA.push(message))
    b.subscribe((message) => seenB.push(message))
    const start = a.position!('channel:x') as Cursor
    a.addTopic!('channel:x')
    a.publish({ topic: 'channel:x', event: 'one', data: 1 })
    a.publish({ topic: 'channel:x', event: 'two', data: 2 })
    b.publish({ topic: 'channel:x', event: 'other', data: 3 })
    expect(seenA.map((message) => [message.topic, message.event, message.offset])).toEqual([
      ['channel:x', 'one', 1],
      ['channel:x', 'two', 2],
    ])
    expect(seenB.map((message) => [message.topic, message.offset])).toEqual([['channel:x', 1]])
    // The broker itself holds one stream per name.
    expect(broker.position!('channel:x@a')).toEqual({ epoch: start.epoch, offset: 2 })
    expect((broker.position!('channel:x@b') as Cursor).offset).toBe(1)
    // History answers stay synchronous for a synchronous broker, under the hub's topic.
    const replay = a.history!('channel:x', { epoch: start.epoch, offset: 0 })
    expect(replay).not.toBeInstanceOf(Promise)
    expect(replay).toMatchObject({
      ok: true,
      messages: [
        { topic: 'channel:x', data: 1 },
        { topic: 'channel:x', data: 2 },
      ],
    })
    // A topic without a name, or with a name nobody holds, reaches nobody.
    broker.publish({ topic: 'broadcast', event: 'stray', data: 0 })
    broker.publish({ topic: 'broadcast@c', event: 'stray', data: 0 })
    expect(seenA.length + seenB.length).toBe(3)
  })

  it('takes the name from the last @, so user ids and channels may hold @', () => {
    const broker = memoryBroker()
    const a = scopeBroker(broker, 'a', false)
    const seen: string[] = []
    a.subscribe((message) => seen.push(message.topic))
    a.publish({ topic: 'user:ann@example.com', event: 'hi', data: null })
    expect(seen).toEqual(['user:ann@example.com'])
  })

  it('keeps presence sets per name', async () => {
    const broker = memoryBroker()
    const a = scopeBroker(broker, 'a', false)
    const b = scopeBroker(broker, 'b', false)
    await a.presence!.add('channel:room', { connectionId: 'c1', userId: 'ann' })
    expect(await a.presence!.list('channel:room')).toEqual([{ connectionId: 'c1', userId: 'ann' }])
    expect(await b.presence!.list('channel:room')).toEqual([])
    expect(await broker.presence!.list('channel:room@a')).toHaveLength(1)
    expect(await b.presence!.remove('channel:room', 'c1')).toBe(false)
    expect(await a.presence!.remove('channel:room', 'c1')).toBe(true)
  })

  it('hands expired presence entries to the instance their topic names, under its own topic', () => {
    const inner = memoryBroker()
    const listeners: Array<(expired: ExpiredPresence) => void> = []
    const presence = Object.assign(Object.create(inner.presence!) as PresenceStore, {
      onExpired(listener: (expired: ExpiredPresence) => void) {
        listeners.push(listener)
        return () => listeners.splice(listeners.indexOf(listener), 1)
      },
    })
    const broker: Broker = Object.assign(Object.create(inner) as Broker, { presence })
    const seen: Record<string, string[]> = { a: [], b: [] }
    for (const name of ['a', 'b'] as const) scopeBroker(broker, name, false).presence!.onExpired!((expired) => seen[name]!.push(expired.topic))
    const entries = [{ connectionId: 'c1' }]
    for (const topic of ['channel:room@a', 'user:ann@example.com@b', 'channel:room', 'channel:room@c'])
      for (const listener of listeners) listener({ topic, entries })
    expect(seen).toEqual({ a: ['channel:room'], b: ['user:ann@example.com'] })
  })

  it('unnames asynchronous history answers too', async () => {
    const inner = memoryBroker()
    const asynchronous: Broker = Object.assign(Object.create(inner) as Broker, {
      history: async (topic: string, since: Cursor) => inner.history!(topic, since),
    })
    const a = scopeBroker(asynchronous, 'a', false)
    a.subscribe(() => {})
    const start = a.position!('broadcast') as Cursor
    a.publish({ topic: 'broadcast', event: 'one', data: 1 })
    expect(await a.history!('broadcast', start)).toMatchObject({ ok: true, messages: [{ topic: 'broadcast', data: 1 }] })
  })

  it('follows the broadcast while open, and frees the name when a subscribe throws', async () => {
    const broker = memoryBroker()
    const a = scopeBroker(broker, 'a', false)
    const seen: string[] = []
    a.subscribe((message) => seen.push(message.event))
    a.publish({ topic: 'broadcast', event: 'one', data: 1 })
    expect(seen).toEqual(['one'])
    const failing: Broker = Object.assign(Object.create(memoryBroker()) as Broker, {
      subscribe: () => {
        throw new Error('no')
      },
    })
    const view = scopeBroker(failing, 'x', true)
    expect(() => view.subscribe(() => {})).toThrow('no')
    expect(() => scopeBroker(failing, 'x', true)).not.toThrow()
    await a.close()
  })
})
