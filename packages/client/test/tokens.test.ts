// Tokens that expire, on Node against the real Node demo server with real short expiries: the
// client's `auth` callback gives the token for every connection and, over WebSocket, a fresh one
// when the server asks (`realtime:refresh`); an SSE stream ends at the expiry and the client
// reconnects with a fresh token, resuming; a refused renewal ends in close 4002 and a reconnect.
import { expect, it } from 'vitest'
import { connect, type ClientOptions } from '../src/index.js'
import { fastReconnect, nodeTransports, publish, record, useDemoServer } from './_support.js'

const demo = useDemoServer()
const { cleanups } = demo
let users = 0

const token = (user: string, lifetime: number) => `demo:${user}:${Date.now() + lifetime}`
function open(path: string, options: ClientOptions) {
  const client = connect(`${demo.server.url}${path}`, { ...nodeTransports, ...fastReconnect, ...options })
  cleanups.push(() => client.close())
  return client
}

it('WebSocket: renews the token over the open connection whenever the server asks, on the same connection', async () => {
  const user = `ws-token-${++users}`
  let calls = 0
  const client = open('/ws', { transport: 'websocket', auth: () => (calls++, token(user, 1200)) })
  const inbox = record(client, ['realtime:connected', 'realtime:refresh', 'realtime:authenticated', 'realtime:state', 'tick'])
  await inbox.next((item) => item.event === 'realtime:connected')
  const id = client.id
  await inbox.next(() => inbox.items.filter((item) => item.event === 'realtime:authenticated').length >= 3, 10_000, 'three renewals')
  expect(calls).toBeGreaterThanOrEqual(4) // the connection, then each renewal
  expect(client.id).toBe(id)
  expect(inbox.items.some((item) => item.event === 'realtime:state' && item.data.state === 'reconnecting')).toBe(false)
  await publish(demo.server.url, { user, event: 'tick', data: { n: 1 } })
  await inbox.next((item) => item.event === 'tick')
}, 20_000)

it('SSE: at the expiry the stream ends and the client reconnects with a fresh token, missing nothing', async () => {
  const user = `sse-token-${++users}`
  let calls = 0
  const client = open('/events', { auth: async () => (calls++, token(user, 1000)) })
  const inbox = record(client, ['realtime:connected', 'tick'])
  await inbox.next((item) => item.event === 'realtime:connected')
  for (let n = 1; n <= 12; n++) {
    await publish(demo.server.url, { user, event: 'tick', data: { n } })
    await new Promise((resolve) => setTimeout(resolve, 150))
  }
  await inbox.next(() => inbox.items.filter((item) => item.event === 'tick').length >= 12, 10_000, 'every tick')
  expect(inbox.items.filter((item) => item.event === 'tick').map((item) => item.data.n)).toEqual(Array.from({ length: 12 }, (_, index) => index + 1))
  expect(inbox.items.filter((item) => item.event === 'realtime:connected').length).toBeGreaterThanOrEqual(2)
  expect(calls).toBeGreaterThanOrEqual(2)
}, 20_000)

it('WebSocket: a renewal the server refuses ends in close 4002, and the client reconnects with a fresh token', async () => {
  const user = `refused-${++users}`
  let calls = 0
  // The second token belongs to someone else: the server refuses it and closes at the expiry.
  const client = open('/ws', { transport: 'websocket', auth: () => token(++calls === 2 ? 'someone-else' : user, 1200) })
  const inbox = record(client, ['realtime:connected', 'realtime:error', 'realtime:state'])
  await inbox.next((item) => item.event === 'realtime:connected')
  const closed = await inbox.next((item) => item.event === 'realtime:state' && item.data.state === 'reconnecting', 10_000, 'the close')
  expect(closed.data.code).toBe(4002)
  expect(inbox.items.filter((item) => item.event === 'realtime:error').map((item) => item.data.code)).toEqual([
    'REALTIME_UNAUTHORIZED',
    'REALTIME_TOKEN_EXPIRED',
  ])
  await inbox.next(() => inbox.items.filter((item) => item.event === 'realtime:connected').length >= 2, 10_000, 'the reconnect')
  expect(calls).toBeGreaterThanOrEqual(3)
}, 20_000)

it('an auth callback that throws is reported (REALTIME_AUTH_FAILED) and retried after the backoff', async () => {
  let calls = 0
  const client = open('/ws', {
    transport: 'websocket',
    auth: () => {
      if (++calls === 1) throw new Error('token service down')
      return token(`retry-${++users}`, 60_000)
    },
  })
  const inbox = record(client, ['realtime:connected', 'realtime:error'])
  await inbox.next((item) => item.event === 'realtime:connected', 10_000, 'connected after the retry')
  expect(inbox.items.find((item) => item.event === 'realtime:error')?.data.code).toBe('REALTIME_AUTH_FAILED')
})

it('SSE: when a channel change reopens the stream and auth() then fails, the client reconnects instead of staying open on a closed stream', async () => {
  const user = `sse-reopen-${++users}`
  let calls = 0
  const client = open('/events', {
    auth: () => {
      if (++calls === 2) throw new Error('token service down')
      return token(user, 60_000)
    },
  })
  const inbox = record(client, ['realtime:connected', 'realtime:error', 'realtime:state'])
  await inbox.next((item) => item.event === 'realtime:connected')
  client.subscribe('orders')
  await inbox.next((item) => item.event === 'realtime:state' && item.data.state === 'reconnecting', 10_000, 'a reconnect after the failed auth')
  await inbox.next(() => inbox.items.filter((item) => item.event === 'realtime:connected').length >= 2, 10_000, 'connected again')
  expect(inbox.items.find((item) => item.event === 'realtime:error')?.data.code).toBe('REALTIME_AUTH_FAILED')
  expect(client.state).toBe('open')
}, 20_000)
