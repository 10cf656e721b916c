// The soak test's server (bench/soak.mjs): this library on Node with users and a channel, so churn
// exercises every registry (connections, users, channels, cursors). Clients connect with
// `?user=<id>&channel=soak`, over SSE or WebSocket.
import { writeHeapSnapshot } from 'node:v8'
import { createRealtime, serve } from '@loewen-digital/realtime-node'
import { serveControl } from '../lib/server-control.mjs'

const realtime = createRealtime({
  maxConnections: 100_000,
  maxConnectionsPerUser: 100_000,
  identify: (request) => new URL(request.url).searchParams.get('user'),
})
const server = await serve({ fetch: (request) => realtime.handle(request), port: 0 })
const room = realtime.toChannel('soak')
let seq = 0

serveControl({
  name: 'soak',
  port: server.port,
  kind: 'ws',
  count: () => realtime.stats().connections,
  publish: (data) => void realtime.broadcast({ event: 'm', data }),
  commands: {
    /** Writes a heap snapshot (for looking into what the heap holds after the soak). */
    snapshot: ({ file }) => ({ file: writeHeapSnapshot(file) }),
    stats: () => ({ stats: realtime.stats(), sockets: process.getActiveResourcesInfo().filter((name) => name === 'TCPSocketWrap').length }),
    /** Traffic of the soak besides broadcasts: to the channel and to single users. */
    async traffic({ seconds, users, interval }) {
      const end = Date.now() + seconds * 1000
      let sent = 0
      while (Date.now() < end) {
        await room.broadcast({ event: 'room', data: { seq: seq++ } })
        await realtime.sendTo(`user-${Math.floor(Math.random() * users)}`, { event: 'direct', data: { seq: seq++ } })
        sent += 2
        await new Promise((resolve) => setTimeout(resolve, interval))
      }
      return { sent }
    },
  },
})
