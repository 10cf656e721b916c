// Requests (`client.request()`): ids, frames waiting for a connection, answers, timeouts, and what a drop or `close()` does to them.
import { PREFIX } from './frame.js'
import { MAX_TIMER } from './reconnect-policy.js'
import type { ClientState, Pending } from './state.js'
import { send } from './connection.js'
import type { RequestOptions } from './types.js'

/**
 * Why `client.request()` rejected. `code` is the server's (`REALTIME_UNKNOWN_EVENT`,
 * `REALTIME_INVALID_DATA` with `issues`, `REALTIME_HANDLER_ERROR`, or the code of the
 * `RealtimeError` the handler threw) or the client's: `REALTIME_TIMEOUT`, `REALTIME_DISCONNECTED`,
 * `REALTIME_CLOSED`, `REALTIME_UNSUPPORTED` (SSE cannot send).
 */
export class RequestError extends Error {
  readonly code: string
  readonly issues?: ReadonlyArray<{ message: string; path?: ReadonlyArray<unknown> }>
  constructor(code: string, message: string, issues?: RequestError['issues']) {
    super(message)
    this.name = 'RequestError'
    this.code = code
    if (issues) this.issues = issues
  }
}

/** Asks the server's `event` handler (see `client.request()`); sent now when the connection is open, else once it is. */
export function request(s: ClientState, event: string, data: unknown, options: RequestOptions): Promise<any> {
  return new Promise((resolve, reject) => {
    if (!s._websocket) return reject(new RequestError('REALTIME_UNSUPPORTED', 'request() needs the WebSocket transport'))
    if (s._state === 'closed') return reject(new RequestError('REALTIME_CLOSED', 'the client is closed'))
    const id = s._prefix + (++s._sequence).toString(36)
    const pending: Pending = {
      _frame: JSON.stringify({ event: PREFIX + 'request', data: { id, event, data } }),
      _resolve: resolve,
      _reject: reject,
      _resend: options.resend === true,
    }
    const timeout = options.timeout
    const wait = typeof timeout === 'number' && timeout >= 0 ? Math.min(timeout, MAX_TIMER) : 10_000
    pending._timer = setTimeout(() => settle(s, id, new RequestError('REALTIME_TIMEOUT', `no answer to ${event} within ${wait} ms`)), wait)
    s._pending.set(id, pending)
    flush(s)
  })
}

/** Sends the requests that wait for an open connection. */
export function flush(s: ClientState): void {
  if (s._state !== 'open') return
  for (const pending of s._pending.values()) if (!pending._sent) pending._sent = send(s, pending._frame)
}

/** Settles the request a `realtime:response` answers (checked by frame.ts); a late or unknown answer is ignored. */
export function answer(s: ClientState, data: { id: string; error?: { code: string; message: string; issues?: RequestError['issues'] }; data?: unknown }): void {
  const error = data.error
  settle(s, data.id, error ? new RequestError(error.code, error.message, error.issues) : undefined, data.data)
}

/**
 * The connection dropped. Requests sent on it (the server may or may not have run them) reject
 * with `REALTIME_DISCONNECTED`, or wait to be sent again when they asked for `resend`.
 */
export function dropRequests(s: ClientState): void {
  for (const [id, pending] of [...s._pending]) {
    if (!pending._sent) continue
    if (pending._resend) pending._sent = false
    else settle(s, id, new RequestError('REALTIME_DISCONNECTED', 'the connection dropped before the answer'))
  }
}

/** The client was closed: every request rejects with `REALTIME_CLOSED`. */
export function closeRequests(s: ClientState): void {
  for (const id of [...s._pending.keys()]) settle(s, id, new RequestError('REALTIME_CLOSED', 'the client was closed before the answer'))
}

/** Resolves or rejects request `id` once. */
function settle(s: ClientState, id: string, error: RequestError | undefined, value?: unknown): void {
  const pending = s._pending.get(id)
  if (!pending) return
  s._pending.delete(id)
  clearTimeout(pending._timer)
  if (error) pending._reject(error)
  else pending._resolve(value)
}
