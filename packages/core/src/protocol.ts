import { MAX_TOKEN_LENGTH, RESERVED_PREFIX } from './constants.js'
import { RealtimeError } from './errors.js'

/** Control events a client sends. Documented in `docs/protocol.md`. */
export const CLIENT_CONTROL = {
  SUBSCRIBE: 'realtime:subscribe',
  UNSUBSCRIBE: 'realtime:unsubscribe',
  PING: 'realtime:ping',
  REQUEST: 'realtime:request',
  AUTH: 'realtime:auth',
} as const

/** Control events the server sends. Documented in `docs/protocol.md`. */
export const SERVER_CONTROL = {
  CONNECTED: 'realtime:connected',
  SUBSCRIBED: 'realtime:subscribed',
  UNSUBSCRIBED: 'realtime:unsubscribed',
  PONG: 'realtime:pong',
  ERROR: 'realtime:error',
  GAP: 'realtime:gap',
  RECONNECT: 'realtime:reconnect',
  PRESENCE: 'realtime:presence',
  RESPONSE: 'realtime:response',
  REFRESH: 'realtime:refresh',
  AUTHENTICATED: 'realtime:authenticated',
} as const

/** A parsed control frame from a client. */
export type ControlFrame =
  | { event: typeof CLIENT_CONTROL.SUBSCRIBE; channel: string; cursor?: string }
  | { event: typeof CLIENT_CONTROL.UNSUBSCRIBE; channel: string }
  | { event: typeof CLIENT_CONTROL.PING; data: unknown }
  | { event: typeof CLIENT_CONTROL.REQUEST; id: string; name: string; data: unknown }
  | { event: typeof CLIENT_CONTROL.AUTH; token: string }

/** Longest request id a client may send (characters). */
export const MAX_REQUEST_ID_LENGTH = 64

/** True when `event` is in the namespace reserved for the protocol. */
export function isReservedEvent(event: string): boolean {
  return event.startsWith(RESERVED_PREFIX)
}

/**
 * Classifies an inbound WebSocket text frame. Returns `undefined` for an application message
 * (which then reaches `onMessage` exactly as sent), a {@link ControlFrame} for a valid control
 * message, and throws {@link RealtimeError} (`REALTIME_BAD_FRAME`, `REALTIME_UNKNOWN_CONTROL`) for
 * a frame in the reserved namespace that is malformed or unknown.
 *
 * Cheap for application traffic: only text that contains `"realtime:` is parsed.
 */
export function parseControlFrame(text: string): ControlFrame | undefined {
  if (text.indexOf('"' + RESERVED_PREFIX) === -1) return undefined
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    return undefined // not JSON at all: an application message that merely mentions the prefix
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return undefined
  const event = (value as { event?: unknown }).event
  if (typeof event !== 'string' || !isReservedEvent(event)) return undefined
  const data = (value as { data?: unknown }).data
  switch (event) {
    case CLIENT_CONTROL.SUBSCRIBE:
    case CLIENT_CONTROL.UNSUBSCRIBE: {
      const channel = data !== null && typeof data === 'object' ? (data as { channel?: unknown }).channel : undefined
      if (!isValidChannelName(channel)) {
        throw new RealtimeError(
          'REALTIME_BAD_FRAME',
          `${event} needs data.channel: a non-empty, well-formed string of at most 200 characters without control characters`,
        )
      }
      if (event === CLIENT_CONTROL.UNSUBSCRIBE) return { event, channel }
      const cursor = (data as { cursor?: unknown }).cursor
      if (cursor !== undefined && typeof cursor !== 'string') {
        throw new RealtimeError('REALTIME_BAD_FRAME', `${event}: data.cursor must be a string`)
      }
      return cursor === undefined ? { event, channel } : { event, channel, cursor }
    }
    case CLIENT_CONTROL.PING:
      return { event, data }
    case CLIENT_CONTROL.REQUEST: {
      const fields = data !== null && typeof data === 'object' && !Array.isArray(data) ? (data as { id?: unknown; event?: unknown; data?: unknown }) : undefined
      const id = fields?.id
      if (typeof id !== 'string' || id.length === 0 || id.length > MAX_REQUEST_ID_LENGTH || FORBIDDEN_IN_NAME.test(id)) {
        throw new RealtimeError(
          'REALTIME_BAD_FRAME',
          `${event} needs data.id: a non-empty string of at most ${MAX_REQUEST_ID_LENGTH} characters without control characters`,
        )
      }
      const name = fields!.event
      if (typeof name !== 'string' || name.length === 0 || isReservedEvent(name)) {
        throw new RealtimeError('REALTIME_BAD_FRAME', `${event} needs data.event: a non-empty event name outside the realtime: namespace`)
      }
      return { event, id, name, data: fields!.data }
    }
    case CLIENT_CONTROL.AUTH: {
      const token = data !== null && typeof data === 'object' ? (data as { token?: unknown }).token : undefined
      if (typeof token !== 'string' || token.length === 0 || token.length > MAX_TOKEN_LENGTH) {
        throw new RealtimeError('REALTIME_BAD_FRAME', `${event} needs data.token: a non-empty string of at most ${MAX_TOKEN_LENGTH} characters`)
      }
      return { event, token }
    }
    default:
      throw new RealtimeError('REALTIME_UNKNOWN_CONTROL', `unknown control event ${JSON.stringify(event)}`)
  }
}

/**
 * Channel names: non-empty strings of at most 200 UTF-16 code units, well-formed (no lone
 * surrogate, which no UTF-8 encoder can write) and without control characters (C0, DEL, C1).
 */
export function isValidChannelName(name: unknown): name is string {
  return typeof name === 'string' && name.length > 0 && name.length <= 200 && !FORBIDDEN_IN_NAME.test(name)
}

/** A control character (C0, DEL, C1) or a lone surrogate. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it finds
const FORBIDDEN_IN_NAME = /[\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/
