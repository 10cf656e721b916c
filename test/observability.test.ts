// Metrics and traces through the real OpenTelemetry SDK (issue #22): a MeterProvider with an
// in-memory reader and a TracerProvider with an in-memory exporter, registered globally, picked up
// by `otel()`; scripted scenarios on a real Node server, then the recorded figures are read back.
import { metrics, trace } from '@opentelemetry/api'
import { MeterProvider, MetricReader, type MetricData } from '@opentelemetry/sdk-metrics'
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base'
import { afterAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createRealtime, serve } from '@loewen-digital/realtime'
import { otel } from '@loewen-digital/realtime/otel'
import { eventually, openSse, openWs } from './helpers/clients.js'

class TestReader extends MetricReader {
  protected async onForceFlush(): Promise<void> {}
  protected async onShutdown(): Promise<void> {}
}
const reader = new TestReader()
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }))
const spans = new InMemorySpanExporter()
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(spans)] }))

const realtime = createRealtime({
  telemetry: otel(),
  heartbeat: 200,
  maxConnections: 6,
  maxConnectionsPerUser: 1,
  maxMessageBytes: 512,
  maxBufferedBytes: 32 * 1024,
  rateLimit: { messages: 20, interval: 1000 },
  identify: (request) => new URL(request.url).searchParams.get('user'),
  onError: () => {},
})
const chunk = 'x'.repeat(16 * 1024)
const server = await serve({
  fetch: (request) => {
    const path = new URL(request.url).pathname
    if (path === '/events') return realtime.sse(request).response
    return realtime.upgrade(request, {
      onMessage: (socket, message) => {
        if (message === 'flood') for (let index = 0; index < 500 && socket.open; index++) socket.send(chunk)
        else socket.send(message)
      },
    })
  },
  port: 0,
})
const base = server.url
afterAll(async () => {
  await realtime.close({ drainTimeout: 100 })
  await server.close()
})

/** Every data point of a metric, as `{ attributes, value }`. */
async function points(name: string): Promise<Array<{ attributes: Record<string, unknown>; value: any }>> {
  const { resourceMetrics } = await reader.collect()
  const found: MetricData | undefined = resourceMetrics.scopeMetrics.flatMap((scope) => scope.metrics).find((metric) => metric.descriptor.name === name)
  return (found?.dataPoints ?? []).map((point) => ({ attributes: point.attributes, value: point.value }))
}
const sum = async (name: string, match: Record<string, unknown> = {}) =>
  (await points(name))
    .filter((point) => Object.entries(match).every(([key, value]) => point.attributes[key] === value))
    .reduce((total, point) => total + (point.value as number), 0)

describe('OpenTelemetry metrics and traces', () => {
  it('counts open connections by transport and every refused handshake by reason', async () => {
    const sse = await openSse(`${base}/events`)
    const ws = await openWs(`${base}/ws?user=alice`)
    await eventually(async () => (await sum('realtime.connections', { 'realtime.transport': 'sse' })) === 1, 3000, 'one SSE connection')
    expect(await sum('realtime.connections', { 'realtime.transport': 'websocket' })).toBe(1)
    await openWs(`${base}/ws`, { headers: { Origin: 'https://evil.example' } }).catch(() => {})
    await fetch(`${base}/ws`).then((response) => response.text())
    await openWs(`${base}/ws?user=alice`).catch(() => {})
    const others = await Promise.all([1, 2, 3, 4].map(() => openSse(`${base}/events`)))
    const over = await fetch(`${base}/events`, { headers: { Accept: 'text/event-stream' } })
    expect(over.status).toBe(503)
    await over.body?.cancel()
    expect(await sum('realtime.handshakes.refused', { 'realtime.refusal.reason': 'origin' })).toBe(1)
    expect(await sum('realtime.handshakes.refused', { 'realtime.refusal.reason': 'upgrade-required' })).toBe(1)
    expect(await sum('realtime.handshakes.refused', { 'realtime.refusal.reason': 'user-cap' })).toBe(1)
    expect(await sum('realtime.handshakes.refused', { 'realtime.refusal.reason': 'capacity' })).toBe(1)
    for (const client of [sse, ws, ...others]) client.close()
    await eventually(async () => (await sum('realtime.connections')) === 0, 5000, 'every connection closed')
    expect(realtime.stats().refusals).toMatchObject({ origin: 1, 'upgrade-required': 1, 'user-cap': 1, capacity: 1 })
  })

  it('records closes by code and reason, connection durations, slow consumers and rejected messages', async () => {
    const normal = await openWs(`${base}/ws`)
    normal.socket.close(1000)
    const flooder = await openWs(`${base}/ws`)
    for (let index = 0; index < 30; index++) flooder.send(`m${index}`)
    const big = await openWs(`${base}/ws`)
    big.send('y'.repeat(2048))
    const slow = new WebSocket(base.replace('http', 'ws') + '/ws')
    slow.on('error', () => {})
    await new Promise<void>((resolve) => slow.once('open', () => resolve()))
    ;(slow as unknown as { _socket: { pause(): void } })._socket.pause()
    slow.send('flood')
    const silent = new WebSocket(base.replace('http', 'ws') + '/ws', { autoPong: false } as WebSocket.ClientOptions)
    silent.on('error', () => {})
    await new Promise<void>((resolve) => silent.once('open', () => resolve()))
    const closes = async (reason: string) => sum('realtime.connections.closed', { 'realtime.close.reason': reason })
    await eventually(async () => (await closes('normal')) >= 1, 5000, 'a normal close')
    await eventually(async () => (await closes('rate_limited')) === 1, 5000, 'a rate-limit close')
    await eventually(async () => (await closes('message_too_big')) === 1, 5000, 'a message-too-big close')
    await eventually(async () => (await closes('slow_consumer')) === 1, 5000, 'a slow-consumer close')
    await eventually(async () => (await closes('heartbeat_timeout')) === 1, 5000, 'a heartbeat timeout')
    expect(await sum('realtime.connections.closed', { 'realtime.close.code': 4001 })).toBe(1)
    expect(await sum('realtime.slow_consumers')).toBe(1)
    expect(await sum('realtime.messages.rejected', { 'realtime.rejection.reason': 'rate_limited' })).toBe(1)
    expect(await sum('realtime.messages.rejected', { 'realtime.rejection.reason': 'message_too_big' })).toBe(1)
    expect(await sum('realtime.messages.inbound')).toBeGreaterThanOrEqual(22)
    const durations = await points('realtime.connection.duration')
    expect(durations.reduce((total, point) => total + point.value.count, 0)).toBeGreaterThanOrEqual(5)
    expect(realtime.stats()).toMatchObject({ slowConsumers: 1, rejected: { rate_limited: 1, message_too_big: 1 } })
    expect(realtime.stats().closes['4001']).toBe(1)
    for (const client of [flooder, big]) client.close()
    slow.terminate()
    silent.terminate()
  })

  it('counts published and delivered messages by kind, the publish latency, gaps and replays', async () => {
    const first = await openSse(`${base}/events`)
    const second = await openWs(`${base}/ws?resume`)
    await eventually(() => realtime.stats().connections === 2, 3000, 'two connections')
    await realtime.broadcast({ event: 'hello', data: 1 })
    await first.inbox.next((event) => event.event === 'hello', 3000, 'the broadcast')
    expect(await sum('realtime.messages.published', { 'realtime.message.kind': 'broadcast' })).toBe(1)
    expect(await sum('realtime.messages.delivered', { 'realtime.message.kind': 'broadcast' })).toBe(2)
    // Two recipients of one small message: more than one message's worth, less than a kilobyte.
    const bytes = await sum('realtime.bytes.written', { 'realtime.message.kind': 'broadcast' })
    expect(bytes).toBeGreaterThan(40)
    expect(bytes).toBeLessThan(1024)
    const latency = await points('realtime.publish.latency')
    expect(latency.reduce((total, point) => total + point.value.count, 0)).toBe(1)
    const connected = await first.inbox.next((event) => event.event === 'realtime:connected', 3000, 'connected')
    await realtime.broadcast({ event: 'missed', data: 2 })
    const resumed = await openSse(`${base}/events`, { headers: { 'Last-Event-ID': connected.id! } })
    await resumed.inbox.next((event) => event.event === 'missed', 3000, 'the replayed message')
    expect(await sum('realtime.messages.replayed')).toBeGreaterThanOrEqual(1)
    const invalid = await openSse(`${base}/events`, { headers: { 'Last-Event-ID': 'b=not-a-cursor' } })
    await invalid.inbox.next((event) => event.event === 'realtime:gap', 3000, 'a gap')
    expect(await sum('realtime.gaps', { 'realtime.gap.reason': 'invalid' })).toBeGreaterThanOrEqual(1)
    expect(realtime.stats().gaps.invalid).toBeGreaterThanOrEqual(1)
    expect(realtime.stats().published.broadcast).toBe(2)
    for (const client of [first, second, resumed, invalid]) client.close()
  })

  it('traces each handshake with its status and each publish', async () => {
    const handshakes = spans.getFinishedSpans().filter((span) => span.name === 'realtime.handshake')
    const statuses = handshakes.map((span) => span.attributes['http.response.status_code'])
    expect(statuses).toEqual(expect.arrayContaining([200, 101, 403, 426, 429, 503]))
    expect(handshakes.find((span) => span.attributes['http.response.status_code'] === 403)?.status.code).toBe(2)
    const publishes = spans.getFinishedSpans().filter((span) => span.name === 'realtime.publish')
    expect(publishes.length).toBeGreaterThanOrEqual(2)
    expect(publishes[0]!.attributes['realtime.message.kind']).toBe('broadcast')
  })
})
