// Where the broker keys things in Redis. `topic` is the hub's topic: `broadcast`, `user:<id>`,
// `channel:<name>` (and whatever else the core makes of them, e.g. scoped by an instance name).
// Documented in docs/redis.md (key layout); change both together.
//
// Every key and channel of one topic carries the hash tag `{<topic>}` (the topic with `%` and `}`
// escaped), so on a Redis Cluster they all live in one slot: each script touches one slot only,
// and the topic's sharded pub/sub channel is served by the shard that holds its stream.

/** The Redis keys and channels of one broker prefix. */
export interface KeyLayout {
  /** Hash `{ epoch, offset }`: the stream's header. */
  meta(topic: string): string
  /** Stream of the topic's recent messages, entry ids `<offset>-0`. */
  stream(topic: string): string
  /** Pub/sub channel of the topic's live messages. */
  channel(topic: string): string
  /** The topic of a pub/sub channel of this layout, or undefined for another channel. */
  topicOf(channel: string): string | undefined
  /**
   * Hash `connectionId -> <owner>\n<entry JSON>`: the topic's presence set, hash-tagged by topic
   * (`{<topic>}`) so a cluster keeps it in the topic's slot.
   */
  presence(topic: string): string
  /** Sorted set `owner -> deadline` (ms, Redis clock): the presence owners that are alive until then. */
  readonly owners: string
  /** Set of the presence topics one owner has entries in (what the sweeper cleans when it dies). */
  ownerTopics(owner: string): string
  /**
   * Hash `{ last, cancelled }`: which of one process's publishes to the topic ran, and which never
   * will. In the topic's slot, so the publish script touches one slot.
   */
  publisher(id: string, topic: string): string
}

/**
 * The hash tag of a topic: `{<topic>}` with `%` escaped as `%25` and `}` as `%7D`, so the tag
 * never ends early and is never empty (Redis hashes the whole key for an empty tag `{}`: the empty
 * topic gets `{%}`). Redis hashes only what is between the braces.
 */
export function hashTag(topic: string): string {
  if (topic === '') return '{%}'
  // Most topics have nothing to escape: no regular expression on the hot path then.
  if (!topic.includes('%') && !topic.includes('}')) return `{${topic}}`
  return `{${topic.replace(/%/g, '%25').replace(/\}/g, '%7D')}}`
}

/** The topic of a hash tag made by {@link hashTag}, or undefined when `tag` is not one. */
export function topicOfTag(tag: string): string | undefined {
  if (!tag.startsWith('{') || !tag.endsWith('}') || tag.length < 3) return undefined
  const inner = tag.slice(1, -1)
  if (inner === '%') return ''
  if (!inner.includes('%')) return inner
  return inner.replace(/%7D|%25/g, (code) => (code === '%7D' ? '}' : '%'))
}

/** The key layout under `prefix`. */
export function keyLayout(prefix: string): KeyLayout {
  const channelPrefix = `${prefix}:topic:`
  return {
    meta: (topic) => `${prefix}:meta:${hashTag(topic)}`,
    stream: (topic) => `${prefix}:stream:${hashTag(topic)}`,
    channel: (topic) => channelPrefix + hashTag(topic),
    topicOf: (channel) => (channel.startsWith(channelPrefix) ? topicOfTag(channel.slice(channelPrefix.length)) : undefined),
    presence: (topic) => `${prefix}:presence:{${topic}}`,
    owners: `${prefix}:owners`,
    ownerTopics: (owner) => `${prefix}:owner-topics:${owner}`,
    publisher: (id, topic) => `${prefix}:publisher:${hashTag(topic)}:${id}`,
  }
}

/** A random id of `length` characters from `[a-z0-9]`: epochs and process ids. */
export function randomId(length = 12): string {
  let id = ''
  while (id.length < length) id += Math.random().toString(36).slice(2)
  return id.slice(0, length)
}
