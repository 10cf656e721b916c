// The two ioredis clients of a broker: for one Redis two `Redis` connections (commands, and pub/sub
// in subscriber mode); for a Redis Cluster two `Cluster` clients (commands routed by slot, and
// sharded pub/sub: one subscriber connection per primary, `SSUBSCRIBE` to the shard that owns each
// channel's slot). The failure-related options are fixed here (docs/redis.md, "Why ioredis").
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis'

/** Where Redis is: one server, or the startup nodes of a cluster. */
export type RedisTarget = { url: string; cluster?: undefined } | { cluster: readonly string[]; url?: undefined }

/** A command client: one connection, or a cluster client. */
export type RedisClient = Redis | Cluster

/** Reconnect delays: 50 ms, doubling to 2 s. */
const backoff = (attempt: number) => Math.min(50 * 2 ** Math.min(attempt, 10), 2000)

/** Both clients, and whether pub/sub is sharded (a cluster). */
export function createClients(
  target: RedisTarget,
  redisOptions: RedisOptions | undefined,
  commandTimeout: number,
  processId: string,
): { command: RedisClient; subscriber: RedisClient; sharded: boolean } {
  // Commands fail fast while Redis is unreachable (nothing waits on it, nothing is sent twice);
  // both reconnect by themselves; we resubscribe and resync ourselves.
  const fixed = { enableOfflineQueue: false, autoResendUnfulfilledCommands: false, autoResubscribe: false, maxRetriesPerRequest: 0 } as const
  if (target.cluster === undefined) {
    const connectionOptions: RedisOptions = { retryStrategy: backoff, connectTimeout: commandTimeout, ...redisOptions, lazyConnect: false, ...fixed }
    return {
      command: new Redis(target.url, { ...connectionOptions, commandTimeout, connectionName: `realtime:${processId}` }),
      subscriber: new Redis(target.url, { ...connectionOptions, connectionName: `realtime-sub:${processId}` }),
      sharded: false,
    }
  }
  const { retryStrategy: _retry, enableOfflineQueue: _queue, ...nodeOptions } = redisOptions ?? {}
  const clusterOptions = (node: RedisOptions, extra: Partial<ClusterOptions>): ClusterOptions => ({
    clusterRetryStrategy: backoff,
    enableOfflineQueue: true,
    // A command whose connection closed under it (a primary that died) is never sent again: it may
    // have run. Redirections (MOVED, ASK) and CLUSTERDOWN mean it did not run: those are retried.
    retryDelayOnFailover: 0,
    slotsRefreshTimeout: Math.min(commandTimeout, 1000),
    ...extra,
    // Commands wait for a node's connection while it opens (at most `commandTimeout`): the cluster
    // refuses them otherwise. While the cluster itself reconnects they wait in its queue, where no
    // timeout applies: the broker sends nothing then, and bounds what it sent (`bounded`).
    redisOptions: { connectTimeout: commandTimeout, ...nodeOptions, ...fixed, enableOfflineQueue: true, ...node },
  })
  return {
    command: new Cluster([...target.cluster], clusterOptions({ commandTimeout, connectionName: `realtime:${processId}` }, {})),
    subscriber: new Cluster([...target.cluster], clusterOptions({ connectionName: `realtime-sub:${processId}` }, { shardedSubscribers: true })),
    sharded: true,
  }
}
