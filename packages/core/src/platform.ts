import type { Connection, ConnectionHandlers, ConnectionOwner } from './connection.js'
import type { EventMap, Outbound } from './message.js'
import type { SseConnection } from './sse-connection.js'

/** Everything an adapter gets to complete one WebSocket handshake. */
export interface UpgradeContext<Events extends EventMap = EventMap> {
  readonly request: Request
  readonly handlers: ConnectionHandlers<Events>
  readonly userId: string | undefined
  /** Give this to the adapter's connection constructor. */
  readonly owner: ConnectionOwner
  /** Registers the connection once the socket is open; runs `onOpen`. */
  accept(connection: Connection<Events>): void
}

/**
 * What a runtime adapter provides to the core. Core never imports a runtime; an adapter passes
 * one of these to `Realtime`.
 */
export interface Platform {
  /** Runtime name, for messages (`'node'`, `'bun'`, ...). */
  readonly name: string
  /** Completes a WebSocket handshake. Absent where the runtime cannot (then `upgrade()` answers 501). */
  upgrade?(context: UpgradeContext<any>): Response | Promise<Response>
  /** Creates the SSE connection; default: the web-standard {@link SseConnection}. */
  createSse?(
    request: Request,
    owner: ConnectionOwner,
    handlers: ConnectionHandlers<any>,
    userId: string | undefined,
    retry: number,
    headers: HeadersInit | undefined,
  ): SseConnection<any>
  /**
   * Native fan-out (a runtime's own publish/subscribe): the core tells the platform which topics a connection
   * is in (`broadcast`, `user:<id>`, `channel:<name>`), for connections whose `nativeFanOut` is true.
   */
  subscribe?(connection: Connection<any>, topic: string): void
  /** The connection left `topic` (see {@link Platform.subscribe}). */
  unsubscribe?(connection: Connection<any>, topic: string): void
  /**
   * Delivers `outbound` to every native-fan-out connection in `topic`, except `except`. Returns
   * true when it did; the core then writes only to the other connections of the topic.
   */
  publish?(topic: string, outbound: Outbound, except: Connection<any> | undefined): boolean
  /** Releases platform resources on `realtime.close()`. */
  close?(): void
  /**
   * Schedules the deadlines of connections whose credential expires (`identify`'s `expiresAt`).
   * Default: `setTimeout`. Workers: the Durable Object's alarm, which lets the object hibernate
   * while a deadline is pending and wakes it for the deadline.
   */
  readonly deadlines?: DeadlineScheduler
  /**
   * The interval in ms at which the platform beats SSE streams itself (Workers: the Durable
   * Object's timer, while the hub's own is off), announced to clients in `realtime:connected`.
   * Default: the `heartbeat` option.
   */
  readonly sseHeartbeat?: number
}

/**
 * Calls the hub back at a connection's deadline (see {@link Platform.deadlines}). A connection has
 * at most one deadline at a time: the hub cancels the previous one before it schedules another.
 */
export interface DeadlineScheduler {
  /**
   * Calls `callback` at `at` (ms since the epoch; at once when past) for `connection`, whose
   * credential expires at `expiresAt` (`at` is earlier when the client is asked for a fresh token
   * first). Returns the handle {@link DeadlineScheduler.cancel} takes. A platform that drops
   * connections from memory keeps both times and gives them back with `Hub.expiry.resume()`.
   */
  schedule(connection: Connection<any>, expiresAt: number, at: number, callback: () => void): unknown
  /** Cancels what {@link DeadlineScheduler.schedule} returned `handle` for: the connection has no deadline now. */
  cancel(connection: Connection<any>, handle: unknown): void
}
