import { realtime } from '../../lib/realtime.js'

// The module documentation's WebSocket echo endpoint. The upgrade reaches it through the
// realtime() Vite plugin in `astro dev` and through routeUpgrades() (server.js) in production.
export async function GET({ request }) {
  return realtime.upgrade(request, {
    onMessage: async (socket, message) => {
      const data = JSON.parse(message)
      await socket.send(JSON.stringify({ echo: data }))
    },
    onClose: (socket) => {
      console.log('Client disconnected')
    },
  })
}
