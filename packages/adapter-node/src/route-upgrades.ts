import { ServerResponse, type IncomingMessage, type OutgoingHttpHeaders, type Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { ignoreSocketError, issueUpgrade, rawUpgrade, revokeUpgrade } from './_upgrade-context.js'

/**
 * A Node request listener: `(request, response, next?)`, the shape of a `node:http` handler, an
 * Express or connect app, SvelteKit's `build/handler.js`, Astro's middleware-mode `handler`.
 */
export type NodeListener = (incoming: IncomingMessage, outgoing: ServerResponse, next?: (error?: unknown) => void) => unknown

export interface RouteUpgradesOptions {
  /** Upgrades to leave to other listeners (return true): for example another library's path. */
  skip?: (incoming: IncomingMessage) => boolean
  /** Errors the listener throws or passes to `next` (default: logged to stderr). */
  onError?: (error: unknown) => void
}

/**
 * Routes the `upgrade` events of a Node server to a framework's Node request listener, so the
 * route that serves `GET /realtime/ws` completes the WebSocket handshake with the spec's
 * `realtime.upgrade(request, ...)`, however the framework rebuilds the request on the way.
 * Whatever the route answers instead (403, 404, 426, ...) is written to the socket as a plain HTTP
 * response. Returns a function that detaches the listener.
 *
 * @example
 * import { handler } from './build/handler.js' // SvelteKit adapter-node
 * const server = createServer(handler)
 * routeUpgrades(server, handler)
 * server.listen(3000)
 */
export function routeUpgrades(server: Pick<Server, 'on' | 'off'>, listener: NodeListener, options: RouteUpgradesOptions = {}): () => void {
  const onUpgrade = (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
    if (options.skip?.(incoming)) return
    dispatchUpgrade(listener, incoming, socket, head, options.onError ?? defaultOnError)
  }
  server.on('upgrade', onUpgrade)
  return () => {
    server.off('upgrade', onUpgrade)
  }
}

/**
 * Hands one upgrade request to a Node request listener with a response that writes nothing until
 * the listener ends it: then, unless `realtime.upgrade()` claimed the socket, its status, headers
 * and body go to the socket and the connection closes.
 */
export function dispatchUpgrade(
  listener: NodeListener,
  incoming: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  onError: (error: unknown) => void = defaultOnError,
): void {
  socket.on('error', ignoreSocketError) // a reset during the handshake must not crash the process
  const raw = rawUpgrade(incoming, socket, head)
  issueUpgrade(raw)
  // A listener that never answers must not keep the token (or the socket) alive once the client
  // left: Node leaves an upgrade's socket half-open when the client ends it.
  const revoke = () => revokeUpgrade(raw)
  const left = () => {
    revoke()
    if (!raw.claimed) socket.destroy()
  }
  socket.once('close', revoke)
  socket.once('end', left)
  const outgoing = capturingResponse(incoming, (status, message, headers, body) => {
    revoke()
    socket.off('close', revoke)
    socket.off('end', left)
    if (raw.claimed || socket.destroyed) return
    writeHead(socket, status, message, headers, body)
  })
  const next = (error?: unknown) => {
    if (error !== undefined && error !== null) {
      onError(error)
      outgoing.statusCode = 500
      outgoing.end('Internal Server Error')
    } else {
      outgoing.statusCode = 404
      outgoing.end('Not Found')
    }
  }
  try {
    const result = listener(incoming, outgoing, next)
    if (result && typeof (result as Promise<unknown>).then === 'function') (result as Promise<unknown>).then(undefined, next)
  } catch (error) {
    next(error)
  }
}

type Done = (status: number, message: string, headers: OutgoingHttpHeaders, body: Buffer) => void

/**
 * A real `ServerResponse` (frameworks check its prototype, Express swaps it) with no socket: what
 * the listener writes is collected and handed to `done` on `end()`. The overrides are own
 * properties, so they survive a prototype swap (Express) and wrappers (`compression()`) call them.
 */
function capturingResponse(incoming: IncomingMessage, done: Done): ServerResponse {
  const outgoing = new ServerResponse(incoming)
  const state = outgoing as unknown as { _header: string | null; finished: boolean }
  const chunks: Buffer[] = []
  let ended = false
  const markSent = () => {
    if (!state._header) state._header = 'captured'
  }
  const collect = (chunk: unknown, encoding?: unknown) => {
    if (chunk === undefined || chunk === null || typeof chunk === 'function') return
    chunks.push(
      typeof chunk === 'string' ? Buffer.from(chunk, typeof encoding === 'string' ? (encoding as BufferEncoding) : 'utf8') : Buffer.from(chunk as Uint8Array),
    )
  }
  outgoing.writeHead = function (this: ServerResponse, status: number, ...rest: unknown[]) {
    if (state._header) return this
    let headers = rest[0]
    if (typeof headers === 'string') {
      this.statusMessage = headers
      headers = rest[1]
    }
    this.statusCode = status
    if (Array.isArray(headers)) {
      // Either [[name, value], ...] or a flat [name, value, name, value, ...].
      if (Array.isArray(headers[0])) for (const [name, value] of headers as Array<[string, string]>) this.appendHeader(name, value)
      else for (let index = 0; index + 1 < headers.length; index += 2) this.appendHeader(String(headers[index]), headers[index + 1] as string)
    } else if (headers && typeof headers === 'object') {
      for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) if (value !== undefined) this.setHeader(name, value)
    }
    markSent()
    return this
  } as ServerResponse['writeHead']
  outgoing.flushHeaders = markSent
  outgoing.write = ((chunk: unknown, encoding?: unknown, callback?: unknown) => {
    if (ended) return false
    markSent()
    collect(chunk, encoding)
    const cb = typeof encoding === 'function' ? encoding : callback
    if (typeof cb === 'function') process.nextTick(cb as () => void)
    return true
  }) as ServerResponse['write']
  outgoing.end = function (this: ServerResponse, chunk?: unknown, encoding?: unknown, callback?: unknown) {
    if (ended) return this
    ended = true
    collect(chunk, encoding)
    const cb = typeof chunk === 'function' ? chunk : typeof encoding === 'function' ? encoding : callback
    const headers = this.getHeaders()
    markSent()
    state.finished = true
    done(this.statusCode, this.statusMessage, headers, Buffer.concat(chunks))
    process.nextTick(() => {
      if (typeof cb === 'function') (cb as () => void)()
      this.emit('finish')
      this.emit('close')
    })
    return this
  } as ServerResponse['end']
  return outgoing
}

/** Writes a complete HTTP/1.1 response to a socket that was never upgraded, then closes it. */
function writeHead(socket: Duplex, status: number, message: string, headers: OutgoingHttpHeaders, body: Buffer): void {
  let head = `HTTP/1.1 ${status} ${message || STATUS_TEXT[status] || ''}\r\n`
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name === 'connection' || name === 'content-length' || name === 'transfer-encoding') continue
    for (const item of Array.isArray(value) ? value : [value]) head += `${name}: ${String(item).replace(/[\r\n]/g, '')}\r\n`
  }
  head += `connection: close\r\ncontent-length: ${body.length}\r\n\r\n`
  socket.end(Buffer.concat([Buffer.from(head, 'latin1'), body]))
}

const STATUS_TEXT: Record<number, string> = {
  200: 'OK',
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  426: 'Upgrade Required',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
}

function defaultOnError(error: unknown): void {
  console.error('[realtime] upgrade error:', error)
}
