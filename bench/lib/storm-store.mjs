// The naive catch-up store the `ws` and Socket.IO storm servers use, as an application would write
// it without this library: every published message gets an id from a Redis counter and is kept in a
// capped Redis list; a client that reconnects says the last id it saw and is sent every newer
// message in the list, read with one LRANGE, before it gets live messages.
import { createRequire } from 'node:module'

// ioredis, as the Redis broker of this library uses it (no dependency of its own for the bench).
const { Redis } = createRequire(new URL('../../packages/redis/package.json', import.meta.url))('ioredis')

/** Messages kept for catch-up (the library's history keeps 100 per stream by default). */
const KEEP = 100

export function catchUpStore(url, prefix) {
  const redis = new Redis(url, { lazyConnect: false })
  const counter = `${prefix}:id`
  const log = `${prefix}:log`
  return {
    /** Stores `data` with the next id; resolves to the message as it goes on the wire. */
    async append(data) {
      const id = await redis.incr(counter)
      const message = { ...data, id }
      await redis.multi().rpush(log, JSON.stringify(message)).ltrim(log, -KEEP, -1).exec()
      return message
    },
    /** Every kept message newer than `last` (a number; NaN or absent: none), oldest first. */
    async since(last) {
      if (!(last >= 0)) return []
      const entries = await redis.lrange(log, 0, -1)
      const missed = []
      for (const entry of entries) {
        const message = JSON.parse(entry)
        if (message.id > last) missed.push(message)
      }
      return missed
    },
    close: () => redis.quit(),
  }
}
