// The `Response` of an SSE stream: its status and headers, and the stand-ins an adapter's streams use.
import type { SseConnection } from './sse-connection.js'

/** Response headers of every SSE stream: no caching, no transforming, no proxy buffering. */
export const SSE_HEADERS: Readonly<Record<string, string>> = {
  'Content-Type': 'text/event-stream',
  'Cache-Control': 'no-cache, no-transform',
  'X-Accel-Buffering': 'no',
}

/** The init of every stream's `Response` (headers are added by {@link withSseHeaders}). */
export const OK: ResponseInit = { status: 200 }

/**
 * Adds `headers` (the caller's, if any) and then {@link SSE_HEADERS} (which win) to `response`.
 * Appended to the response's own `Headers` rather than given as an init: a record init is
 * converted and copied entry by entry, about twice the time on Node 20.
 */
export function withSseHeaders(response: Response, headers: HeadersInit | undefined): Response {
  const target = response.headers
  if (headers !== undefined) {
    new Headers(headers).forEach((value, name) => {
      target.append(name, value)
    })
    for (const name in SSE_HEADERS) target.set(name, SSE_HEADERS[name]!)
  } else {
    for (const name in SSE_HEADERS) target.append(name, SSE_HEADERS[name]!)
  }
  return response
}

/** The stand-in `response` of connections whose web stream was released (shared, body-less). */
let released: Response | undefined

/** {@link released}, made on first use. */
export function releasedResponse(): Response {
  return (released ??= new Response(null, { status: 200, headers: SSE_HEADERS }))
}

/**
 * The `response` of a connection made with `deferStream`: a real `Response` (status, headers)
 * whose `body` is built only when read. The adapter that knows the connection never reads it.
 */
export class DeferredSseResponse extends Response {
  readonly #connection: SseConnection<any>
  #body: Response['body'] = null

  constructor(connection: SseConnection<any>) {
    super(null, OK)
    this.#connection = connection
  }

  /** The connection's web stream, built on first access. */
  override get body(): Response['body'] {
    return (this.#body ??= this.#connection.webStream() as Response['body'])
  }
}
