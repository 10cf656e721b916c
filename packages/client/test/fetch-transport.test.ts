// The fetch-based SSE transport (`@loewen-digital/realtime-client/fetch`) on Node against the real
// Node demo server: headers (Authorization) on every connection, a fresh value per reconnect,
// refusals read from the status. The shared behaviour (events, channels, resume across a blip,
// gaps, Retry-After) runs in node.test.ts as the `sse-fetch` transport.
import { expect, it } from 'vitest'
import { connect } from '../src/index.js'
import { fetchEventSource } from '../src/fetch.js'
import { startTcpProxy } from '../../../test/helpers/tcp-proxy.js'
import { fastReconnect, publish, record, useDemoServer } from './_support.js'

const demo = useDemoServer()
const { cleanups } = demo

it('sends the headers on every connection, asking for them again at each reconnect', async () => {
  const proxy = await startTcpProxy(demo.server.url)
  cleanups.push(() => proxy.close())
  let calls = 0
  const client = connect(`${proxy.url}/events`, {
    ...fastReconnect,
    EventSource: fetchEventSource({ headers: async () => ({ Authorization: `Bearer token-user-${++calls}` }) }),
  })
  cleanups.push(() => client.close())
  const inbox = record(client, ['tick', 'realtime:connected'])
  await inbox.next((item) => item.event === 'realtime:connected')
  // identify reads the bearer token: the user stream of token-user-1 reaches this client.
  await publish(demo.server.url, { user: 'token-user-1', event: 'tick', data: { n: 1 } })
  await inbox.next((item) => item.event === 'tick' && item.data.n === 1)
  expect(proxy.cut()).toBeGreaterThan(0)
  await eventuallyConnected(inbox, 2)
  expect(calls).toBeGreaterThanOrEqual(2)
  await publish(demo.server.url, { user: `token-user-${calls}`, event: 'tick', data: { n: 2 } })
  await inbox.next((item) => item.event === 'tick' && item.data.n === 2)
})

it('a refusal is read from the status at once (no second request)', async () => {
  let requests = 0
  const fetcher = (input: string, init?: RequestInit) => {
    requests++
    return fetch(input, init)
  }
  const client = connect(`${demo.server.url}/nowhere`, { ...fastReconnect, EventSource: fetchEventSource({ fetch: fetcher }), fetch: fetcher })
  cleanups.push(() => client.close())
  const inbox = record(client, ['realtime:state', 'realtime:error'])
  const state = await inbox.next((item) => item.event === 'realtime:state' && item.data.state === 'closed')
  expect(state.data.status).toBe(404)
  expect(requests).toBe(1)
})

async function eventuallyConnected(inbox: ReturnType<typeof record>, count: number): Promise<void> {
  await inbox.next(() => inbox.items.filter((item) => item.event === 'realtime:connected').length >= count, 10_000, `connection ${count}`)
}
