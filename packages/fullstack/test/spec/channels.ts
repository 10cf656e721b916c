// The spec's "Channels" snippet, as written, on the WebSocket endpoint's instance; `order` is the
// snippet's free variable.
import { realtime } from './websocket-endpoint.js'

export function setUpChannels() {
  // Client subscribes to a channel (sent as a message)
  // Server-side handling:
  realtime.channel('orders', {
    onJoin: async (socket, userId) => {
      await realtime.sendTo(socket, { event: 'connected', data: { channel: 'orders' } })
    },
  })
}

export async function announce(order: unknown) {
  // Broadcast to everyone in a channel
  await realtime.toChannel('orders').broadcast({ event: 'new-order', data: order })
}
