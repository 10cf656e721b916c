// The demo on Node, on the embedded in-memory default (no Redis). With REALTIME_REDIS_URL set (or a
// `redis` setting), on the Redis broker: start several and they serve the same clients.
// Also the Node fixture of the conformance suite (test/conformance).
import { createRealtime, serve } from '@loewen-digital/realtime'
import { createDemoApp } from '@loewen-digital/demo-app'

/**
 * Starts the demo; resolves to the running server and the app.
 * @param {{ port?: number, hostname?: string, heartbeat?: number, maxConnections?: number, maxMessageBytes?: number }} [options]
 */
export async function start(options = {}) {
  // The demo's history window applies to the Redis broker too (createRealtime ignores it when given a broker).
  const broker = options.redis ? await redisBroker({ history: options.history, ...options.redis }) : options.broker
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

/** The Redis broker for `{ url, prefix, ... }`, loaded only when asked for (the demo runs without Redis). */
async function redisBroker(redis) {
  const { redisBroker } = await import('@loewen-digital/realtime-redis')
  return redisBroker(redis)
}

if (import.meta.url === `file://${process.argv[1]}`) {
  // REALTIME_FIXTURE (JSON) carries the conformance suite's settings when the suite spawns this file.
  const settings = process.env.REALTIME_FIXTURE ? JSON.parse(process.env.REALTIME_FIXTURE) : {}
  if (process.env.REALTIME_REDIS_URL && !settings.redis) settings.redis = { url: process.env.REALTIME_REDIS_URL }
  const server = await start({ ...settings, port: Number(process.env.PORT ?? 3000) })
  console.log(`realtime demo (node) listening on ${server.url}/ (open ${server.url}/?user=alice in a second window)`)
}
