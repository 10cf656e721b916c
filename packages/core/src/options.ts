import type { Broker } from './broker.js'
import type { Connection } from './connection.js'
import type { RealtimeError } from './errors.js'
import type { TelemetryOptions } from './hub/metrics.js'
import type { HistoryOptions } from './memory-broker.js'
import type { AnyClientEvents, ClientEventData, ClientEventMap, EventMap } from './message.js'
import type { StandardSchemaV1 } from './standard-schema.js'

/**
 * Who a request belongs to: a user id, or nothing for an anonymous connection; or
 * `{ userId, expiresAt }` when the credential expires (a token): `expiresAt` in ms since the epoch
 * (`Date.now()` scale) or a `Date`.
 */
export type Identity = string | number | null | undefined | { userId: string | number | null | undefined; expiresAt?: number | Date }

/** Resolves the {@link Identity} of a request. */
export type Identify = (request: Request) => Identity | Promise<Identity>

/**
 * Runtime validators, per event name: any Standard Schema (zod, valibot, arktype, ...). One object
 * for both directions, shared with the client's `connect(url, { schemas })`: the server validates
 * the client events that have a `realtime.on` handler, the client the events it receives.
 */
export type EventSchemas<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents> = {
  [Name in keyof Events & string]?: StandardSchemaV1<unknown, Events[Name]>
} & (string extends keyof Client
  ? unknown // an untyped client map names no events: the keys come from `Events` alone
  : { [Name in keyof Client & string]?: StandardSchemaV1<unknown, ClientEventData<Client, Name>> })

/** Options of `createRealtime`. Every option is optional; defaults live in `constants.ts`. */
export interface RealtimeOptions<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents> {
  /** Default transport, used by `realtime.handle()` when the request does not say (default `'sse'`). */
  driver?: 'sse' | 'websocket'
  /** Heartbeat interval in milliseconds; `0` disables heartbeats (default 30000). */
  heartbeat?: number
  /** Maximum concurrent connections, SSE and WebSocket together (default 10000). */
  maxConnections?: number
  /**
   * Maximum concurrent connections of one user, across processes when the broker has a presence
   * store (default 100). Over it: HTTP 429 with `Retry-After`, or, when found out only after the
   * connection opened, `realtime:error` `REALTIME_TOO_MANY_CONNECTIONS` and close 1008.
   */
  maxConnectionsPerUser?: number
  /**
   * Channels one connection may be in at once (default 100). One more: `realtime:error`
   * `REALTIME_TOO_MANY_CHANNELS` to the client (server-side `socket.join()` resolves false and
   * reports it to `onError`). A connection's cursor map is also kept under 4096 characters, which
   * can refuse a join earlier when channel names are long.
   */
  maxChannelsPerConnection?: number
  /**
   * Inbound WebSocket message rate per connection: at most `messages` per `interval` ms; the
   * connection that sends more is closed with 1008 and `REALTIME_RATE_LIMITED` goes to `onError`.
   * `false` disables (default `{ messages: 100, interval: 1000 }`).
   */
  rateLimit?: { messages?: number; interval?: number } | false
  /**
   * Origins allowed to open WebSockets (cross-site WebSocket hijacking protection) and to read SSE
   * streams from another origin (CORS): a list of origins (`'https://app.example.com'`), `'*'` for
   * any, or a function. Default: requests without an `Origin` header (non-browser clients) and
   * same-origin requests (`Origin` matches the request URL's origin). Others get HTTP 403 for a
   * WebSocket, and SSE answers without CORS headers (the browser withholds them from the page).
   * An allowed cross-origin SSE request gets `Access-Control-Allow-Origin` (its origin), with
   * credentials, and `Vary: Origin`; `realtime.preflight()` (and `handle()`) answer its `OPTIONS`.
   */
  allowedOrigins?: string[] | '*' | ((origin: string, request: Request) => boolean)
  /** Maximum size of one inbound WebSocket message in bytes; larger closes with 1009 (default 65536). */
  maxMessageBytes?: number
  /** Outbound bytes a connection may have queued before it is closed as a slow consumer (default 4 MiB). */
  maxBufferedBytes?: number
  /** `retry:` in milliseconds sent at the start of every SSE stream (default 2000). */
  sseRetry?: number
  /**
   * Resolves the user of a request (cookie, header, token). Default: every connection is anonymous.
   * When it returns `{ userId, expiresAt }`, the connection ends at `expiresAt` unless renewed:
   * SSE streams end (`realtime:error` `REALTIME_TOKEN_EXPIRED`; the client reconnects with a fresh
   * token), WebSockets are asked for a fresh token first (`realtime:refresh`, with
   * `reauthenticate`) and closed with 4002 when none came in time.
   */
  identify?: Identify
  /**
   * Checks a fresh token a WebSocket client sent over the open connection (`realtime:auth`, after
   * `realtime:refresh`): return the same user with a new `expiresAt` to extend the connection (and
   * every channel's `authorize` runs again: a channel the user may no longer join is left, with
   * `realtime:error` `REALTIME_FORBIDDEN`). Another user, nothing, or a throw refuses it
   * (`REALTIME_UNAUTHORIZED`) and the old expiry stands. Default: no renewal over the connection.
   */
  reauthenticate?: (token: string, socket: Connection<Events>) => Identity | Promise<Identity>
  /**
   * History window of the default in-memory broker, for resume; `false` turns history and resume
   * off (default `{ size: 100, ttl: 300000 }`). Ignored when `broker` is given: configure that
   * broker's history instead.
   */
  history?: HistoryOptions | false
  /**
   * Carries messages between processes (default: an in-memory broker of this instance's own). One
   * broker may serve several instances (each under its `name`); it is closed with the last of them.
   */
  broker?: Broker
  /**
   * Name of the instance on its broker: 1 to 64 of `A-Z a-z 0-9 . _ -` (default: the driver,
   * `'sse'` or `'websocket'`). Every topic the instance publishes, follows, reads history or
   * presence of carries it, so instances of different names never see each other's messages, on
   * any broker, even sharing one broker object or one Redis prefix; the instances of one name in
   * several processes are one application (that is how a broker scales out). Two open instances
   * with the same name on one broker object, or with the same default name on broker objects of the
   * same namespace in one process, fail with `REALTIME_NAME_IN_USE`.
   */
  name?: string
  /**
   * Receives every error the library does not throw to a caller: handlers that threw, malformed
   * frames, transport failures. Called once per error. Default: `console.error`.
   */
  onError?: (error: RealtimeError, socket: Connection<Events> | undefined) => void
  /**
   * Records metrics and traces through OpenTelemetry: `otel()` from `@loewen-digital/realtime/otel`,
   * or `{ meter, tracer }` from `@opentelemetry/api` (default: none; `stats()` counts either way).
   * Names and attributes: `docs/observability.md`.
   */
  telemetry?: TelemetryOptions
  /**
   * Validators of client events, per event name (Standard Schema; default none). An event whose
   * data fails never reaches its `realtime.on` handler: a request is answered with
   * `REALTIME_INVALID_DATA` and the schema's issues, a plain event with `realtime:error`
   * `REALTIME_INVALID_DATA`; the connection goes on. Give the same object to the client's `connect`.
   */
  schemas?: EventSchemas<Events, Client>
}

/** Per-channel configuration given to `realtime.channel(name, config)`. */
export interface ChannelConfig<Events extends EventMap = EventMap> {
  /**
   * Decides whether a client may join. Server-side `socket.join()` skips it. Default: everyone may
   * join. A refusal answers `realtime:error` with code `REALTIME_FORBIDDEN` and grants nothing.
   */
  authorize?: (socket: Connection<Events>, userId: string | undefined, channel: string) => boolean | Promise<boolean>
  /**
   * A connection joined the channel: once per membership, after `authorize` and presence. Not for
   * a connection that closed or left before its join got this far.
   */
  onJoin?: (socket: Connection<Events>, userId: string | undefined, channel: string) => void | Promise<void>
  /**
   * A connection left the channel (unsubscribed, removed, or closed). Only a membership whose
   * `onJoin` point passed gets it, so the two come in pairs, `onJoin` first: a set of who is in the
   * channel, added to in `onJoin` and deleted from in `onLeave`, never keeps a connection that is gone.
   */
  onLeave?: (socket: Connection<Events>, userId: string | undefined, channel: string) => void | Promise<void>
  /**
   * Tracks who is in the channel (default off). `true`, or `{ data }` to attach metadata to each
   * member when it joins (e.g. a display name). Members get a `realtime:presence` snapshot when
   * they join and join/leave updates afterwards; `realtime.presence(name)` lists them. A user is
   * one member however many connections (tabs) it has: it joins with its first and leaves with its
   * last. Anonymous connections are a member each.
   */
  presence?: boolean | { data?: (socket: Connection<Events>, userId: string | undefined, channel: string) => unknown }
  /** A member joined or left (server hook; runs in the process where the change happened). */
  onPresence?: (change: PresenceChange) => void | Promise<void>
}

/** One member of a presence channel: a user (with all its connections) or an anonymous connection. */
export interface PresenceMember {
  /** The user, or undefined for an anonymous connection. */
  userId: string | undefined
  /** The member's open connections in the channel, across processes. */
  connections: number
  /** Metadata from `presence.data` at the member's first join. */
  data: unknown
}

/** A presence update, as delivered to the `onPresence` hook and (as `data`) to clients. */
export interface PresenceChange {
  channel: string
  action: 'join' | 'leave'
  member: PresenceMember
}
