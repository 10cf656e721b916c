// Settings: `createRealtime` options checked once and resolved to their defaults.
import {
  DEFAULT_DRIVER,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_CHANNELS_PER_CONNECTION,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_USER,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_RATE_LIMIT_INTERVAL_MS,
  DEFAULT_RATE_LIMIT_MESSAGES,
  DEFAULT_SSE_RETRY_MS,
  MAX_INSTANCE_NAME_LENGTH,
} from '../constants.js'
import { RealtimeError } from '../errors.js'
import type { RealtimeOptions } from '../options.js'

/** The limits and timeouts one instance runs with (see `docs/limits.md`). */
export interface Settings {
  readonly driver: 'sse' | 'websocket'
  /** The instance's name on its broker: the `name` option, else the driver. */
  readonly name: string
  readonly heartbeatMs: number
  readonly maxConnections: number
  readonly maxConnectionsPerUser: number
  readonly maxChannelsPerConnection: number
  /** Inbound messages per `rateInterval`; `Infinity` when the rate limit is off. */
  readonly rateMessages: number
  readonly rateInterval: number
  readonly allowedOrigins: RealtimeOptions['allowedOrigins']
  readonly maxMessageBytes: number
  readonly maxBufferedBytes: number
  readonly sseRetry: number
}

/** Checks `options` and fills in the defaults; throws `REALTIME_INVALID_OPTION` for a bad value. */
export function resolveSettings(options: RealtimeOptions<any>): Settings {
  const driver = options.driver ?? DEFAULT_DRIVER
  if (driver !== 'sse' && driver !== 'websocket') {
    throw new RealtimeError('REALTIME_INVALID_OPTION', `driver must be 'sse' or 'websocket', got ${JSON.stringify(options.driver)}`)
  }
  const name = options.name ?? driver
  if (typeof name !== 'string' || name.length > MAX_INSTANCE_NAME_LENGTH || !INSTANCE_NAME.test(name)) {
    throw new RealtimeError(
      'REALTIME_INVALID_OPTION',
      `name must be 1 to ${MAX_INSTANCE_NAME_LENGTH} of A-Z a-z 0-9 . _ -, got ${JSON.stringify(options.name)}`,
    )
  }
  const rate = options.rateLimit === false ? { messages: Infinity, interval: 1 } : (options.rateLimit ?? {})
  return {
    driver,
    name,
    heartbeatMs: nonNegative('heartbeat', options.heartbeat, DEFAULT_HEARTBEAT_MS),
    maxConnections: nonNegative('maxConnections', options.maxConnections, DEFAULT_MAX_CONNECTIONS),
    maxConnectionsPerUser: nonNegative('maxConnectionsPerUser', options.maxConnectionsPerUser, DEFAULT_MAX_CONNECTIONS_PER_USER),
    maxChannelsPerConnection: nonNegative('maxChannelsPerConnection', options.maxChannelsPerConnection, DEFAULT_MAX_CHANNELS_PER_CONNECTION),
    rateMessages: rate.messages === Infinity ? Infinity : nonNegative('rateLimit.messages', rate.messages, DEFAULT_RATE_LIMIT_MESSAGES),
    rateInterval: nonNegative('rateLimit.interval', rate.interval, DEFAULT_RATE_LIMIT_INTERVAL_MS) || 1,
    allowedOrigins: options.allowedOrigins,
    maxMessageBytes: nonNegative('maxMessageBytes', options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES),
    maxBufferedBytes: nonNegative('maxBufferedBytes', options.maxBufferedBytes, DEFAULT_MAX_BUFFERED_BYTES),
    sseRetry: nonNegative('sseRetry', options.sseRetry, DEFAULT_SSE_RETRY_MS),
  }
}

/** What an instance name may hold (no `@`: it separates a topic from the name on the broker). */
const INSTANCE_NAME = /^[A-Za-z0-9._-]+$/

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RealtimeError('REALTIME_INVALID_OPTION', `${name} must be a non-negative number, got ${String(value)}`)
  }
  return value
}
