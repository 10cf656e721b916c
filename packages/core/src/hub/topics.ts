// Topic grammar: the names under which the hub and brokers carry a stream, built and read here only.

/** The stream every connection is in. */
export const BROADCAST_TOPIC = 'broadcast'

/** What a topic carries: the broadcast, one user's stream, one channel, or a channel's presence updates. */
export type TopicKind = 'broadcast' | 'user' | 'channel' | 'presence'

const USER_PREFIX = 'user:'
/** Ends a topic on a broker, before the instance's name (`broadcast@chat`); no name contains it. */
const NAME_SEPARATOR = '@'
const CHANNEL_PREFIX = 'channel:'
const PRESENCE_PREFIX = 'presence:'

/** The topic of a user's stream (`sendTo(userId)`). */
export function userTopic(userId: string | number): string {
  return USER_PREFIX + userId
}

/** The topic of a channel. */
export function channelTopic(channel: string): string {
  return CHANNEL_PREFIX + channel
}

/** The topic of a channel's presence updates (not resumable). */
export function presenceTopic(channel: string): string {
  return PRESENCE_PREFIX + channel
}

/** The kind of a topic; undefined for a name the hub never makes. */
export function topicKind(topic: string): TopicKind | undefined {
  if (topic === BROADCAST_TOPIC) return 'broadcast'
  if (topic.startsWith(USER_PREFIX)) return 'user'
  if (topic.startsWith(CHANNEL_PREFIX)) return 'channel'
  if (topic.startsWith(PRESENCE_PREFIX)) return 'presence'
  return undefined
}

/** The user id, channel or presence channel a topic names (empty for the broadcast). */
export function topicSubject(topic: string): string {
  switch (topicKind(topic)) {
    case 'user':
      return topic.slice(USER_PREFIX.length)
    case 'channel':
      return topic.slice(CHANNEL_PREFIX.length)
    case 'presence':
      return topic.slice(PRESENCE_PREFIX.length)
    default:
      return ''
  }
}

/**
 * A topic as the broker carries it for the instance named `name`: `<topic>@<name>` (for example
 * `channel:orders@chat`). The topic keeps its kind prefix, so a broker that reads kinds still can.
 */
export function namedTopic(topic: string, name: string): string {
  return topic + NAME_SEPARATOR + name
}

/** Where the instance name of a broker's topic starts (after its last `@`); 0 for a topic without one. */
export function nameStart(named: string): number {
  return named.lastIndexOf(NAME_SEPARATOR) + 1
}
