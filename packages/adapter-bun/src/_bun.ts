// The parts of Bun's server API this adapter uses, declared structurally so the published
// declarations never mention Bun's own types (users need no bun-types to type-check).

/** A Bun `ServerWebSocket` (the `ws` given to the `websocket` handlers). */
export interface BunServerWebSocket<Data = unknown> {
  readonly data: Data
  readonly readyState: number
  /** Topics this socket is subscribed to. */
  readonly subscriptions: string[]
  send(data: string, compress?: boolean): number
  publish(topic: string, data: string, compress?: boolean): number
  subscribe(topic: string): unknown
  unsubscribe(topic: string): unknown
  ping(data?: string): number
  close(code?: number, reason?: string): void
  terminate(): void
  getBufferedAmount(): number
}

/** A Bun `Server` (what `Bun.serve()` returns and `fetch(request, server)` receives). */
export interface BunServer {
  readonly port?: number
  upgrade(request: Request, options: { data: unknown; headers?: HeadersInit }): boolean
  publish(topic: string, data: string, compress?: boolean): number
  subscriberCount(topic: string): number
  timeout(request: Request, seconds: number): void
  stop(closeActiveConnections?: boolean): Promise<void> | void
}

/** The fetch handler Bun calls: the request and the server it arrived on. */
export type BunFetch = (request: Request, server: BunServer) => Response | undefined | Promise<Response | undefined>
