import { RealtimeError } from '@loewen-digital/realtime-core'
import { WebSocket } from 'ws'

/**
 * The fast path (`NodeWebSocketConnection.write`) writes frames to the `net.Socket` under a `ws`
 * WebSocket, which ws 8 keeps in its `_socket` field (null until the handshake completes), and
 * compares `bufferedAmount` with that socket's queue. Those are ws internals, so the `ws` range
 * in package.json is tested at its lowest and newest release, and a `ws` that lays its socket out
 * differently is refused when the first instance is created (and checked again on the first
 * upgrade) instead of silently skipping or breaking writes later.
 */
let layoutChecked = false
let upgradeChecked = false

function unsupported(what: string): RealtimeError {
  return new RealtimeError(
    'REALTIME_UPGRADE_UNAVAILABLE',
    `the installed ws does not lay out its socket as ws 8 does (${what}); @loewen-digital/realtime-node needs ws ^8.17.1`,
  )
}

/** Throws `REALTIME_UPGRADE_UNAVAILABLE` when `ws`'s WebSocket has no `_socket` field or no `bufferedAmount` getter. */
export function assertWsLayout(): void {
  if (layoutChecked) return
  const probe = new (WebSocket as unknown as new (address: null, protocols: undefined, options: object) => object)(null, undefined, {})
  const field = Object.getOwnPropertyDescriptor(probe, '_socket')
  if (field === undefined || !('value' in field) || field.value !== null) throw unsupported('no _socket field')
  if (typeof Object.getOwnPropertyDescriptor(WebSocket.prototype, 'bufferedAmount')?.get !== 'function') throw unsupported('no bufferedAmount getter')
  layoutChecked = true
}

/**
 * Throws `REALTIME_UPGRADE_UNAVAILABLE` (after terminating `ws`) when the first accepted WebSocket
 * does not keep `socket` in `_socket`.
 */
export function assertUpgradedSocket(ws: WebSocket, socket: unknown): void {
  if (upgradeChecked) return
  if ((ws as unknown as { _socket?: unknown })._socket !== socket) {
    ws.terminate()
    throw unsupported('_socket is not the upgraded socket')
  }
  upgradeChecked = true
}
