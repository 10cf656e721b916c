// Hand-written floor of an SSE connect in this library's protocol (a reference, not a library):
// node:http, a random id indexed by id, and the same first bytes a realtime stream sends (`retry:`
// and `realtime:connected` with the id, the cursor and the heartbeat interval), in one write.
import { randomUUID } from 'node:crypto'
import { createServer } from 'node:http'
import { serveControl } from '../lib/server-control.mjs'

const HEADERS = { 'Cache-Control': 'no-cache, no-transform', 'Content-Type': 'text/event-stream', 'X-Accel-Buffering': 'no' }
const epoch = Date.now().toString(36)
let sequence = 0
const clients = new Map()
const http = createServer((request, response) => {
  const resume = request.headers['last-event-id'] // read, as a resuming server must
  const id = randomUUID()
  const cursor = resume ?? `b=${epoch}:${sequence}`
  response.writeHead(200, HEADERS)
  response.write(`retry: 2000\n\nid: ${cursor}\nevent: realtime:connected\ndata: {"id":"${id}","cursor":"${cursor}","heartbeat":30000}\n\n`)
  clients.set(id, response)
  response.on('close', () => clients.delete(id))
})
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve))

serveControl({
  name: 'sse-floor',
  port: http.address().port,
  kind: 'sse',
  count: () => clients.size,
  publish(data) {
    const chunk = `id: b=${epoch}:${++sequence}\nevent: m\ndata: ${JSON.stringify(data)}\n\n`
    for (const response of clients.values()) response.write(chunk)
  },
})
