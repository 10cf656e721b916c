// Handshakes: an SSE stream opened and a WebSocket upgrade completed, from the request to the Response.
import type { ConnectionHandlers } from '../connection.js'
import type { EventMap } from '../message.js'
import { SseConnection } from '../sse-connection.js'
import type { SseOptions, UpgradeOptions } from '../api-types.js'
import { safeUrl } from './admission.js'
import { withCorsHeaders, withExtraHeaders } from './cors.js'
import type { Hub } from './hub.js'
import { endHandshakeSpan } from './metrics.js'
import type { normalizeIdentity } from './expiry.js'
import { handlerError, isThenable } from './reporting.js'

/** An identity as the hub keeps it: a string user id (or none) and an expiry in ms (or none). */
type IdentityOf = ReturnType<typeof normalizeIdentity>

/** `identify` as the handshakes call it: its result with the user id as a string (or undefined). */
export type IdentifyUser = ((request: Request) => Promise<IdentityOf> | IdentityOf) | undefined

/** The handlers of connections opened without any (shared: connections keep theirs). */
const NO_HANDLERS: ConnectionHandlers<any> = Object.freeze({})

/** Opens an SSE stream (see `Realtime.sse`): refusals, identity, the per-user cap, then the open. */
export function openSse<Events extends EventMap>(
  hub: Hub,
  identifyUser: IdentifyUser,
  request: Request,
  options: SseOptions<Events>,
): { response: Response; stream: SseConnection<Events> } {
  const span = hub.metrics.tracer?.startSpan('realtime.handshake', { attributes: { 'realtime.transport': 'sse' } })
  const handlers: ConnectionHandlers<Events> =
    options.onClose === undefined && options.onError === undefined ? NO_HANDLERS : { onClose: options.onClose, onError: options.onError }
  const cors = hub.admission.cors(request)
  const refusal = hub.admission.capacity()
  const retry = hub.settings.sseRetry
  const headers = cors ? withExtraHeaders(options.headers, cors) : options.headers
  const stream: SseConnection<Events> = hub.platform.createSse
    ? hub.platform.createSse(request, hub, handlers, undefined, retry, headers)
    : new SseConnection<Events>(request, hub, handlers, undefined, retry, headers)
  if (refusal || request.method === 'HEAD') {
    // HEAD: the headers a GET would get, no stream (its body could never be sent): registers nothing.
    stream.isClosed = true
    const response = refusal ? (cors ? withCorsHeaders(refusal, cors) : refusal) : new Response(null, { status: 200, headers: stream.response.headers })
    endHandshakeSpan(span, response.status)
    return { response, stream }
  }
  // Read once; most streams open without a query to parse.
  const href = request.url
  const url = href.includes('?') ? safeUrl(href) : undefined
  if (url?.searchParams.has('heartbeat')) stream.heartbeatEvent = true
  const resume = request.headers.get('last-event-id') ?? url?.searchParams.get('lastEventId') ?? undefined
  const channels = options.channels ?? url?.searchParams.getAll('channel') ?? []
  let userId: string | undefined | Promise<string | undefined> = options.userId
  /** When the credential `identify` accepted expires (ms), once known. */
  let expiresAt: number | undefined
  if (userId === undefined && identifyUser) {
    try {
      const identity = identifyUser(request)
      if (identity instanceof Promise) {
        userId = identity.then((found) => {
          if (found.expiresAt !== undefined) queueMicrotask(() => hub.expiry.set(stream, found.expiresAt))
          return found.userId
        })
      } else {
        userId = identity.userId
        expiresAt = identity.expiresAt
      }
    } catch (error) {
      userId = Promise.reject(error)
    }
  }
  if (typeof userId === 'string') {
    // Decided now when it can be (this process's count, a synchronous store); else after open.
    const capped = hub.admission.userCap(userId)
    if (capped instanceof Response) {
      stream.isClosed = true
      endHandshakeSpan(span, capped.status)
      return { response: cors ? withCorsHeaders(capped, cors) : capped, stream }
    }
    if (capped !== undefined) capped.then(undefined, () => {})
  }
  const opening = hub.lifecycle.open(stream, userId, channels, resume, true)
  if (span) {
    if (opening) opening.then(() => endHandshakeSpan(span, stream.isClosed ? 500 : 200))
    else endHandshakeSpan(span, 200)
  }
  if (expiresAt !== undefined) hub.expiry.set(stream, expiresAt)
  return { response: stream.response, stream }
}

/**
 * Completes a WebSocket handshake (see `Realtime.upgrade`), without its span. Without `identify`
 * or a `userId` there is nothing to wait for before the platform's upgrade: no async step then
 * (on Node the handshake completes within this call, and V8 compiles a small function rather
 * than the state machine of an async one).
 */
export function completeUpgrade<Events extends EventMap>(
  hub: Hub,
  identifyUser: IdentifyUser,
  request: Request,
  options: UpgradeOptions<Events>,
): Promise<Response> {
  const admission = hub.admission
  let refusal: Response | undefined
  try {
    refusal = admission.upgradeRequired(request) ?? admission.capacity() ?? admission.origin(request)
  } catch (error) {
    return Promise.reject(error) // as an async function would (a request that is not one)
  }
  if (refusal) return Promise.resolve(refusal)
  const platform = hub.platform
  if (!platform.upgrade) return Promise.resolve(admission.unavailable(platform.name))
  if (options.userId !== undefined || identifyUser !== undefined) return identifyThenUpgrade(hub, identifyUser, request, options)
  admission.pending++
  let answer: Response | Promise<Response>
  try {
    answer = upgradeOnPlatform(hub, request, options, undefined, undefined)
  } catch (error) {
    admission.pending--
    return Promise.resolve(upgradeFailed(hub, error))
  }
  if (!isThenable(answer)) {
    admission.pending--
    return Promise.resolve(answer)
  }
  return Promise.resolve(answer).then(
    (response) => {
      admission.pending--
      return response
    },
    (error: unknown) => {
      admission.pending--
      return upgradeFailed(hub, error)
    },
  )
}

/** {@link completeUpgrade} with a user to identify or a per-user cap to check first. */
async function identifyThenUpgrade<Events extends EventMap>(
  hub: Hub,
  identifyUser: IdentifyUser,
  request: Request,
  options: UpgradeOptions<Events>,
): Promise<Response> {
  const admission = hub.admission
  admission.pending++
  try {
    let userId = options.userId
    let expiresAt: number | undefined
    if (userId === undefined && identifyUser) ({ userId, expiresAt } = await identifyUser(request))
    if (userId !== undefined) {
      const capped = await admission.userCap(String(userId))
      if (capped) return capped
    }
    return await upgradeOnPlatform(hub, request, options, userId, expiresAt)
  } catch (error) {
    return upgradeFailed(hub, error)
  } finally {
    admission.pending--
  }
}

/** Hands the handshake to the platform, with the handlers, channels and resume point it asked for. */
function upgradeOnPlatform<Events extends EventMap>(
  hub: Hub,
  request: Request,
  options: UpgradeOptions<Events>,
  userId: UpgradeOptions<Events>['userId'],
  expiresAt: number | undefined,
): Response | Promise<Response> {
  const { onOpen, onMessage, onClose, onError } = options
  const handlers: ConnectionHandlers<Events> =
    onOpen === undefined && onMessage === undefined && onClose === undefined && onError === undefined ? NO_HANDLERS : { onOpen, onMessage, onClose, onError }
  // Read once (each read serializes it again); most sockets open without a query to parse.
  const href = request.url
  const url = href.includes('?') ? safeUrl(href) : undefined
  const channels = url?.searchParams.getAll('channel') ?? []
  const resume = url?.searchParams.get('lastEventId') ?? undefined
  const announce = resume !== undefined || url?.searchParams.has('resume') === true
  return hub.platform.upgrade!({
    request,
    handlers,
    userId,
    owner: hub,
    accept: (connection) => {
      hub.lifecycle.accept(connection, channels, resume, announce)
      if (expiresAt !== undefined) hub.expiry.set(connection, expiresAt)
    },
  })
}

/** A handshake that failed inside the library or the platform: reported, answered 500. */
function upgradeFailed(hub: Hub, error: unknown): Response {
  hub.reporting.report(undefined, handlerError('upgrade', error))
  return new Response('WebSocket upgrade failed', { status: 500 })
}
