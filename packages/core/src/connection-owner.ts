// What a connection is given and whom it reports to: its handlers and its owner (the hub).
import type { Connection } from './connection.js'
import type { RealtimeError } from './errors.js'
import type { EventMap } from './message.js'

/** The transport a connection uses. */
export type Transport = 'sse' | 'websocket'

/**
 * Per-connection callbacks. Each runs inside a guard: a throw or a rejected promise is reported to
 * `onError` (the per-call one, else the instance's) and never reaches the transport.
 */
export interface ConnectionHandlers<Events extends EventMap = EventMap> {
  /** The connection is open and registered (default: nothing). */
  onOpen?: (socket: Connection<Events>) => void | Promise<void>
  /** An application message, exactly the text the client sent (default: ignored). */
  onMessage?: (socket: Connection<Events>, message: string) => void | Promise<void>
  /** The connection closed, for any reason (default: nothing). */
  onClose?: (socket: Connection<Events>, code: number, reason: string) => void | Promise<void>
  /** An error on this connection: a handler that threw, a bad frame, a transport failure. */
  onError?: (socket: Connection<Events>, error: RealtimeError) => void
}

/** What a connection needs from the instance that owns it (adapter API). */
export interface ConnectionOwner {
  readonly maxMessageBytes: number
  readonly maxBufferedBytes: number
  /** Interval of SSE heartbeats in ms (0: none), written into heartbeat events. */
  readonly heartbeatInterval?: number
  join(connection: Connection<any>, channel: string, trusted: boolean, cursor?: string): Promise<boolean>
  leave(connection: Connection<any>, channel: string): boolean
  receive(connection: Connection<any>, text: string): void
  closed(connection: Connection<any>, code: number, reason: string): void
  reportError(connection: Connection<any> | undefined, error: RealtimeError): void
  /** The connection's id was just made (ids are made on first read); indexes it for lookups. */
  idMade?(connection: Connection<any>): void
  /**
   * A write left more than `maxBufferedBytes` queued: cuts the connection as a slow consumer
   * (4001, a grace period, then destroyed), the same policy for direct sends and broadcasts.
   * Adapters call it instead of closing the transport themselves.
   */
  slowConsumer?(connection: Connection<any>): void
}
