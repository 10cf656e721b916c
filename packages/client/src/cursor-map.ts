// The cursor map of docs/protocol.md (`b=epoch:offset,u=…,c.<encoded channel>=…`), re-implemented
// in a few lines so the browser bundle imports nothing from the server's core. Parsing is strict:
// a position the client stores is always one it can compare.

/** Cursor-map key of a stream, from the `channel` field of a message (absent: broadcast). */
export function streamKey(channel: string | undefined): string {
  if (channel === undefined || channel === 'realtime:broadcast') return 'b'
  if (channel === 'realtime:user') return 'u'
  return 'c.' + encodeURIComponent(channel)
}

/**
 * True for a cursor `epoch:offset`: an epoch of 1–64 characters `[A-Za-z0-9_-]`, an offset that is
 * a non-negative safe integer written in digits (so never `1e400`, `Infinity`, `-1` or `0x10`).
 */
export function isCursor(value: unknown): value is string {
  return typeof value === 'string' && /^[\w-]{1,64}:\d{1,16}$/.test(value) && Number(value.slice(value.indexOf(':') + 1)) <= Number.MAX_SAFE_INTEGER
}

/**
 * Parses a cursor map into key -> `epoch:offset` (empty text: an empty map); undefined when any
 * entry is malformed or the text is longer than the server accepts (16384 characters).
 */
export function parseCursorMap(text: string): Map<string, string> | undefined {
  const cursors = new Map<string, string>()
  if (text.length > 16_384) return
  for (const entry of text ? text.split(',') : []) {
    const equals = entry.indexOf('=')
    const key = entry.slice(0, equals)
    const cursor = entry.slice(equals + 1)
    if (!/^(b|u|c\..+)$/.test(key) || !isCursor(cursor)) return
    cursors.set(key, cursor)
  }
  return cursors
}

/** Formats key -> `epoch:offset` entries as a cursor map. */
export function formatCursorMap(cursors: Iterable<[string, string]>): string {
  let text = ''
  for (const [key, cursor] of cursors) text += (text ? ',' : '') + key + '=' + cursor
  return text
}

/**
 * True when `next` is not behind `previous` (both valid cursors): another epoch, or a greater
 * offset in the same epoch. A message whose cursor is not newer is one the client already has.
 */
export function isNewer(previous: string | undefined, next: string): boolean {
  if (previous === undefined) return true
  const a = previous.indexOf(':')
  const b = next.indexOf(':')
  return previous.slice(0, a) !== next.slice(0, b) || Number(next.slice(b + 1)) > Number(previous.slice(a + 1))
}
