import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'

/** The raw pieces of a Node `upgrade` event, kept until `realtime.upgrade()` claims them. */
export interface RawUpgrade {
  incoming: IncomingMessage
  socket: Duplex
  head: Buffer
}

/** Requests built from an `upgrade` event, mapped to the raw socket that can complete them. */
export const upgradeContexts = new WeakMap<Request, RawUpgrade>()

/** Responses that mean "the upgrade was handled, write nothing". Node cannot build a 101 Response. */
export const handledUpgrades = new WeakSet<Response>()

/** A Response that tells `serve`/`attach` the socket now belongs to the WebSocket. */
export function upgradeHandled(): Response {
  const response = new Response(null, { status: 200, headers: { 'x-realtime-upgrade': 'handled' } })
  handledUpgrades.add(response)
  return response
}

/** Swallows socket errors while nobody else listens (a reset during the handshake must not crash). */
export function ignoreSocketError(): void {}
