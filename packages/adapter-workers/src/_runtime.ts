// Small structural descriptions of the Workers runtime objects this adapter touches, so the
// published declarations never depend on @cloudflare/workers-types.

/** A server-side WebSocket in workerd, with the hibernation extensions. */
export interface WorkersWebSocket {
  readonly readyState: number
  send(message: string): void
  close(code?: number, reason?: string): void
  /** Keeps a structured-clonable value (at most 2,048 bytes) with the socket across hibernation. */
  serializeAttachment(value: unknown): void
  deserializeAttachment(): unknown
}

/** The parts of `DurableObjectState` the realtime object uses. */
export interface DurableObjectStateLike {
  acceptWebSocket(socket: WorkersWebSocket, tags?: string[]): void
  getWebSockets(tag?: string): WorkersWebSocket[]
  setWebSocketAutoResponse(pair?: unknown): void
  getWebSocketAutoResponseTimestamp(socket: WorkersWebSocket): Date | null
  waitUntil(promise: Promise<unknown>): void
  readonly storage: {
    get<T = unknown>(key: string): Promise<T | undefined>
    put(key: string, value: unknown): Promise<void>
    delete(key: string): Promise<boolean>
    /** Sets the object's one alarm (ms since the epoch): its `alarm()` runs then, waking it if needed. */
    setAlarm(scheduledTime: number): Promise<void>
    /** The time the object's alarm is set for (ms since the epoch), or null. */
    getAlarm(): Promise<number | null>
    /** Deletes the object's alarm. */
    deleteAlarm(): Promise<void>
    /** The SQL API; present on SQLite-backed objects (reading it may throw on key-value-backed ones). */
    readonly sql?: SqlStorageLike
  }
}

/** The SQL API of a SQLite-backed Durable Object's storage (`ctx.storage.sql`). */
export interface SqlStorageLike {
  exec<T extends Record<string, string | number | null | ArrayBuffer> = Record<string, string | number | null | ArrayBuffer>>(
    query: string,
    ...bindings: unknown[]
  ): { toArray(): T[] }
}

/** A Durable Object stub: the address of one object. */
export interface DurableObjectStubLike {
  fetch(request: Request): Promise<Response>
}

/** A Durable Object namespace binding (`env.REALTIME`). */
export interface DurableObjectNamespaceLike {
  idFromName(name: string): unknown
  get(id: unknown): DurableObjectStubLike
}

/** What a Worker's handlers receive as `ctx`. */
export interface ExecutionContextLike {
  waitUntil(promise: Promise<unknown>): void
  passThroughOnException(): void
}

/** A Worker's exported handler object (`export default { fetch, scheduled, … }`). */
export interface WorkerHandler<Env = any> {
  fetch?(request: Request, env: Env, context: ExecutionContextLike): Response | Promise<Response>
}

// Globals of workerd, declared here (module scope) instead of pulling in the runtime's types.
declare const WebSocketPair: new () => { 0: WorkersWebSocket; 1: WorkersWebSocket }
declare const WebSocketRequestResponsePair: new (request: string, response: string) => unknown

/** A connected pair of WebSockets: `[client, server]`. */
export function createWebSocketPair(): [client: WorkersWebSocket, server: WorkersWebSocket] {
  const pair = new WebSocketPair()
  return [pair[0], pair[1]]
}

/** A request/response pair the runtime answers by itself, without waking the object. */
export function createAutoResponse(request: string, response: string): unknown {
  return new WebSocketRequestResponsePair(request, response)
}

/** The 101 response that hands `client` to the peer. */
export function switchingProtocols(client: WorkersWebSocket): Response {
  return new Response(null, { status: 101, webSocket: client } as ResponseInit)
}

/** Closes a socket, ignoring a socket already closed; a code the runtime refuses to send is dropped. */
export function closeQuietly(ws: WorkersWebSocket, code?: number, reason?: string): void {
  try {
    if (code === undefined) ws.close()
    else ws.close(code, reason)
  } catch {
    try {
      ws.close() // a code the runtime does not send: close without one
    } catch {
      // already closed
    }
  }
}
