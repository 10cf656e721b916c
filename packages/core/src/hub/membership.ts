// Membership: joining and leaving channels and the user stream, with authorization, bounds and hooks.
import type { Broker } from '../broker.js'
import { CLOSE_CODES, CURSOR_ENTRY_RESERVE, MAX_CURSOR_MAP_LENGTH } from '../constants.js'
import type { Connection } from '../connection.js'
import { cursorKey, formatCursor, parseCursor, type Cursor } from '../cursor.js'
import { RealtimeError } from '../errors.js'
import { Outbound } from '../message.js'
import { isValidChannelName, SERVER_CONTROL } from '../protocol.js'
import type { ChannelConfig } from '../options.js'
import type { ChannelConfigs } from './channel-configs.js'
import type { Delivery } from './delivery.js'
import type { Presence } from './presence.js'
import type { Registry } from './registry.js'
import { handlerError, internalError, transportError, type Reporting } from './reporting.js'
import { channelTopic, presenceTopic, userTopic } from './topics.js'

/** Writes `realtime:error` to one connection. */
export function controlError(connection: Connection<any>, code: string, message: string, channel?: string): void {
  connection.write(new Outbound(SERVER_CONTROL.ERROR, channel === undefined ? { code, message } : { code, message, channel }))
}

/**
 * Puts connections into channels and user streams and takes them out: `authorize`, the
 * per-connection bounds (channels, cursor-map length), `onJoin`/`onLeave`, presence, the broker's
 * interest (`addTopic`/`removeTopic`) and the streams to follow.
 */
export class Membership {
  /** Per connection, the channels whose `onJoin` point passed (see {@link Membership.markJoined}). */
  private readonly joined = new WeakMap<Connection<any>, Set<string>>()

  constructor(
    private readonly registry: Registry,
    private readonly configs: ChannelConfigs,
    private readonly delivery: Delivery,
    private readonly presence: Presence,
    private readonly broker: Broker,
    private readonly maxChannels: number,
    private readonly reporting: Reporting,
  ) {}

  /**
   * Joins a channel. `trusted` (server-side `socket.join()`) skips `authorize` and answers nothing
   * to the client; otherwise `realtime:subscribed` or `realtime:error` answers. `withId` false
   * leaves the SSE `id:` off `realtime:subscribed` (connect-time joins: `realtime:connected`
   * carries the whole cursor map once). Resolves to whether the connection is a member.
   */
  async join(connection: Connection<any>, channel: string, trusted: boolean, cursor: string | Cursor | null | undefined, withId = true): Promise<boolean> {
    if (!isValidChannelName(channel)) {
      if (!trusted) controlError(connection, 'REALTIME_BAD_FRAME', 'invalid channel name', channel)
      else this.reporting.report(connection, new RealtimeError('REALTIME_INVALID_CHANNEL', `invalid channel name ${JSON.stringify(channel)}`))
      return false
    }
    if (connection.isClosed) return false
    if (connection.channels.has(channel)) {
      if (!trusted) this.announce(connection, channel, withId)
      return true
    }
    if (!this.hasRoom(connection, channel, trusted)) return false
    const config = this.configs.of(channel)
    if (!trusted && config?.authorize) {
      let allowed = false
      try {
        allowed = (await config.authorize(connection, connection.userId, channel)) === true
      } catch (error) {
        this.reporting.report(connection, handlerError('authorize', error))
      }
      if (connection.isClosed) return false
      if (!allowed) {
        controlError(connection, 'REALTIME_FORBIDDEN', `not allowed to join ${channel}`, channel)
        return false
      }
      if (connection.channels.has(channel)) return true
      // Other joins may have run meanwhile (authorize awaited): the bounds hold after it too.
      if (!this.hasRoom(connection, channel, trusted)) return false
    }
    this.addMember(connection, channel, config?.presence !== undefined && config.presence !== false)
    const requested = typeof cursor === 'string' ? (parseCursor(cursor) ?? null) : cursor
    await this.delivery.follow(connection, channelTopic(channel), requested)
    if (connection.isClosed || !connection.channels.has(channel)) return false
    if (!trusted) this.announce(connection, channel, withId)
    if (config?.presence) {
      await this.presence.join(connection, channel, config)
      // Closed or left while presence was written: its leave ran, and onJoin must not follow it.
      if (connection.isClosed || !connection.channels.has(channel)) return false
    }
    // Once per membership: a join that raced a leave and a rejoin finds the rejoin's mark.
    if (hasHooks(config) && this.markJoined(connection, channel) && config.onJoin) {
      this.reporting.guard(connection, 'onJoin', () => config.onJoin!(connection, connection.userId, channel))
    }
    return true
  }

  /**
   * Marks `channel` joined for `connection` (its `onJoin` point passed); false when it was already.
   * Only a marked membership runs `onLeave`, so the hooks come in pairs, `onJoin` first: a
   * connection that closes while its join is still on its way gets neither. Kept only for channels
   * with a hook (see {@link hasHooks}): nothing to pair otherwise.
   */
  private markJoined(connection: Connection<any>, channel: string): boolean {
    let channels = this.joined.get(connection)
    if (channels === undefined) this.joined.set(connection, (channels = new Set()))
    if (channels.has(channel)) return false
    channels.add(channel)
    return true
  }

  /** Takes the mark of {@link markJoined} away; true when it was there. */
  private unmarkJoined(connection: Connection<any>, channel: string): boolean {
    const channels = this.joined.get(connection)
    if (channels === undefined || !channels.delete(channel)) return false
    if (channels.size === 0) this.joined.delete(connection)
    return true
  }

  /** A join failed inside the library: reported, answered, and the half-made membership undone. */
  joinFailed(connection: Connection<any>, channel: string, error: unknown): void {
    this.reporting.report(connection, internalError('join', error))
    try {
      this.leave(connection, channel)
      if (!connection.isClosed) controlError(connection, 'REALTIME_INTERNAL_ERROR', `could not join ${channel}`, channel)
    } catch (cleanup) {
      this.reporting.report(connection, internalError('leave', cleanup))
      connection.close(CLOSE_CODES.INTERNAL_ERROR, 'internal error')
    }
  }

  /** Leaves a channel (`onLeave` runs). False when the connection was not a member. */
  leave(connection: Connection<any>, channel: string): boolean {
    const emptied = this.registry.removeMember(connection, channel)
    if (emptied === undefined) return false
    const topic = channelTopic(channel)
    this.delivery.unfollow(connection, topic)
    if (emptied) this.broker.removeTopic?.(topic)
    const config = this.configs.of(channel)
    if (config?.presence) {
      if (emptied) this.broker.removeTopic?.(presenceTopic(channel))
      this.reporting.guard(connection, 'presence', () => this.presence.leave(connection, channel, config))
    }
    if (hasHooks(config) && this.unmarkJoined(connection, channel) && config.onLeave) {
      this.reporting.guard(connection, 'onLeave', () => config.onLeave!(connection, connection.userId, channel))
    }
    return true
  }

  /**
   * Registers the memberships of a connection that stayed open while the runtime dropped this
   * instance's memory (a hibernated Durable Object): no hook runs and nothing is sent.
   */
  async restoreChannels(connection: Connection<any>, channels: Iterable<string>): Promise<void> {
    for (const channel of channels) {
      if (connection.isClosed || !isValidChannelName(channel) || connection.channels.has(channel)) continue
      const config = this.configs.of(channel)
      this.addMember(connection, channel, config?.presence !== undefined && config.presence !== false)
      // Its onJoin ran before the runtime dropped this instance: its onLeave runs when it leaves.
      if (hasHooks(config)) this.markJoined(connection, channel)
      await this.delivery.follow(connection, channelTopic(channel), undefined)
      if (!config?.presence) continue
      try {
        await this.presence.add(connection, channel, config)
      } catch (error) {
        this.reporting.report(connection, RealtimeError.isInstance(error) ? error : transportError(error))
      }
    }
  }

  /** Moves a connection to another user (or none), following that user's stream from `cursor`. */
  async setUser(connection: Connection<any>, userId: string | number | undefined, cursor?: Cursor | null): Promise<void> {
    const previous = connection.userId
    const next = userId === undefined ? undefined : String(userId)
    if (previous === next) return
    if (previous !== undefined) {
      this.delivery.unfollow(connection, userTopic(previous))
      this.presence.remove(userTopic(previous), connection)
    }
    const { left, arrived } = this.registry.setUser(connection, next)
    if (left) this.broker.removeTopic?.(userTopic(previous!))
    if (next === undefined) return
    if (arrived) this.broker.addTopic?.(userTopic(next))
    // Follow first: it sets up the replay before its first await, so a message published while the
    // presence entry is written (a round trip with a distributed store) waits for the replay
    // instead of overtaking it.
    const following = this.delivery.follow(connection, userTopic(next), cursor)
    following?.catch(() => {})
    try {
      await this.presence.store.add(userTopic(next), { connectionId: connection.id, userId: next })
      // Closed (or moved to another user) while the entry was written: the removal found nothing,
      // and the entry would count against the user's cap for as long as this process lives.
      if (connection.isClosed || connection.userId !== next) this.presence.remove(userTopic(next), connection)
    } catch (error) {
      this.reporting.report(connection, transportError(error))
    }
    await following
  }

  /** Makes a connection a member of a channel (no hooks, no replies). */
  private addMember(connection: Connection<any>, channel: string, presence: boolean): void {
    if (!this.registry.addMember(connection, channel)) return
    this.broker.addTopic?.(channelTopic(channel))
    if (presence) this.broker.addTopic?.(presenceTopic(channel))
  }

  /** `realtime:subscribed` with the channel's cursor. */
  private announce(connection: Connection<any>, channel: string, withId: boolean): void {
    const cursor = connection.cursors.get(cursorKey(channelTopic(channel)))
    const subscribed = new Outbound(SERVER_CONTROL.SUBSCRIBED, cursor ? { channel, cursor: formatCursor(cursor) } : { channel })
    subscribed.carriesCursor = withId
    connection.write(subscribed)
  }

  /**
   * Whether `connection` may join one more channel: it is in fewer than `maxChannelsPerConnection`,
   * and its cursor map (the SSE `id`, the `lastEventId` a client resumes with) stays within
   * {@link MAX_CURSOR_MAP_LENGTH}. Counted from the memberships, not the cursors: joins in
   * progress have no cursor yet (an asynchronous broker), and each will have one. A refusal is
   * answered (client) or reported (server-side join).
   */
  private hasRoom(connection: Connection<any>, channel: string, trusted: boolean): boolean {
    const joined = connection.channelSet
    let why: string | undefined
    if ((joined?.size ?? 0) >= this.maxChannels) why = `a connection may be in at most ${this.maxChannels} channels (maxChannelsPerConnection)`
    else {
      // `b` and `u` take one entry each.
      let length = 3 * CURSOR_ENTRY_RESERVE + cursorKey(channelTopic(channel)).length
      if (joined !== undefined) for (const name of joined) length += cursorKey(channelTopic(name)).length + CURSOR_ENTRY_RESERVE
      if (length > MAX_CURSOR_MAP_LENGTH) why = `the connection's cursor map would exceed ${MAX_CURSOR_MAP_LENGTH} characters`
    }
    if (why === undefined) return true
    if (!trusted) controlError(connection, 'REALTIME_TOO_MANY_CHANNELS', why, channel)
    else this.reporting.report(connection, new RealtimeError('REALTIME_TOO_MANY_CHANNELS', why))
    return false
  }
}

/** Whether a channel's configuration has `onJoin` or `onLeave` (whose runs {@link Membership} pairs). */
function hasHooks(config: ChannelConfig<any> | undefined): config is ChannelConfig<any> {
  return config?.onJoin !== undefined || config?.onLeave !== undefined
}
