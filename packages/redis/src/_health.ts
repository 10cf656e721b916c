// Health checks of Redis connections: a PING answered in time, or the connection is taken for dead.
import type { Redis } from 'ioredis'
import type { RedisClient } from './_clients.js'

/**
 * Resolves to true when `promise` settles within `ms`, false otherwise (with `fulfilled`, true
 * only when it fulfils).
 */
export async function within(promise: Promise<unknown>, ms: number, fulfilled = false): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))
  try {
    return await Promise.race([
      promise.then(
        () => true,
        () => !fulfilled,
      ),
      timeout,
    ])
  } finally {
    clearTimeout(timer)
  }
}

/**
 * Pings `connection` (unless a ping of `checking` is still out for it) and calls `silent` when no
 * answer came within `ms`: a connection that says nothing (half-open TCP, a proxy that stopped
 * forwarding, a frozen Redis) is found only this way.
 */
export function pingWithin(connection: RedisClient, ms: number, checking: Set<unknown>, silent: () => void): void {
  if (checking.has(connection)) return
  checking.add(connection)
  void within(connection.ping(), ms, true).then((answered) => {
    checking.delete(connection)
    if (!answered) silent()
  })
}

/** The parts of ioredis's `Cluster` (v6) that hold the sharded subscriber connections. */
interface ShardedSubscriberGroup {
  shardedSubscribers?: { shardedSubscribers?: Map<string, { getInstance(): Redis | null }> }
}

/** The connections of a sharded subscriber client, one per primary (none if ioredis keeps them elsewhere). */
export function shardSubscribers(subscriber: RedisClient): Redis[] {
  const shards = (subscriber as unknown as ShardedSubscriberGroup).shardedSubscribers?.shardedSubscribers
  if (!(shards instanceof Map)) return []
  const connections: Redis[] = []
  for (const shard of shards.values()) {
    const connection = shard.getInstance()
    if (connection) connections.push(connection)
  }
  return connections
}
