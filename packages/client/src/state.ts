// The state of one client, and which module writes each field; internal, its `_` names are shortened by the build (mangleProps).
import type { Message } from './frame.js'
import type { Options, Wire } from './transport.js'
import type { ConnectionState, EventSourceConstructor, WebSocketConstructor } from './types.js'

export type AnyHandler = (data: any, message: Message) => void

/** A request waiting for its answer (requests.ts). */
export interface Pending {
  _frame: string
  _resolve: (value: any) => void
  _reject: (error: Error) => void
  _timer?: ReturnType<typeof setTimeout>
  /** Sent on the current connection (false or absent: waits for the connection to open). */
  _sent?: boolean
  _resend: boolean
}

/**
 * One client's state; each group names the module that writes it. Every member is named `_…` so
 * that `mangleProps: /^_/` (tsup.config.ts, scripts/bundle.mjs) shortens it; public names never start with `_`.
 */
export interface ClientState {
  // client.ts, set once.
  readonly _url: URL
  readonly _options: Options
  readonly _websocket: boolean
  /** The transport's constructor: `options.WebSocket` or `options.EventSource`, else the platform's. */
  readonly _transport: WebSocketConstructor | EventSourceConstructor
  /** The application's handlers by event (client.ts `on`). */
  readonly _handlers: Map<string, Set<AnyHandler>>

  // channels.ts (and client.ts: subscribe, unsubscribe; receive.ts: a refused join).
  readonly _channels: Set<string>
  /** WebSocket: the channels the current socket joined or asked to join. */
  _joined: Set<string>

  // receive.ts (and client.ts: unsubscribe drops a channel's cursor).
  /** Cursor-map key -> `epoch:offset` of the newest message seen per stream. */
  _cursors: Map<string, string>
  /** SSE: the last event id (a cursor map) read. */
  _lastEventId?: string
  /** The server's id of the connection (`realtime:connected`). */
  _id?: string

  // connection.ts.
  _state: ConnectionState
  /** The current transport (sse.ts, websocket.ts); undefined between connections. */
  _wire?: Wire
  /** Failed attempts (and short sessions) in a row: the exponent of the backoff. */
  _attempt: number
  /** When the current session got `realtime:connected` (0 or absent: not yet). */
  _openedAt?: number
  _timer?: ReturnType<typeof setTimeout>
  /** SSE: a reconnect with a new channel set is queued. */
  _reopening?: boolean

  // delivery.ts.
  /** Set while an asynchronous schema validation holds later messages back (keeps their order). */
  _queue?: Promise<void>

  // requests.ts.
  /** Requests waiting for an answer, by id. */
  readonly _pending: Map<string, Pending>
  /** Request ids: a random prefix per client and a counter that never restarts (reconnects included). */
  readonly _prefix: string
  _sequence: number
}
