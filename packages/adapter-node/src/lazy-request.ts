// The `Request` that `serve()`, `attach()` and `nodeListener()` hand to the fetch handler: built on demand.
//
// A web `Request` (undici's, on Node) costs more to build than the rest of a WebSocket handshake
// together (docs/performance.md, "Connection setup"): its state, its Headers filled line by line,
// a realm and a signal. What a realtime handshake reads of it is the method, the URL and a few
// headers. So the handler gets a `LazyRequest`: it answers `method`, `url` and `headers.get/has`
// from the Node request's raw header lines, and builds the real `Request` the first time anything
// else is read (`signal`, `body` and the body methods, `clone()`, `cache`..., or undici itself:
// `new Request(request)`, `fetch(request)`), delegating to it from then on.
//
// It is a `Request` to code that checks: its prototype chain includes `Request.prototype`
// (`instanceof Request` is true), and undici's internal slots (symbol-keyed properties on Node 20)
// are forwarded to the real one, so undici's own getters and methods work on it. A probe checks
// once that this runtime's `Request` works that way; if not, every request is built eagerly, as before.
import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { ClientSignal, requestsFollowClientSignal } from './_client-signal.js'
import { keepShape } from './_kept-shapes.js'
import { type ResponseAbort, watchResponse } from './_response-watch.js'
import type { RawUpgrade } from './_upgrade-context.js'
import { buildRequest, requestTarget } from './node-request.js'

/** Until the real `Request` exists: remembers that the client left, so its signal starts aborted. */
class ClientGone implements ResponseAbort {
  gone = false

  abort(): void {
    this.gone = true
  }
}

/**
 * The value of the extra header a dispatcher adds (the upgrade token): a string, or a function
 * that makes it the first time the header is read or the request is copied.
 */
export type ExtraValue = string | (() => string)

function resolve(value: ExtraValue): string {
  return typeof value === 'string' ? value : value()
}

/** `Headers` over the Node request's raw lines; a real `Headers` once written to or iterated. */
class RawHeaders {
  /** A copy of the lines, made on the first call that needs a real `Headers` (kept until `target`). */
  private own: Headers | undefined = undefined
  /** The real request's headers, once it exists: everything goes there. */
  private target: Headers | undefined = undefined

  constructor(
    private readonly lines: string[],
    private readonly extraName: string | undefined,
    private readonly extraValue: ExtraValue | undefined,
  ) {}

  /** `Headers.get`: repeated lines combined as `Headers.append` does (`Cookie` with "; ", others ", "). */
  get(name: string): string | null {
    const real = this.target ?? this.own
    if (real !== undefined) return real.get(name)
    const wanted = String(name).toLowerCase()
    const length = wanted.length
    const lines = this.lines
    let value: string | null = null
    for (let index = 0; index + 1 < lines.length; index += 2) {
      const line = lines[index]!
      if (line.length !== length || line.toLowerCase() !== wanted) continue
      value = value === null ? lines[index + 1]! : `${value}${wanted === 'cookie' ? '; ' : ', '}${lines[index + 1]!}`
    }
    if (this.extraName !== undefined && wanted === this.extraName) {
      const extra = resolve(this.extraValue!)
      value = value === null ? extra : `${value}, ${extra}`
    }
    return value
  }

  /** `Headers.has`. */
  has(name: string): boolean {
    return this.get(name) !== null
  }

  /** The real `Headers` (the request's, or this view's own copy of the lines). */
  private full(): Headers {
    return this.target ?? (this.own ??= fillHeaders(new Headers(), this))
  }

  /** Called once the real request exists: fills its headers from this view, then forwards to them. */
  adopt(headers: Headers): void {
    if (this.own !== undefined) for (const [name, value] of this.own) headers.append(name, value)
    else fillHeaders(headers, this)
    this.own = undefined
    this.target = headers
  }

  /** Appends the raw lines (not the pseudo-headers of HTTP/2) and the extra header to `headers`. */
  appendLinesTo(headers: Headers): void {
    const lines = this.lines
    for (let index = 0; index + 1 < lines.length; index += 2) {
      const name = lines[index]!
      if (name.charCodeAt(0) !== 58 /* ':' */) headers.append(name, lines[index + 1]!)
    }
    if (this.extraName !== undefined) headers.append(this.extraName, resolve(this.extraValue!))
  }

  append(name: string, value: string): void {
    this.full().append(name, value)
  }
  set(name: string, value: string): void {
    this.full().set(name, value)
  }
  delete(name: string): void {
    this.full().delete(name)
  }
  getSetCookie(): string[] {
    return this.full().getSetCookie()
  }
  forEach(callback: (value: string, name: string, parent: Headers) => void, thisArg?: unknown): void {
    this.full().forEach((value, name) => {
      callback.call(thisArg, value, name, this as unknown as Headers)
    })
  }
  entries(): IterableIterator<[string, string]> {
    return this.full().entries()
  }
  keys(): IterableIterator<string> {
    return this.full().keys()
  }
  values(): IterableIterator<string> {
    return this.full().values()
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.full().entries()
  }
  get [Symbol.toStringTag](): string {
    return 'Headers'
  }
}
// `instanceof Headers` holds; every method `Headers.prototype` has is overridden above.
Object.setPrototypeOf(RawHeaders.prototype, Headers.prototype)

function fillHeaders(headers: Headers, view: RawHeaders): Headers {
  view.appendLinesTo(headers)
  return headers
}

/** A `Request` for a Node request, built on first use (see the file's header). */
export class LazyRequest {
  /**
   * While `serve()` runs the handler: the Node response that the first SSE stream opened on this
   * request is written to (see `expectResponse`).
   */
  expected: ServerResponse | undefined = undefined
  /** While a dispatcher runs the handler of an upgrade: the upgrade this request stands for (see `linkRequest`). */
  upgrade: RawUpgrade | undefined = undefined
  private real: Request | undefined = undefined
  private view: RawHeaders | undefined = undefined

  constructor(
    private readonly incoming: IncomingMessage,
    private readonly outgoing: ServerResponse | undefined,
    private readonly href: string,
    private readonly extraName: string | undefined,
    private readonly extraValue: ExtraValue | undefined,
    private readonly gone: ClientGone | undefined,
  ) {}

  get method(): string {
    return this.incoming.method ?? 'GET'
  }

  get url(): string {
    return this.href
  }

  get headers(): Headers {
    return (this.view ??= new RawHeaders(this.incoming.rawHeaders, this.extraName, this.extraValue)) as unknown as Headers
  }

  /** The real `Request`, built on first call; the headers view forwards to its headers from then on. */
  materialize(): Request {
    if (this.real !== undefined) return this.real
    const method = this.method
    const hasBody = method !== 'GET' && method !== 'HEAD'
    let signal: AbortSignal | ClientSignal | undefined
    if (this.outgoing !== undefined) {
      if (this.gone?.gone) signal = AbortSignal.abort()
      else {
        const clientSignal = new ClientSignal()
        clientSignal.watch(this.outgoing) // takes over from `gone` on the response's watch
        signal = clientSignal
      }
    }
    const request = new Request(this.href, {
      method,
      signal: signal as AbortSignal | undefined,
      body: hasBody ? (Readable.toWeb(this.incoming) as ReadableStream<Uint8Array>) : null,
      // @ts-expect-error `duplex` is required by Node for streaming bodies but missing from the DOM types
      duplex: hasBody ? 'half' : undefined,
    })
    ;(this.headers as unknown as RawHeaders).adopt(request.headers)
    this.real = request
    return request
  }

  get [Symbol.toStringTag](): string {
    return 'Request'
  }
}
Object.setPrototypeOf(LazyRequest.prototype, Request.prototype)
// undici's getters and methods (`signal`, `body`, `text()`, `clone()`...) and its constructor
// (`new Request(request)`, `fetch(request)`) read the request's internal slots: on Node 20 these
// are symbol-keyed own properties, forwarded here to the real request.
for (const slot of Object.getOwnPropertySymbols(new Request('http://localhost/'))) {
  Object.defineProperty(LazyRequest.prototype, slot, {
    get(this: LazyRequest) {
      return (this.materialize() as unknown as Record<symbol, unknown>)[slot]
    },
  })
}

let lazyWorks: boolean | undefined

/** True when a {@link LazyRequest} behaves as a `Request` on this runtime (checked once). */
export function lazyRequestsWork(): boolean {
  if (lazyWorks === undefined) {
    try {
      const incoming = { method: 'GET', url: '/probe?x=1', rawHeaders: ['Host', 'localhost', 'X-A', '1'], socket: {} } as unknown as IncomingMessage
      const lazy = new LazyRequest(incoming, undefined, 'http://localhost/probe?x=1', 'x-b', '2', undefined) as unknown as Request
      keepShape(lazy)
      const copy = new Request(lazy)
      lazyWorks =
        requestsFollowClientSignal() &&
        lazy instanceof Request &&
        lazy.headers.get('x-a') === '1' &&
        copy.url === lazy.url &&
        copy.headers.get('x-b') === '2' &&
        lazy.clone().headers.get('x-a') === '1' &&
        lazy.cache === 'default' &&
        lazy.signal.aborted === false
    } catch {
      lazyWorks = false
    }
  }
  return lazyWorks
}

/**
 * A `Request` for a Node request (see the file's header): a {@link LazyRequest} where this runtime
 * allows, else the eager `buildRequest`. Undefined for a URL the fetch standard refuses. With
 * `outgoing`, its signal aborts when the client goes away before the response finished.
 */
export function nodeRequest(
  incoming: IncomingMessage,
  outgoing: ServerResponse | undefined,
  extraName: string | undefined,
  extraValue: ExtraValue | undefined,
): Request | undefined {
  if (!lazyRequestsWork()) return buildRequest(incoming, outgoing, extraName, extraValue === undefined ? undefined : resolve(extraValue))
  const target = requestTarget(incoming)
  if (target === undefined) return undefined
  const href = normalizedHref(target)
  if (href === undefined) return undefined
  let gone: ClientGone | undefined
  if (outgoing !== undefined) {
    gone = new ClientGone()
    watchResponse(outgoing).abort = gone
  }
  return new LazyRequest(incoming, outgoing, href, extraName, extraValue, gone) as unknown as Request
}

/** Targets longer than this are not remembered (see {@link normalizedHref}). */
const REMEMBERED_TARGET_LENGTH = 256
/** How many targets are remembered at most; all are forgotten when full. */
const REMEMBERED_TARGETS = 64
/** Recent request targets and their normalized href (null: refused). */
const hrefs = new Map<string, string | null>()

/**
 * What `Request` makes of `target` (normalized), undefined where it refuses: an invalid URL, or
 * credentials. Remembered for recent short targets: most clients of a server ask for the same
 * few URLs, and on a fresh server `new URL` (a JavaScript class around the C++ parser) ran
 * unoptimized for each connect.
 */
function normalizedHref(target: string): string | undefined {
  let href = hrefs.get(target)
  if (href === undefined) {
    try {
      const url = new URL(target)
      href = url.username !== '' || url.password !== '' ? null : url.href
    } catch {
      href = null
    }
    if (target.length <= REMEMBERED_TARGET_LENGTH) {
      if (hrefs.size >= REMEMBERED_TARGETS) hrefs.clear()
      hrefs.set(target, href)
    }
  }
  return href ?? undefined
}

/** True for a request made by {@link nodeRequest} that has not built its real `Request` yet. */
export function isUnbuilt(request: Request): boolean {
  return request instanceof LazyRequest && (request as unknown as { real: Request | undefined }).real === undefined
}
