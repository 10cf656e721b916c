// The Prometheus path of docs/observability.md, for real (issue #22): the OpenTelemetry SDK with
// `@opentelemetry/exporter-prometheus` as its reader, a scripted scenario on a Node server, one
// scrape; every metric the Grafana dashboard in docs/grafana/ queries must be in it.
import { readFileSync } from 'node:fs'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus'
import { MeterProvider } from '@opentelemetry/sdk-metrics'
import { afterAll, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createRealtime, serve } from '@loewen-digital/realtime'
import { eventually, openSse, openWs } from './helpers/clients.js'

const exporter = new PrometheusExporter({ preventServerStart: true })
const provider = new MeterProvider({ readers: [exporter] })
const realtime = createRealtime({
  telemetry: { meter: provider.getMeter('@loewen-digital/realtime') },
  maxBufferedBytes: 32 * 1024,
  heartbeat: 0,
  onError: () => {},
})
const chunk = 'x'.repeat(16 * 1024)
const server = await serve({
  fetch: (request) =>
    new URL(request.url).pathname === '/events'
      ? realtime.sse(request).response
      : realtime.upgrade(request, {
          onMessage: (socket, message) => {
            if (message === 'flood') for (let index = 0; index < 1000 && socket.open; index++) socket.send(chunk)
          },
        }),
  port: 0,
})
const scrape = createServer((request, response) => exporter.getMetricsRequestHandler(request, response))
await new Promise<void>((resolve) => scrape.listen(0, '127.0.0.1', resolve))
afterAll(async () => {
  await realtime.close({ drainTimeout: 100 })
  await server.close()
  scrape.close()
})

it('exports every metric the Grafana dashboard queries, with Prometheus names', async () => {
  const base = server.url
  const sse = await openSse(`${base}/events`)
  const gap = await openSse(`${base}/events`, { headers: { 'Last-Event-ID': 'b=unreadable' } })
  await gap.inbox.next((event) => event.event === 'realtime:gap', 5000, 'a gap')
  const ws = await openWs(`${base}/ws`)
  ws.send('{"event":"realtime:subscribe","data":{}}') // a bad frame: rejected
  await ws.inbox.next((message) => message.event === 'realtime:error', 5000, 'the rejection')
  await openWs(`${base}/ws`, { headers: { Origin: 'https://evil.example' } }).catch(() => {}) // refused
  const slow = new WebSocket(base.replace('http', 'ws') + '/ws')
  slow.on('error', () => {})
  await new Promise<void>((resolve) => slow.once('open', () => resolve()))
  ;(slow as unknown as { _socket: { pause(): void } })._socket.pause()
  slow.send('flood')
  await eventually(() => realtime.stats().slowConsumers === 1, 5000, 'the slow consumer cut')
  await realtime.broadcast({ event: 'hello', data: 1 })
  await sse.inbox.next((event) => event.event === 'hello', 5000, 'the broadcast')
  for (const client of [sse, gap, ws]) client.close()
  slow.terminate()
  await eventually(() => realtime.stats().connections === 0, 5000, 'every connection closed')

  const { port } = scrape.address() as AddressInfo
  const exposition = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()
  const exported = new Set(
    exposition
      .split('\n')
      .filter((line) => line.startsWith('# TYPE '))
      .map((line) => line.split(' ')[2]),
  )
  const dashboard = JSON.parse(readFileSync(new URL('../docs/grafana/realtime-dashboard.json', import.meta.url), 'utf8'))
  const queried = new Set<string>()
  for (const panel of dashboard.panels) {
    for (const target of panel.targets)
      for (const name of target.expr.replace(/by \([^)]*\)/g, '').match(/realtime_[a-z_]+/g) ?? []) queried.add(name.replace(/_(bucket|sum|count)$/, ''))
  }
  expect(queried.size).toBeGreaterThanOrEqual(9)
  // A counter's family is exported without its `_total` suffix in `# TYPE` lines.
  const missing = [...queried].filter((name) => !exported.has(name) && !exported.has(name.replace(/_total$/, '')))
  expect(missing).toEqual([])
  expect(exposition).toMatch(/realtime_connections_closed_total\{[^}]*realtime_close_reason="slow_consumer"[^}]*\} 1/)
  expect(exposition).toMatch(/realtime_handshakes_refused_total\{[^}]*realtime_refusal_reason="origin"[^}]*\} 1/)
})
