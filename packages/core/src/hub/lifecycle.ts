import { CLOSE_CODES, DEFAULT_DRAIN_TIMEOUT_MS } from '../constants.js'
import type { Connection } from '../connection.js'
import { cursorKey, formatCursorMap, parseCursorMap, type Cursor } from '../cursor.js'
import { RealtimeError } from '../errors.js'
import { Outbound } from '../message.js'
import { isValidChannelName, SERVER_CONTROL } from '../protocol.js'
import { SseConnection } from '../sse-connection.js'
import type { Admission } from './admission.js'
import type { Delivery } from './delivery.js'
import { controlError, type Membership } from './membership.js'
import type { Metrics } from './metrics.js'
import type { Registry } from './registry.js'
import { handlerError, internalError, transportError, type Reporting } from './reporting.js'
import type { Settings } from './settings.js'
import { BROADCAST_TOPIC, channelTopic } from './topics.js'

/** Runs callbacks as microtasks (`SETTLED.then(callback)`). */
const SETTLED: Promise<void> = Promise.resolve()

/** How `realtime.close()` ends the connections. */
export interface ShutdownOptions {
  code?: number
  reason?: string
  drainTimeout?: number
}

/**
 * Opens connections (registers them, follows their streams from where the client resumes, runs
 * `onOpen`, announces `realtime:connected`), closes them (leaves every channel and the user
 * stream, deregisters, runs `onClose`), beats the heartbeat while any is open, and shuts down.
 */
export class Lifecycle {
  private timer: ReturnType<typeof setInterval> | undefined
  private drained: (() => void) | undefined

  constructor(
    private readonly settings: Settings,
    private readonly registry: Registry,
    private readonly admission: Admission,
    private readonly membership: Membership,
    private readonly delivery: Delivery,
    private readonly reporting: Reporting,
    private readonly metrics: Metrics,
  ) {}

  /**
   * Registers a connection and sets up its streams: broadcast, its user, the channels it asked
   * for, each resumed from `resume` (a cursor map) when given; then runs `onOpen` and, when
   * `announce`, sends `realtime:connected` with the cursor map. Returns a promise only when it has
   * to wait (an identify promise, a user, channels, a resume, an asynchronous broker).
   */
  open(
    connection: Connection<any>,
    userId: string | undefined | Promise<string | undefined>,
    channels: string[],
    resume: string | undefined,
    announce: boolean,
  ): Promise<void> | undefined {
    this.register(connection)
    const onOpen = connection.handlers.onOpen
    if (onOpen) this.reporting.guard(connection, 'onOpen', () => onOpen(connection))
    if (userId !== undefined || channels.length > 0 || (resume !== undefined && resume !== '')) {
      return this.openStreams(connection, userId, channels, resume, announce)
    }
    // Broadcast only, nothing to resume (most connections): no waiting where the broker answers
    // at once, which keeps the promises and suspended frames of the general case off every connect.
    let following: Promise<void> | undefined
    try {
      following = this.delivery.follow(connection, BROADCAST_TOPIC, undefined)
    } catch (error) {
      this.openFailed(connection, 'setup', error)
      return undefined
    }
    if (following === undefined) {
      // `realtime:connected` after what the handler sends before it returns, as in the general case.
      // A settled promise's `then`, not `queueMicrotask`: the same microtask, without the
      // AsyncResource Node's queueMicrotask builds on every call (measured on a fresh server).
      if (announce) void SETTLED.then(() => this.opened(connection, true))
      else this.opened(connection, false)
      return undefined
    }
    return following.then(
      () => this.opened(connection, announce),
      (error: unknown) => this.openFailed(connection, 'setup', error),
    )
  }

  /** An upgraded socket opened: opens it, or closes it with 1013 when the instance filled up meanwhile. */
  accept(connection: Connection<any>, channels: string[], resume: string | undefined, announce: boolean): void {
    if (!this.admission.roomAtOpen()) {
      connection.close(1013, 'try again later')
      return
    }
    const userId = connection.userId
    connection.userId = undefined
    void this.open(connection, userId, channels, resume, announce)
  }

  /**
   * The transport of a connection is gone: deregisters it first (so nothing below can keep a
   * departed connection counted), leaves its channels and user stream, runs `onClose`.
   */
  closed(connection: Connection<any>, code: number, reason: string): void {
    if (!this.registry.remove(connection)) return
    this.metrics.closed(connection, connection.transport, code, reason)
    if (connection.channelSet !== undefined) {
      for (const channel of [...connection.channelSet]) {
        try {
          this.membership.leave(connection, channel)
        } catch (error) {
          this.reporting.report(connection, internalError('leave', error))
        }
      }
    }
    this.membership.setUser(connection, undefined).catch((error: unknown) => this.reporting.report(connection, internalError('setUser', error)))
    if (this.registry.all.size === 0) {
      this.stopHeartbeat()
      this.drained?.()
    }
    const onClose = connection.handlers.onClose
    if (onClose) this.reporting.guard(connection, 'onClose', () => onClose(connection, code, reason))
  }

  /** Registers a connection restored after hibernation, with its user (no hook, nothing sent). */
  async restore(connection: Connection<any>, channels: Iterable<string>): Promise<void> {
    if (connection.isClosed || this.registry.has(connection)) return
    const userId = connection.userId
    connection.userId = undefined
    this.register(connection)
    await this.delivery.follow(connection, BROADCAST_TOPIC, undefined)
    if (userId !== undefined) await this.membership.setUser(connection, userId)
    await this.membership.restoreChannels(connection, channels)
  }

  /**
   * Stops accepting, tells every client to reconnect and resume (SSE also gets a jittered
   * `retry:`), closes every connection, waits up to `drainTimeout` for them, then terminates the
   * rest and stops the heartbeat.
   */
  async shutdown(options: ShutdownOptions): Promise<void> {
    this.admission.closing = true
    const code = options.code ?? CLOSE_CODES.SERVICE_RESTART
    const reason = options.reason ?? 'server shutting down'
    for (const connection of [...this.registry.all]) {
      const notice = new Outbound(SERVER_CONTROL.RECONNECT, { code, reason, cursor: formatCursorMap(connection.cursors) })
      notice.carriesCursor = true
      try {
        connection.write(notice)
        if (connection instanceof SseConnection) connection.writeRetry(jitter(this.settings.sseRetry))
      } catch (error) {
        connection.transportError(error)
      }
      connection.close(code, reason)
    }
    if (this.registry.all.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined
      await new Promise<void>((resolve) => {
        this.drained = resolve
        timer = setTimeout(resolve, options.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT_MS)
      })
      clearTimeout(timer)
      this.drained = undefined
      for (const connection of [...this.registry.all]) connection.terminate()
    }
    this.stopHeartbeat()
  }

  /** `open` for a connection with a user, channels or cursors to resume. */
  private async openStreams(
    connection: Connection<any>,
    userId: string | undefined | Promise<string | undefined>,
    channels: string[],
    resume: string | undefined,
    announce: boolean,
  ): Promise<void> {
    let cursors: Map<string, Cursor> | null | undefined
    if (resume !== undefined && resume !== '') cursors = parseCursorMap(resume) ?? null
    const requested = (key: string) => (cursors === null ? null : cursors?.get(key))
    let step: 'identify' | 'setup' = 'setup'
    try {
      const following = this.delivery.follow(connection, BROADCAST_TOPIC, requested('b'))
      following?.catch(() => {}) // awaited below, after identify
      step = 'identify'
      const user = await userId
      step = 'setup'
      await following
      if (connection.isClosed) return
      if (user !== undefined) {
        await this.membership.setUser(connection, user, requested('u'))
        if (connection.isClosed) return
        if (await this.admission.overUserCapAfterOpen(String(user))) {
          controlError(connection, 'REALTIME_TOO_MANY_CONNECTIONS', `user has more than ${this.settings.maxConnectionsPerUser} connections`)
          connection.close(CLOSE_CODES.POLICY_VIOLATION, 'too many connections for this user')
          return
        }
      }
      const withId = connection.transport !== 'sse'
      await Promise.all(
        channels.map((channel) =>
          this.membership
            .join(connection, channel, false, isValidChannelName(channel) ? requested(cursorKey(channelTopic(channel))) : undefined, withId)
            .catch((error: unknown) => this.membership.joinFailed(connection, channel, error)),
        ),
      )
    } catch (error) {
      this.openFailed(connection, step, error)
      return
    }
    this.opened(connection, announce)
  }

  /** Setting up a connection failed: reported as what failed, and the connection closed (1011). */
  private openFailed(connection: Connection<any>, step: 'identify' | 'setup', error: unknown): void {
    if (step === 'identify') {
      this.reporting.report(connection, handlerError('identify', error))
      connection.close(CLOSE_CODES.INTERNAL_ERROR, 'identify failed')
      return
    }
    const reported = RealtimeError.isInstance(error)
      ? error
      : new RealtimeError('REALTIME_TRANSPORT_ERROR', `opening the connection's streams failed: ${(error as Error)?.message ?? String(error)}`, {
          cause: error,
        })
    this.reporting.report(connection, reported)
    connection.close(CLOSE_CODES.INTERNAL_ERROR, 'setup failed')
  }

  /** A connection's streams are set up: announces it (when asked) and compacts its request. */
  private opened(connection: Connection<any>, announce: boolean): void {
    if (connection.isClosed) return
    if (announce) {
      const cursor = formatCursorMap(connection.cursors)
      if (connection instanceof SseConnection) {
        // The heartbeat interval too, so a client can tell a silent stream from a dead one.
        connection.writeConnected(cursor, { id: connection.id, cursor, heartbeat: connection.owner.heartbeatInterval ?? 0 })
      } else {
        const connected = new Outbound(SERVER_CONTROL.CONNECTED, { id: connection.id, cursor })
        connected.carriesCursor = true
        connection.write(connected)
      }
    }
    // Set up: an idle WebSocket connection need not keep the handshake Request (about 1-3 KB).
    if (connection.transport === 'websocket' && !connection.isClosed) {
      try {
        connection.compactRequest()
      } catch (error) {
        // A runtime that closed the request already (the connection keeps it as it is).
        this.reporting.report(connection, transportError(error))
      }
    }
  }

  /** Adds a connection to the registry and starts the heartbeat if it is the first. */
  private register(connection: Connection<any>): void {
    this.registry.add(connection)
    this.metrics.opened(connection, connection.transport)
    if (this.timer === undefined && this.settings.heartbeatMs > 0) this.startHeartbeat()
  }

  private startHeartbeat(): void {
    this.timer = setInterval(() => {
      for (const connection of this.registry.all) {
        try {
          connection.heartbeat()
        } catch (error) {
          connection.transportError(error)
        }
      }
    }, this.settings.heartbeatMs)
    ;(this.timer as { unref?: () => void }).unref?.()
  }

  private stopHeartbeat(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}

/** `base` ± 50 %, so clients told to come back do not all come back at once. */
function jitter(base: number): number {
  return Math.round(base / 2 + Math.random() * base)
}
