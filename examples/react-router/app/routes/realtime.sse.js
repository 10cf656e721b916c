import { realtime } from '../lib/realtime.server.js'

// The module documentation's SSE endpoint, as a resource route (`?channel=` joins channels).
export async function loader({ request }) {
  const { response, stream } = realtime.sse(request)
  stream.send({ event: 'notification', data: { message: 'You have a new message' } })
  return response
}
