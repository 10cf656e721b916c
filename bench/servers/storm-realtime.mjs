// Reconnect storm: this library on Node (`serve()`), with the Redis broker so that history (and
// with it resume) survives the restart. Clients resume with the cursor map they last saw:
// WebSocket `?lastEventId=<map>`, SSE `Last-Event-ID: <map>`. Default options otherwise, except
// maxConnections (raised from 10,000) and the per-user cap (no users here).
import { createRealtime, serve } from '@loewen-digital/realtime-node'
import { redisBroker } from '../../packages/redis/dist/index.js'
import { serveControl } from '../lib/server-control.mjs'

const transport = process.env.BENCH_TRANSPORT === 'sse' ? 'sse' : 'websocket'
const broker = redisBroker({ url: process.env.STORM_REDIS_URL, prefix: process.env.STORM_PREFIX })
const realtime = createRealtime({ driver: transport, broker, maxConnections: 100_000 })
for (let seq = 0; seq < Number(process.env.STORM_PUBLISH_AT_START ?? 0); seq++) await realtime.broadcast({ event: 'm', data: { seq, missed: true } })
const server = await serve({ fetch: (request) => realtime.handle(request), port: Number(process.env.PORT ?? 0) })

serveControl({
  name: `realtime-${transport === 'sse' ? 'sse' : 'ws'}`,
  port: server.port,
  kind: transport === 'sse' ? 'sse' : 'ws',
  count: () => realtime.stats().connections,
  publish: (data) => realtime.broadcast({ event: 'm', data }),
  commands: { async publish({ count }) { for (let seq = 0; seq < count; seq++) await realtime.broadcast({ event: 'm', data: { seq } }); return {} } },
})
