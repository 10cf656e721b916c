import { MAX_LAST_EVENT_ID_LENGTH, RESERVED_PREFIX } from './constants.js'
import { CursorMap } from './cursor-map.js'

/**
 * A position in one stream's history: the epoch names the history (it changes whenever that
 * history is lost), the offset grows by one per message published to the stream.
 */
export interface Cursor {
  epoch: string
  offset: number
}

/** Wire name of the stream every connection is in (`broadcast`). */
export const BROADCAST_STREAM = `${RESERVED_PREFIX}broadcast`
/** Wire name of a connection's own user stream (`sendTo(userId)`). */
export const USER_STREAM = `${RESERVED_PREFIX}user`

/**
 * The key of a topic in a cursor map: `b` (broadcast), `u` (the connection's user) or
 * `c.<channel, percent-encoded>`.
 */
export function cursorKey(topic: string): string {
  if (topic === 'broadcast') return 'b'
  if (topic.startsWith('user:')) return 'u'
  return 'c.' + encodeURIComponent(topic.slice(8))
}

/** The wire stream name of a topic, as sent in `channel` fields. */
export function streamName(topic: string): string {
  if (topic === 'broadcast') return BROADCAST_STREAM
  if (topic.startsWith('user:')) return USER_STREAM
  return topic.slice(8)
}

/** `epoch:offset`. */
export function formatCursor(cursor: Cursor): string {
  return `${cursor.epoch}:${cursor.offset}`
}

/** Parses `epoch:offset`; undefined when malformed. */
export function parseCursor(text: string): Cursor | undefined {
  const colon = text.lastIndexOf(':')
  if (colon <= 0) return undefined
  const epoch = text.slice(0, colon)
  const offset = Number(text.slice(colon + 1))
  if (!Number.isSafeInteger(offset) || offset < 0 || !/^[A-Za-z0-9_-]{1,64}$/.test(epoch)) return undefined
  return { epoch, offset }
}

/**
 * Serializes a connection's cursors as the SSE `id`: `key=epoch:offset` entries joined by `,`
 * (for example `b=k2x9:14,u=k2x9:3,c.orders=p0q1:7`). See `docs/protocol.md`.
 */
export function formatCursorMap(cursors: ReadonlyMap<string, Cursor> | CursorMap): string {
  if (cursors instanceof CursorMap) return cursors.format()
  let text = ''
  for (const [key, cursor] of cursors) text += (text ? ',' : '') + key + '=' + cursor.epoch + ':' + cursor.offset
  return text
}

/** Parses a cursor map (an SSE `Last-Event-ID`); undefined when any part is malformed. */
export function parseCursorMap(text: string): Map<string, Cursor> | undefined {
  const cursors = new Map<string, Cursor>()
  if (text.length === 0 || text.length > MAX_LAST_EVENT_ID_LENGTH) return undefined
  for (const entry of text.split(',')) {
    const equals = entry.indexOf('=')
    if (equals <= 0) return undefined
    const key = entry.slice(0, equals)
    const cursor = parseCursor(entry.slice(equals + 1))
    if (!cursor || !(key === 'b' || key === 'u' || key.startsWith('c.'))) return undefined
    cursors.set(key, cursor)
  }
  return cursors
}
