import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Duplex } from 'node:stream'
import { limits, type FetchHandler, type ServedServer, type ServeOptions } from '@loewen-digital/realtime-core'
import {
  ignoreSocketError,
  linkRequest,
  rawUpgrade,
  removeClientTokens,
  revokeUpgrade,
  unlinkRequest,
  UPGRADE_TOKEN_HEADER,
  upgradeToken,
} from './_upgrade-context.js'
import { lazySseResponsesWork } from './_lazy-response.js'
import { lazyRequestsWork, nodeRequest } from './lazy-request.js'
import { hasHost } from './node-request.js'
import { sendResponse, writeRawResponse } from './node-response.js'
import { expectResponse, forgetResponse } from './sse-connection.js'

export { toRequest } from './node-request.js'
export { writeRawResponse, writeResponse } from './node-response.js'

/**
 * Serves a fetch-style handler (`(request) => Response`) on `node:http`, WebSocket upgrades
 * included: an `upgrade` request reaches the same handler, where `realtime.upgrade(request)`
 * completes it. Resolves once listening. The handler's `Request` is built on demand: `method`,
 * `url` and `headers.get()` come from the Node request, and undici's `Request` is built only when
 * something reads more (the body, `signal`, `clone()`...); it is `instanceof Request` either way.
 *
 * @example
 * const server = await serve({ fetch: (request) => realtime.handle(request), port: 3000 })
 */
export async function serve(options: ServeOptions): Promise<ServedServer> {
  const onError = options.onError ?? defaultOnError
  checkStandIns()
  const server = createServer(
    inTurn((incoming: IncomingMessage, outgoing: ServerResponse) => {
      void handleRequest(options.fetch, incoming, outgoing, onError)
    }),
  )
  // HTTP connections (SSE streams included) are Node's to close (closeAllConnections); upgraded
  // sockets leave its bookkeeping, so they are tracked here, with one listener for all.
  const upgraded = new Set<Duplex>()
  const forget = function (this: Duplex) {
    upgraded.delete(this)
  }
  server.on('upgrade', (_incoming: IncomingMessage, socket: Duplex) => {
    upgraded.add(socket)
    socket.on('close', forget)
  })
  attach(server, options.fetch, { onError })
  const hostname = options.hostname ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 3000, hostname, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address()
  const port = typeof address === 'object' && address ? address.port : (options.port ?? 3000)
  const host = hostname.includes(':') ? `[${hostname}]` : hostname
  return {
    port,
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
        for (const socket of upgraded) socket.destroy()
      }),
  }
}

/**
 * Routes the `upgrade` events of a server someone else owns (a framework's `node:http` server)
 * through a fetch-style handler, so `realtime.upgrade(request)` works there. Plain requests stay
 * with the framework. Returns a function that detaches the listener.
 */
export function attach(server: Server, fetch: FetchHandler, options: { onError?: (error: unknown) => void } = {}): () => void {
  const onError = options.onError ?? defaultOnError
  checkStandIns()
  const listener = (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
    socket.on('error', ignoreSocketError) // a reset during the handshake must not crash the process
    // An upgrade pipelined behind a response still being written (an SSE stream): Node hands the
    // socket over at once, so a 101 would land inside that response's body. Nothing can be
    // answered on such a socket: it goes (Node's own `_httpMessage`: the response in progress).
    if ((socket as { _httpMessage?: unknown })._httpMessage) {
      socket.destroy()
      return
    }
    const context = rawUpgrade(incoming, socket, head)
    // The token header too (after removing any the client sent): a handler that passes a copy of
    // the request on (a framework, a router) still reaches the socket. It goes on the `Request`
    // built here, made only when the header is read or the request copied; the Node request is
    // not handed to anyone else.
    removeClientTokens(context)
    // HTTP/1.1 requires Host (RFC 9112): Node answers 400 to a plain request without one, and an
    // upgrade gets the same (its handshake never reaches the server's own check).
    const request = hasHost(incoming) ? nodeRequest(incoming, undefined, UPGRADE_TOKEN_HEADER, () => upgradeToken(context)) : undefined
    if (!request) {
      writeRawResponse(socket, new Response('Bad Request', { status: 400 }))
      return
    }
    linkRequest(request, context)
    const settle = () => {
      unlinkRequest(request)
      revokeUpgrade(context)
    }
    const answer = (response: Response) => {
      settle()
      if (!context.claimed) return writeRawResponse(socket, response)
    }
    const fail = (error: unknown) => {
      settle()
      onError(error)
      if (!context.claimed) return writeRawResponse(socket, new Response('Internal Server Error', { status: 500 }))
    }
    // Called at once (no microtask first): realtime.upgrade() takes the socket synchronously when
    // nothing it runs waits (no async identify, no cluster-wide cap).
    let result: Response | Promise<Response>
    try {
      result = fetch(request)
    } catch (error) {
      fail(error)
      return
    }
    Promise.resolve(result).then(answer, fail).catch(onError)
  }
  server.on('upgrade', listener)
  return () => server.off('upgrade', listener)
}

/** Requests pipelined on each socket and not yet handled (see {@link inTurn}). */
const waitingRequests = new WeakMap<Duplex, number>()

/**
 * Wraps a `node:http` request listener (or `(request, response, next)` middleware) so that
 * requests pipelined on one keep-alive socket are handled one at a time, in order, as HTTP/1.1
 * answers them anyway. Node hands every pipelined request to the listener at once, each with a
 * response that gets the socket only when the ones before it are done, and that is never told if
 * the socket closes first: an SSE stream opened for each would register a connection that nothing
 * can write to or release, and one socket could fill `maxConnections`. Wrapped, a request behind
 * an unfinished response (an SSE stream never finishes) waits for its turn and opens nothing;
 * more than {@link limits.MAX_PIPELINED_REQUESTS} waiting on one socket destroy it (and whatever
 * it carries). `serve()` does this itself; use it for a server of your own or a framework's
 * request listener.
 *
 * @example
 * createServer(inTurn(getRequestListener(app.fetch))).listen(3000)
 */
export function inTurn<Listener extends (incoming: IncomingMessage, outgoing: ServerResponse, ...rest: any[]) => unknown>(listener: Listener): Listener {
  return function (this: unknown, incoming: IncomingMessage, outgoing: ServerResponse, ...rest: unknown[]) {
    if (outgoing.socket !== null) return listener.call(this, incoming, outgoing, ...rest)
    const socket = incoming.socket
    const waiting = (waitingRequests.get(socket) ?? 0) + 1
    if (waiting > limits.MAX_PIPELINED_REQUESTS) {
      socket.destroy()
      return
    }
    waitingRequests.set(socket, waiting)
    outgoing.once('socket', () => {
      const left = waitingRequests.get(socket)! - 1
      if (left === 0) waitingRequests.delete(socket)
      else waitingRequests.set(socket, left)
      listener.call(this, incoming, outgoing, ...rest)
    })
  } as Listener
}

/**
 * Serves one request with a fetch-style handler (see `serve`, `nodeListener`). Not an async
 * function: on a fresh server V8 compiled its state machine for longer than any other step of an
 * SSE connect. The answer is still taken one microtask after the handler returns, as an `await`
 * took it (so `realtime:connected`, queued by then, leaves with the response head).
 */
export function handleRequest(fetch: FetchHandler, incoming: IncomingMessage, outgoing: ServerResponse, onError: (error: unknown) => void): Promise<void> {
  const request = nodeRequest(incoming, outgoing, undefined, undefined)
  if (!request) {
    outgoing.writeHead(400).end('Bad Request')
    return DONE
  }
  // An SSE connection opened on this request is written to `outgoing` directly (no web stream).
  expectResponse(request, outgoing)
  let result: Response | Promise<Response>
  try {
    result = fetch(request)
  } catch (error) {
    forgetResponse(request)
    handlerFailed(error, outgoing, onError)
    return DONE
  }
  return Promise.resolve(result).then(
    (response) => {
      forgetResponse(request)
      return respond(response, outgoing, onError)
    },
    (error: unknown) => {
      forgetResponse(request)
      handlerFailed(error, outgoing, onError)
    },
  )
}

/** A settled promise: what {@link handleRequest} returns when nothing is left to wait for. */
const DONE: Promise<void> = Promise.resolve()

/** Writes the handler's answer; an SSE stream (the usual here) is attached at once, without a promise. */
function respond(response: Response, outgoing: ServerResponse, onError: (error: unknown) => void): Promise<void> | undefined {
  const fail = (error: unknown) => {
    onError(error)
    outgoing.destroy()
  }
  try {
    const sending = sendResponse(response, outgoing)
    if (sending !== undefined) return sending.catch(fail)
  } catch (error) {
    fail(error)
  }
  return undefined
}

/** The handler threw or rejected: reported, and a 500 when nothing was sent yet. */
function handlerFailed(error: unknown, outgoing: ServerResponse, onError: (error: unknown) => void): void {
  onError(error)
  if (!outgoing.headersSent) outgoing.writeHead(500, { 'Content-Type': 'text/plain' }).end('Internal Server Error')
}

/**
 * Checks now, once per process, that this runtime's `Request` and `Response` work as the stand-ins
 * handed to handlers need (`LazyRequest`, `LazySseResponse`): the checks build a few real ones,
 * which loads undici's classes, work the first connections after a start would pay for otherwise.
 */
export function checkStandIns(): void {
  lazyRequestsWork()
  lazySseResponsesWork()
}

function defaultOnError(error: unknown): void {
  console.error('[realtime] server error:', error)
}
