import { SseConnection, type ConnectionHandlers, type ConnectionOwner, type EventMap } from '@loewen-digital/realtime-core'

/**
 * An SSE stream held by the realtime Durable Object. The web-standard stream of the core; the
 * object only needs to know when it ends, to stop its heartbeat timer once no stream is left
 * (a timer keeps an object from hibernating).
 */
export class WorkersSseConnection<Events extends EventMap = EventMap> extends SseConnection<Events> {
  /** @internal */ private readonly ended: (connection: WorkersSseConnection<any>) => void

  /** @internal */
  constructor(
    request: Request,
    owner: ConnectionOwner,
    handlers: ConnectionHandlers<Events>,
    userId: string | undefined,
    retry: number,
    headers: HeadersInit | undefined,
    ended: (connection: WorkersSseConnection<any>) => void,
  ) {
    super(request, owner, handlers, userId, retry, headers)
    this.ended = ended
  }

  /** Adapter API; not for application code. */
  transportClosed(code: number, reason: string): void {
    if (this.isClosed) return
    super.transportClosed(code, reason)
    this.ended(this)
  }
}
