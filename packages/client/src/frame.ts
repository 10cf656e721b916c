// What the client accepts from the server (docs/protocol.md), checked before any of it is used.
// A message that fails is reported as `REALTIME_BAD_FRAME` and dropped; the connection goes on.
import { isCursor, parseCursorMap } from './cursor-map.js'
import type { ReceivedMessage } from './types.js'

/** The namespace of protocol and client events (docs/protocol.md). */
export const PREFIX = 'realtime:'

export type Message = ReceivedMessage<string, any>

/** A `realtime:error` message of the client's own, with `code`, `message` and the fields of `detail`. */
export function errorMessage(code: string, message: string, detail?: object): Message {
  return { event: PREFIX + 'error', data: { code, message, ...detail } }
}

/** The `REALTIME_BAD_FRAME` error that reports `problem`. */
export const badFrame = (problem: string): Message => errorMessage('REALTIME_BAD_FRAME', 'dropped a bad frame from the server: ' + problem)

/**
 * The message in what a transport delivered: a WebSocket frame (`event` undefined) or the data of
 * the SSE event `event`. Text that is not a frame, and SSE's unnamed events, give `realtime:raw`;
 * a message over `max` bytes (UTF-8; `0`: no limit), data that is not JSON, a binary frame or one
 * {@link frameProblem} refuses give the `realtime:error` that reports it (the frame is dropped).
 */
export function readFrame(text: unknown, event: string | undefined, max: number): Message {
  if (typeof text !== 'string') return badFrame('a binary frame')
  if (max && text.length > max / 3 && (text.length > max || new TextEncoder().encode(text).length > max)) {
    return errorMessage('REALTIME_MESSAGE_TOO_BIG', `dropped a message over maxMessageBytes (${max})`)
  }
  let data: any
  try {
    data = JSON.parse(text)
  } catch {}
  if (event === 'message' || (!event && typeof data?.event !== 'string')) return { event: PREFIX + 'raw', data: text }
  if (data === undefined) return badFrame(event + ': data is not JSON')
  const message: Message = event ? { event, data } : data
  const problem = frameProblem(message)
  return problem ? badFrame(problem) : message
}

type Check = (value: unknown) => boolean

const isString: Check = (value) => typeof value === 'string'
/** A string without lone surrogates (a channel name must survive `encodeURIComponent`). */
const isText: Check = (value) => typeof value === 'string' && !/\p{Cs}/u.test(value)
const isCursorMap: Check = (value) => typeof value === 'string' && parseCursorMap(value) !== undefined
const optional =
  (check: Check): Check =>
  (value) =>
    value == null || check(value)

/** The fields of the control events the client acts on, and what each must be. */
const CONTROL: Record<string, Record<string, Check>> = {
  connected: { id: isString, cursor: isCursorMap },
  subscribed: { channel: isText, cursor: optional(isCursor) },
  unsubscribed: { channel: isText },
  gap: { channel: isText, reason: isString, cursor: optional(isCursor) },
  error: { code: isString, message: isString, channel: optional(isText) },
  reconnect: { cursor: optional(isCursorMap) },
  response: { id: isString, error: optional((error) => typeof error === 'object' && isString((error as any).code) && isString((error as any).message)) },
  // The client's own events: a server never sends them.
  state: { '': () => false },
  raw: { '': () => false },
}

/** Why the client cannot use this message from the server, or undefined when it can. */
export function frameProblem(message: { event: string; data?: any; channel?: unknown; id?: unknown }): string | undefined {
  const { event, data } = message
  if (!event.startsWith('realtime:')) {
    if (message.channel !== undefined && !isText(message.channel)) return `${event}: channel is not a well-formed string`
    if (message.id !== undefined && !isCursor(message.id)) return `${event}: id is not a cursor (epoch:offset)`
    return
  }
  const fields = CONTROL[event.slice(9)]
  if (!fields || !Object.hasOwn(CONTROL, event.slice(9))) return
  if (data === null || typeof data !== 'object') return `${event}: data is not an object`
  for (const field in fields) if (!fields[field]!(data[field])) return `${event}: ${field ? `bad ${field}` : 'sent by the server'}`
}
