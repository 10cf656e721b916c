/** A fetch-style handler: what the spec's `GET(request)` route handlers are. */
export type FetchHandler = (request: Request) => Response | Promise<Response>

/** Options of an adapter's `serve()`: the same shape on every runtime that has a server. */
export interface ServeOptions {
  /** The handler for every request, WebSocket upgrades included. */
  fetch: FetchHandler
  /** Port to listen on; 0 picks a free one (default 3000). */
  port?: number
  /** Interface to bind (default '127.0.0.1'). */
  hostname?: string
  /** Errors thrown by `fetch` or by the transport (default: `console.error`). */
  onError?: (error: unknown) => void
}

/** A running server returned by `serve()`. */
export interface ServedServer {
  /** The port actually bound. */
  readonly port: number
  /** Base URL, e.g. `http://127.0.0.1:3000`. */
  readonly url: string
  /** Stops listening and closes open sockets. */
  close(): Promise<void>
}
