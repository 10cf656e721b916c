import type { IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { Connection, RealtimeError, type EventMap, type Outbound, type UpgradeContext } from '@loewen-digital/realtime-core'
import { WebSocket, type RawData } from 'ws'
import { encodingsOf, textFrame } from './_encodings.js'
import { writeInTick, type TickWriter } from './_tick-writer.js'

/** The parts of `ws` internals the fast path reads: the net.Socket under the WebSocket. */
type WebSocketInternals = WebSocket & { _socket: Socket | null }

/**
 * `ws`'s WebSocket (the `WebSocket` option of the adapter's `WebSocketServer`) that hands its
 * events straight to its connection instead of through listeners: an idle socket keeps no
 * listener entries (about 130 bytes of event table each). Listeners added by application code to
 * `connection.ws` still run.
 */
export class RealtimeWebSocket extends WebSocket {
  /** Adapter API: the connection of this socket, once accepted. */
  connection: NodeWebSocketConnection<any> | undefined = undefined

  /** Dispatches to the connection first; then to listeners, if any. */
  override emit(event: string | symbol, ...args: any[]): boolean {
    const connection = this.connection
    if (connection !== undefined) {
      if (event === 'message') onMessage(connection, args[0] as RawData, args[1] as boolean)
      else if (event === 'pong') connection.alive = true
      else if (event === 'close') connection.transportClosed(args[0] as number, String(args[1]))
      else if (event === 'error') {
        onError(connection, args[0] as Error & { code?: string })
        // Handled: an `error` without listeners must not throw.
        return this.listenerCount('error') > 0 ? super.emit(event, ...args) : true
      }
    }
    return super.emit(event, ...args)
  }
}

/**
 * A WebSocket connection on Node, backed by a `ws` socket (kept in {@link NodeWebSocketConnection.ws}).
 *
 * Messages take a fast path: the frame is built once per message (kept on the `Outbound`) and the
 * same bytes are written to every connection's socket, batched per tick. Anything unusual (ws
 * has frames queued of its own, the socket is no longer writable) goes through `ws.send`.
 *
 * Given the Node request of the upgrade, an idle connection keeps only its URL and raw header lines
 * once set up (see `Connection.compactRequest`): `request` is then rebuilt on first access (an equal
 * `Request`, not the same object).
 */
export class NodeWebSocketConnection<Events extends EventMap = EventMap> extends Connection<Events> implements TickWriter {
  /** The native `ws` socket. */
  readonly ws: WebSocket
  /** Adapter API: tick batching state (see `writeInTick`). */
  lastTick = 0
  /** Adapter API: tick batching state (see `writeInTick`). */
  corkedTick = 0
  /** The Node request of the upgrade, until the connection is set up. */
  private incoming: IncomingMessage | undefined

  constructor(ws: RealtimeWebSocket, context: UpgradeContext<Events>, incoming?: IncomingMessage) {
    super('websocket', context.request, context.owner, context.handlers, context.userId)
    this.incoming = incoming
    this.ws = ws
    ws.connection = this
  }

  /** Bytes queued in `ws` and the socket, not yet written to the network. */
  get bufferedAmount(): number {
    return this.ws.bufferedAmount
  }

  /** Adapter API; not for application code. */
  write(outbound: Outbound): void {
    const ws = this.ws
    if (ws.readyState !== 1) return
    const socket = (ws as WebSocketInternals)._socket
    // ws's bufferedAmount is the socket's queue plus frames ws holds back itself; when it holds
    // none, writing to the socket directly keeps the order of everything sent.
    if (socket?.writable && ws.bufferedAmount === socket.writableLength) {
      const encodings = encodingsOf(outbound)
      writeInTick(this, socket, (encodings.frame ??= textFrame(outbound.text)))
      if (socket.writableLength > this.owner.maxBufferedBytes) this.cutSlowConsumer()
      return
    }
    this.writeText(outbound.text)
  }

  /** Adapter API; not for application code. */
  writeText(text: string): void {
    if (this.ws.readyState !== 1) return
    this.ws.send(text)
    if (this.ws.bufferedAmount > this.owner.maxBufferedBytes) this.cutSlowConsumer()
  }

  /** Adapter API: compacts with the Node request's raw header lines (cheaper than reading `Headers`). */
  compactRequest(headerLines?: readonly string[], keepList?: boolean): void {
    const incoming = this.incoming
    this.incoming = undefined
    super.compactRequest(headerLines ?? incoming?.rawHeaders, keepList)
  }

  /** Adapter API; not for application code. */
  transportClosed(code: number, reason: string): void {
    this.incoming = undefined
    super.transportClosed(code, reason)
  }

  /** Destroys the socket without a closing handshake. */
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

function onMessage(connection: NodeWebSocketConnection<any>, data: RawData, isBinary: boolean): void {
  connection.alive = true
  if (isBinary) {
    connection.receiveBinary()
    return
  }
  connection.receive(Buffer.isBuffer(data) ? data.toString() : Array.isArray(data) ? Buffer.concat(data).toString() : Buffer.from(data).toString())
}

/**
 * `ws` reports a frame it refuses (too long, invalid UTF-8, a protocol violation) as an error and
 * then closes the socket itself with the matching code; the peer rarely answers that close, so
 * the `close` event says 1006. The code `ws` sent is kept as the close intent, so `onClose`
 * reports it.
 */
function onError(connection: NodeWebSocketConnection<any>, error: Error & { code?: string }): void {
  const code = error.code
  if (code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' || code === 'WS_ERR_UNSUPPORTED_DATA_PAYLOAD_LENGTH') {
    connection.closeIntent ??= { code: 1009, reason: 'message too big' }
    connection.transportError(
      new RealtimeError('REALTIME_MESSAGE_TOO_BIG', `message exceeds maxMessageBytes (${connection.owner.maxMessageBytes})`, { cause: error }),
    )
    return
  }
  if (code === 'WS_ERR_INVALID_UTF8') connection.closeIntent ??= { code: 1007, reason: 'invalid UTF-8' }
  else if (code?.startsWith('WS_ERR_')) connection.closeIntent ??= { code: 1002, reason: 'protocol error' }
  connection.transportError(error)
}

/** Sends a WebSocket ping frame when the socket is open (one function for every connection). */
function ping(connection: { ws: { readyState: number; ping(): unknown } }): void {
  if (connection.ws.readyState === 1) connection.ws.ping()
}
