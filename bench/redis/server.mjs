// A bench server: this library on Node (`serve()`), WebSocket clients on /ws, and /burst which
// publishes `count` broadcasts here (as fast as publish() resolves, or paced at `rate` per second)
// each carrying its publish time. With BENCH_REDIS_URL it uses the Redis broker.
import { createRealtime, serve } from '@loewen-digital/realtime-node'

let broker
if (process.env.BENCH_REDIS_URL) {
  const { redisBroker } = await import('../../packages/redis/dist/index.js')
  broker = redisBroker({ url: process.env.BENCH_REDIS_URL, prefix: process.env.BENCH_PREFIX })
}
const realtime = createRealtime({ broker, heartbeat: 0, maxConnections: 100_000, maxConnectionsPerUser: 100_000 })
const now = () => performance.timeOrigin + performance.now()

async function burst({ count, rate, size = 0 }) {
  const padding = 'x'.repeat(size)
  const start = now()
  if (!rate) {
    // Keep up to 64 publishes in flight, as concurrent requests of an app would.
    let next = 0
    await Promise.all(
      Array.from({ length: 64 }, async () => {
        while (next < count) {
          const n = next++
          await realtime.broadcast({ event: 'tick', data: { n, t: now(), padding } })
        }
      }),
    )
  } else {
    for (let n = 0; n < count; n++) {
      const due = start + (n * 1000) / rate
      const wait = due - now()
      if (wait > 0) await new Promise((resolve) => setTimeout(resolve, wait))
      await realtime.broadcast({ event: 'tick', data: { n, t: now(), padding } })
    }
  }
  return { elapsed: now() - start }
}

const server = await serve({
  port: 0,
  hostname: '127.0.0.1',
  fetch: async (request) => {
    const url = new URL(request.url)
    if (url.pathname === '/ws') return realtime.upgrade(request)
    if (url.pathname === '/stats') return Response.json(realtime.stats())
    if (url.pathname === '/burst') return Response.json(await burst(await request.json()))
    return new Response('Not Found', { status: 404 })
  },
})
console.log(`bench server listening on ${server.url}`)
process.on('SIGTERM', async () => {
  await realtime.close({ drainTimeout: 500 })
  await server.close()
  process.exit(0)
})
