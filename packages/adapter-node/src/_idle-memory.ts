// What keeps an idle connection small on Node. A web `Request` (URL record, headers, signal) costs
// about 2-3.5 KB of heap here, and nothing of the library reads it once the connection is set up.
// So, once set up, a connection's `request` becomes a stand-in that builds an equal Request (same
// URL, method and headers) on first use and forwards everything to it; until then the connection
// keeps only the URL and the raw header lines.
import type { IncomingMessage } from 'node:http'
import type { Connection } from '@loewen-digital/realtime-core'

/** What an equal request is built from. */
export interface RequestSource {
  url: string
  method: string
  /** Node's raw header list (name, value, ...), or the same joined by LF (header lines hold none). */
  headers: string[] | string
  /** Aborted when the connection closes; made with the request. */
  controller: AbortController | undefined
  /** The connection closed (a request built from now on starts aborted). */
  closed: boolean
  /** The request, once built. */
  request: Request | undefined
}

/** A connection class that can hold its request in compact form. */
export interface CompactableConnection extends Connection<any> {
  requestSource: RequestSource | undefined
}

const SOURCE = Symbol('request-source')
type StandIn = { [SOURCE]: RequestSource }

/**
 * Replaces `connection.request` by a stand-in built from `incoming`. `joinHeaders` copies the
 * header lines into one string (when nothing else keeps the Node request alive); otherwise the
 * Node request's own list is kept.
 */
export function compactRequest(connection: CompactableConnection, incoming: IncomingMessage, joinHeaders: boolean): void {
  if (connection.requestSource !== undefined) return
  const source: RequestSource = {
    url: connection.request.url,
    method: incoming.method ?? 'GET',
    headers: joinHeaders ? incoming.rawHeaders.join('\n') : incoming.rawHeaders,
    controller: undefined,
    closed: connection.isClosed,
    request: undefined,
  }
  connection.requestSource = source
  const standIn = Object.create(Request.prototype) as StandIn
  standIn[SOURCE] = source
  ;(connection as { request: Request }).request = new Proxy(standIn, forwarding) as unknown as Request
}

/** Aborts the signal of the connection's rebuilt request; call when the connection closes. */
export function abortRebuiltRequest(connection: CompactableConnection): void {
  const source = connection.requestSource
  if (source === undefined) return
  source.closed = true
  source.controller?.abort() // only when a request was built: an abort costs a DOMException
}

/** The request of a stand-in, built on first use. */
function built(standIn: StandIn): Request {
  const source = standIn[SOURCE]
  if (source.request !== undefined) return source.request
  const raw = typeof source.headers === 'string' ? source.headers.split('\n') : source.headers
  const headers = new Headers()
  for (let index = 0; index + 1 < raw.length; index += 2) {
    if (raw[index]!.charCodeAt(0) !== 58 /* ':' pseudo-header */) headers.append(raw[index]!, raw[index + 1]!)
  }
  source.controller = new AbortController()
  if (source.closed) source.controller.abort()
  source.request = new Request(source.url, { method: source.method, headers, signal: source.controller.signal })
  source.headers = ''
  return source.request
}

/** Every operation goes to the built request (`instanceof Request` holds through the prototype). */
const forwarding: ProxyHandler<StandIn> = {
  get: (standIn, key) => Reflect.get(built(standIn), key),
  set: (standIn, key, value) => Reflect.set(built(standIn), key, value),
  has: (standIn, key) => Reflect.has(built(standIn), key),
  ownKeys: (standIn) => Reflect.ownKeys(built(standIn)),
  getOwnPropertyDescriptor(standIn, key) {
    const descriptor = Reflect.getOwnPropertyDescriptor(built(standIn), key)
    if (descriptor) descriptor.configurable = true // the stand-in does not have it: it must not claim otherwise
    return descriptor
  },
  defineProperty: (standIn, key, descriptor) => Reflect.defineProperty(built(standIn), key, descriptor),
  deleteProperty: (standIn, key) => Reflect.deleteProperty(built(standIn), key),
}

const pendingConnections: CompactableConnection[] = []
const pendingRequests: IncomingMessage[] = []

function compactPending(): void {
  for (let index = 0; index < pendingConnections.length; index++) compactRequest(pendingConnections[index]!, pendingRequests[index]!, true)
  pendingConnections.length = 0
  pendingRequests.length = 0
}

/**
 * {@link compactRequest} (headers joined) once the connection's opening handlers ran, so `onOpen`
 * and the rest of the tick see the very request the route handler got. One `setImmediate` for all
 * connections opened in the same loop turn.
 */
export function compactRequestSoon(connection: CompactableConnection, incoming: IncomingMessage): void {
  if (pendingConnections.length === 0) setImmediate(compactPending)
  pendingConnections.push(connection)
  pendingRequests.push(incoming)
}

/**
 * A flat copy of `text`. Node's `crypto.randomUUID()` returns a rope of 14 strings (about 500
 * bytes of heap) rather than one of 36 characters (56 bytes); connection ids live as long as
 * their connection.
 */
export function flatString(text: string): string {
  return JSON.parse(JSON.stringify(text)) as string
}
