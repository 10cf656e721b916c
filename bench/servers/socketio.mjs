// Socket.IO 4.8.4, websocket transport only, every client in one room, io.to(room).emit().
import { createServer } from 'node:http'
import { Server } from 'socket.io'
import { serveControl } from '../lib/server-control.mjs'

const http = createServer()
const io = new Server(http, { transports: ['websocket'], serveClient: false })
io.on('connection', (socket) => socket.join('room'))
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve))

serveControl({
  name: 'socketio',
  port: http.address().port,
  kind: 'socketio',
  path: '/socket.io/?EIO=4&transport=websocket',
  count: () => io.engine.clientsCount,
  publish: (data) => io.to('room').emit('m', data),
})
