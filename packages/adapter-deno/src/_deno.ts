import { RealtimeError } from '@loewen-digital/realtime-core'

/**
 * @internal The parts of the `Deno` namespace this adapter uses, declared structurally so the
 * published declarations need no Deno types. `test/fixtures/deno-api.check.ts` proves (with
 * `deno check`) that the real `Deno` namespace fits.
 */
export interface DenoRuntime {
  upgradeWebSocket(request: Request, options?: { idleTimeout?: number }): { response: Response; socket: WebSocket }
  serve(options: DenoServeOptions, handler: (request: Request) => Response | Promise<Response>): DenoHttpServer
}

/** @internal Options of `Deno.serve` this adapter passes. */
export interface DenoServeOptions {
  port?: number
  hostname?: string
  signal?: AbortSignal
  onListen?: (address: { hostname: string; port: number }) => void
  onError?: (error: unknown) => Response | Promise<Response>
}

/** @internal The server `Deno.serve` returns. */
export interface DenoHttpServer {
  readonly finished: Promise<void>
}

/** @internal The `Deno` global; throws `REALTIME_UPGRADE_UNAVAILABLE` on any other runtime. */
export function denoRuntime(): DenoRuntime {
  const runtime = (globalThis as { Deno?: Partial<DenoRuntime> }).Deno
  if (typeof runtime?.upgradeWebSocket !== 'function' || typeof runtime.serve !== 'function') {
    throw new RealtimeError(
      'REALTIME_UPGRADE_UNAVAILABLE',
      '@loewen-digital/realtime-deno needs the Deno runtime; import @loewen-digital/realtime, which picks the adapter of the runtime it runs on',
    )
  }
  return runtime as DenoRuntime
}
