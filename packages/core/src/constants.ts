/**
 * Every limit, timeout and default of the library, in one place.
 * Each value is documented in `docs/limits.md`; change both together.
 */

/** Transport a client uses when nothing else says which. */
export const DEFAULT_DRIVER = 'sse' as const

/**
 * Heartbeat interval in milliseconds (spec default). SSE streams get a comment line, WebSocket
 * peers a ping frame; a WebSocket peer that has not answered one ping by the next is closed.
 * 30 s stays below the common proxy idle timeouts (nginx 60 s, AWS ALB 60 s, Cloudflare 100 s).
 */
export const DEFAULT_HEARTBEAT_MS = 30_000

/** Maximum concurrent connections (SSE and WebSocket together) per instance (spec default). */
export const DEFAULT_MAX_CONNECTIONS = 10_000

/**
 * Maximum concurrent connections of one user (all tabs and devices), counted across processes when
 * the broker has a presence store. Over it: 429 before the handshake, or `realtime:error`
 * `REALTIME_TOO_MANY_CONNECTIONS` and close 1008 when only discovered after it.
 */
export const DEFAULT_MAX_CONNECTIONS_PER_USER = 100

/**
 * Channels one connection may be in at once (client subscriptions and server-side joins together).
 * One more answers `realtime:error` `REALTIME_TOO_MANY_CHANNELS` (server-side `join` resolves false
 * and reports it to `onError`). Bounds the memory one connection can pin and the size of its
 * cursor map.
 */
export const DEFAULT_MAX_CHANNELS_PER_CONNECTION = 100

/**
 * Longest cursor map (characters) a connection may build: its SSE `id:` line, which the browser
 * sends back as `Last-Event-ID`, and the `lastEventId` the client resumes a WebSocket with (in the
 * URL). A join that would pass it is refused with `REALTIME_TOO_MANY_CHANNELS`, so an id always fits
 * the request-header and URL limits of servers and proxies (Node: 16 KiB for all headers; nginx:
 * 8 KiB per line) and the server can always read back what it wrote.
 */
export const MAX_CURSOR_MAP_LENGTH = 4_096

/** Characters reserved for a cursor map entry's `=epoch:offset` when checking {@link MAX_CURSOR_MAP_LENGTH}. */
export const CURSOR_ENTRY_RESERVE = 40

/** Longest `Last-Event-ID` / `lastEventId` read (characters); a longer one is treated as unreadable (gap `invalid`). */
export const MAX_LAST_EVENT_ID_LENGTH = 16_384

/** Inbound WebSocket messages one connection may send per interval; more closes it with 1008. */
export const DEFAULT_RATE_LIMIT_MESSAGES = 100

/** Interval of the inbound rate limit in milliseconds. */
export const DEFAULT_RATE_LIMIT_INTERVAL_MS = 1_000

/** Maximum size of one inbound WebSocket message in bytes; larger ones close with 1009. */
export const DEFAULT_MAX_MESSAGE_BYTES = 64 * 1024

/**
 * Outbound bytes a connection may have queued (written but not yet taken by the peer) before it
 * is treated as a slow consumer and closed with {@link CLOSE_CODES.SLOW_CONSUMER}.
 */
export const DEFAULT_MAX_BUFFERED_BYTES = 4 * 1024 * 1024

/**
 * Milliseconds a slow consumer gets to take its close frame (queued behind the data it did not
 * read) before its socket is destroyed.
 */
export const SLOW_CONSUMER_GRACE_MS = 1_000

/**
 * Milliseconds an SSE stream the server ended (a slow consumer, `close()`, shutdown) gets to hand
 * its client what is still queued; then its transport is dropped (Node: the socket destroyed;
 * elsewhere: the response stream errored, so the runtime closes the connection), so a client that
 * stopped reading keeps neither a socket nor buffers.
 */
export const SSE_CLOSE_GRACE_MS = 1_000

/**
 * Requests one client may pipeline on a keep-alive socket behind a response still being written
 * (`serve()` on Node). They are handled one at a time, in order, as HTTP/1.1 answers them; an SSE
 * stream never ends, so requests behind it wait and register nothing. More than this many waiting:
 * the socket is destroyed (its SSE stream too).
 */
export const MAX_PIPELINED_REQUESTS = 16

/** The `retry:` (milliseconds) sent at the start of every SSE stream. */
export const DEFAULT_SSE_RETRY_MS = 2_000

/** Seconds announced in `Retry-After` when a connection is refused for capacity. */
export const DEFAULT_RETRY_AFTER_SECONDS = 5

/** Milliseconds `realtime.close()` waits for connections to close before terminating them. */
export const DEFAULT_DRAIN_TIMEOUT_MS = 5_000

/**
 * Longest instance name (`createRealtime({ name })`): 1 to this many of `A-Z a-z 0-9 . _ -`. The
 * name ends every topic the instance hands its broker (`channel:orders@chat`), so it is short.
 */
export const MAX_INSTANCE_NAME_LENGTH = 64

/** Messages kept per stream for resume (memory broker). */
export const DEFAULT_HISTORY_SIZE = 100

/** Milliseconds a message stays replayable (memory broker): five minutes. */
export const DEFAULT_HISTORY_TTL_MS = 300_000

/** Prefix of event names reserved for the protocol; never delivered to `onMessage`. */
export const RESERVED_PREFIX = 'realtime:'

/** Version of the wire protocol described in `docs/protocol.md`. */
export const PROTOCOL_VERSION = 1

/** WebSocket close codes the library uses. Listed in `docs/errors.md`. */
export const CLOSE_CODES = {
  /** Normal closure (`realtime.close()`, `connection.close()`). */
  NORMAL: 1000,
  /** Server going away without asking to reconnect. */
  GOING_AWAY: 1001,
  /** Inbound frame could not be handled (binary where text is expected). */
  UNSUPPORTED_DATA: 1003,
  /** Policy violation (rate limit exceeded). */
  POLICY_VIOLATION: 1008,
  /** Inbound message larger than `maxMessageBytes`. */
  MESSAGE_TOO_BIG: 1009,
  /** Server error while handling the connection. */
  INTERNAL_ERROR: 1011,
  /** Server restarting: reconnect (elsewhere) and resume. */
  SERVICE_RESTART: 1012,
  /** Peer missed a heartbeat. */
  HEARTBEAT_TIMEOUT: 4000,
  /** Outbound buffer exceeded `maxBufferedBytes`: resume from your cursor. */
  SLOW_CONSUMER: 4001,
  /** The token `identify` accepted expired and was not renewed: reconnect with a fresh one. */
  TOKEN_EXPIRED: 4002,
} as const

/**
 * How long before a token expires the server asks a WebSocket client for a fresh one
 * (`realtime:refresh`), when `reauthenticate` is set: this long, or half the time left when less.
 */
export const TOKEN_REFRESH_LEAD_MS = 30_000

/** Longest token a client may send in `realtime:auth` (characters). */
export const MAX_TOKEN_LENGTH = 8_192
