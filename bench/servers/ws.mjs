// ws 8.23 with the plain broadcast loop from its README: one client.send(message) per open client.
import { createServer } from 'node:http'
import { WebSocket, WebSocketServer } from 'ws'
import { serveControl } from '../lib/server-control.mjs'

const http = createServer()
const wss = new WebSocketServer({ server: http })
wss.on('connection', (socket) => socket.on('error', () => {}))
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve))

serveControl({
  name: 'ws',
  port: http.address().port,
  kind: 'ws',
  count: () => wss.clients.size,
  publish(data) {
    const message = JSON.stringify({ event: 'm', data })
    for (const client of wss.clients) if (client.readyState === WebSocket.OPEN) client.send(message)
  },
})
