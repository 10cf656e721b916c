// When and how soon to reconnect: the one policy every path of the client goes through
// (docs/client.md#reconnect-policy, the codes of docs/errors.md).

/** Seconds to wait for "try again later" when the server names no `Retry-After` (the server's default). */
export const LATER_SECONDS = 5
/** The shortest wait before any reconnect (ms), whatever the options or the server say. */
export const MIN_DELAY = 100
/** The longest delay a timer takes (2^31 - 1 ms); Node, Bun and Deno fire longer ones after 1 ms. */
export const MAX_TIMER = 2 ** 31 - 1
/**
 * A session that ends sooner than this (ms after `realtime:connected`) counts as a failed attempt:
 * the backoff keeps growing against a server that accepts and then drops every connection.
 */
export const STABLE_SESSION = 5000

/**
 * Close codes that mean "do not reconnect": normal closure, protocol errors the client cannot fix
 * by retrying (1002, 1003 unsupported data, 1007, 1009 message too big, 1010), and application
 * codes 4003–4999 (an app refusing a user, e.g. 4403). 4000 (heartbeat), 4001 (slow consumer) and
 * 4002 (token expired: the next connection asks `auth` for a fresh one) reconnect and resume.
 */
export function isFinalCloseCode(code: number): boolean {
  return code === 1000 || code === 1002 || code === 1003 || code === 1007 || code === 1009 || code === 1010 || (code > 4002 && code < 5000)
}

/**
 * Statuses that refuse for good: 204 (the SSE standard's "stop reconnecting"), redirects the
 * transport could not follow (a WebSocket redirect, an SSE redirect loop: the client only sees
 * them then) and 4xx except 408 (timeout) and 429 (too many requests: later).
 */
export function isFinalStatus(status: number): boolean {
  return status === 204 || (status >= 300 && status < 500 && status !== 408 && status !== 429)
}

/**
 * Milliseconds to wait before attempt number `attempt` (0 first after a good session):
 * `initial * 2^attempt` with equal jitter (a random point in the upper half, so clients that lost
 * the same server do not come back together), at least `hint` (the server's `Retry-After`, plus up
 * to half again as jitter), at most `max`, never below {@link MIN_DELAY} nor above {@link MAX_TIMER}.
 */
export function reconnectDelay(attempt: number, initial: number, max: number, hint = 0): number {
  const base = Math.min(max, initial * 2 ** Math.min(attempt, 40))
  const delay = Math.max(base / 2 + (Math.random() * base) / 2, hint * (1 + Math.random() / 2))
  return Math.round(Math.min(MAX_TIMER, Math.max(MIN_DELAY, Math.min(max, delay))))
}

/**
 * Milliseconds the server asked to wait with "try again later" (`Retry-After` in seconds or as an
 * HTTP date; a date in the past is 0); {@link LATER_SECONDS} when it names none or nonsense.
 */
export function later(retryAfter?: string | null): number {
  const text = (retryAfter ?? '').trim()
  const ms = /^\d+$/.test(text) ? Number(text) * 1000 : Date.parse(text) - Date.now()
  return ms >= 0 ? ms : ms < 0 ? 0 : LATER_SECONDS * 1000
}
