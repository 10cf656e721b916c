// The Node-to-web request bridge: a `Request` built from Node's `IncomingMessage`.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { ClientSignal, requestsFollowClientSignal } from './_client-signal.js'
import { watchResponse } from './_response-watch.js'

/** Builds a web `Request` from a Node request; aborts its signal when the client goes away (not for upgrades). */
export function toRequest(incoming: IncomingMessage, outgoing: ServerResponse | undefined): Request | undefined {
  return buildRequest(incoming, outgoing, undefined, undefined)
}

/**
 * {@link toRequest}, with one more header appended after the Node request's own (`serve` and
 * `attach` add the upgrade token that way: the Node request itself stays as it is).
 */
export function buildRequest(
  incoming: IncomingMessage,
  outgoing: ServerResponse | undefined,
  extraName: string | undefined,
  extraValue: string | undefined,
): Request | undefined {
  const url = requestTarget(incoming)
  const raw = incoming.rawHeaders
  if (url === undefined) return undefined
  // An upgrade has no response to watch: its request gets no signal of its own (the WebSocket's
  // close is the end), which also keeps a follower AbortSignal off every WebSocket connection.
  let signal: ClientSignal | AbortSignal | undefined
  let controller: AbortController | undefined
  if (outgoing) {
    if (requestsFollowClientSignal()) {
      // The response holds it until the request is gone (see `ClientSignal`).
      const clientSignal = new ClientSignal()
      clientSignal.watch(outgoing)
      signal = clientSignal
    } else {
      controller = new AbortController()
      watchResponse(outgoing).abort = new WeakAbort(new WeakRef(controller))
      signal = controller.signal
    }
  }
  const method = incoming.method ?? 'GET'
  const hasBody = method !== 'GET' && method !== 'HEAD'
  let request: Request
  try {
    // A GET without a signal (every upgrade) needs no init: undici converts an init member by
    // member (about 15 of them) even when only `method` is given.
    request =
      method === 'GET' && signal === undefined
        ? new Request(url)
        : new Request(url, {
            method,
            signal: signal as AbortSignal | undefined,
            body: hasBody ? (Readable.toWeb(incoming) as ReadableStream<Uint8Array>) : null,
            // @ts-expect-error `duplex` is required by Node for streaming bodies but missing from the DOM types
            duplex: hasBody ? 'half' : undefined,
          })
    // Appended to the request's own Headers rather than given as an init: about 40% less
    // allocation and 30% less time on Node 20 (a record init is converted, then copied, entry by
    // entry). Repeated names are combined as `Headers.append` does: `Cookie` with "; ", others with
    // ", "; `Set-Cookie` stays a list.
    const headers = request.headers
    for (let index = 0; index + 1 < raw.length; index += 2) {
      const name = raw[index]!
      if (name.charCodeAt(0) !== 58 /* ':' pseudo-header */) headers.append(name, raw[index + 1]!)
    }
    if (extraName !== undefined) headers.append(extraName, extraValue!)
  } catch {
    return undefined // a URL or a header the fetch standard refuses
  }
  // The request keeps its controller alive (the response's watch only holds it weakly): once the
  // request is collected, nothing can observe the signal any more (undici drops its link then).
  if (controller) (request as RequestWithController)[CONTROLLER] = controller
  return request
}

/**
 * The absolute URL of a Node request, as a string the fetch standard's parser accepts (an origin-form
 * target is concatenated, anything else resolved with `new URL`); undefined when it cannot be one.
 * Headers come from the raw list, not `incoming.headers` (that object would be built, and kept, for
 * every request). The Host header (or HTTP/2's `:authority`) names the authority.
 */
export function requestTarget(incoming: IncomingMessage): string | undefined {
  const raw = incoming.rawHeaders
  let host: string | undefined
  for (let index = 0; index + 1 < raw.length; index += 2) {
    const name = raw[index]!
    if (name.length === 4 && name.toLowerCase() === 'host') {
      host = raw[index + 1]
      break
    }
    if (host === undefined && name === ':authority') host = raw[index + 1]
  }
  const protocol = (incoming.socket as { encrypted?: boolean }).encrypted ? 'https' : 'http'
  const authority = host ?? 'localhost'
  const target = incoming.url ?? '/'
  // Origin form (the usual): a string, which the Request parses once (and refuses if invalid).
  // (The length first: reading past the end of `/` deoptimized this function on a fresh server.)
  if (target.charCodeAt(0) === 47 /* '/' */ && (target.length === 1 || target.charCodeAt(1) !== 47) && !UNSAFE_AUTHORITY.test(authority)) {
    return `${protocol}://${authority}${target}`
  }
  try {
    return new URL(target, `${protocol}://${authority}`).href
  } catch {
    return undefined
  }
}

/** True when the request names its host (a `Host` header, or HTTP/2's `:authority`). */
export function hasHost(incoming: IncomingMessage): boolean {
  const raw = incoming.rawHeaders
  for (let index = 0; index < raw.length; index += 2) {
    const name = raw[index]!
    if ((name.length === 4 && name.toLowerCase() === 'host') || name === ':authority') return true
  }
  return false
}

/** A Host value that would change the path of a URL written after it (resolved with `new URL` instead). */
const UNSAFE_AUTHORITY = /[/?#@\\\s]/

const CONTROLLER = Symbol('abort-controller')
type RequestWithController = Request & { [CONTROLLER]?: AbortController }

/** Aborts an AbortController as long as something else keeps it. */
class WeakAbort {
  constructor(private readonly controller: WeakRef<AbortController>) {}

  abort(): void {
    this.controller.deref()?.abort()
  }
}
