// The `signal` that `toRequest` gives a web Request, aborted when the client goes away.
//
// A Request made with `init.signal` gets a real AbortSignal of its own that follows the given one
// (`request.signal`, and through it `clone()`, `new Request(request)` and `fetch(request)`). Node's
// fetch implementation (undici) follows any object that looks like a signal: it reads `aborted`
// and `reason`, adds one 'abort' listener, and removes it once the Request is collected. Giving it
// this small object instead of an AbortController's signal saves an AbortController and an
// AbortSignal (an event target with its listener map) per request: about 1 KB that lives as long
// as the Request, which undici keeps reachable through a WeakRef, so it outlives the young
// generation and ends up as garbage in V8's old space (see docs/performance.md). The Request's own
// signal behaves as before. A probe checks once that the runtime follows such an object; if not,
// `toRequest` uses an AbortController as before.
import type { ServerResponse } from 'node:http'
import { watchResponse, type ResponseAbort, type ResponseWatch } from './_response-watch.js'

type AbortListener = (this: ClientSignal) => void
const NO_LISTENERS: readonly AbortListener[] = Object.freeze([])

/** What a Request follows: aborted by `abort()`, once, with the reason `AbortController` gives. */
export class ClientSignal implements ResponseAbort {
  aborted = false
  reason: unknown = undefined
  /** The follower's listener (a Request adds exactly one). */
  private listener: AbortListener | undefined = undefined
  /** Further listeners, should a runtime add more than one. */
  private others: AbortListener[] | undefined = undefined
  /** The watch of the response that holds this signal, which lets go once nothing follows it. */
  private holder: ResponseWatch | undefined = undefined

  /** EventTarget's method, for 'abort' listeners (a listener runs once). */
  addEventListener(type: string, listener: unknown): void {
    if (type !== 'abort' || typeof listener !== 'function') return
    if (this.listener === undefined) this.listener = listener as AbortListener
    else (this.others ??= []).push(listener as AbortListener)
  }

  /** EventTarget's method. Once no listener is left, the response no longer holds this signal. */
  removeEventListener(type: string, listener: unknown): void {
    if (type !== 'abort') return
    if (this.listener === listener) this.listener = this.others?.shift()
    else if (this.others !== undefined) this.others = this.others.filter((other) => other !== listener)
    if (this.listener === undefined && this.holder !== undefined) {
      if (this.holder.abort === this) this.holder.abort = undefined
      this.holder = undefined
    }
  }

  /** For `node:events`' `getMaxListeners()`, which the follower calls (no limit here). */
  getMaxListeners(): number {
    return Infinity
  }

  /** For `node:events`' `getEventListeners()`, which the follower may call (only its length is read). */
  listeners(): readonly AbortListener[] {
    return NO_LISTENERS
  }

  /** Aborts (once): sets `aborted` and `reason`, then runs the listeners. */
  abort(): void {
    if (this.aborted) return
    this.aborted = true
    this.reason = new DOMException('This operation was aborted', 'AbortError')
    const listener = this.listener
    const others = this.others
    this.listener = undefined
    this.others = undefined
    this.holder = undefined
    listener?.call(this)
    if (others !== undefined) for (const other of others) other.call(this)
  }

  /** Makes `response` abort this signal when it closes before it finished. */
  watch(response: ServerResponse): void {
    const watch = watchResponse(response)
    watch.abort = this
    this.holder = watch
  }
}
// `node:events`' `getMaxListeners()` reads `_maxListeners` of an object with a `getMaxListeners`
// method; anything but the default (10) keeps it from calling `setMaxListeners()`.
;(ClientSignal.prototype as unknown as { _maxListeners: number })._maxListeners = Infinity

let followsClientSignal: boolean | undefined

/** True when a web Request made with a {@link ClientSignal} follows it (checked once). */
export function requestsFollowClientSignal(): boolean {
  if (followsClientSignal === undefined) {
    try {
      const signal = new ClientSignal()
      const request = new Request('http://localhost/', { signal: signal as unknown as AbortSignal })
      const before = request.signal.aborted
      signal.abort()
      followsClientSignal = !before && request.signal.aborted && request.signal.reason === signal.reason
    } catch {
      followsClientSignal = false
    }
  }
  return followsClientSignal
}
