import { realtime } from '../../../lib/realtime.js'

export const dynamic = 'force-dynamic'

// The module documentation's WebSocket echo endpoint. Next route handlers never see a Node
// upgrade on their own: server.js routes WebSocket upgrades here (routeUpgrades), and
// realtime.upgrade() takes the socket by the single-use token header the bridge set.
export async function GET(request) {
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
