import type { FetchHandler, ServedServer, ServeOptions } from '@loewen-digital/realtime-core'
import type { BunFetch, BunServer } from './_bun.js'
import { websocket } from './websocket.js'

/** The Bun server each request arrived on, recorded by {@link withServer}. */
const requestServers = new WeakMap<Request, BunServer>()

/** Adapter API: the Bun server of a request that came through {@link withServer}. */
export function serverOf(request: Request): BunServer | undefined {
  return requestServers.get(request)
}

/**
 * Wraps a `Bun.serve` `fetch` handler so that `realtime.upgrade(request)` (and `realtime.handle`)
 * inside it can find the Bun server that Bun passes as `fetch`'s second argument. Pass
 * {@link websocket} as the same server's `websocket` option. The handler still gets the server as
 * its second argument.
 *
 * @example
 * Bun.serve({
 *   port: 3000,
 *   fetch: withServer((request) => (new URL(request.url).pathname === '/ws' ? realtime.upgrade(request) : app(request))),
 *   websocket,
 * })
 */
export function withServer<Fetch extends (request: Request, server: BunServer) => unknown>(fetch: Fetch): Fetch {
  return function (this: unknown, request: Request, server: BunServer) {
    requestServers.set(request, server)
    return fetch.call(this, request, server)
  } as Fetch
}

/**
 * Serves a fetch-style handler (`(request) => Response`) on `Bun.serve`, WebSocket upgrades
 * included: an upgrade request reaches the same handler, where `realtime.upgrade(request)`
 * completes it. The same shape as `serve` on Node; resolves once listening.
 *
 * @example
 * const server = await serve({ fetch: (request) => realtime.handle(request), port: 3000 })
 */
export async function serve(options: ServeOptions): Promise<ServedServer> {
  const onError = options.onError ?? defaultOnError
  const fetch: FetchHandler = options.fetch
  const hostname = options.hostname ?? '127.0.0.1'
  const server = Bun.serve({
    port: options.port ?? 3000,
    hostname,
    fetch: withServer(fetch as BunFetch) as never,
    websocket,
    error(error: Error) {
      onError(error)
      return new Response('Internal Server Error', { status: 500, headers: { 'Content-Type': 'text/plain' } })
    },
  })
  const port = server.port ?? options.port ?? 3000
  const host = hostname.includes(':') ? `[${hostname}]` : hostname
  return {
    port,
    url: `http://${host}:${port}`,
    close: async () => {
      await server.stop(true)
    },
  }
}

function defaultOnError(error: unknown): void {
  console.error('[realtime] server error:', error)
}
