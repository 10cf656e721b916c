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
  /**
   * Hash `connectionId -> <owner>\n<entry JSON>`: the topic's presence set, hash-tagged by topic
   * (`{<topic>}`) so a cluster keeps it in the topic's slot.
   */
  presence(topic: string): string
  /** Sorted set `owner -> deadline` (ms, Redis clock): the presence owners that are alive until then. */
  readonly owners: string
  /** Set of the presence topics one owner has entries in (what the sweeper cleans when it dies). */
  ownerTopics(owner: string): string
  /** Hash `{ last, cancelled }`: which of one process's publishes ran, and which never will. */
  publisher(id: string): string
}

/** The key layout under `prefix`. */
export function keyLayout(prefix: string): KeyLayout {
  const channelPrefix = `${prefix}:topic:`
  return {
    meta: (topic) => `${prefix}:meta:${topic}`,
    stream: (topic) => `${prefix}:stream:${topic}`,
    channel: (topic) => channelPrefix + topic,
    channelPrefix,
    presence: (topic) => `${prefix}:presence:{${topic}}`,
    owners: `${prefix}:owners`,
    ownerTopics: (owner) => `${prefix}:owner-topics:${owner}`,
    publisher: (id) => `${prefix}:publisher:${id}`,
  }
}

/** A random id of `length` characters from `[a-z0-9]`: epochs and process ids. */
export function randomId(length = 12): string {
  let id = ''
  while (id.length < length) id += Math.random().toString(36).slice(2)
  return id.slice(0, length)
}
