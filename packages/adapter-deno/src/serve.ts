import type { ServedServer, ServeOptions } from '@loewen-digital/realtime-core'
import { denoRuntime, type DenoHttpServer } from './_deno.js'

/**
 * Serves a fetch-style handler (`(request) => Response`) with `Deno.serve`, WebSocket upgrades
 * included: `realtime.upgrade(request)` in the handler completes them. The same shape as `serve()`
 * on Node and Bun. Resolves once listening; rejects when the port cannot be bound (for example
 * `Deno.errors.AddrInUse`, or `NotCapable` without `--allow-net`).
 *
 * @example
 * const server = await serve({ fetch: (request) => realtime.handle(request), port: 3000 })
 */
export function serve(options: ServeOptions): Promise<ServedServer> {
  const onError = options.onError ?? defaultOnError
  const hostname = options.hostname ?? '127.0.0.1'
  const host = hostname.includes(':') ? `[${hostname}]` : hostname
  const controller = new AbortController()
  let server: DenoHttpServer | undefined
  return new Promise<ServedServer>((resolve, reject) => {
    const close = async () => {
      controller.abort()
      await server?.finished
    }
    try {
      server = denoRuntime().serve(
        {
          port: options.port ?? 3000,
          hostname,
          signal: controller.signal,
          onListen: ({ port }) => resolve({ port, url: `http://${host}:${port}`, close }),
          onError(error) {
            onError(error)
            return new Response('Internal Server Error', { status: 500, headers: { 'Content-Type': 'text/plain' } })
          },
        },
        (request) => options.fetch(request),
      )
    } catch (error) {
      reject(error)
    }
  })
}

function defaultOnError(error: unknown): void {
  console.error('[realtime] server error:', error)
}
