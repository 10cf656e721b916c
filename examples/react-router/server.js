// The production server: what react-router-serve does (Express, compression(), static assets, the
// request handler), plus routeUpgrades() so that WebSocket upgrades reach app/routes/realtime.ws.js.
// react-router-serve itself offers no hook for the server's `upgrade` event.
import { createServer } from 'node:http'
import { createRequestHandler } from '@react-router/express'
import { routeUpgrades } from '@loewen-digital/realtime/node'
import compression from 'compression'
import express from 'express'

const app = express()
app.disable('x-powered-by')
app.use(compression()) // leaves SSE alone: realtime's responses say Cache-Control: no-transform
app.use('/assets', express.static('build/client/assets', { immutable: true, maxAge: '1y' }))
app.use(express.static('build/client', { maxAge: '1h' }))
app.all('/{*path}', createRequestHandler({ build: await import('./build/server/index.js') }))

const server = createServer(app)
routeUpgrades(server, app)
const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
server.listen(port, host, () => {
  const address = server.address()
  console.log(`Listening on http://${host}:${typeof address === 'object' && address ? address.port : port}`)
})
