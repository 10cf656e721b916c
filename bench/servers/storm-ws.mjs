// Reconnect storm: ws 8.23 with a naive catch-up (lib/storm-store.mjs). A client reconnects with
// `?last=<id>`; the server sends what it missed from Redis, then adds it to the broadcast loop.
import { createServer } from 'node:http'
import { WebSocket, WebSocketServer } from 'ws'
import { catchUpStore } from '../lib/storm-store.mjs'
import { serveControl } from '../lib/server-control.mjs'

const store = catchUpStore(process.env.STORM_REDIS_URL, process.env.STORM_PREFIX)
const live = new Set()
const http = createServer()
const wss = new WebSocketServer({ server: http })
wss.on('connection', async (socket, request) => {
  socket.on('error', () => {})
  socket.on('close', () => live.delete(socket))
  const query = request.url.indexOf('?')
  const last = query === -1 ? NaN : Number(new URLSearchParams(request.url.slice(query + 1)).get('last'))
  for (const message of await store.since(last)) if (socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify({ event: 'm', data: message }))
  if (socket.readyState === WebSocket.OPEN) live.add(socket)
})
const publish = async (data) => {
  const message = JSON.stringify({ event: 'm', data: await store.append(data) })
  for (const client of live) if (client.readyState === WebSocket.OPEN) client.send(message)
}
// Messages published while this process was down (by the other instances of a deploy), stored first.
for (let seq = 0; seq < Number(process.env.STORM_PUBLISH_AT_START ?? 0); seq++) await store.append({ seq, missed: true })
await new Promise((resolve) => http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve))

serveControl({
  name: 'ws',
  port: http.address().port,
  kind: 'ws-naive',
  count: () => live.size,
  publish,
  commands: { async publish({ count }) { for (let seq = 0; seq < count; seq++) await publish({ seq }); return {} } },
})
