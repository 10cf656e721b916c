// The cursor map of docs/protocol.md (`b=epoch:offset,u=…,c.<encoded channel>=…`), re-implemented
// in a few lines so the browser bundle imports nothing from the server's core.

/** Cursor-map key of a stream, from the `channel` field of a message (absent: broadcast). */
export function streamKey(channel: string | undefined): string {
  if (channel === undefined || channel === 'realtime:broadcast') return 'b'
  if (channel === 'realtime:user') return 'u'
  return 'c.' + encodeURIComponent(channel)
}

/** Parses a cursor map into key -> `epoch:offset`; entries without `=` are skipped. */
export function parseCursorMap(text: string): Map<string, string> {
  const cursors = new Map<string, string>()
  for (const entry of text.split(',')) {
    const equals = entry.indexOf('=')
    if (equals > 0) cursors.set(entry.slice(0, equals), entry.slice(equals + 1))
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
 * True when `next` is not behind `previous`: another epoch, or a greater offset in the same
 * epoch. A message whose cursor is not newer is one the client already has.
 */
export function isNewer(previous: string | undefined, next: string): boolean {
  if (previous === undefined) return true
  const a = previous.lastIndexOf(':')
  const b = next.lastIndexOf(':')
  return previous.slice(0, a) !== next.slice(0, b) || Number(next.slice(b + 1)) > Number(previous.slice(a + 1))
}
