// This library on Bun, as a user would run it: createRealtime + serve() from the Bun adapter,
// default options except maxConnections (raised from 10,000 so N = 10,000 is not refused).
// BENCH_TRANSPORT=websocket|sse picks what the load generator speaks; BENCH_HISTORY=false turns
// history and resume cursors off (the default keeps them on).
import { createRealtime, serve } from '@loewen-digital/realtime-bun'
import { serveControl } from '../../lib/server-control.mjs'

const transport = process.env.BENCH_TRANSPORT === 'sse' ? 'sse' : 'websocket'
const realtime = createRealtime({
  driver: transport,
  maxConnections: 100_000,
  history: process.env.BENCH_HISTORY === 'false' ? false : undefined,
})
const server = await serve({ fetch: (request) => realtime.handle(request), port: 0 })

serveControl({
  name: `realtime-bun-${transport === 'sse' ? 'sse' : 'ws'}`,
  port: server.port,
  kind: transport === 'sse' ? 'sse' : 'ws',
  count: () => realtime.stats().connections,
  publish: (data: object) => void realtime.broadcast({ event: 'm', data }),
})
