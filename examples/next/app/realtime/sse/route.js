import { realtime } from '../../../lib/realtime.js'

export const dynamic = 'force-dynamic'

// The module documentation's SSE endpoint (`?channel=` joins channels).
export async function GET(request) {
  const { response, stream } = realtime.sse(request)
  stream.send({ event: 'notification', data: { message: 'You have a new message' } })
  return response
}
