// The contract between the connection (connection.ts) and a transport (sse.ts, websocket.ts), and what both transports share.
import type { ClientOptions } from './types.js'

/**
 * Says why a transport ended, for the reconnect policy (reconnect-policy.ts): the HTTP `status`
 * of a refused connection, the WebSocket close `code` (4000: the client found the peer dead) and
 * `reason`, the server's `retryAfter`.
 */
export type Report = (status?: number, code?: number, reason?: string, retryAfter?: string | null) => void

/**
 * What a transport tells the connection it received: a WebSocket frame (`event` undefined), or the
 * data of the SSE event `event` with the stream's last event id `id`. Ignored once the transport
 * has ended or was closed.
 */
export type Read = (text: unknown, event?: string, id?: string) => void

/**
 * What a transport calls when it closed itself: from now on nothing it reports counts. Returns the
 * function to call (once) with why, as soon as the transport knows.
 */
export type End = () => Report

/** An open transport, as the connection uses it. */
export interface Wire {
  /** Sends a text frame (a string as is, anything else as JSON); false or undefined, sending nothing, when it cannot (not open, or SSE). */
  _send?(message: unknown): boolean
  /** Closes it for good (WebSocket: `code` default 1000) and stops its timers; it reports nothing more. */
  _close(code?: number, reason?: string): void
  /** SSE: delivers the named event `event` too (EventSource delivers only events it listens to). */
  _listen?(event: string): void
  /** `realtime:connected` arrived, naming the server's heartbeat interval (ms) when it sends one. */
  _connected?(heartbeat: unknown): void
}

/** The options a transport reads. */
export type Options = ClientOptions<any, any>

/** A numeric option, or `fallback` when it is absent or not a non-negative number. */
export function numberOption(options: Options, name: 'reconnectDelay' | 'maxReconnectDelay' | 'pingInterval' | 'maxMessageBytes', fallback: number): number {
  const value = options[name]
  return typeof value === 'number' && value >= 0 ? value : fallback
}

/**
 * The dead-peer timer of both transports: every `period` ms asks `alive()`; the first time it says
 * no, closes `wire` with 4000 'heartbeat timeout' and ends it so, and the client reconnects and
 * resumes. Returns the function that stops the timer.
 */
export function watch(period: number, alive: () => boolean, wire: Wire, end: End): () => void {
  const timer = setInterval(() => {
    if (alive()) return
    wire._close(4000, 'heartbeat timeout')
    end()(undefined, 4000, 'heartbeat timeout')
  }, period)
  return () => clearInterval(timer)
}
