// crossws 0.4.17 on Node: every peer subscribes to one topic; the adapter's publish() sends to all.
import { createServer } from 'node:http'
import crossws from 'crossws/adapters/node'
import { serveControl } from '../lib/server-control.mjs'

const ws = crossws({ hooks: { open: (peer) => peer.subscribe('room') } })
const http = createServer()
http.on('upgrade', (request, socket, head) => ws.handleUpgrade(request, socket, head))
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve))

serveControl({
  name: 'crossws',
  port: http.address().port,
  kind: 'ws',
  count() {
    let count = 0
    for (const peers of ws.peers.values()) count += peers.size
    return count
  },
  publish: (data) => ws.publish('room', JSON.stringify({ event: 'm', data })),
})
