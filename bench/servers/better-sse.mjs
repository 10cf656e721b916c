// better-sse 0.16.1: a session per request, registered on one channel, channel.broadcast().
import { createServer } from 'node:http'
import { createChannel, createSession } from 'better-sse'
import { serveControl } from '../lib/server-control.mjs'

const channel = createChannel()
const http = createServer(async (request, response) => {
  const session = await createSession(request, response)
  channel.register(session)
})
await new Promise((resolve) => http.listen(0, '127.0.0.1', resolve))

serveControl({
  name: 'better-sse',
  port: http.address().port,
  kind: 'sse',
  count: () => channel.sessionCount,
  publish: (data) => channel.broadcast(data, 'm'),
})
