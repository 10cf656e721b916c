import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FetchHandler } from '@loewen-digital/realtime-core'
import { checkStandIns, handleRequest } from './serve.js'

/**
 * A Node request listener from a fetch-style handler: the request becomes a web `Request` whose
 * signal aborts when the client leaves, and the `Response` is written to the Node response. An SSE
 * response of `realtime.sse()` is written to the socket directly, unbuffered, and its connection
 * closes as soon as the Node response does (`close`): what a host that pipes the web stream
 * without listening for `close` misses. h3 1 (Nitro 2, Nuxt 4) is such a host: its `sendStream`
 * never notices a departed client, so the stream (and the connection) would stay open forever.
 *
 * The promise settles once the response is handed over (an SSE stream goes on after it).
 *
 * @example
 * // server/routes/realtime/sse.get.js (Nuxt 4): the spec's GET, served on h3's Node objects
 * import { nodeListener } from '@loewen-digital/realtime/node'
 * const sse = nodeListener(GET)
 * export default defineEventHandler((event) => sse(event.node.req, event.node.res))
 */
export function nodeListener(
  handler: FetchHandler,
  options: { onError?: (error: unknown) => void } = {},
): (incoming: IncomingMessage, outgoing: ServerResponse) => Promise<void> {
  const onError = options.onError ?? defaultOnError
  checkStandIns()
  return (incoming, outgoing) => handleRequest(handler, incoming, outgoing, onError)
}

function defaultOnError(error: unknown): void {
  console.error('[realtime] handler error:', error)
}
