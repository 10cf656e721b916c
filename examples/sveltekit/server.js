// The production server: SvelteKit's adapter-node handler on node:http, with WebSocket upgrades
// routed to the same handler (so src/routes/realtime/ws/+server.js completes them).
import { createServer } from 'node:http'
import { routeUpgrades } from '@loewen-digital/realtime/node'
import { handler } from './build/handler.js'

const server = createServer(handler)
routeUpgrades(server, handler)
const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
server.listen(port, host, () => {
  const address = server.address()
  console.log(`Listening on http://${host}:${typeof address === 'object' && address ? address.port : port}`)
})
