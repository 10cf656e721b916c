// Ordered delivery to one connection: cursors, replay on resume, gaps, and the one slow-consumer policy.
import type { Broker, BrokerMessage, HistoryResult } from '../broker.js'
import { CLOSE_CODES, SLOW_CONSUMER_GRACE_MS } from '../constants.js'
import type { Connection } from '../connection.js'
import { cursorKey, formatCursor, streamName, type Cursor } from '../cursor.js'
import { Outbound } from '../message.js'
import { SERVER_CONTROL } from '../protocol.js'
import type { Platform } from '../platform.js'
import type { Metrics } from './metrics.js'
import { isThenable, transportError, type Reporting } from './reporting.js'
import { BROADCAST_TOPIC, channelTopic, topicKind, userTopic } from './topics.js'

/**
 * Writes resumable messages to a connection at most once and in order (each stream's cursor on
 * the connection says what it has), replays what a resuming client missed while holding live
 * messages back, and tells the client about a gap when it cannot. Owns `Connection.cursors`,
 * `Connection.replaying` and the slow-consumer cut (`closeIntent` 4001).
 */
export class Delivery {
  /** Messages written to connections since start. */
  delivered = 0

  constructor(
    private readonly broker: Broker,
    private readonly platform: Platform,
    private readonly maxBufferedBytes: number,
    private readonly reporting: Reporting,
    private readonly metrics: Metrics,
  ) {}

  /**
   * Starts following a stream on a connection: from its current position, or, when the client
   * gave a cursor, replaying what it missed (live messages wait meanwhile) or sending
   * `realtime:gap` when that cannot be done. `requested` null means the client's cursor was
   * unreadable. Native fan-out begins once the replay is written. Returns a promise only when it
   * has to wait for the broker.
   */
  follow(connection: Connection<any>, topic: string, requested: Cursor | null | undefined): Promise<void> | undefined {
    const native = connection.nativeFanOut
    if (!this.broker.keepsHistory) {
      if (native) this.platform.subscribe?.(connection, topic)
      if (requested !== undefined) this.writeGap(connection, topic, 'disabled', undefined)
      return undefined
    }
    if (requested !== undefined) return this.replay(connection, topic, requested)
    // From the current position: synchronous when the broker answers at once (in memory).
    if (native) this.platform.subscribe?.(connection, topic)
    let position: Cursor | undefined | PromiseLike<Cursor | undefined>
    try {
      position = this.broker.position?.(topic)
    } catch (error) {
      this.reporting.report(connection, transportError(error))
      return undefined
    }
    if (!isThenable(position)) {
      this.startAt(connection, topic, position)
      return undefined
    }
    // Any thenable, as `await` took it: a broker's client may have promises of its own.
    return Promise.resolve(position).then(
      (answer) => this.startAt(connection, topic, answer),
      (error: unknown) => this.reporting.report(connection, transportError(error)),
    )
  }

  /** Stops following a stream: its cursor and any replay in progress are dropped. */
  unfollow(connection: Connection<any>, topic: string): void {
    if (connection.nativeFanOut) this.platform.unsubscribe?.(connection, topic)
    const key = cursorKey(topic)
    connection.cursors.delete(key)
    connection.replaying?.delete(key)
  }

  /** Tells the client it cannot resume `topic` and moves its cursor to `position`. */
  writeGap(connection: Connection<any>, topic: string, reason: string, position: Cursor | undefined): void {
    const key = cursorKey(topic)
    if (position) connection.cursors.set(key, { epoch: position.epoch, offset: position.offset })
    const gap = new Outbound(SERVER_CONTROL.GAP, { channel: streamName(topic), reason, cursor: position ? formatCursor(position) : null })
    gap.carriesCursor = true
    connection.write(gap)
    this.metrics.gap(reason)
  }

  /** Writes a message to one connection; resumable messages go through the connection's cursor. */
  writeTo(connection: Connection<any>, outbound: Outbound): void {
    const key = outbound.key
    if (key !== undefined) {
      const waiting = connection.replaying?.get(key)
      if (waiting) waiting.push(outbound)
      else this.writeStream(connection, outbound)
      return
    }
    this.write(connection, outbound)
  }

  /** Writes one message, counts it, and applies the slow-consumer bound. */
  private write(connection: Connection<any>, outbound: Outbound): void {
    try {
      connection.write(outbound)
      this.delivered++
    } catch (error) {
      connection.transportError(error)
    }
    this.checkBuffer(connection)
  }

  /** Cuts the connection as a slow consumer when more than `maxBufferedBytes` wait for it. */
  checkBuffer(connection: Connection<any>): void {
    if (connection.bufferedAmount > this.maxBufferedBytes) this.slowConsumer(connection)
  }

  /**
   * The one slow-consumer policy, for broadcasts and direct sends alike: closes the connection with
   * 4001 (resumable). Its close frame waits behind the unread data, so a peer that does not take it
   * within a grace period is destroyed; either way `onClose` reports 4001 and nothing more is
   * buffered for it.
   */
  slowConsumer(connection: Connection<any>): void {
    if (connection.isClosed || connection.closeIntent?.code === CLOSE_CODES.SLOW_CONSUMER) return
    connection.closeIntent = { code: CLOSE_CODES.SLOW_CONSUMER, reason: 'slow consumer' }
    this.metrics.slowConsumer()
    connection.close(CLOSE_CODES.SLOW_CONSUMER, 'slow consumer')
    const timer = setTimeout(() => {
      if (!connection.isClosed) connection.terminate()
    }, SLOW_CONSUMER_GRACE_MS)
    ;(timer as { unref?: () => void }).unref?.()
  }

  /** The encoded form of a broker message, made once and kept on the message (history reuses it). */
  outboundOf(message: BrokerMessage): Outbound {
    const local = message as LocalBrokerMessage
    let outbound = local[LOCAL]
    if (!outbound) {
      const kind = topicKind(message.topic)
      outbound = new Outbound(message.event, message.data, kind === 'broadcast' || kind === 'presence' ? undefined : streamName(message.topic))
      local[LOCAL] = outbound
      if (message.gap !== undefined) outbound.gap = message.gap
    }
    if (message.offset !== undefined && outbound.key === undefined) {
      outbound.epoch = message.epoch
      outbound.offset = message.offset
      outbound.key = cursorKey(message.topic)
      outbound.carriesCursor = true
    }
    return outbound
  }

  /** Moves a connection's cursor of `topic` to `position`, unless it is ahead already. */
  private startAt(connection: Connection<any>, topic: string, position: Cursor | undefined): void {
    if (!position) return
    const key = cursorKey(topic)
    const seen = connection.cursors.get(key)
    if (!seen || (seen.epoch === position.epoch && seen.offset < position.offset)) {
      connection.cursors.set(key, { epoch: position.epoch, offset: position.offset })
    }
  }

  /** `follow` with a cursor from the client (`null`: unreadable): replays or sends a gap. */
  private async replay(connection: Connection<any>, topic: string, requested: Cursor | null): Promise<void> {
    const native = connection.nativeFanOut
    const key = cursorKey(topic)
    const waiting: Outbound[] = []
    ;(connection.replaying ??= new Map()).set(key, waiting)
    let result: HistoryResult
    if (requested === null) result = { ok: false, reason: 'invalid' }
    else {
      connection.cursors.set(key, { epoch: requested.epoch, offset: requested.offset })
      try {
        result = (await this.broker.history?.(topic, requested)) ?? { ok: false, reason: 'disabled' }
      } catch (error) {
        this.reporting.report(connection, transportError(error))
        result = { ok: false, reason: 'window' }
      }
    }
    if (connection.isClosed || connection.replaying?.get(key) !== waiting) return
    if (result.ok) {
      for (const message of result.messages) this.writeStream(connection, this.outboundOf(message))
      this.metrics.replayed(result.messages.length)
    } else {
      let position = result.position
      if (!position) {
        try {
          position = await this.broker.position?.(topic)
        } catch (error) {
          this.reporting.report(connection, transportError(error))
        }
        // The connection may have closed or left the stream meanwhile (an async broker).
        if (connection.isClosed || connection.replaying?.get(key) !== waiting) return
      }
      this.writeGap(connection, topic, result.reason, position)
    }
    connection.replaying.delete(key)
    if (connection.replaying.size === 0) connection.replaying = undefined
    if (native) this.platform.subscribe?.(connection, topic)
    for (const outbound of waiting) this.writeStream(connection, outbound)
  }

  /**
   * Writes a resumable message unless the connection already has it (same epoch, offset not
   * newer); an epoch change tells the client about a gap first.
   */
  private writeStream(connection: Connection<any>, outbound: Outbound): void {
    const key = outbound.key!
    const cursor = connection.cursors.get(key)
    if (outbound.gap !== undefined) {
      // A broker's gap notice: only a connection behind its position missed something.
      if (cursor !== undefined && cursor.epoch === outbound.epoch && cursor.offset >= outbound.offset!) return
      const reason = cursor === undefined || cursor.epoch === outbound.epoch ? outbound.gap : 'epoch'
      this.writeGap(connection, topicOfKey(key, connection), reason, { epoch: outbound.epoch!, offset: outbound.offset! })
      return
    }
    if (cursor === undefined) connection.cursors.set(key, { epoch: outbound.epoch!, offset: outbound.offset! })
    else if (cursor.epoch === outbound.epoch) {
      if (outbound.offset! <= cursor.offset) return
      cursor.offset = outbound.offset!
    } else {
      this.writeGap(connection, topicOfKey(key, connection), 'epoch', { epoch: outbound.epoch!, offset: outbound.offset! - 1 })
      cursor.epoch = outbound.epoch!
      cursor.offset = outbound.offset!
    }
    this.write(connection, outbound)
  }
}

const LOCAL = Symbol('outbound')
/** A broker message with its encoded form kept on it. */
type LocalBrokerMessage = BrokerMessage & { [LOCAL]?: Outbound }

/** Keeps `outbound` on `message`, so `outboundOf` reuses it (a local publish encodes once). */
export function attachOutbound(message: BrokerMessage, outbound: Outbound): BrokerMessage {
  ;(message as LocalBrokerMessage)[LOCAL] = outbound
  return message
}

/** The topic a cursor key stands for on this connection. */
function topicOfKey(key: string, connection: Connection<any>): string {
  if (key === 'b') return BROADCAST_TOPIC
  if (key === 'u') return userTopic(connection.userId ?? '')
  return channelTopic(decodeURIComponent(key.slice(2)))
}
