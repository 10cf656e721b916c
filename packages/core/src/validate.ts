import { RealtimeError } from './errors.js'
import { isValidChannelName } from './protocol.js'

/**
 * Checks the user id given to `sendTo`: a non-empty string or a finite number. Throws
 * `REALTIME_INVALID_TARGET` otherwise, so `sendTo(undefined)` never reaches a user named
 * `"undefined"`. Adapter API, shared by every runtime's `sendTo`.
 */
export function assertUserId(target: unknown): asserts target is string | number {
  if ((typeof target === 'string' && target !== '') || (typeof target === 'number' && Number.isFinite(target))) return
  throw new RealtimeError('REALTIME_INVALID_TARGET', `sendTo needs a user id (a non-empty string or a finite number) or a connection, got ${describe(target)}`)
}

/**
 * Checks a channel name given to `toChannel`: one a client could join (see `isValidChannelName`).
 * Throws `REALTIME_INVALID_CHANNEL` otherwise. Adapter API, shared by every runtime's `toChannel`.
 */
export function assertChannelName(name: unknown): asserts name is string {
  if (!isValidChannelName(name)) throw new RealtimeError('REALTIME_INVALID_CHANNEL', `invalid channel name ${describe(name)}`)
}

/** The error a pattern's handle (`channel('orders:*')`) rejects `broadcast` with. */
export function patternBroadcastError(pattern: string): RealtimeError {
  const example = JSON.stringify(pattern.slice(0, -1) + '42')
  return new RealtimeError('REALTIME_INVALID_CHANNEL', `${JSON.stringify(pattern)} is a pattern: broadcast to one channel, e.g. toChannel(${example})`)
}

/** A value as an error message shows it. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  if (typeof value === 'object' && value !== null) return 'an object'
  return String(value)
}
