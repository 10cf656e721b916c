// The spec's "Publishing to SSE clients" snippet, as written, inside a function that supplies
// the snippet's free variables (`realtime`, `latestData`, `userId`, `order`).
import type { createRealtime } from '@loewen-digital/fullstack/realtime'

export async function publish(realtime: ReturnType<typeof createRealtime>, latestData: unknown, userId: string, order: unknown) {
  // Broadcast to all connected clients
  await realtime.broadcast({ event: 'update', data: latestData })
  // Send to a specific user's connections
  await realtime.sendTo(userId, { event: 'order-update', data: order })
}
