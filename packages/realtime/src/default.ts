/**
 * The web-standard entry (`default` condition): SSE works on any runtime with `Response` and
 * `ReadableStream`; WebSocket upgrades answer 501 and `serve()` throws, because both need a
 * runtime adapter. On Node the `node` condition picks `@loewen-digital/realtime-node` instead.
 */
import { RealtimeError, type ServedServer, type ServeOptions } from '@loewen-digital/realtime-core'

export * from '@loewen-digital/realtime-core'

/**
 * Serves a fetch-style handler on the current runtime. Available on Node, Bun and Deno (through
 * their conditions of this package); this web-standard build has no server and throws
 * `REALTIME_UPGRADE_UNAVAILABLE`.
 */
export function serve(options: ServeOptions): Promise<ServedServer> {
  void options
  return Promise.reject(
    new RealtimeError(
      'REALTIME_UPGRADE_UNAVAILABLE',
      "serve() is not available in the web-standard build; import @loewen-digital/realtime/node (or your runtime's subpath)",
    ),
  )
}
