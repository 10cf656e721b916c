// A diagnostic, not a baseline: bun-publish.ts with one small JS function called per connection
// (a hash of the request URL), enough for JSC to optimize it with its DFG tier after a few dozen
// connections. bench/bun/one-time-cost.mjs compares it with bun-publish.ts to show what the first
// optimized compile costs a process, whatever it compiles.
import { serveControl } from '../../lib/server-control.mjs'

let sink = 0
function hash(text: string): number {
  let value = 0
  for (let index = 0; index < text.length; index++) value = (value * 31 + text.charCodeAt(index)) | 0
  return value
}

const server = Bun.serve({
  port: 0,
  hostname: '127.0.0.1',
  fetch(request, server) {
    sink ^= hash(request.url)
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
  name: 'bun-publish-hot',
  port: server.port,
  kind: 'ws',
  count: () => server.subscriberCount('room'),
  publish: (data: object) => server.publish('room', JSON.stringify({ event: 'm', data, sink })),
})
