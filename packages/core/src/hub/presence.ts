// Presence: who is in a channel across processes, the snapshot on join, join/leave per user.
import type { Broker, BrokerMessage, ExpiredPresence, PresenceEntry, PresenceStore, RestoredPresence } from '../broker.js'
import type { Connection } from '../connection.js'
import { Outbound } from '../message.js'
import type { ChannelConfig, PresenceChange, PresenceMember } from '../options.js'
import { SERVER_CONTROL } from '../protocol.js'
import { transportError, type Reporting } from './reporting.js'
import { channelTopic, presenceTopic, topicKind, topicSubject } from './topics.js'
import { RealtimeError } from '../errors.js'

/**
 * Keeps presence entries in the broker's store (or this process's) and announces changes: a
 * user is one member however many connections it has, joining with its first and leaving with
 * its last.
 */
export class Presence {
  constructor(
    readonly store: PresenceStore,
    private readonly broker: Broker,
    private readonly reporting: Reporting,
  ) {}

  /** Members of a presence channel, across processes. */
  async members(channel: string): Promise<PresenceMember[]> {
    return groupMembers(await this.store.list(channelTopic(channel)))
  }

  /**
   * Writes a connection's entry (with its `presence.data`) to the store. A connection that closed or
   * left the channel while the entry was on its way (its `presence.data` awaited, or the store's
   * round trip) had its leave find nothing to remove: the entry is removed again once written, or
   * it would stay listed, a member nobody can remove.
   */
  async add(connection: Connection<any>, channel: string, config: ChannelConfig<any>): Promise<PresenceEntry> {
    const entry: PresenceEntry = { connectionId: connection.id, userId: connection.userId }
    const describe = typeof config.presence === 'object' ? config.presence.data : undefined
    if (describe) entry.data = await describe(connection, connection.userId, channel)
    entry.joinedAt = joinedNow()
    const topic = channelTopic(channel)
    await this.store.add(topic, entry)
    if (connection.isClosed || !connection.channels.has(channel)) this.remove(topic, connection)
    return entry
  }

  /** Adds a connection to a channel's presence, sends it the snapshot and announces a new member. */
  async join(connection: Connection<any>, channel: string, config: ChannelConfig<any>): Promise<void> {
    try {
      const entry = await this.add(connection, channel, config)
      const listed = await this.store.list(channelTopic(channel))
      const oldest = oldestOfMember(entry, listed)
      if (connection.isClosed || !connection.channels.has(channel)) {
        // Younger connections of the user left the announcement to this one, which is gone.
        if (oldest && entry.userId !== undefined) await this.handOver(connection, channel, entry.userId, config)
        return
      }
      const members = groupMembers(listed)
      connection.write(new Outbound(SERVER_CONTROL.PRESENCE, { channel, action: 'snapshot', members }))
      const self = connection.userId === undefined ? undefined : members.find((member) => member.userId === connection.userId)
      const member = self ?? { userId: connection.userId, connections: 1, data: entry.data }
      if (oldest) await this.announce(connection, { channel, action: 'join', member }, config)
    } catch (error) {
      this.reporting.report(connection, RealtimeError.isInstance(error) ? error : transportError(error))
    }
  }

  /** Removes a connection from a channel's presence and announces a member that left with it. */
  async leave(connection: Connection<any>, channel: string, config: ChannelConfig<any>): Promise<void> {
    const topic = channelTopic(channel)
    const userId = connection.userId // read now: a closing connection loses its user right after
    try {
      if (!(await this.store.remove(topic, connection.id))) return
      const remaining = userId === undefined ? 0 : (await this.store.list(topic)).filter((entry) => entry.userId === userId).length
      if (remaining === 0) await this.announceLeave(connection, channel, userId, config)
    } catch (error) {
      this.reporting.report(connection, transportError(error))
    }
  }

  /**
   * The user's oldest entry closed (or left the channel) between reading the channel and announcing
   * the user, and the user's younger connections, having found it, announce nothing: announces the
   * member for them if any is still there. Then counts again, like {@link announceLeave}: if they
   * left meanwhile (their leave may have gone out before this join), a `leave` follows, so the
   * last word about the member is right.
   */
  private async handOver(connection: Connection<any>, channel: string, userId: string, config: ChannelConfig<any>): Promise<void> {
    const topic = channelTopic(channel)
    const others = async () => (await this.store.list(topic)).filter((entry) => entry.userId === userId && entry.connectionId !== connection.id)
    const present = await others()
    if (present.length === 0) return
    await this.announce(undefined, { channel, action: 'join', member: groupMembers(present)[0]! }, config)
    if ((await others()).length === 0) await this.announce(undefined, { channel, action: 'leave', member: { userId, connections: 0, data: undefined } }, config)
  }

  /** Removes one entry from `topic` in the store, reporting a failure (never throwing). */
  remove(topic: string, connection: Connection<any>): void {
    try {
      const removed = this.store.remove(topic, connection.id)
      if (removed instanceof Promise) removed.catch((error: unknown) => this.reporting.report(connection, transportError(error)))
    } catch (error) {
      this.reporting.report(connection, transportError(error))
    }
  }

  /**
   * Entries the store removed because their process died (a crash, `kill -9`): announces the leave
   * of each member that has no entry left, exactly as when its last connection leaves. The store
   * hands each removed entry to one process only, so each leave is announced once.
   */
  async expired({ topic, entries }: ExpiredPresence, configOf: (channel: string) => ChannelConfig<any> | undefined): Promise<void> {
    const target = presenceChannel(topic, entries, configOf)
    if (!target) return
    const { channel, config } = target
    try {
      const users = new Set<string>()
      let anonymous = 0
      for (const entry of entries) {
        if (entry.userId === undefined) anonymous++
        else users.add(entry.userId)
      }
      const remaining = users.size === 0 ? [] : await this.store.list(topic)
      for (const entry of remaining) if (entry.userId !== undefined) users.delete(entry.userId)
      const gone: Array<string | undefined> = [...users]
      for (let count = 0; count < anonymous; count++) gone.push(undefined)
      for (const userId of gone) await this.announceLeave(undefined, channel, userId, config)
    } catch (error) {
      this.reporting.report(undefined, transportError(error))
    }
  }

  /**
   * Entries this process wrote again after the store had taken it for dead (their leaves may have
   * been announced meanwhile): announces a `join` for each member they belong to, as listed now (a
   * client may get one `join` more than needed when no leave was announced).
   */
  async restored({ topic, entries }: RestoredPresence, configOf: (channel: string) => ChannelConfig<any> | undefined): Promise<void> {
    const target = presenceChannel(topic, entries, configOf)
    if (!target) return
    const { channel, config } = target
    try {
      const users = new Set<string>()
      const anonymous = new Set<string>()
      for (const entry of entries) {
        if (entry.userId === undefined) anonymous.add(entry.connectionId)
        else users.add(entry.userId)
      }
      const listed = (await this.store.list(topic)).filter((entry) =>
        entry.userId === undefined ? anonymous.has(entry.connectionId) : users.has(entry.userId),
      )
      for (const member of groupMembers(listed)) await this.announce(undefined, { channel, action: 'join', member }, config)
    } catch (error) {
      this.reporting.report(undefined, transportError(error))
    }
  }

  /**
   * Announces that a member left. A user's new connection may have joined (in another process)
   * since the leave was decided, and its `join` may have been published before this `leave`: so
   * the user's entries are counted again once the leave is out, and if it is back, a `join`
   * follows, so the last word about the member is right (it may get one `join` more than needed).
   */
  private async announceLeave(connection: Connection<any> | undefined, channel: string, userId: string | undefined, config: ChannelConfig<any>): Promise<void> {
    await this.announce(connection, { channel, action: 'leave', member: { userId, connections: 0, data: undefined } }, config)
    if (userId === undefined) return
    const back = groupMembers((await this.store.list(channelTopic(channel))).filter((entry) => entry.userId === userId))[0]
    if (back) await this.announce(undefined, { channel, action: 'join', member: back }, config)
  }

  private async announce(connection: Connection<any> | undefined, change: PresenceChange, config: ChannelConfig<any>): Promise<void> {
    const message: BrokerMessage = { topic: presenceTopic(change.channel), event: SERVER_CONTROL.PRESENCE, data: change, ephemeral: true }
    if (change.action === 'join' && connection) message.except = connection.id
    await this.broker.publish(message)
    if (config.onPresence) this.reporting.guard(connection, 'onPresence', () => config.onPresence!(change))
  }
}

/** The presence channel of a store topic handed over with entries, unless it is not one (or has no presence). */
function presenceChannel(
  topic: string,
  entries: PresenceEntry[],
  configOf: (channel: string) => ChannelConfig<any> | undefined,
): { channel: string; config: ChannelConfig<any> } | undefined {
  if (topicKind(topic) !== 'channel' || entries.length === 0) return undefined
  const channel = topicSubject(topic)
  const config = configOf(channel)
  return config?.presence ? { channel, config } : undefined
}

/** The last {@link PresenceEntry.joinedAt} given in this process: it only grows, also within one millisecond. */
let lastJoinedAt = 0

/** A stamp for a new presence entry: the time, made larger than every earlier stamp of this process. */
function joinedNow(): number {
  const now = Date.now()
  lastJoinedAt = now > lastJoinedAt ? now : lastJoinedAt + 0.001
  return lastJoinedAt
}

/**
 * Whether `entry`'s join announces its member: when no other entry of its user in `listed` (the
 * channel's entries, read after `entry` was written) is older. Two connections of one user that
 * join at once, in two processes say, may each find both entries listed; "the only one" would
 * announce neither and the user would never be seen joining, while exactly one of the two is the
 * older (by `joinedAt`, then by connection id). An entry without `joinedAt` (a store that keeps only
 * the fields it knows) counts as older, which is the rule "the user's only connection".
 */
function oldestOfMember(entry: PresenceEntry, listed: PresenceEntry[]): boolean {
  if (entry.userId === undefined) return true
  for (const other of listed) {
    if (other.userId !== entry.userId || other.connectionId === entry.connectionId) continue
    if (other.joinedAt === undefined || entry.joinedAt === undefined) return false
    if (other.joinedAt < entry.joinedAt || (other.joinedAt === entry.joinedAt && other.connectionId < entry.connectionId)) return false
  }
  return true
}

/** Groups presence entries into members: one per user, one per anonymous connection. */
function groupMembers(entries: PresenceEntry[]): PresenceMember[] {
  const members = new Map<string, PresenceMember>()
  for (const entry of entries) {
    const key = entry.userId === undefined ? `connection:${entry.connectionId}` : `user:${entry.userId}`
    const member = members.get(key)
    if (member) member.connections++
    else members.set(key, { userId: entry.userId, connections: 1, data: entry.data })
  }
  return [...members.values()]
}
