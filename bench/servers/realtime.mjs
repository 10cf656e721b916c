// This library on Node, as a user would run it: createRealtime + serve(), default options except
// maxConnections (raised from 10,000 so that N = 10,000 is not refused at the limit).
// BENCH_TRANSPORT=websocket|sse picks what the load generator speaks; the server serves both.
import { createRealtime, serve } from '@loewen-digital/realtime-node'
import { serveControl } from '../lib/server-control.mjs'

const transport = process.env.BENCH_TRANSPORT === 'sse' ? 'sse' : 'websocket'
const realtime = createRealtime({ driver: transport, maxConnections: 100_000 })
const server = await serve({ fetch: (request) => realtime.handle(request), port: 0 })

serveControl({
  name: `realtime-${transport === 'sse' ? 'sse' : 'ws'}`,
  port: server.port,
  kind: transport === 'sse' ? 'sse' : 'ws',
  count: () => realtime.stats().connections,
  publish: (data) => void realtime.broadcast({ event: 'm', data }),
})
