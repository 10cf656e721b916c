// The production server: @astrojs/node's standalone handler on node:http, with WebSocket upgrades
// routed to the same handler (so src/pages/realtime/ws.js completes them).
import { createServer } from 'node:http'
import { routeUpgrades } from '@loewen-digital/realtime/node'

process.env.ASTRO_NODE_AUTOSTART = 'disabled' // we start the server, with the upgrade listener
const { handler } = await import('./dist/server/entry.mjs')

const server = createServer(handler)
routeUpgrades(server, handler)
const port = Number(process.env.PORT ?? 4321)
const host = process.env.HOST ?? '127.0.0.1'
server.listen(port, host, () => {
  const address = server.address()
  console.log(`Listening on http://${host}:${typeof address === 'object' && address ? address.port : port}`)
})
