import { nodeListener } from '@loewen-digital/realtime/node'
import { realtime } from '../../utils/realtime.js'

// The module documentation's SSE endpoint, unchanged (`?channel=` joins channels).
export async function GET(request) {
  const { response, stream } = realtime.sse(request)
  stream.send({ event: 'notification', data: { message: 'You have a new message' } })
  return response
}

// h3 1 pipes a stream into the Node response without listening for `close`: a departed client
// would never be noticed. nodeListener(GET) writes the stream to the Node response itself,
// unbuffered, and closes the connection when that response closes.
const sse = nodeListener(GET)
export default defineEventHandler((event) => sse(event.node.req, event.node.res))
