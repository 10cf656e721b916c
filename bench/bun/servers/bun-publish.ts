// The Bun baseline, written by hand: Bun.serve, every socket subscribes to one topic, and a
// broadcast is one `server.publish` of a frame serialized once. The Bun adapter is measured
// against it (target: within 1.2x in CPU per delivery and in memory per idle connection).
import { serveControl } from '../../lib/server-control.mjs'

const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  fetch(request, server) {
    return server.upgrade(request) ? undefined : new Response('Upgrade Required', { status: 426 })
  },
  websocket: {
    open(ws) {
      ws.subscribe('room')
    },
    message() {},
  },
})

serveControl({
  name: 'bun-publish',
  port: server.port,
  kind: 'ws',
  count: () => server.subscriberCount('room'),
  publish: (data: object) => server.publish('room', JSON.stringify({ event: 'm', data })),
})
