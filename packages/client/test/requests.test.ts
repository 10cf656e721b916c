// client.request() and client.emit(), and the SSE dead-peer timer, on Node against the real Node demo server (its
// `realtime.on` handlers): answers, the server's error codes, timeouts, a network blip through a
// TCP proxy that is cut, resend after reconnect, requests made while connecting, close().
import { describe, expect, it } from 'vitest'
import { connect, RequestError, type ClientOptions } from '../src/index.js'
import { startTcpProxy } from '../../../test/helpers/tcp-proxy.js'
import { fastReconnect, nodeTransports, publish, record, useDemoServer } from './_support.js'

type ServerEvents = { chat: { id: number; user: string; text: string }; typing: { user: string } }
type ClientEvents = {
  'send-message': (data: { text: string }) => { id: number }
  typing: (data?: undefined) => void
  wait: (data: { ms: number }) => { waited: number }
  refuse: (data?: undefined) => never
  crash: (data?: undefined) => never
  'no-such-event': (data: number) => unknown
}

const demo = useDemoServer()
const { cleanups } = demo
let users = 0

function open(base = demo.server.url, options: ClientOptions<ServerEvents, ClientEvents> = {}) {
  const client = connect<ServerEvents, ClientEvents>(`${base}/ws?user=requester-${++users}`, {
    transport: 'websocket',
    ...nodeTransports,
    ...fastReconnect,
    ...options,
  })
  cleanups.push(() => client.close())
  return client
}

/** What a promise rejected with (fails the test when it resolved). */
async function rejection(promise: Promise<unknown>): Promise<RequestError> {
  try {
    await promise
  } catch (error) {
    expect(error).toBeInstanceOf(RequestError)
    return error as RequestError
  }
  throw new Error('expected a rejection')
}

describe('client.request on Node', () => {
  it('resolves with what the handler returned; a request made while connecting waits for the connection', async () => {
    const client = open(demo.server.url, { channels: ['chat'] })
    const inbox = record(client, ['chat'])
    expect(client.state).toBe('connecting')
    const { id } = await client.request('send-message', { text: 'hi' })
    expect(id).toEqual(expect.any(Number))
    const chat = await inbox.next((item) => item.event === 'chat' && item.data.id === id)
    expect(chat.data.text).toBe('hi')
  })

  it('resolves concurrent requests with their own answers', async () => {
    const client = open()
    const answers = await Promise.all([client.request('wait', { ms: 200 }), client.request('wait', { ms: 0 }), client.request('wait', { ms: 100 })])
    expect(answers).toEqual([{ waited: 200 }, { waited: 0 }, { waited: 100 }])
  })

  it("rejects with the server's code: a RealtimeError's, invalid data with issues, an unknown event, a failed handler", async () => {
    const client = open()
    expect(await rejection(client.request('refuse', undefined))).toMatchObject({ code: 'REALTIME_FORBIDDEN', message: 'not allowed to do that' })
    const invalid = await rejection(client.request('send-message', { text: '' }))
    expect(invalid.code).toBe('REALTIME_INVALID_DATA')
    expect(invalid.issues).toEqual([{ message: 'text must have 1 to 500 characters', path: ['text'] }])
    expect((await rejection(client.request('no-such-event', 1))).code).toBe('REALTIME_UNKNOWN_EVENT')
    const crashed = await rejection(client.request('crash', undefined))
    expect(crashed.code).toBe('REALTIME_HANDLER_ERROR')
    expect(crashed.message).not.toContain('internal detail')
    // The connection went on.
    expect(await client.request('wait', { ms: 0 })).toEqual({ waited: 0 })
  })

  it('rejects with REALTIME_TIMEOUT when no answer comes in time, and ignores the late answer', async () => {
    const client = open()
    const error = await rejection(client.request('wait', { ms: 1500 }, { timeout: 200 }))
    expect(error.code).toBe('REALTIME_TIMEOUT')
    expect(await client.request('wait', { ms: 0 })).toEqual({ waited: 0 })
  })

  it('rejects with REALTIME_DISCONNECTED when the network drops before the answer, and works after the reconnect', async () => {
    const proxy = await startTcpProxy(demo.server.url)
    cleanups.push(() => proxy.close())
    const client = open(proxy.url)
    const states = record(client, ['realtime:connected'])
    await states.next(() => true)
    const pending = client.request('wait', { ms: 1000 })
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(proxy.cut()).toBeGreaterThan(0)
    expect((await rejection(pending)).code).toBe('REALTIME_DISCONNECTED')
    expect(await client.request('wait', { ms: 0 }, { timeout: 8000 })).toEqual({ waited: 0 })
    expect(client.state).toBe('open')
  })

  it('with resend, sends an interrupted request again after the reconnect', async () => {
    const proxy = await startTcpProxy(demo.server.url)
    cleanups.push(() => proxy.close())
    const client = open(proxy.url)
    await record(client, ['realtime:connected']).next(() => true)
    const pending = client.request('wait', { ms: 300 }, { resend: true, timeout: 8000 })
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(proxy.cut()).toBeGreaterThan(0)
    expect(await pending).toEqual({ waited: 300 })
  })

  it('rejects pending requests with REALTIME_CLOSED on close(), and new ones at once', async () => {
    const client = open()
    const pending = client.request('wait', { ms: 1000 })
    client.close()
    expect((await rejection(pending)).code).toBe('REALTIME_CLOSED')
    expect((await rejection(client.request('wait', { ms: 0 }))).code).toBe('REALTIME_CLOSED')
  })

  it('rejects with REALTIME_UNSUPPORTED over SSE', async () => {
    const client = connect<ServerEvents, ClientEvents>(`${demo.server.url}/events`, { ...nodeTransports })
    cleanups.push(() => client.close())
    expect((await rejection(client.request('wait', { ms: 0 }))).code).toBe('REALTIME_UNSUPPORTED')
    expect(client.emit('typing')).toBe(false)
  })

  it('emits a plain event to its handler', async () => {
    const alice = open(demo.server.url, { channels: ['chat'] })
    const bob = open(demo.server.url, { channels: ['chat'] })
    const inbox = record(alice, ['typing'])
    await Promise.all([record(alice, ['realtime:subscribed']).next(() => true), record(bob, ['realtime:subscribed']).next(() => true)])
    expect(bob.emit('typing')).toBe(true)
    expect((await inbox.next(() => true)).data.user).toMatch(/^requester-/)
  })
})

describe('SSE dead-peer timer on Node', () => {
  it('a stream that goes silent (a network that drops traffic) is noticed, reconnected and resumed: nothing missed', async () => {
    const proxy = await startTcpProxy(demo.server.url)
    cleanups.push(() => proxy.close())
    const client = connect(`${proxy.url}/events?user=silent-${++users}`, { ...nodeTransports, ...fastReconnect })
    cleanups.push(() => client.close())
    const inbox = record(client, ['tick', 'realtime:connected', 'realtime:state'])
    await inbox.next((item) => item.event === 'realtime:connected')
    await publish(demo.server.url, { event: 'tick', data: { n: 1 } })
    await inbox.next((item) => item.event === 'tick' && item.data.n === 1)
    proxy.stall()
    await publish(demo.server.url, { event: 'tick', data: { n: 2 } })
    // Heartbeats every 300 ms in the fixture: silent for 2 s (the floor) means dead.
    const lost = await inbox.next((item) => item.event === 'realtime:state' && item.data.state === 'reconnecting', 10_000, 'the dead-peer timer')
    expect(lost.data).toMatchObject({ code: 4000, reason: 'heartbeat timeout' })
    proxy.resume()
    await inbox.next((item) => item.event === 'tick' && item.data.n === 2, 10_000, 'the missed tick')
    await publish(demo.server.url, { event: 'tick', data: { n: 3 } })
    await inbox.next((item) => item.event === 'tick' && item.data.n === 3)
    expect(inbox.items.filter((item) => item.event === 'tick').map((item) => item.data.n)).toEqual([1, 2, 3])
    expect(client.state).toBe('open')
  }, 30_000)
})
