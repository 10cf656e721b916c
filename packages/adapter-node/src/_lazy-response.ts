// The `Response` of an SSE connection that `serve()` writes to the Node response itself: built on demand.
//
// undici's `Response` costs more to build than the rest of an SSE connection's setup in the core:
// its state, a realm, and a `Headers` filled header by header. `serve()` reads none of it: it
// writes the status line and the SSE headers from a constant and attaches the connection to the
// Node response. So the handler gets a `LazySseResponse`: an object whose prototype chain includes
// `Response.prototype` (`instanceof Response` is true) and that builds the connection's real
// `Response` the first time anything reads it (`status`, `headers`, `body`, `clone()`..., or
// undici itself through its internal slots), delegating to it from then on. A handler that adds a
// header or wraps the body in another `Response` gets exactly what it got before. A probe checks
// once that this runtime's `Response` works that way; if not, every response is built eagerly.
// The delegation itself (`delegateToResponse`) also serves the placeholder an upgrade answers.
import { SSE_HEADERS } from '@loewen-digital/realtime-core'
import { keepShape } from './_kept-shapes.js'

/** Builds the real `Response` of an SSE connection, with its extra headers (see {@link buildResponsesWith}). */
export type ResponseMaker = (connection: object, headers: HeadersInit | undefined) => Response

let maker: ResponseMaker | undefined

/** Sets what builds the real responses (the Node SSE connection, once: its builder is protected). */
export function buildResponsesWith(make: ResponseMaker): void {
  maker = make
}

/** An SSE connection's `Response`, built on first use (see the file's header). */
export class LazySseResponse {
  /** The connection it belongs to; set right after the connection's constructor made this. */
  connection: object | undefined = undefined
  private real: Response | undefined = undefined

  constructor(
    /** The connection's extra headers (undefined: only the SSE headers). */
    readonly headersInit: HeadersInit | undefined,
  ) {}

  /** True until something read the response (then it is built). */
  get unbuilt(): boolean {
    return this.real === undefined
  }

  /** The real `Response`, built on first call. */
  materialize(): Response {
    return (this.real ??= maker!(this.connection!, this.headersInit))
  }
}
/**
 * Makes the instances of a class with a `materialize()` method `Response`s to code that checks: its
 * prototype chain includes `Response.prototype`, and every getter and method of it, and undici's
 * internal slots (symbol-keyed own properties on Node 20, read by undici's own code when it is
 * handed the response), answer from the real response `materialize()` builds on first use.
 */
export function delegateToResponse(prototype: object): void {
  Object.setPrototypeOf(prototype, Response.prototype)
  for (const name of Object.getOwnPropertyNames(Response.prototype)) {
    if (name === 'constructor') continue
    const descriptor = Object.getOwnPropertyDescriptor(Response.prototype, name)!
    if (typeof descriptor.get === 'function') {
      Object.defineProperty(prototype, name, {
        get(this: Materializable) {
          return (this.materialize() as unknown as Record<string, unknown>)[name]
        },
      })
    } else if (typeof descriptor.value === 'function') {
      Object.defineProperty(prototype, name, {
        value(this: Materializable, ...parameters: unknown[]) {
          const real = this.materialize() as unknown as Record<string, (...parameters: unknown[]) => unknown>
          return real[name]!(...parameters)
        },
        writable: true,
        configurable: true,
      })
    }
  }
  for (const slot of Object.getOwnPropertySymbols(new Response(null))) {
    Object.defineProperty(prototype, slot, {
      get(this: Materializable) {
        return (this.materialize() as unknown as Record<symbol, unknown>)[slot]
      },
    })
  }
}

/** An object that stands for a `Response` it builds on first use. */
interface Materializable {
  materialize(): Response
}

// Every getter and method answers from the real response (its `body` getter included, which the
// core's deferred response overrides).
delegateToResponse(LazySseResponse.prototype)

/**
 * The head of an SSE response with only the SSE headers, as `writeHead` takes it: each name and
 * value in the order (and case) that iterating the real response's `Headers` gives them.
 */
export const SSE_HEAD: readonly string[] = [...new Headers(SSE_HEADERS)].flat()

let lazyWorks: boolean | undefined

/** True when a {@link LazySseResponse} behaves as a `Response` on this runtime (checked once). */
export function lazySseResponsesWork(): boolean {
  if (lazyWorks === undefined) {
    const connectionMaker = maker
    try {
      maker = (_connection, headers) => {
        const response = new Response(null, { status: 200, headers })
        for (const name in SSE_HEADERS) response.headers.set(name, SSE_HEADERS[name]!)
        return response
      }
      const lazy = new LazySseResponse({ 'x-a': '1' })
      lazy.connection = {}
      keepShape(lazy)
      const response = lazy as unknown as Response
      const built = lazy.unbuilt === false
      const copy = response.clone()
      lazyWorks =
        !built &&
        response instanceof Response &&
        response.status === 200 &&
        !lazy.unbuilt &&
        response.ok &&
        response.statusText === '' &&
        response.headers.get('x-a') === '1' &&
        response.headers.get('content-type') === SSE_HEADERS['Content-Type'] &&
        response.body === null &&
        response.bodyUsed === false &&
        copy.status === 200 &&
        copy.headers.get('x-a') === '1' &&
        Object.prototype.toString.call(response) === '[object Response]' &&
        SSE_HEAD.length === 2 * Object.keys(SSE_HEADERS).length
    } catch {
      lazyWorks = false
    } finally {
      maker = connectionMaker
    }
  }
  return lazyWorks
}
