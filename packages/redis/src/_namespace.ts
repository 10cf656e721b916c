// The backend namespace a Redis broker's topics live in (`Broker.namespace`): two brokers of one
// process with the same namespace share every stream, so the core keeps their instances' default
// names apart. No credentials: the string appears in error messages.

/** `redis <host>:<port>/<db> <prefix>` for the broker's url, ioredis options and prefix. */
export function redisNamespace(url: string, redis: { host?: string; port?: number; db?: number } | undefined, prefix: string): string {
  let host = '127.0.0.1'
  let port = '6379'
  let db = '0'
  try {
    const parsed = new URL(url)
    host = parsed.hostname || host
    port = parsed.port || port
    db = parsed.pathname.slice(1) || db
  } catch {}
  return `redis ${redis?.host ?? host}:${redis?.port ?? port}/${redis?.db ?? db} ${prefix}`
}

/**
 * `redis cluster <host>:<port>,... <prefix>` for a cluster's startup nodes (sorted, so their order
 * does not matter). Two brokers given different nodes of one cluster get different namespaces: the
 * core then does not see that they share streams (give the instances explicit names).
 */
export function clusterNamespace(nodes: readonly string[], prefix: string): string {
  const keys = nodes.map((node) => {
    try {
      const parsed = new URL(node)
      return `${parsed.hostname || '127.0.0.1'}:${parsed.port || '6379'}`
    } catch {
      return node
    }
  })
  return `redis cluster ${[...new Set(keys)].sort().join(',')} ${prefix}`
}
