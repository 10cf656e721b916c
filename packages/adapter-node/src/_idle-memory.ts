// What keeps an idle connection small on Node. A web `Request` (URL record, headers, signal) costs
// about 2-3.5 KB of heap here, and nothing of the library reads it once the connection is set up.
// The core's `Connection.compactRequest` lets go of it and rebuilds an equal one on first access;
// on Node the header lines come from the Node request's raw list, which is cheaper than reading
// them back out of a `Headers` object.
import type { IncomingMessage } from 'node:http'
import type { Connection } from '@loewen-digital/realtime-core'

/** @deprecated kept for the SSE connection's declaration; the core holds the compact form now. */
export type RequestSource = never

/** A connection class that can hold its request in compact form. */
export interface CompactableConnection extends Connection<any> {
  requestSource?: RequestSource | undefined
}

/**
 * Lets go of `connection.request`, keeping the URL, method and `incoming`'s raw header lines.
 * `joinHeaders` copies the lines into one string (when nothing else keeps the Node request alive);
 * otherwise the Node request's own list is kept by reference.
 */
export function compactRequest(connection: CompactableConnection, incoming: IncomingMessage, joinHeaders: boolean): void {
  connection.compactRequest(incoming.rawHeaders, !joinHeaders)
}

/** Nothing to do: the core aborts a rebuilt request's signal when its connection closes. */
export function abortRebuiltRequest(_connection: CompactableConnection): void {}

/** A flat copy of `text` (the core already flattens connection ids). */
export function flatString(text: string): string {
  return text
}
