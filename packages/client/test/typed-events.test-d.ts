// Type tests: one event map, checked at compile time on the server (`createRealtime<Events>()`)
// and on the client (`connect<Events>()`). Checked by `tsc -p packages/client/tsconfig.test.json`
// (the package's `typecheck`, and test/types.test.ts): every `@ts-expect-error` must be an error.
import { createRealtime } from '@loewen-digital/realtime-core'
import { EventSource } from 'eventsource'
import * as v from 'valibot'
import { expectTypeOf } from 'vitest'
import WebSocket from 'ws'
import { z } from 'zod'
import { connect, type ClientError, type ConnectionState, type GapNotice, type RealtimeMessage } from '../src/index.js'

/** The map both sides share (in an app: one `events.ts` imported by server and page). */
type AppEvents = {
  'new-order': { id: number; total: number }
  'order-cancelled': { id: number; reason?: string }
  heartbeat: undefined
}

// ---- server -----------------------------------------------------------------------------------

const realtime = createRealtime<AppEvents>()
void realtime.broadcast({ event: 'new-order', data: { id: 1, total: 2 } })
void realtime.broadcast({ event: 'heartbeat' })
void realtime.toChannel('orders').broadcast({ event: 'order-cancelled', data: { id: 1 } })
void realtime.sendTo('user-1', { event: 'new-order', data: { id: 1, total: 2 } })
// @ts-expect-error an event that is not in the map
void realtime.broadcast({ event: 'new-orders', data: { id: 1, total: 2 } })
// @ts-expect-error data of the wrong type
void realtime.broadcast({ event: 'new-order', data: { id: '1', total: 2 } })
// @ts-expect-error data missing for an event whose data is required
void realtime.broadcast({ event: 'new-order' })
// @ts-expect-error data of another event
void realtime.toChannel('orders').broadcast({ event: 'order-cancelled', data: { total: 2 } })
// @ts-expect-error null is not the event's data
void realtime.sendTo('user-1', { event: 'new-order', data: null })
expectTypeOf<RealtimeMessage<AppEvents>>().toEqualTypeOf<
  | { event: 'new-order'; data: { id: number; total: number } }
  | { event: 'order-cancelled'; data: { id: number; reason?: string } }
  | { event: 'heartbeat'; data?: undefined }
>()
// Untyped, anything goes (the default map).
void createRealtime().broadcast({ event: 'whatever', data: [1, 2, 3] })

// ---- client -----------------------------------------------------------------------------------

const client = connect<AppEvents>('http://localhost/events', { channels: ['orders'] })
client.on('new-order', (order, message) => {
  expectTypeOf(order).toEqualTypeOf<{ id: number; total: number }>()
  expectTypeOf(message.event).toEqualTypeOf<'new-order'>()
  expectTypeOf(message.channel).toEqualTypeOf<string | undefined>()
  expectTypeOf(message.id).toEqualTypeOf<string | undefined>()
})
client.on('order-cancelled', (cancelled) => expectTypeOf(cancelled.reason).toEqualTypeOf<string | undefined>())
// @ts-expect-error an event that is not in the map
client.on('new-orders', () => {})
// @ts-expect-error a handler that expects other data
client.on('new-order', (order: { id: string }) => order)
expectTypeOf(client.on('new-order', () => {})).toEqualTypeOf<() => void>()

// The protocol's and the client's own events are typed too, whatever the map.
client.on('realtime:state', (change) => {
  expectTypeOf(change.state).toEqualTypeOf<ConnectionState>()
  expectTypeOf(change.delay).toEqualTypeOf<number | undefined>()
})
client.on('realtime:gap', (gap) => expectTypeOf(gap).toEqualTypeOf<GapNotice>())
client.on('realtime:error', (error) => expectTypeOf(error).toEqualTypeOf<ClientError>())
client.on('realtime:raw', (text) => expectTypeOf(text).toEqualTypeOf<string>())
// Protocol events without a name here yet can be listened to; their data is unknown.
client.on('realtime:presence', (data) => expectTypeOf(data).toEqualTypeOf<unknown>())
expectTypeOf(client.state).toEqualTypeOf<ConnectionState>()
expectTypeOf(client.send).parameter(0).toEqualTypeOf<unknown>()
expectTypeOf(client.send).returns.toEqualTypeOf<boolean>()

// Schemas must produce the map's type for their event.
connect<AppEvents>('/events', { schemas: { 'new-order': z.object({ id: z.number(), total: z.number() }) } })
connect<AppEvents>('/events', { schemas: { 'order-cancelled': v.object({ id: v.number(), reason: v.optional(v.string()) }) } })
// @ts-expect-error a schema whose output is not the event's data
connect<AppEvents>('/events', { schemas: { 'new-order': z.object({ id: z.string(), total: z.number() }) } })
// @ts-expect-error a schema for an event that is not in the map
connect<AppEvents>('/events', { schemas: { nope: z.string() } })

// Untyped clients get unknown data for any event.
const untyped = connect('/events')
untyped.on('anything', (data) => expectTypeOf(data).toEqualTypeOf<unknown>())
untyped.on('realtime:state', (change) => expectTypeOf(change.state).toEqualTypeOf<ConnectionState>())

// The `eventsource` and `ws` packages' constructors fit as they are (Node, Bun).
connect('http://localhost/events', { EventSource })
connect('http://localhost/ws', { transport: 'websocket', WebSocket })
// @ts-expect-error not a transport
connect('http://localhost/x', { transport: 'long-polling' })

// ---- client-to-server events and requests (one pair of maps for both sides) -------------------

/** Events the client sends, each a function from its data to what the server's handler answers. */
type ClientEvents = {
  'place-order': (data: { items: string[] }) => { orderId: number }
  typing: (data?: undefined) => void
}

const typedServer = createRealtime<AppEvents, ClientEvents>({
  schemas: { 'place-order': z.object({ items: z.array(z.string()) }), 'new-order': z.object({ id: z.number(), total: z.number() }) },
})
typedServer.on('place-order', async (data, socket) => {
  expectTypeOf(data).toEqualTypeOf<{ items: string[] }>()
  expectTypeOf(socket.userId).toEqualTypeOf<string | undefined>()
  return { orderId: data.items.length }
})
typedServer.on('typing', () => {})
// @ts-expect-error the handler must answer what the map says
typedServer.on('place-order', () => ({ orderId: 'x' }))
// @ts-expect-error an event the client map does not have
typedServer.on('place-orders', () => ({ orderId: 1 }))
// @ts-expect-error a schema whose output is not the client event's data
createRealtime<AppEvents, ClientEvents>({ schemas: { 'place-order': z.object({ items: z.number() }) } })
expectTypeOf(typedServer.on('typing', () => {})).toEqualTypeOf<() => void>()

const typedClient = connect<AppEvents, ClientEvents>('http://localhost/ws', {
  transport: 'websocket',
  schemas: { 'place-order': z.object({ items: z.array(z.string()) }) },
})
expectTypeOf(typedClient.request('place-order', { items: ['a'] })).toEqualTypeOf<Promise<{ orderId: number }>>()
void typedClient.request('place-order', { items: [] }, { timeout: 5000, resend: true })
// @ts-expect-error data of the wrong type
void typedClient.request('place-order', { items: [1] })
// @ts-expect-error an event the client map does not have
void typedClient.request('place-orders', { items: [] })
expectTypeOf(typedClient.emit('typing')).toEqualTypeOf<boolean>()
// @ts-expect-error data that the event does not take
typedClient.emit('place-order', { items: 'x' })
// @ts-expect-error data is required for this event
typedClient.emit('place-order')

// Untyped: any event, unknown data and result.
const untypedServer = createRealtime()
untypedServer.on('anything', (data) => expectTypeOf(data).toEqualTypeOf<unknown>())
expectTypeOf(connect('/ws', { transport: 'websocket' }).request('anything', 1)).toEqualTypeOf<Promise<unknown>>()
