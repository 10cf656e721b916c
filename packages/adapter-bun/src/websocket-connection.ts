import { CLOSE_CODES, Connection, type EventMap, type Outbound, type UpgradeContext } from '@loewen-digital/realtime-core'
import type { BunServer, BunServerWebSocket } from './_bun.js'

/** What a connection tells its platform (see `create-realtime.ts`). @internal */
export interface ConnectionTracker {
  opened(connection: BunWebSocketConnection<any>): void
  closed(connection: BunWebSocketConnection<any>): void
}

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
  /** @internal */ readonly tracker: ConnectionTracker
  private accept: ((connection: Connection<Events>) => void) | undefined

  constructor(context: UpgradeContext<Events>, server: BunServer, tracker: ConnectionTracker) {
    super('websocket', context.request, context.owner, context.handlers, context.userId)
    this.nativeFanOut = true
    this.server = server
    this.tracker = tracker
    this.accept = context.accept
  }

  /** Bytes queued by Bun for this socket and not yet written to the network. */
  get bufferedAmount(): number {
    return this.ws === undefined ? 0 : this.ws.getBufferedAmount()
  }

  /** Adapter API: the socket is open; registers the connection (runs `onOpen`). */
  opened(ws: BunServerWebSocket<BunWebSocketConnection<Events>>): void {
    this.ws = ws
    const accept = this.accept!
    this.accept = undefined
    this.tracker.opened(this)
    accept(this)
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
      this.closeTransport(CLOSE_CODES.SLOW_CONSUMER, 'slow consumer')
    }
  }

  /** Destroys the socket without a closing handshake (`onClose` runs with 1006). */
  terminate(): void {
    this.ws.terminate()
  }

  /** Adapter API; not for application code. */
  heartbeat(): void {
    if (!this.alive) {
      this.ws.terminate()
      return
    }
    this.alive = false
    if (this.ws.readyState === 1) this.ws.ping()
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
