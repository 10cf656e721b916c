// The demo on Bun, on the embedded in-memory default (no Redis): `bun apps/demo-bun/server.ts`.
// Also the Bun fixture of the conformance suite (packages/adapter-bun/test/conformance.test.ts).
// It imports the facade, so running it proves that Bun resolves `@loewen-digital/realtime` to the
// Bun adapter (the `bun` export condition).
import { createRealtime, serve } from '@loewen-digital/realtime'
// @ts-expect-error the demo app is plain JavaScript
import { createDemoApp } from '@loewen-digital/demo-app'

interface DemoOptions {
  port?: number
  hostname?: string
  heartbeat?: number
  maxConnections?: number
  maxMessageBytes?: number
  limitedMaxConnections?: number
  /** Options of the Redis broker (`{ url, prefix, ... }`); absent: the in-memory broker. */
  redis?: Record<string, unknown>
  history?: { size?: number; ttl?: number } | false
}

/** Starts the demo; resolves to the running server and the app. */
export async function start(options: DemoOptions = {}) {
  // Loaded only when asked for, so the demo runs without Redis (REALTIME_REDIS_URL or a `redis` setting).
  // A specifier in a variable: the Bun adapter's type check must not depend on the Redis package's build.
  const redisPackage = '@loewen-digital/realtime-redis'
  const broker = options.redis ? (await import(redisPackage)).redisBroker({ history: options.history, ...options.redis }) : undefined
  const app = createDemoApp(createRealtime, { ...options, broker })
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
  const settings = process.env.REALTIME_FIXTURE ? JSON.parse(process.env.REALTIME_FIXTURE) : {}
  if (process.env.REALTIME_REDIS_URL && !settings.redis) settings.redis = { url: process.env.REALTIME_REDIS_URL }
  const server = await start({ ...settings, port: Number(process.env.PORT ?? 3000) })
  console.log(`realtime demo (bun) listening on ${server.url}/ (open ${server.url}/?user=alice in a second window)`)
  const stop = async () => {
    await server.close()
    process.exit(0)
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
}
