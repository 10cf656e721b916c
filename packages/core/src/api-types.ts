// The types of the application-facing API: handler options, stats, channel handles.
import type { Connection, ConnectionHandlers } from './connection.js'
import type { RefusalReason } from './hub/admission.js'
import type { MetricCounters } from './hub/metrics.js'
import type { EventMap, RealtimeMessage } from './message.js'

/** Options of `realtime.sse(request, options)`. */
export interface SseOptions<Events extends EventMap = EventMap> {
  /** The user of this connection; overrides `identify` (default: from `identify`). */
  userId?: string
  /** Channels to join now, subject to `authorize` (default: the `channel` query parameters). */
  channels?: string[]
  /** Extra response headers (CORS, cookies). The SSE headers always win. */
  headers?: HeadersInit
  /** The stream closed (client went away, or server closed it). */
  onClose?: ConnectionHandlers<Events>['onClose']
  /** Errors on this stream. */
  onError?: ConnectionHandlers<Events>['onError']
}

/** Handlers and options of `realtime.upgrade(request, options)`. */
export interface UpgradeOptions<Events extends EventMap = EventMap> extends ConnectionHandlers<Events> {
  /** The user of this connection; overrides `identify` (default: from `identify`). */
  userId?: string
}

/** Options of `broadcast` calls. */
export interface PublishOptions {
  /** A connection (or its id) that must not receive the message, e.g. the sender. */
  except?: Connection<any> | string
}

/** The connection and refusal counters of `realtime.stats()`. */
export interface RealtimeStatsBase {
  /** Open connections, SSE and WebSocket. */
  connections: number
  /** Open SSE connections. */
  sse: number
  /** Open WebSocket connections. */
  websocket: number
  /** Channels with at least one local member. */
  channels: number
  /** Distinct users with at least one local connection. */
  users: number
  /** Messages written to connections since start (a broadcast to N connections counts N). */
  delivered: number
  /** Connections refused since start, every reason (the sum of `refusals`). */
  refused: number
  /**
   * Refusals since start, each counted once, by reason: `capacity` (503 or 1013 over
   * `maxConnections`), `closing` (503 while closing), `user-cap` (429, or 1008 when found out after
   * the handshake), `origin` (403), `upgrade-required` (426), `unavailable` (501).
   */
  refusals: Record<RefusalReason, number>
  /** The broker: whether it reaches its backend now, and the outages it noticed since start (in memory: always up, 0). */
  broker: { connected: boolean; outages: number }
}

/** Counters returned by `realtime.stats()`: see {@link RealtimeStatsBase} and {@link MetricCounters}. */
export type RealtimeStats = RealtimeStatsBase & MetricCounters

/** Server-side handle of one channel, or of every channel a pattern (`'orders:*'`) matches. */
export interface ChannelHandle<Events extends EventMap = EventMap> {
  /** The channel name, or the pattern as given (`'orders:*'`). */
  readonly name: string
  /** Local members (connections of this process); of a pattern: of every matching channel. */
  readonly size: number
  /**
   * Sends to every member of the channel, in every process. A pattern's handle rejects with
   * `REALTIME_INVALID_CHANNEL`: publish to one channel (`toChannel('orders:42')`).
   */
  broadcast(message: RealtimeMessage<Events>, options?: PublishOptions): Promise<void>
  /** Local member connections. */
  connections(): IterableIterator<Connection<Events>>
}

/** Options of `realtime.close()`. */
export interface CloseOptions {
  /** WebSocket close code sent to clients (default 1012: restarting, reconnect and resume). */
  code?: number
  /** Close reason (default 'server shutting down'). */
  reason?: string
  /**
   * Milliseconds to wait for connections to finish closing (peers acknowledging, buffered data
   * flushing) before the rest are terminated (default 5000).
   */
  drainTimeout?: number
}

/**
 * The realtime hub: a registry of connections, users and channels, fed by a broker. Create it
 * with an adapter's `createRealtime()`; adapters pass their {@link Platform}.
 */
