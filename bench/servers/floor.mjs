// The hand-written floor (a reference, not a library): ws does the handshake; each message is
// framed once and the same Buffer is written to every socket, corked until the end of the tick.
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'
import { serveControl } from '../lib/server-control.mjs'

const http = createServer()
const wss = new WebSocketServer({ server: http })
wss.on('connection', (socket) => socket.on('error', () => {}))
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve))

let corked = false
const uncork = () => {
  corked = false
  for (const client of wss.clients) client._socket.uncork()
}

serveControl({
  name: 'floor',
  port: http.address().port,
  kind: 'ws',
  count: () => wss.clients.size,
  publish(data) {
    const payload = Buffer.from(JSON.stringify({ event: 'm', data }))
    const frame = Buffer.allocUnsafe(payload.length + (payload.length < 126 ? 2 : 4))
    frame[0] = 0x81
    let offset = 2
    if (payload.length < 126) frame[1] = payload.length
    else {
      frame[1] = 126
      frame.writeUInt16BE(payload.length, 2)
      offset = 4
    }
    payload.copy(frame, offset)
    if (!corked) {
      corked = true
      for (const client of wss.clients) client._socket.cork()
      process.nextTick(uncork)
    }
    for (const client of wss.clients) client._socket.write(frame)
  },
})
