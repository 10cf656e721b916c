import { limits, SseConnection, type ConnectionHandlers, type ConnectionOwner, type EventMap } from '@loewen-digital/realtime-core'
import { serverOf } from './serve.js'

/** Seconds of idle time after which Bun closes the connection of an SSE stream that ended. */
const CLOSE_GRACE_SECONDS = Math.max(1, Math.ceil(limits.SSE_CLOSE_GRACE_MS / 1000))

/**
 * An SSE stream on Bun: the core's web stream, plus what Bun needs to let go of the socket. Bun
 * times out a request that sends nothing for `idleTimeout` (10 s by default), so the stream's
 * request gets none while it is open: it lives on its heartbeat. Bun moves what is enqueued into
 * buffers of its own, and neither ending nor erroring the stream closes a connection whose client
 * stopped reading; a request idle timeout does. So a stream that ends (a slow consumer, `close()`,
 * shutdown) gets one of {@link limits.SSE_CLOSE_GRACE_MS} (whole seconds, at least one): a client
 * that takes the rest in time is unaffected, one that does not loses the socket and Bun's buffers.
 * Needs the Bun server of the request ({@link serve} or `withServer`); without it, only the web
 * stream is ended.
 */
export class BunSseConnection<Events extends EventMap = EventMap> extends SseConnection<Events> {
  constructor(
    request: Request,
    owner: ConnectionOwner,
    handlers: ConnectionHandlers<Events>,
    userId: string | undefined,
    retry: number,
    headers?: HeadersInit,
  ) {
    super(request, owner, handlers, userId, retry, headers)
    serverOf(request)?.timeout(request, 0)
  }

  /** Adapter API; not for application code. */
  protected closeTransport(code: number, reason: string): void {
    super.closeTransport(code, reason)
    this.timeOut(CLOSE_GRACE_SECONDS)
  }

  /** Adapter API: errors the web stream and has Bun close the connection within a second. */
  protected dropTransport(): void {
    super.dropTransport()
    this.timeOut(1)
  }

  private timeOut(seconds: number): void {
    const request = this.request
    try {
      serverOf(request)?.timeout(request, seconds)
    } catch {
      // the request is over already
    }
  }
}
