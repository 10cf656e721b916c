// The demo on Deno, on the embedded in-memory default (no Redis).
// Also the Deno fixture of the conformance suite (test/conformance).
// Run from the repository root: npm run demo:deno
// (= deno run --allow-net=127.0.0.1 --allow-env=PORT,REALTIME_FIXTURE apps/demo-deno/server.ts)
// `@loewen-digital/realtime` resolves through its `deno` export condition to the Deno adapter.
import { createRealtime, serve } from '@loewen-digital/realtime'
import { createDemoApp } from '@loewen-digital/demo-app'

/** Settings of the demo; the conformance suite passes its own through REALTIME_FIXTURE. */
export interface DemoOptions {
  port?: number
  hostname?: string
  heartbeat?: number
  maxConnections?: number
  maxMessageBytes?: number
  sseRetry?: number
  history?: { size?: number; ttl?: number } | false
  limitedMaxConnections?: number
}

/** Starts the demo; resolves to the running server and the app. */
export async function start(options: DemoOptions = {}) {
  const app = createDemoApp(createRealtime, options)
  const server = await serve({ fetch: app.fetch, port: options.port ?? 3000, hostname: options.hostname ?? '127.0.0.1' })
  return {
    ...server,
    app,
    close: async () => {
      await app.close()
      await server.close()
    },
  }
}

if (import.meta.main) {
  // REALTIME_FIXTURE (JSON) carries the conformance suite's settings when the suite spawns this file.
  const fixture = Deno.env.get('REALTIME_FIXTURE')
  const settings: DemoOptions = fixture ? JSON.parse(fixture) : {}
  const server = await start({ ...settings, port: Number(Deno.env.get('PORT') ?? 3000) })
  console.log(`realtime demo (deno) listening on ${server.url}/ (open ${server.url}/?user=alice in a second window)`)
}
