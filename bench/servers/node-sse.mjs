// Plain node:http SSE: the event encoded once per message, one res.write(chunk) per client.
import { createServer } from 'node:http'
import { serveControl } from '../lib/server-control.mjs'

const clients = new Set()
const http = createServer((request, response) => {
  response.writeHead(200, { 'Content-Type': 'text/event-stream', 'Cache-Control': 'no-cache, no-transform', 'X-Accel-Buffering': 'no' })
  response.write('retry: 2000\n\n')
  clients.add(response)
  response.on('close', () => clients.delete(response))
})
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve))

serveControl({
  name: 'node-sse',
  port: http.address().port,
  kind: 'sse',
  count: () => clients.size,
  publish(data) {
    const chunk = `event: m\ndata: ${JSON.stringify(data)}\n\n`
    for (const response of clients) response.write(chunk)
  },
})
