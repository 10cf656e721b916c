import { CLOSE_CODES, limits, RealtimeError } from '@loewen-digital/realtime-core'
import type { BunServerWebSocket } from './_bun.js'
import { BunWebSocketConnection } from './websocket-connection.js'

type Socket = BunServerWebSocket<unknown>

/** The largest limits of every realtime instance created so far: Bun applies them per server. */
const largest = { maxMessageBytes: -1, maxBufferedBytes: -1 }

/** Adapter API: called by `createRealtime` with each new instance's limits. */
export function raiseSocketLimits(maxMessageBytes: number, maxBufferedBytes: number): void {
  largest.maxMessageBytes = Math.max(largest.maxMessageBytes, maxMessageBytes)
  largest.maxBufferedBytes = Math.max(largest.maxBufferedBytes, maxBufferedBytes)
}

function connectionOf(ws: Socket): BunWebSocketConnection<any> | undefined {
  const data = ws.data
  return data instanceof BunWebSocketConnection ? data : undefined
}

/**
 * The `websocket` handler object for `Bun.serve`, shared by every realtime instance: each socket's
 * `data` is its connection, so one object serves any number of instances on one server. Sockets
 * whose `data` is not a realtime connection are ignored, so your own handlers can delegate to
 * these.
 *
 * Bun applies `maxPayloadLength` and `backpressureLimit` per server, when `Bun.serve()` is called:
 * they are read then from the realtime instances created so far (the largest `maxMessageBytes` and
 * `maxBufferedBytes`; the defaults when there is none). Create your instances before calling
 * `Bun.serve`. An instance with smaller limits still enforces its own (the core checks each
 * message, the adapter each direct write). Heartbeats are the instance's `heartbeat` option
 * (ping, then close a peer that did not answer), so Bun's own idle timeout and pings are off.
 *
 * @example
 * Bun.serve({ fetch: withServer(app.fetch), websocket })
 */
export const websocket = {
  /** Bun closes a connection whose message is larger with 1009. */
  get maxPayloadLength(): number {
    return largest.maxMessageBytes >= 0 ? largest.maxMessageBytes : limits.DEFAULT_MAX_MESSAGE_BYTES
  },
  /** Bun drops, then closes, a connection with more bytes queued (a slow consumer). */
  get backpressureLimit(): number {
    return largest.maxBufferedBytes >= 0 ? largest.maxBufferedBytes : limits.DEFAULT_MAX_BUFFERED_BYTES
  },
  closeOnBackpressureLimit: true,
  idleTimeout: 0,
  sendPings: false,
  perMessageDeflate: false,
  publishToSelf: false,

  open(ws: Socket): void {
    connectionOf(ws)?.opened(ws as BunServerWebSocket<any>)
  },

  message(ws: Socket, message: string | Uint8Array): void {
    const connection = connectionOf(ws)
    if (!connection) return
    connection.alive = true
    if (typeof message !== 'string') {
      connection.receiveBinary()
      return
    }
    connection.receive(message)
  },

  pong(ws: Socket): void {
    const connection = connectionOf(ws)
    if (connection) connection.alive = true
  },

  close(ws: Socket, code: number, reason: string): void {
    const connection = connectionOf(ws)
    if (!connection) return
    connection.socketClosed()
    // Bun has already answered an oversized message with 1009; the handler sees 1006.
    if (code === 1006 && /too big/i.test(reason)) {
      connection.transportError(new RealtimeError('REALTIME_MESSAGE_TOO_BIG', `message exceeds maxMessageBytes (${websocket.maxPayloadLength})`))
      connection.transportClosed(CLOSE_CODES.MESSAGE_TOO_BIG, 'message too big')
      return
    }
    connection.transportClosed(code, reason)
  },

  error(error: Error, ws: Socket): void {
    const connection = connectionOf(ws)
    if (connection) connection.transportError(error)
    else console.error('[realtime] websocket handler error:', error)
  },
}
