// Where the broker keeps things in Redis. `topic` is the hub's topic: `broadcast`, `user:<id>` or
// `channel:<name>`. Documented in docs/redis.md (key layout); change both together.

/** The Redis keys and channels of one broker prefix. */
export interface KeyLayout {
  /** Hash `{ epoch, offset }`: the stream's header. */
  meta(topic: string): string
  /** Stream of the topic's recent messages, entry ids `<offset>-0`. */
  stream(topic: string): string
  /** Pub/sub channel of the topic's live messages. */
  channel(topic: string): string
  /** The prefix every pub/sub channel starts with. */
  readonly channelPrefix: string
  /** Hash `connectionId -> <process id>\n<entry JSON>`: the topic's presence set. */
  presence(topic: string): string
  /** String with a TTL: the process is alive while it exists. */
  process(id: string): string
  /** The prefix of every process key. */
  readonly processPrefix: string
  /** Hash `{ last, cancelled }`: which of one process's publishes ran, and which never will. */
  publisher(id: string): string
}

/** The key layout under `prefix`. */
export function keyLayout(prefix: string): KeyLayout {
  const channelPrefix = `${prefix}:topic:`
  const processPrefix = `${prefix}:process:`
  return {
    meta: (topic) => `${prefix}:meta:${topic}`,
    stream: (topic) => `${prefix}:stream:${topic}`,
    channel: (topic) => channelPrefix + topic,
    channelPrefix,
    presence: (topic) => `${prefix}:presence:${topic}`,
    process: (id) => processPrefix + id,
    processPrefix,
    publisher: (id) => `${prefix}:publisher:${id}`,
  }
}

/** A random id of `length` characters from `[a-z0-9]`: epochs and process ids. */
export function randomId(length = 12): string {
  let id = ''
  while (id.length < length) id += Math.random().toString(36).slice(2)
  return id.slice(0, length)
}
