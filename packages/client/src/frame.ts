// What the client accepts from the server (docs/protocol.md), checked before any of it is used.
// A message that fails is reported as `REALTIME_BAD_FRAME` and dropped; the connection goes on.
import { isCursor, parseCursorMap } from './cursor-map.js'

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
