// The custom server (Next's documented `next({ dev })` + `getRequestHandler()`), with WebSocket
// upgrades routed to the app: `next start` has no way to hand an upgrade to a route handler, and
// Next's own upgrade listener ends any upgrade aimed at an app route. So:
// - Next gets a stand-in `httpServer` for its upgrade listener, and only `/_next/*` upgrades (the
//   dev server's HMR socket) are passed on to it;
// - every other upgrade goes through Next's request handler (routeUpgrades) to the route file,
//   where the spec's realtime.upgrade(request, ...) completes it (app/realtime/ws/route.js).
import { EventEmitter } from 'node:events'
import { createServer } from 'node:http'
import { routeUpgrades } from '@loewen-digital/realtime/node'
import next from 'next'

const dev = process.argv.includes('--dev')
const hostname = process.env.HOST ?? '127.0.0.1'
const port = Number(process.env.PORT ?? 3000)

const nextUpgrades = new EventEmitter() // Next attaches its upgrade listener (HMR) here
const app = next({ dev, hostname, port, httpServer: nextUpgrades })
await app.prepare()
const handle = app.getRequestHandler()
// Two arguments only: Next's handler reads a third one as a parsed URL (routeUpgrades passes `next`).
const listener = (incoming, outgoing) => handle(incoming, outgoing)

const isNext = (incoming) => (incoming.url ?? '/').startsWith('/_next/')
const server = createServer(listener)
routeUpgrades(server, listener, { skip: isNext })
server.on('upgrade', (incoming, socket, head) => {
  if (isNext(incoming)) nextUpgrades.emit('upgrade', incoming, socket, head)
})
server.listen(port, hostname, () => {
  console.log(`Listening on http://${hostname}:${server.address().port}`)
})
