// When to reconnect, from the close codes and statuses of docs/errors.md.

/** Seconds to wait for "try again later" when the server names no `Retry-After` (the server's default). */
export const LATER_SECONDS = 5

/**
 * Close codes that mean "do not reconnect": normal closure, protocol errors the client cannot fix
 * by retrying (1002, 1003 unsupported data, 1007, 1009 message too big, 1010), and application
 * codes 4002–4999 (an app refusing a user, e.g. 4403). 4000 (heartbeat) and 4001 (slow consumer)
 * reconnect and resume.
 */
export function isFinalCloseCode(code: number): boolean {
  return code === 1000 || code === 1002 || code === 1003 || code === 1007 || code === 1009 || code === 1010 || (code > 4001 && code < 5000)
}

/**
 * Statuses that refuse for good: 204 (the SSE standard's "stop reconnecting") and 4xx except 408
 * (timeout) and 429 (too many requests: later).
 */
export function isFinalStatus(status: number): boolean {
  return status === 204 || (status >= 400 && status < 500 && status !== 408 && status !== 429)
}

/**
 * Milliseconds to wait before attempt number `attempt` (0 first): `initial * 2^attempt`, at most
 * `max`, with equal jitter (a random point in the upper half) so clients that lost the same
 * server do not come back at the same moment.
 */
export function backoff(attempt: number, initial: number, max: number): number {
  const base = Math.min(max, initial * 2 ** attempt)
  return Math.round(base / 2 + (Math.random() * base) / 2)
}

/**
 * Milliseconds to wait after "try again later" (503 or 429 with `Retry-After` in seconds or as a
 * date; WebSocket 1013 or 1008): never less than asked, plus up to half again as jitter.
 */
export function later(retryAfter?: string | null): number {
  let seconds = Number(retryAfter || undefined)
  if (!(seconds >= 0)) seconds = retryAfter ? (Date.parse(retryAfter) - Date.now()) / 1000 : NaN
  if (!(seconds >= 0)) seconds = LATER_SECONDS
  return Math.round(seconds * 1000 * (1 + Math.random() / 2))
}
