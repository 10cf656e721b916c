import { Connection, type ConnectionHandlers, type ConnectionOwner, type EventMap, type Outbound } from '@loewen-digital/realtime-core'
import type { WorkersWebSocket } from './_runtime.js'
import type { Deadline } from './deadline-alarms.js'

/** @internal What a connection tells the object that keeps its socket. */
export interface SocketKeeper {
  /** The connection's user or channels changed: store them with the socket. */
  save(connection: WorkersWebSocketConnection<any>): void
  /** The connection is gone: drop what was stored for it. */
  forget(connection: WorkersWebSocketConnection<any>): void
}

/** @internal How a connection was opened, kept to rebuild it after hibernation. */
export interface ConnectionOrigin {
  url: string
  headers: Array<[string, string]>
  /** The upgrade call passed handlers. */
  handlers: boolean
  /** Fields of the attachment live in storage (too large for the socket). */
  spilled: boolean
}

/**
 * A WebSocket connection inside the realtime Durable Object, backed by a hibernatable workerd
 * socket (kept in {@link WorkersWebSocketConnection.ws}). Its id, user and channels survive
 * hibernation in the socket's attachment.
 */
export class WorkersWebSocketConnection<Events extends EventMap = EventMap> extends Connection<Events> {
  /** The native server-side socket. */
  readonly ws: WorkersWebSocket
  /** @internal */ readonly keeper: SocketKeeper
  /** @internal */ readonly origin: ConnectionOrigin
  /** @internal When the client last sent a message (or the connection opened or was restored), ms. */
  lastSeen = Date.now()
  /** @internal Its deadline (credential expiry, when due), kept in the attachment. */
  deadline: Deadline | undefined = undefined
  /** @internal Restored from hibernation; its handlers are not recovered yet. */
  needsHandlers = false
  /** @internal Resolves once the handlers of a connection restored from hibernation are back. */
  handlersReady: Promise<void> | undefined

  /** @internal */
  constructor(
    ws: WorkersWebSocket,
    request: Request,
    owner: ConnectionOwner,
    handlers: ConnectionHandlers<Events>,
    userId: string | undefined,
    keeper: SocketKeeper,
    origin: ConnectionOrigin,
    restoredId?: string,
  ) {
    super('websocket', request, owner, handlers, userId)
    if (restoredId !== undefined) this.restoreId(restoredId)
    this.ws = ws
    this.keeper = keeper
    this.origin = origin
    // The core reports joins, leaves and the user to the platform for native fan-out connections;
    // the object uses that to keep the attachment current. Delivery stays with the core (the
    // platform has no `publish`).
    this.nativeFanOut = true
  }

  /** workerd does not expose a WebSocket's outbound buffer: always 0 (the runtime buffers). */
  get bufferedAmount(): number {
    return 0
  }

  /** Adapter API; not for application code. */
  write(outbound: Outbound): void {
    this.writeText(outbound.text)
  }

  /** Adapter API; not for application code. */
  writeText(text: string): void {
    if (this.isClosed || this.ws.readyState !== 1) return
    this.ws.send(text)
  }

  /**
   * Adapter API. Workers cannot send ping frames, and a timer would keep the object from
   * hibernating: clients send `{"event":"realtime:ping"}`, which the runtime answers by itself.
   */
  heartbeat(): void {}

  /** Adapter API; not for application code. */
  protected closeTransport(code: number, reason: string): void {
    try {
      this.ws.close(code, reason)
    } catch {
      // already closing or closed
    }
    this.transportClosed(code, reason)
  }

  /** Adapter API; not for application code. */
  transportClosed(code: number, reason: string): void {
    if (this.isClosed) return
    super.transportClosed(code, reason)
    this.keeper.forget(this)
  }
}
