import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'

/** The raw pieces of a Node `upgrade` event, kept until `realtime.upgrade()` claims them. */
export interface RawUpgrade {
  incoming: IncomingMessage
  socket: Duplex
  head: Buffer
  /** Set once `realtime.upgrade()` took the socket: whatever the handler returns, nothing is written. */
  claimed: boolean
}

/** Requests built from an `upgrade` event, mapped to the raw socket that can complete them. */
export const upgradeContexts = new WeakMap<Request, RawUpgrade>()

/**
 * What `realtime.upgrade()` answers once it took the socket (Node cannot build a 101 Response).
 * `serve`/`attach` write nothing for a claimed socket, whatever response the handler returns, so
 * a framework that copies or replaces the response does not break the upgrade.
 */
export function upgradeHandled(): Response {
  return new Response(null)
}

/** Swallows socket errors while nobody else listens (a reset during the handshake must not crash). */
export function ignoreSocketError(): void {}
