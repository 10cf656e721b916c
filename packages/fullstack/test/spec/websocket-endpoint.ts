// The spec's "WebSocket support" snippet, as written.
import { createRealtime } from '@loewen-digital/fullstack/realtime'
const realtime = createRealtime({ driver: 'websocket' })
// Handle an upgrade request
export async function GET(request: Request) {
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
export { realtime }
