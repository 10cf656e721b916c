// The spec's "Server-Sent Events (SSE)" snippet, as written.
import { createRealtime } from '@loewen-digital/fullstack/realtime'
const realtime = createRealtime({ driver: 'sse' })
// In your SSE endpoint handler (returns a Web Standard Response):
export async function GET(request: Request) {
  const { response, stream } = realtime.sse(request)
  // Send events from anywhere in your app
  stream.send({ event: 'notification', data: { message: 'You have a new message' } })
  return response
}
export { realtime }
