import type { AnyClientEvents, ClientEventData, ClientEventMap, EventMap } from '@loewen-digital/realtime-core'
import type { StandardSchemaV1 } from './standard-schema.js'

/** How the client talks to the server. */
export type Transport = 'sse' | 'websocket'

/**
 * Where the connection stands: `connecting` (first attempt), `open` (the server has set up every
 * stream: nothing published from now on is missed), `reconnecting` (lost; a new attempt is on its
 * way), `closed` (for good: `close()` was called, or the server refused or ended the connection
 * in a way that means "do not reconnect").
 */
export type ConnectionState = 'connecting' | 'open' | 'reconnecting' | 'closed'

/** Data of `realtime:state`. */
export interface StateChange {
  state: ConnectionState
  previous: ConnectionState
  /** `reconnecting`: milliseconds until the next attempt. */
  delay?: number
  /** The WebSocket close code that ended the connection. */
  code?: number
  /** The WebSocket close reason. */
  reason?: string
  /** The HTTP status that refused the connection (503 with `Retry-After`, 401, 403, ...). */
  status?: number
}

/** Data of `realtime:gap`: a stream the client could not resume. The app should refetch that state. */
export interface GapNotice {
  /** The channel, or `realtime:broadcast`, or `realtime:user`. */
  channel: string
  /** `window` (missed more than the history keeps), `epoch` (history lost, e.g. a restart), `outage`, `invalid`, `disabled`. */
  reason: string
  /** Where the stream continues (`epoch:offset`), or null. */
  cursor: string | null
}

/** Data of `realtime:error`. */
export interface ClientError {
  /**
   * From the server: `REALTIME_FORBIDDEN`, `REALTIME_BAD_FRAME`, ... (docs/errors.md). From the client:
   * `REALTIME_REFUSED` (the server refused or ended the connection for good; the client stopped),
   * `REALTIME_INVALID_DATA` (an event's data failed its schema; it was not delivered),
   * `REALTIME_BAD_FRAME` (the server sent something malformed; dropped, the connection goes on),
   * `REALTIME_MESSAGE_TOO_BIG` (a message over `maxMessageBytes`; dropped),
   * `REALTIME_HANDLER_ERROR` (one of your handlers threw; `cause` holds what it threw).
   */
  code: string
  message: string
  /** The channel a refused subscription named. */
  channel?: string
  /** `REALTIME_INVALID_DATA`: the event whose data was refused. */
  event?: string
  /** `REALTIME_INVALID_DATA`: the schema's issues. */
  issues?: ReadonlyArray<StandardSchemaV1.Issue>
  /** `REALTIME_REFUSED`: the HTTP status of the refusal. */
  status?: number
  /** `REALTIME_REFUSED`: the WebSocket close code. */
  closeCode?: number
  /** `REALTIME_HANDLER_ERROR`: what the handler threw. */
  cause?: unknown
}

/**
 * Events of the protocol and of the client itself. Their names are in the `realtime:` namespace,
 * which no application event may use, so they never collide with your event map.
 */
export interface ControlEvents {
  /** The connection state changed (see {@link ConnectionState}). */
  'realtime:state': StateChange
  /** The server set up the connection's streams; `cursor` is the cursor map. */
  'realtime:connected': { id: string; cursor: string; heartbeat?: number }
  /** A channel was joined. */
  'realtime:subscribed': { channel: string; cursor?: string }
  /** A channel was left (WebSocket). */
  'realtime:unsubscribed': { channel: string }
  /** A stream could not be resumed: refetch what it carries. */
  'realtime:gap': GapNotice
  /** An error from the server or the client. */
  'realtime:error': ClientError
  /** SSE: the server is shutting down; the client reconnects and resumes by itself. */
  'realtime:reconnect': { code: number; reason: string; cursor?: string }
  /** The server asks for a fresh token (WebSocket; handled by the `auth` option). */
  'realtime:refresh': { expiresAt: number }
  /** The server accepted a fresh token; the connection now lasts until `expiresAt` (null: no expiry). */
  'realtime:authenticated': { expiresAt: number | null }
  /** The answer to a `realtime:ping`. */
  'realtime:pong': unknown
  /** Text that is not an `{ event, data }` message (`socket.send(text)`, `stream.send(text)`). */
  'realtime:raw': string
  /** Protocol events this version does not know by name yet (for example `realtime:presence`). */
  [event: `realtime:${string}`]: unknown
}

/** Every event a client can listen to: the application's map plus {@link ControlEvents}. */
export type ClientEvents<Events extends EventMap = EventMap> = Omit<Events, keyof ControlEvents> & ControlEvents

/** A received message, as given to handlers next to its data. */
export interface ReceivedMessage<Name extends string = string, Data = unknown> {
  event: Name
  data: Data
  /** WebSocket: the channel (absent for broadcast; `realtime:user` for the user's stream). */
  channel?: string
  /** WebSocket: the message's cursor `epoch:offset` when it is resumable. */
  id?: string
}

/** A handler of event `Name`. */
export type Handler<Events extends EventMap, Name extends keyof ClientEvents<Events> & string> = (
  data: ClientEvents<Events>[Name],
  message: ReceivedMessage<Name, ClientEvents<Events>[Name]>,
) => void

/** What the client needs of an `EventSource` (the platform's, or the `eventsource` package's). */
export interface EventSourceLike {
  readonly readyState: number
  onerror: ((event: any) => void) | null
  addEventListener(type: string, listener: (event: any) => void): void
  close(): void
}

/** What the client needs of a `WebSocket` (the platform's, or `ws`). */
export interface WebSocketLike {
  readonly readyState: number
  onmessage: ((event: any) => void) | null
  onclose: ((event: any) => void) | null
  onerror: ((event: any) => void) | null
  send(data: string): void
  close(code?: number, reason?: string): void
}

/** A constructor of {@link EventSourceLike}. */
export type EventSourceConstructor = new (url: string, init?: { withCredentials?: boolean }) => EventSourceLike
/** A constructor of {@link WebSocketLike}. */
export type WebSocketConstructor = new (url: string, protocols?: string | string[]) => WebSocketLike

/**
 * Runtime validators, per event: any Standard Schema (zod, valibot, ...). The same object the
 * server's `createRealtime({ schemas })` takes: the client validates the events it receives, the
 * server the client events it handles.
 */
export type EventSchemas<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents> = {
  [Name in keyof Events & string]?: StandardSchemaV1<unknown, Events[Name]>
} & (string extends keyof Client
  ? unknown // an untyped client map names no events: the keys come from `Events` alone
  : { [Name in keyof Client & string]?: StandardSchemaV1<unknown, ClientEventData<Client, Name>> })

/** Options of `client.request(event, data, options)`. */
export interface RequestOptions {
  /** Milliseconds to wait for the answer, including the wait for a connection (default 10000). */
  timeout?: number
  /**
   * When the connection drops after the request was sent, send it again once reconnected instead
   * of rejecting with `REALTIME_DISCONNECTED` (default false). Only for requests that are safe to
   * run twice: the server may have run the first one.
   */
  resend?: boolean
}

/** Options of `connect(url, options)`. */
export interface ClientOptions<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents> {
  /** `'sse'` (the platform's `EventSource`) or `'websocket'` (default `'sse'`). */
  transport?: Transport
  /** Channels to join (default none; `channel` parameters of the URL count too). */
  channels?: string[]
  /**
   * A cursor map to resume from on the first connection (default none: start from now). Keep
   * `client.cursor` (for example in `sessionStorage`) to pick up where a previous page left off.
   */
  lastEventId?: string
  /** Reconnect when the connection is lost (default true). */
  reconnect?: boolean
  /**
   * First reconnect delay in milliseconds; it doubles per failed attempt (a session that ends
   * within 5 s of `realtime:connected` counts as one), with jitter; never below 100 (default 1000).
   */
  reconnectDelay?: number
  /**
   * Longest reconnect delay in milliseconds, also for the server's `Retry-After` (default 30000;
   * at most 2^31 - 1).
   */
  maxReconnectDelay?: number
  /**
   * Incoming messages longer than this many bytes (UTF-8) are dropped and reported as
   * `REALTIME_MESSAGE_TOO_BIG`; `0` disables (default 1048576, 1 MiB).
   */
  maxMessageBytes?: number
  /**
   * WebSocket: sends `realtime:ping` this often (milliseconds) and reconnects when nothing at all
   * came back by the next ping: a dead peer or a silently dropped network is noticed within two
   * intervals. The pings also let servers that cannot send ping frames (Cloudflare Workers) detect
   * this client going away. `0` disables (default 25000).
   */
  pingInterval?: number
  /** SSE: send cookies to another origin (`EventSource` `withCredentials`, default false). */
  withCredentials?: boolean
  /** WebSocket: subprotocols (default none). */
  protocols?: string | string[]
  /**
   * Returns the credential (a token) for the next connection: called before every connection,
   * reconnects included, and over WebSocket whenever the server asks (`realtime:refresh`, before
   * the token expires), whose answer goes back over the open connection (`realtime:auth`). The
   * token is sent as the `token` URL parameter (read it in the server's `identify`). A throw or
   * rejection is reported (`REALTIME_AUTH_FAILED`) and the connection waits for the backoff.
   * Default none.
   */
  auth?: () => string | Promise<string>
  /** Validate incoming data per event with a Standard Schema (default none: data is trusted). */
  schemas?: EventSchemas<Events, Client>
  /** The `EventSource` constructor (default `globalThis.EventSource`; on Node and Bun pass the `eventsource` package's). */
  EventSource?: EventSourceConstructor
  /** The `WebSocket` constructor (default `globalThis.WebSocket`; on Node 20 pass the `ws` package's). */
  WebSocket?: WebSocketConstructor
  /** SSE: the `fetch` used to learn why the server refused a stream (default `globalThis.fetch`). */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>
}
