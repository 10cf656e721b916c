import { Connection, type ConnectionHandlers, type ConnectionOwner } from './connection.js'
import type { EventMap, Outbound } from './message.js'
import { SSE_CLOSE_GRACE_MS } from './constants.js'
import { formatCursorMap } from './cursor.js'
import { SERVER_CONTROL } from './protocol.js'
import { encodeSseComment, encodeSseEvent } from './sse-encoder.js'
import { DeferredSseResponse, OK, releasedResponse, withSseHeaders } from './sse-response.js'

export { SSE_HEADERS } from './sse-response.js'

const encoder = new TextEncoder()
const HEARTBEAT = encoder.encode(encodeSseComment())
/** The heartbeat as a named event, per interval (a handful of instances at most). */
const heartbeatEvents = new Map<number, Uint8Array>()
/** The `retry:` line that opens every stream, for the last interval asked (one per instance in practice). */
let lastRetryLine: { retry: number; text: string; bytes: Uint8Array } | undefined

/** The `retry:` line for `retry` ms, encoded once and shared by the streams (as the heartbeat is). */
function retryLineOf(retry: number): Uint8Array {
  if (lastRetryLine === undefined || lastRetryLine.retry !== retry) {
    const text = `retry: ${retry}\n\n`
    lastRetryLine = { retry, text, bytes: encoder.encode(text) }
  }
  return lastRetryLine.bytes
}

/**
 * The SSE heartbeat as an event a client's `EventSource` can see (`event: realtime:heartbeat`,
 * data: the interval in ms), for streams that asked for it (`heartbeat` request parameter).
 * Adapter API.
 */
export function heartbeatEvent(interval: number): string {
  return `event: realtime:heartbeat\ndata: ${interval}\n\n`
}

/**
 * An SSE connection on web-standard streams: works wherever a `Response` with a `ReadableStream`
 * body works. The stream is the `stream` of `realtime.sse()`. Adapters may subclass it (for
 * example to write to a native response directly).
 */
export class SseConnection<Events extends EventMap = EventMap> extends Connection<Events> {
  /**
   * The `Response` to return from the route handler. Once an adapter writes the connection to a
   * native response instead (see {@link SseConnection.releaseWebStream}), a body-less stand-in.
   */
  readonly response: Response
  private controller: ReadableStreamDefaultController<Uint8Array> | undefined
  /** With `deferStream`, until the adapter takes them or the web stream is built: the bytes written. */
  private queued: Uint8Array[] | undefined = undefined
  /** The byte length of `queued`. */
  private queuedBytes = 0
  /**
   * Adapter API: heartbeats go out as `realtime:heartbeat` events instead of comment lines (the
   * client asked with the `heartbeat` request parameter: `EventSource` does not show comments).
   */
  heartbeatEvent = false

  /**
   * @param options - adapter API. `deferStream`: the adapter already holds the native response
   *   this connection will be written to, and reports the end of the transport itself (the
   *   request's `signal` is not followed). No web stream is built then: bytes wait until the
   *   adapter takes them ({@link SseConnection.takeQueued}). `response` is still a `Response`
   *   with the SSE status and headers; reading its `body` builds the web stream after all (for a
   *   handler that wraps the response in another), and the connection goes on as without the
   *   option. Its body methods (`text()`, `clone()`) see no body. `response`: with `deferStream`,
   *   a stand-in to use as `response` instead (an adapter's, that builds the real one with
   *   {@link SseConnection.deferredResponse} only when something reads it).
   */
  constructor(
    request: Request,
    owner: ConnectionOwner,
    handlers: ConnectionHandlers<Events>,
    userId: string | undefined,
    retry: number,
    headers?: HeadersInit,
    options?: { deferStream?: boolean; response?: Response },
  ) {
    super('sse', request, owner, handlers, userId)
    const retryLine = retryLineOf(retry)
    if (options?.deferStream) {
      this.queued = [retryLine]
      this.queuedBytes = retryLine.byteLength
      this.response = options.response ?? this.deferredResponse(headers)
      return
    }
    this.response = withSseHeaders(new Response(this.createWebStream([retryLine]), OK), headers)
    const signal = request.signal
    if (signal) {
      if (signal.aborted) queueMicrotask(() => this.transportClosed(1001, 'request aborted'))
      else signal.addEventListener('abort', () => this.transportClosed(1001, 'request aborted'), { once: true })
    }
  }

  /**
   * Adapter API: the `response` of a `deferStream` connection, with the SSE status and headers
   * (`headers` first, then {@link SSE_HEADERS}); its `body` is the web stream, built when read.
   */
  protected deferredResponse(headers: HeadersInit | undefined): Response {
    return withSseHeaders(new DeferredSseResponse(this), headers)
  }

  /** The web stream, starting with `chunks`; its controller becomes this connection's. */
  private createWebStream(chunks: Uint8Array[]): ReadableStream<Uint8Array> {
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller
          for (const chunk of chunks) controller.enqueue(chunk)
        },
        // The consumer took everything queued: a stream the server ended closes now (closeTransport).
        pull: () => {
          if (this.isClosed) this.endWebStream()
        },
        cancel: () => this.transportClosed(1001, 'client went away'),
      },
      { highWaterMark: 0, size: (chunk) => chunk.byteLength },
    )
  }

  /**
   * Adapter API: for a connection made with `deferStream`, the bytes written so far (the `retry:`
   * line first), handed over once: from now on the adapter writes them and everything after it
   * (overriding `push` and `write`). Undefined when the web stream was built after all (the
   * adapter then reads it, as without `deferStream`) or the bytes were already taken.
   */
  protected takeQueued(): Uint8Array[] | undefined {
    const queued = this.queued
    this.queued = undefined
    this.queuedBytes = 0
    return queued
  }

  /**
   * Adapter API: the body of a `deferStream` connection's `response`, built on first call from
   * the bytes queued so far; later writes go to it. Null on later calls, once the adapter took
   * the bytes, and for a connection made without `deferStream`.
   */
  webStream(): ReadableStream<Uint8Array> | null {
    const queued = this.takeQueued()
    if (queued === undefined) return null
    const body = this.createWebStream(queued)
    if (this.isClosed) this.controller?.close()
    return body
  }

  /** Bytes enqueued and not yet read by the HTTP layer. */
  get bufferedAmount(): number {
    if (this.queued !== undefined) return this.queuedBytes
    const desired = this.controller?.desiredSize ?? null
    return desired === null ? 0 : Math.max(0, -desired)
  }

  /** Adapter API; not for application code. */
  write(outbound: Outbound): void {
    // The id is this connection's whole cursor map, so a native EventSource resumes every stream
    // it is in through Last-Event-ID. The event body is shared by every recipient; so is the id
    // line when the map is just this message's own position (connections only in this stream).
    if (outbound.carriesCursor && this.cursors.size > 0) {
      if (this.hasOnlyCursorOf(outbound)) {
        this.push((outbound.sseOwnCursorBytes ??= encoder.encode(outbound.sseWithOwnCursor)))
        return
      }
      const idLine = `id: ${formatCursorMap(this.cursors)}\n`
      // Still queued for the adapter (`deferStream`): the id line and the event as one chunk.
      if (this.queued !== undefined) {
        this.push(this.encode(idLine + outbound.sse))
        return
      }
      this.push(this.encode(idLine))
    }
    this.push((outbound.sseBytes ??= encoder.encode(outbound.sse)))
  }

  /**
   * Adapter API: `text` as UTF-8, for the bytes of this connection alone (`TextEncoder`; an
   * adapter may use its runtime's cheaper encoder).
   */
  protected encode(text: string): Uint8Array {
    return encoder.encode(text)
  }

  /**
   * Adapter API: sends `realtime:connected` with `data`, its `id:` line `cursor` (this connection's
   * cursor map, formatted; none when empty): the bytes of the same event sent as an `Outbound`,
   * built as one string. While only the `retry:` line waits (`deferStream`, the usual), the two
   * become one chunk.
   */
  writeConnected(cursor: string, data: object): void {
    if (this.isClosed) return
    const text = `${cursor === '' ? '' : `id: ${cursor}\n`}event: ${SERVER_CONTROL.CONNECTED}\ndata: ${JSON.stringify(data)}\n\n`
    const queued = this.queued
    if (queued !== undefined && queued.length === 1 && lastRetryLine !== undefined && queued[0] === lastRetryLine.bytes) {
      const bytes = this.encode(lastRetryLine.text + text)
      queued[0] = bytes
      this.queuedBytes = bytes.byteLength
      return
    }
    this.push(this.encode(text))
  }

  /**
   * Adapter API: true when this connection's whole cursor map is the position of `outbound`
   * itself, so its `id:` line is the one in {@link Outbound.sseWithOwnCursor}, shared by every
   * such recipient.
   */
  protected hasOnlyCursorOf(outbound: Outbound): boolean {
    if (this.cursors.size !== 1 || outbound.key === undefined) return false
    const cursor = this.cursors.get(outbound.key)
    return cursor !== undefined && cursor.offset === outbound.offset && cursor.epoch === outbound.epoch
  }

  /** Adapter API; not for application code. */
  writeText(text: string): void {
    this.push(this.encode(encodeSseEvent({ data: text })))
  }

  /** Writes one SSE event with the given fields (advanced use: custom `id` or `retry`). */
  writeEvent(fields: { event?: string; data: string; id?: string; retry?: number }): boolean {
    if (this.isClosed) return false
    this.push(this.encode(encodeSseEvent(fields)))
    return true
  }

  /** Sets the client's reconnection delay (`retry:`) without dispatching an event. */
  writeRetry(milliseconds: number): boolean {
    if (this.isClosed) return false
    this.push(this.encode(`retry: ${Math.max(0, Math.floor(milliseconds))}\n\n`))
    return true
  }

  /** Adapter API; not for application code. */
  heartbeat(): void {
    if (!this.heartbeatEvent) return this.push(HEARTBEAT)
    const interval = this.owner.heartbeatInterval ?? 0
    let bytes = heartbeatEvents.get(interval)
    if (bytes === undefined) heartbeatEvents.set(interval, (bytes = encoder.encode(heartbeatEvent(interval))))
    this.push(bytes)
  }

  /**
   * Adapter API: queues bytes for the client (and closes a slow consumer). Every write goes
   * through here, so a subclass that writes to a native response overrides this and `write`.
   */
  protected push(bytes: Uint8Array): void {
    if (this.isClosed) return
    const queued = this.queued
    if (queued !== undefined) {
      queued.push(bytes)
      this.queuedBytes += bytes.byteLength
      if (this.queuedBytes > this.owner.maxBufferedBytes) this.cutSlowConsumer()
      return
    }
    if (this.controller === undefined) return
    try {
      this.controller.enqueue(bytes)
    } catch {
      // The stream is gone (the consumer cancelled or errored): drop the connection.
      this.transportClosed(1006, 'stream closed')
      return
    }
    if (this.bufferedAmount > this.owner.maxBufferedBytes) this.cutSlowConsumer()
  }

  /** Drops the stream at once, whatever is still queued; `onClose` runs with code 1006. */
  terminate(): void {
    this.dropTransport()
    this.transportClosed(1006, 'terminated')
  }

  /**
   * Adapter API: ends the stream, what is queued first. Nothing is queued after this call. With
   * bytes still queued, the web stream ends once the client has taken them; a client that has not
   * within {@link SSE_CLOSE_GRACE_MS} (one that stopped reading: the slow consumer this close is
   * usually about) loses the transport then (see {@link SseConnection.dropTransport}). The web
   * stream is not closed before: some runtimes (workerd) move all of a closed stream's queue into
   * buffers of their own, where nothing could drop it any more.
   */
  protected closeTransport(code: number, reason: string): void {
    this.transportClosed(code, reason)
    if (this.bufferedAmount === 0) {
      this.endWebStream()
      return
    }
    const timer = setTimeout(() => {
      if (this.bufferedAmount > 0) this.dropTransport()
      else this.endWebStream()
    }, SSE_CLOSE_GRACE_MS)
    ;(timer as { unref?: () => void }).unref?.()
  }

  /** Closes the web stream (no-op without one, or once closed or errored). */
  private endWebStream(): void {
    try {
      this.controller?.close()
    } catch {
      // already closed or errored
    }
  }

  /**
   * Adapter API: drops the transport at once, discarding what is queued. Here the web stream is
   * errored, so the runtime that reads it aborts the response and closes its connection (the
   * client sees the body end early and reconnects); an adapter that writes to a native response
   * overrides it to destroy the socket.
   */
  protected dropTransport(): void {
    try {
      // An AbortError: a deliberate end, which hosts need not report as a failure.
      this.controller?.error(new DOMException('SSE stream dropped: the client did not take what was queued', 'AbortError'))
    } catch {
      // already errored
    }
  }

  /**
   * Adapter API: for an adapter that writes this connection to a native response from now on
   * (overriding `push` and `write`), after it took what the web stream held: drops the stream and
   * its `Response`, so an idle connection does not keep them (about 3 KB on Node). `response`
   * becomes a body-less stand-in; `bufferedAmount` is then the adapter's to answer.
   */
  protected releaseWebStream(): void {
    this.controller = undefined
    ;(this as { response: Response }).response = releasedResponse()
  }
}
