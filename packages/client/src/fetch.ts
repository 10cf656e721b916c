// The fetch-based SSE transport (`@loewen-digital/realtime-client/fetch`): an `EventSource` built
// on `fetch` and `eventsource-parser`, for apps that must send headers (`Authorization`) that the
// platform's `EventSource` cannot. A separate entry, so the default bundle stays small.
import { createParser } from 'eventsource-parser'
import type { EventSourceConstructor, EventSourceLike } from './types.js'

/** Options of {@link fetchEventSource}. */
export interface FetchEventSourceOptions {
  /**
   * Request headers, or a function that returns them (called for every connection, reconnects
   * included, so a token can change between them; it may return a promise). `Accept:
   * text/event-stream` is always sent.
   */
  headers?: HeadersInit | (() => HeadersInit | Promise<HeadersInit>)
  /** The `fetch` to use (default `globalThis.fetch`). */
  fetch?: (input: string, init?: RequestInit) => Promise<Response>
  /**
   * Cookies: `'include'` sends them to another origin too (default `'same-origin'`; the client's
   * `withCredentials: true` also means `'include'`).
   */
  credentials?: RequestCredentials
}

/** What a listener gets: the fields of a `MessageEvent` the client reads. */
interface SseMessage {
  type: string
  data: string
  lastEventId: string
}

/** The error event: `status` and `retryAfter` when the server answered with something other than a stream. */
interface SseError {
  type: 'error'
  status?: number
  retryAfter?: string | null
}

/**
 * An `EventSource` constructor for `connect(url, { EventSource })` that opens streams with
 * `fetch`, so they can carry headers. The client keeps its own reconnect, resume (`lastEventId`),
 * dead-peer and gap behaviour; this transport only reads one stream per instance (it never
 * reconnects by itself) and tells the client the HTTP status of a refusal directly.
 *
 * @example
 * ```ts
 * import { connect } from '@loewen-digital/realtime-client'
 * import { fetchEventSource } from '@loewen-digital/realtime-client/fetch'
 * const client = connect('https://api.example.com/events', {
 *   EventSource: fetchEventSource({ headers: () => ({ Authorization: `Bearer ${getToken()}` }) }),
 * })
 * ```
 */
export function fetchEventSource(options: FetchEventSourceOptions = {}): EventSourceConstructor {
  return class FetchEventSource implements EventSourceLike {
    readyState = 0
    onerror: ((event: SseError) => void) | null = null
    readonly #listeners = new Map<string, Set<(event: SseMessage) => void>>()
    readonly #controller = new AbortController()
    #lastEventId = ''

    constructor(url: string, init?: { withCredentials?: boolean }) {
      const credentials = init?.withCredentials ? 'include' : (options.credentials ?? 'same-origin')
      void this.#read(url, credentials).catch(() => this.#fail({ type: 'error' }))
    }

    addEventListener(type: string, listener: (event: SseMessage) => void): void {
      let listeners = this.#listeners.get(type)
      if (!listeners) this.#listeners.set(type, (listeners = new Set()))
      listeners.add(listener)
    }

    close(): void {
      this.readyState = 2
      this.#controller.abort()
    }

    async #read(url: string, credentials: RequestCredentials): Promise<void> {
      const given = typeof options.headers === 'function' ? await options.headers() : options.headers
      const headers = new Headers(given)
      headers.set('Accept', 'text/event-stream')
      if (this.readyState === 2) return
      const fetcher = options.fetch ?? globalThis.fetch
      const response = await fetcher(url, { headers, credentials, cache: 'no-store', signal: this.#controller.signal })
      const type = response.headers.get('content-type') ?? ''
      if (response.status !== 200 || !type.startsWith('text/event-stream') || !response.body) {
        void response.body?.cancel().catch(() => {})
        return this.#fail({ type: 'error', status: response.status === 200 ? 500 : response.status, retryAfter: response.headers.get('retry-after') })
      }
      this.readyState = 1
      const parser = createParser({
        onEvent: (event) => {
          if (event.id !== undefined) this.#lastEventId = event.id
          const type = event.event || 'message'
          const message: SseMessage = { type, data: event.data, lastEventId: this.#lastEventId }
          for (const listener of [...(this.#listeners.get(type) ?? [])]) {
            if (this.readyState !== 1) return
            listener(message)
          }
        },
      })
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      for (;;) {
        const { done, value } = await reader.read()
        if (done || this.readyState === 2) break
        parser.feed(value)
      }
      this.#fail({ type: 'error' }) // the stream ended: the client decides what comes next
    }

    #fail(event: SseError): void {
      if (this.readyState === 2) return
      this.readyState = 2
      this.#controller.abort()
      this.onerror?.(event)
    }
  }
}
