// Reconnect storm: Socket.IO 4.8.4 (websocket transport, one room) with a naive catch-up
// (lib/storm-store.mjs). A client reconnects with its last id in the CONNECT packet's auth
// (`40{"last":<id>}`); the server emits what it missed from Redis, then joins it to the room.
// (Socket.IO's connection state recovery does not survive a restart with the in-memory adapter.)
import { createServer } from 'node:http'
import { Server } from 'socket.io'
import { catchUpStore } from '../lib/storm-store.mjs'
import { serveControl } from '../lib/server-control.mjs'

const store = catchUpStore(process.env.STORM_REDIS_URL, process.env.STORM_PREFIX)
const http = createServer()
const io = new Server(http, { transports: ['websocket'], serveClient: false })
let joined = 0
io.on('connection', async (socket) => {
  const last = Number(socket.handshake.auth?.last)
  for (const message of await store.since(last)) socket.emit('m', message)
  socket.join('room')
  joined++
  socket.on('disconnect', () => joined--)
})
const publish = async (data) => io.to('room').emit('m', await store.append(data))
for (let seq = 0; seq < Number(process.env.STORM_PUBLISH_AT_START ?? 0); seq++) await store.append({ seq, missed: true })
await new Promise((resolve) => http.listen(Number(process.env.PORT ?? 0), '127.0.0.1', resolve))

serveControl({
  name: 'socketio',
  port: http.address().port,
  kind: 'socketio',
  path: '/socket.io/?EIO=4&transport=websocket',
  count: () => joined,
  publish,
  commands: { async publish({ count }) { for (let seq = 0; seq < count; seq++) await publish({ seq }); return {} } },
})
