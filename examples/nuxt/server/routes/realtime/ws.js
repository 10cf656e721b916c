import { crosswsHooks } from '@loewen-digital/realtime/node'
import { realtime } from '../../utils/realtime.js'

// The module documentation's WebSocket echo endpoint. Nitro hands WebSocket upgrades to crossws
// hooks, not to event handlers: crosswsHooks() runs realtime.upgrade()'s checks on the handshake
// (a refusal is answered with its HTTP status) and the spec's handlers on the connection.
export default defineWebSocketHandler(
  crosswsHooks(realtime, {
    onMessage: async (socket, message) => {
      const data = JSON.parse(message)
      await socket.send(JSON.stringify({ echo: data }))
    },
    onClose: (socket) => {
      console.log('Client disconnected')
    },
  }),
)
