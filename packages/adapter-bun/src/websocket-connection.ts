import { Connection, type ConnectionOwner, type EventMap, type Outbound, type UpgradeContext } from '@loewen-digital/realtime-core'
import type { BunServer, BunServerWebSocket } from './_bun.js'

/** What a connection tells its platform (see `create-realtime.ts`). @internal */
export interface ConnectionTracker {
  opened(connection: BunWebSocketConnection<any>): void
  closed(connection: BunWebSocketConnection<any>): void
}

// Kept beside the connections rather than in them: an idle connection is the core's fields plus
// `ws` and `server`, which JSC lays out inline in 112 bytes (12 fields; 13 to 18 take 160).
/** The tracker of each realtime instance (the owner of its connections). */
const trackers = new WeakMap<ConnectionOwner, ConnectionTracker>()
/** What registers each connection once its socket opens; removed when it does. */
const pendingAccepts = new WeakMap<BunWebSocketConnection<any>, (connection: Connection<any>) => void>()

/**
 * A WebSocket connection on Bun. It is the `data` of its Bun socket, so the shared
 * {@link websocket} handlers find it without a lookup. Topic fan-out is native
 * (`ws.subscribe` / `server.publish`): the core never writes published messages to it.
 */
export class BunWebSocketConnection<Events extends EventMap = EventMap> extends Connection<Events> {
  /** The native Bun socket (set when the socket opens). */
  ws!: BunServerWebSocket<BunWebSocketConnection<Events>>
  /** The Bun server the socket belongs to. */
  readonly server: BunServer

  /**
   * Adapter API: a connection for an upgrade about to be handed to `server.upgrade` as the
   * socket's `data`; `tracker` hears when its socket opens and closes.
   */
  constructor(context: UpgradeContext<Events>, server: BunServer, tracker: ConnectionTracker) {
    super('websocket', context.request, context.owner, context.handlers, context.userId)
    this.nativeFanOut = true
    this.server = server
    if (trackers.get(context.owner) !== tracker) trackers.set(context.owner, tracker)
    pendingAccepts.set(this, context.accept)
  }

  /** A random UUID: JSC keeps `crypto.randomUUID()` flat, so the core's copy would only add garbage. */
  protected override createId(): string {
    return crypto.randomUUID()
  }

  /**
   * A flat copy of the compacted request: JSC keeps a joined string as a rope of its pieces, which
   * held 0.06-0.19 KB more JS heap per idle connection than the copy (Bun benchmark, 2026-12-06).
   */
  protected override keptString(text: string): string {
    return JSON.parse(JSON.stringify(text)) as string
  }

  /** Bytes queued by Bun for this socket and not yet written to the network. */
  get bufferedAmount(): number {
    return this.ws === undefined ? 0 : this.ws.getBufferedAmount()
  }

  /** Adapter API: the socket is open; registers the connection (runs `onOpen`). */
  opened(ws: BunServerWebSocket<BunWebSocketConnection<Events>>): void {
    const accept = pendingAccepts.get(this)
    if (accept === undefined) return
    pendingAccepts.delete(this)
    this.ws = ws
    trackers.get(this.owner)!.opened(this)
    accept(this)
  }

  /** Adapter API: the socket has closed (Bun's `close` handler), before `transportClosed`. */
  socketClosed(): void {
    trackers.get(this.owner)!.closed(this)
  }

  /** Adapter API; not for application code. */
  write(outbound: Outbound): void {
    this.writeText(outbound.text)
  }

  /** Adapter API; not for application code. */
  writeText(text: string): void {
    const ws = this.ws
    if (ws.readyState !== 1) return
    const status = ws.send(text, false)
    // 0: Bun dropped the message (over its backpressureLimit); -1: queued behind earlier data.
    if ((status === 0 && text.length > 0) || (status === -1 && ws.getBufferedAmount() > this.owner.maxBufferedBytes)) {
      this.cutSlowConsumer()
    }
  }

  /** Destroys the socket without a closing handshake (`onClose` runs with 1006). */
  terminate(): void {
    this.ws.terminate()
  }

  /** Adapter API; not for application code. */
  heartbeat(): void {
    this.pingOrTerminate(ping)
  }

  /** Adapter API; not for application code. */
  protected closeTransport(code: number, reason: string): void {
    try {
      this.ws.close(code, reason)
    } catch {
      this.ws.terminate()
    }
  }
}

/** Sends a WebSocket ping frame when the socket is open (one function for every connection). */
function ping(connection: { ws: { readyState: number; ping(): unknown } }): void {
  if (connection.ws.readyState === 1) connection.ws.ping()
}
