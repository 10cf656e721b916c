import { RealtimeError } from './errors.js'

const LINE_BREAK = /\r\n|\r|\n/

/** Fields of one Server-Sent Event. */
export interface SseFields {
  /** Event name (`event:` line). Must not contain CR or LF. */
  event?: string
  /** Payload; split into one `data:` line per line of text. */
  data: string
  /** Event id (`id:` line), becomes `Last-Event-ID` on reconnect. Must not contain CR, LF or NUL. */
  id?: string
  /** Reconnection delay in milliseconds (`retry:` line). */
  retry?: number
}

/**
 * Throws {@link RealtimeError} `REALTIME_INVALID_FIELD` when `value` would break out of its SSE
 * line (CR or LF), or, for ids, contains NUL (which makes browsers ignore the id).
 */
export function assertSseField(name: 'event' | 'id', value: string): void {
  for (let index = 0; index < value.length; index++) {
    const code = value.charCodeAt(index)
    if (code === 10 || code === 13 || (code === 0 && name === 'id')) {
      throw new RealtimeError('REALTIME_INVALID_FIELD', `SSE ${name} must not contain ${code === 0 ? 'NUL' : 'CR or LF'}: ${JSON.stringify(value)}`)
    }
  }
}

/**
 * Encodes one event in the `text/event-stream` format. Multi-line data becomes several `data:`
 * lines; CR/LF in `event` or `id` throws `REALTIME_INVALID_FIELD` and nothing is encoded.
 */
export function encodeSseEvent(fields: SseFields): string {
  let chunk = ''
  if (fields.id !== undefined) {
    assertSseField('id', fields.id)
    chunk += `id: ${fields.id}\n`
  }
  if (fields.event !== undefined) {
    assertSseField('event', fields.event)
    chunk += `event: ${fields.event}\n`
  }
  if (fields.retry !== undefined) {
    const retry = fields.retry
    if (typeof retry !== 'number' || !Number.isFinite(retry) || retry < 0) {
      throw new RealtimeError('REALTIME_INVALID_FIELD', `SSE retry must be a finite, non-negative number of milliseconds, got ${String(retry)}`)
    }
    chunk += `retry: ${Math.floor(retry)}\n`
  }
  return chunk + encodeSseData(fields.data) + '\n'
}

/** Encodes `data` as one `data:` line per line of text (always at least one). */
export function encodeSseData(data: string): string {
  if (data.indexOf('\n') === -1 && data.indexOf('\r') === -1) return `data: ${data}\n`
  let lines = ''
  for (const line of data.split(LINE_BREAK)) lines += `data: ${line}\n`
  return lines
}

/** A comment line (`: text`), used for heartbeats. Line breaks in `text` become spaces. */
export function encodeSseComment(text = ''): string {
  return `:${text ? ' ' + text.replace(LINE_BREAK, ' ') : ''}\n\n`
}
