// Shared by the client's tests: the Node demo server (the conformance fixture), real transports
// for Node (the `eventsource` package, `ws`) and a recorder of what a client receives.
import { EventSource } from 'eventsource'
import { afterAll, afterEach, beforeAll } from 'vitest'
import WebSocket from 'ws'
import type { ClientOptions, EventMap, RealtimeClient } from '../src/index.js'
import { FIXTURE_SETTINGS } from '../../../test/conformance/settings.js'
import { Inbox } from '../../../test/helpers/clients.js'
// @ts-expect-error the demo server is plain JavaScript
import { start as startDemo } from '../../../apps/demo-node/server.js'

export interface DemoServer {
  url: string
  port: number
  close(): Promise<void>
}

/** Starts the Node demo in this process with the conformance settings (short `retry:`, small history). */
export function startServer(port = 0): Promise<DemoServer> {
  return startDemo({ ...FIXTURE_SETTINGS, port })
}

/**
 * Starts the demo server for a test file (before its first test, closed after its last) and runs
 * the cleanups the tests push after each test.
 */
export function useDemoServer(): { readonly server: DemoServer; readonly cleanups: Array<() => unknown> } {
  const state = { server: undefined as unknown as DemoServer, cleanups: [] as Array<() => unknown> }
  beforeAll(async () => {
    state.server = await startServer()
  })
  afterAll(async () => {
    await state.server?.close()
  })
  afterEach(async () => {
    while (state.cleanups.length) await state.cleanups.pop()!()
  })
  return state
}

/** Node has no EventSource (and Node 20 no WebSocket): the client takes the packages' constructors. */
export const nodeTransports = {
  EventSource: EventSource as unknown as NonNullable<ClientOptions['EventSource']>,
  WebSocket: WebSocket as unknown as NonNullable<ClientOptions['WebSocket']>,
}

/** Quick reconnects for tests (the defaults are 1 s doubling to 30 s). */
export const fastReconnect = { reconnectDelay: 50, maxReconnectDelay: 400 }

export interface Received {
  event: string
  data: any
  channel?: string
}

/** Records every listed event a client emits, in order. */
export function record<Events extends EventMap>(client: RealtimeClient<Events>, events: string[]): Inbox<Received> {
  const inbox = new Inbox<Received>()
  for (const event of events) {
    client.on(event as never, ((data: unknown, message: { channel?: string }) => inbox.push({ event, data, channel: message.channel })) as never)
  }
  return inbox
}

/** POSTs to the demo's /publish. */
export async function publish(base: string, body: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${base}/publish`, { method: 'POST', headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) })
  if (response.status !== 200) throw new Error(`publish failed: ${response.status} ${await response.text()}`)
}

export const CONTROL = [
  'realtime:state',
  'realtime:connected',
  'realtime:subscribed',
  'realtime:unsubscribed',
  'realtime:gap',
  'realtime:error',
  'realtime:raw',
]
