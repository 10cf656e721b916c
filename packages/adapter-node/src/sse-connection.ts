import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import {
  encodeSseComment,
  formatCursorMap,
  heartbeatEvent,
  SseConnection,
  type ConnectionHandlers,
  type ConnectionOwner,
  type EventMap,
  type Outbound,
} from '@loewen-digital/realtime-core'
import { encodingsOf, httpChunk, httpChunkOf } from './_encodings.js'
import { buildResponsesWith, LazySseResponse, lazySseResponsesWork } from './_lazy-response.js'
import { watchConnection } from './_response-watch.js'
import { flatRandomUuid } from './_uuid.js'
import { LazyRequest } from './lazy-request.js'
import { writeInTick, type TickWriter } from './_tick-writer.js'

/** The connection behind each SSE `Response` made on Node, so `writeResponse` can attach to it. */
const connections = new WeakMap<Response, NodeSseConnection<any>>()
const HEARTBEAT_CHUNK = httpChunk(encodeSseComment())
/** `realtime:heartbeat` events as HTTP chunks, per interval. */
const heartbeatEventChunks = new Map<number, Uint8Array>()
function heartbeatEventChunk(interval: number): Uint8Array {
  let chunk = heartbeatEventChunks.get(interval)
  if (chunk === undefined) heartbeatEventChunks.set(interval, (chunk = httpChunk(heartbeatEvent(interval))))
  return chunk
}
const DEFER_STREAM = { deferStream: true }

/**
 * The Node response of each request `serve()` is handling (while its handler runs), so an SSE
 * connection opened on that request knows where it will be written and builds no web stream.
 */
const nodeResponses = new WeakMap<Request, ServerResponse>()

/** While the handler of `request` runs: `outgoing` is the Node response it will be written to. */
export function expectResponse(request: Request, outgoing: ServerResponse): void {
  // serve()'s own request (the usual) keeps it in a field.
  if (request instanceof LazyRequest) request.expected = outgoing
  else nodeResponses.set(request, outgoing)
}

/** The handler of `request` returned (see {@link expectResponse}). */
export function forgetResponse(request: Request): void {
  if (request instanceof LazyRequest) request.expected = undefined
  else nodeResponses.delete(request)
}

/** The Node response expected for `request`, taken: only the first connection opened on a request gets it. */
function takeExpectedResponse(request: Request): ServerResponse | undefined {
  if (request instanceof LazyRequest) {
    const expected = request.expected
    request.expected = undefined
    return expected
  }
  const expected = nodeResponses.get(request)
  if (expected !== undefined) nodeResponses.delete(request)
  return expected
}

/** `connection.attach(response)`, without a promise when nothing has to wait (set by the class: the steps are private). */
let attachNow: (connection: NodeSseConnection<any>, response: ServerResponse) => Promise<void> | undefined

/**
 * Sends `connection` on `response`, whose head is written (see {@link NodeSseConnection.attach}).
 * Returns a promise only when it has to wait: the usual connection attaches at once.
 */
export function attachConnection(connection: NodeSseConnection<any>, response: ServerResponse): Promise<void> | undefined {
  return attachNow(connection, response)
}

/** The Node SSE connection whose `response` this is, if any. */
export function sseConnectionOf(response: Response): NodeSseConnection<any> | undefined {
  if (response instanceof LazySseResponse) return response.connection as NodeSseConnection<any>
  return connections.get(response)
}

/**
 * An SSE connection on Node. Its `response` is the web-standard stream of the core, so any host
 * that reads a `Response` body (Hono's node-server, a framework's adapter) works unchanged. When
 * this adapter's own `serve()`/`writeResponse()` sends the response, it attaches the Node
 * `ServerResponse` instead, and from then on events are written straight to the socket: each
 * event is encoded once per message, already framed as an HTTP/1.1 chunk, and the same bytes go
 * to every connection, batched per tick. Bytes queued before attaching are written first.
 *
 * A connection opened on a request that `serve()` is handling knows its Node response from the
 * start: it builds no web stream (the core's `deferStream`), keeps what is written until the
 * response is attached, and learns from the Node response when the client goes away. Its
 * `response` is still a `Response` with the SSE status and headers; reading its `body` (a handler
 * that wraps it in another `Response`) builds the web stream after all.
 *
 * Once attached, an idle connection keeps neither the web stream (`response` becomes a body-less
 * stand-in) nor the web `Request`: `request` is rebuilt from the Node request on first access (an
 * equal `Request`, not the same object; its signal aborts when the stream closes).
 */
export class NodeSseConnection<Events extends EventMap = EventMap> extends SseConnection<Events> implements TickWriter {
  /** Adapter API: tick batching state (see `writeInTick`). */
  lastTick = 0
  /** Adapter API: tick batching state (see `writeInTick`). */
  corkedTick = 0
  /** The Node response once attached. */
  private target: ServerResponse | undefined = undefined
  /** The response's socket when chunks can be written to it directly, else undefined. */
  private socket: Socket | undefined = undefined
  /** Writes made while the web stream's queue is being moved to the Node response. */
  private early: Uint8Array[] | undefined = undefined

  constructor(
    request: Request,
    owner: ConnectionOwner,
    handlers: ConnectionHandlers<Events>,
    userId: string | undefined,
    retry: number,
    headers?: HeadersInit,
  ) {
    const native = takeExpectedResponse(request)
    // Written by `serve()` itself: the web `Response` is built only if something reads it.
    const lazy = native !== undefined && lazySseResponsesWork() ? new LazySseResponse(headers) : undefined
    super(
      request,
      owner,
      handlers,
      userId,
      retry,
      headers,
      native === undefined ? undefined : lazy === undefined ? DEFER_STREAM : { deferStream: true, response: lazy as unknown as Response },
    )
    if (lazy !== undefined) lazy.connection = this
    else connections.set(this.response, this)
    if (native !== undefined) watchConnection(native, this)
  }

  static {
    // The real response of a lazy one is the core's (built by a protected method).
    buildResponsesWith((connection, headers) => (connection as NodeSseConnection<any>).deferredResponse(headers))
    attachNow = (connection, response) => connection.attachNow(response)
  }

  /** A random UUID made as one flat string (see `_uuid.ts`). */
  protected createId(): string {
    return flatRandomUuid()
  }

  /** UTF-8 from Node's buffer pool (`TextEncoder` allocates a backing store per call). */
  protected encode(text: string): Uint8Array {
    return Buffer.from(text)
  }

  /** Bytes written and not yet taken by the network (the web stream's queue before attaching). */
  get bufferedAmount(): number {
    return this.target !== undefined ? this.target.writableLength : super.bufferedAmount
  }

  /**
   * Adapter API: sends this connection on `response` (whose status and headers are set) instead of
   * the web stream. Called by `writeResponse`; the returned promise settles once attached.
   */
  async attach(response: ServerResponse): Promise<void> {
    return this.attachNow(response)
  }

  /** {@link NodeSseConnection.attach}, with a promise only when it has to wait (a web stream to move). */
  private attachNow(response: ServerResponse): Promise<void> | undefined {
    if (this.target !== undefined || this.early !== undefined) return undefined
    if (!(this.response instanceof LazySseResponse)) connections.delete(this.response)
    watchConnection(response, this)
    const queued = this.takeQueued()
    if (queued === undefined) return this.moveWebStream(response)
    // No web stream (see `deferStream`): what was written waits here, the `retry:` line first.
    // Written with the head (no `flushHeaders()` first): Node corks the socket for the rest of
    // the tick, so head and first events leave in one system call instead of two.
    if (!response.destroyed) response.write(queued.length === 1 ? queued[0]! : Buffer.concat(queued))
    this.attached(response, undefined)
    return undefined
  }

  /** Moves what the web stream holds to `response`, then attaches (writes made meanwhile wait in `early`). */
  private async moveWebStream(response: ServerResponse): Promise<void> {
    response.flushHeaders()
    this.early = []
    // Move what the web stream holds (the `retry:` line, events sent before the response was
    // returned); writes made meanwhile wait in `early`.
    try {
      const reader = this.response.body?.getReader()
      while (reader !== undefined && super.bufferedAmount > 0) {
        const { done, value } = await reader.read()
        if (done) break
        response.write(value)
      }
    } catch {
      // the stream errored (or someone else locked it): nothing more to move
    }
    const early = this.early
    this.early = undefined
    this.attached(response, early)
  }

  /** Writes to `response` from now on (then the bytes in `early`); ends it if the connection closed meanwhile. */
  private attached(response: ServerResponse, early: Uint8Array[] | undefined): void {
    if (this.isClosed) {
      if (!response.destroyed && !response.writableEnded) response.end()
      return
    }
    this.releaseWebStream()
    // The ServerResponse keeps the Node request anyway: its raw header list is kept by reference.
    this.compactRequest(response.req.rawHeaders, true)
    this.target = response
    // Chunks go straight to the socket when Node has handed it to this response, the headers
    // are on it and the body is chunked; otherwise (HTTP/1.0, HEAD, a pipelined request not yet
    // at the head of its connection) through `response.write`.
    const socket = response.socket as Socket | null
    if (socket !== null && response.chunkedEncoding && response.req?.method !== 'HEAD' && response.writableLength === socket.writableLength) {
      this.socket = socket
    }
    if (early !== undefined) for (const bytes of early) this.push(bytes)
  }

  /** Adapter API; not for application code. */
  write(outbound: Outbound): void {
    const response = this.target
    if (response === undefined) {
      super.write(outbound)
      return
    }
    if (this.isClosed) return
    const socket = this.socket
    const encodings = encodingsOf(outbound)
    let bytes: Uint8Array
    if (outbound.carriesCursor && this.cursors.size > 0) {
      if (this.hasOnlyCursorOf(outbound)) {
        bytes =
          socket !== undefined
            ? (encodings.sseOwnCursorChunk ??= httpChunk(outbound.sseWithOwnCursor!))
            : (encodings.sseOwnCursor ??= Buffer.from(outbound.sseWithOwnCursor!))
      } else {
        // This connection's own id line (several streams): one buffer with the shared block.
        const text = `id: ${formatCursorMap(this.cursors)}\n${outbound.sse}`
        bytes = socket !== undefined ? httpChunk(text) : Buffer.from(text)
      }
    } else {
      bytes = socket !== undefined ? (encodings.sseChunk ??= httpChunk(outbound.sse)) : (encodings.sse ??= Buffer.from(outbound.sse))
    }
    this.deliverBytes(response, socket, bytes)
  }

  /** Adapter API: queues bytes for the client; every other write (text, heartbeat, retry) ends here. */
  protected push(bytes: Uint8Array): void {
    const response = this.target
    if (response === undefined) {
      if (this.early !== undefined) {
        if (!this.isClosed) this.early.push(bytes)
      } else super.push(bytes)
      return
    }
    if (this.isClosed) return
    const socket = this.socket
    this.deliverBytes(response, socket, socket !== undefined ? httpChunkOf(bytes) : bytes)
  }

  private deliverBytes(response: ServerResponse, socket: Socket | undefined, bytes: Uint8Array): void {
    if (socket !== undefined) {
      if (!socket.writable) return
      writeInTick(this, socket, bytes)
    } else {
      response.write(bytes)
    }
    if (response.writableLength > this.owner.maxBufferedBytes) this.cutSlowConsumer()
  }

  /** Adapter API; not for application code. */
  heartbeat(): void {
    if (this.target !== undefined && this.socket !== undefined) {
      if (!this.isClosed)
        this.deliverBytes(this.target, this.socket, this.heartbeatEvent ? heartbeatEventChunk(this.owner.heartbeatInterval ?? 0) : HEARTBEAT_CHUNK)
    } else super.heartbeat()
  }

  /**
   * Adapter API: destroys the Node response, and with it the socket (what is queued is discarded).
   * Before the response is attached, the web stream is errored instead.
   */
  protected dropTransport(): void {
    const response = this.target
    if (response === undefined) super.dropTransport()
    else if (!response.destroyed) response.destroy()
  }

  /** Adapter API; not for application code. */
  protected closeTransport(code: number, reason: string): void {
    const response = this.target
    if (response !== undefined && !response.destroyed && !response.writableEnded) response.end()
    super.closeTransport(code, reason)
  }
}
