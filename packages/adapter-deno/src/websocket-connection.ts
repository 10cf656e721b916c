import { Connection, RealtimeError, type EventMap, type Outbound, type UpgradeContext } from '@loewen-digital/realtime-core'

const CONNECTING = 0
const OPEN = 1
const CLOSING = 2
const CONNECTION = Symbol('realtime-connection')
type TaggedSocket = WebSocket & { [CONNECTION]: DenoWebSocketConnection<any> }

/**
 * The reason Deno gives (close event, and the error event before it) when a peer did not answer
 * the ping its `idleTimeout` sent. Not an error: the heartbeat did its job.
 */
const DENO_PING_TIMEOUT = 'No response from ping frame.'

/**
 * Error messages Deno reports when the peer vanished without a closing handshake (tab killed,
 * network gone). `ws` on Node reports no error for these, only a 1006 close; neither do we.
 */
const PEER_GONE = /unexpected eof|broken pipe|connection reset|connection aborted|not connected/i

/**
 * Deno reads a whole message before JavaScript sees it and fails frames over its own 64 MiB cap
 * ("Frame too large"); smaller messages over `maxMessageBytes` are closed with 1009 by the core.
 */
const FRAME_TOO_LARGE = /too large/i

/**
 * A server-side close waits until the peer has sent nothing for this many milliseconds. Deno drops
 * a socket that receives a message while its closing handshake is pending, and with more input
 * unread the peer gets a TCP reset that destroys the close frame (1006 instead of the code; a
 * flooding peer would never learn why). After the quiet period one more event-loop turn passes, so
 * input already waiting is read first. A peer that never pauses is closed after
 * {@link CLOSE_DEFER_MAX_MS} regardless.
 */
const CLOSE_QUIET_MS = 100
const CLOSE_DEFER_MAX_MS = 1000

/** Server-side closes waiting for their peer to pause, by connection. */
const pendingCloses = new WeakMap<DenoWebSocketConnection<any>, { code: number; reason: string; since: number; timer: ReturnType<typeof setTimeout> }>()

/**
 * A WebSocket connection on Deno, backed by the socket of `Deno.upgradeWebSocket` (kept in
 * {@link DenoWebSocketConnection.socket}). Deno's server socket has the browser API: no ping
 * method. Heartbeats come from the `idleTimeout` the adapter passes to `Deno.upgradeWebSocket`:
 * Deno pings a peer after `heartbeat` ms without an inbound frame and closes it when the ping is
 * not answered within another `heartbeat` ms.
 *
 * `request` is an equal copy of the handshake request, made during the upgrade: Deno closes the
 * original once the upgrade response is sent.
 */
export class DenoWebSocketConnection<Events extends EventMap = EventMap> extends Connection<Events> {
  /** The native Deno `WebSocket`. */
  readonly socket: WebSocket

  /**
   * @param headerLines - the handshake request's headers as `name, value, ...`, read before
   *   `Deno.upgradeWebSocket` (default: read now)
   */
  constructor(socket: WebSocket, context: UpgradeContext<Events>, headerLines?: readonly string[]) {
    super('websocket', context.request, context.owner, context.handlers, context.userId)
    // Deno closes the handshake request once upgraded: reading its headers then throws "Request
    // closed". Keep its method, URL and headers; `request` is an equal rebuilt Request from here
    // on (the same one in every handler, onOpen included).
    this.compactRequest(headerLines)
    this.socket = socket
    ;(socket as TaggedSocket)[CONNECTION] = this
    // Shared listeners (no closure per connection): `this` is the socket.
    socket.addEventListener('message', onMessage)
    socket.addEventListener('close', onClose)
    socket.addEventListener('error', onError)
  }

  /** Bytes Deno has queued for the socket and not yet written to the network. */
  get bufferedAmount(): number {
    return this.socket.bufferedAmount
  }

  /** Adapter API; not for application code. */
  write(outbound: Outbound): void {
    this.writeText(outbound.text)
  }

  /** Adapter API; not for application code. */
  writeText(text: string): void {
    if (this.socket.readyState !== OPEN || pendingCloses.has(this)) return
    this.socket.send(text)
    if (this.socket.bufferedAmount > this.owner.maxBufferedBytes) this.cutSlowConsumer()
  }

  /**
   * Adapter API; not for application code. Deno pings and drops silent peers itself; this tick
   * only reaps a socket whose peer has not finished the closing handshake for a whole interval
   * (Deno would keep it, and its registry entry, until the peer goes away).
   */
  heartbeat(): void {
    if (this.socket.readyState !== CLOSING) return
    if (this.alive) this.alive = false
    else this.terminate()
  }

  /**
   * Drops the connection at once: `onClose` runs with 1006. Deno has no way to destroy a server
   * WebSocket, so the socket is only asked to close; it is gone when the peer answers or vanishes.
   */
  override terminate(): void {
    clearTimeout(pendingCloses.get(this)?.timer)
    pendingCloses.delete(this)
    if (this.socket.readyState === OPEN) {
      try {
        this.socket.close()
      } catch {
        // already closing
      }
    }
    this.transportClosed(1006, 'terminated')
  }

  /**
   * Adapter API; not for application code. Sends the close frame once the peer has paused for
   * {@link CLOSE_QUIET_MS}; inbound messages until then are discarded, and nothing more is sent.
   */
  protected closeTransport(code: number, reason: string): void {
    if (pendingCloses.has(this)) return
    if (this.socket.readyState !== OPEN) {
      this.terminate()
      return
    }
    pendingCloses.set(this, { code, reason, since: Date.now(), timer: setTimeout(quietElapsed, CLOSE_QUIET_MS, this) })
  }
}

/** The peer was quiet: one more turn of the event loop reads any input already waiting. */
function quietElapsed(connection: DenoWebSocketConnection<any>): void {
  const pending = pendingCloses.get(connection)
  if (pending) pending.timer = setTimeout(sendClose, 0, connection)
}

/** Sends the pending close frame of `connection`. */
function sendClose(connection: DenoWebSocketConnection<any>): void {
  const pending = pendingCloses.get(connection)
  if (!pending || connection.socket.readyState !== OPEN) return
  try {
    connection.socket.close(pending.code, pending.reason)
  } catch {
    // An invalid code or a reason over 123 bytes: close with the code alone, else drop it.
    try {
      connection.socket.close(pending.code)
    } catch {
      connection.terminate()
    }
  }
}

/** False when an inbound message must be discarded: a close is pending, and waits again. */
function accepting(connection: DenoWebSocketConnection<any>): boolean {
  const pending = pendingCloses.get(connection)
  if (!pending) return true
  clearTimeout(pending.timer)
  // Never from inside a message event: Deno would read the next message before writing the frame.
  if (Date.now() - pending.since < CLOSE_DEFER_MAX_MS) pending.timer = setTimeout(quietElapsed, CLOSE_QUIET_MS, connection)
  else pending.timer = setTimeout(sendClose, 0, connection)
  return false
}

function onMessage(this: WebSocket, event: MessageEvent): void {
  const connection = (this as TaggedSocket)[CONNECTION]
  if (!accepting(connection)) return
  if (typeof event.data !== 'string') {
    connection.receiveBinary()
    return
  }
  connection.receive(event.data)
}

function onClose(this: WebSocket, event: CloseEvent): void {
  const connection = (this as TaggedSocket)[CONNECTION]
  clearTimeout(pendingCloses.get(connection)?.timer)
  pendingCloses.delete(connection)
  if (event.reason === DENO_PING_TIMEOUT) connection.transportClosed(1006, 'heartbeat timeout')
  else connection.transportClosed(event.code || 1006, event.reason)
}

function onError(this: WebSocket, event: Event): void {
  const connection = (this as TaggedSocket)[CONNECTION]
  // Still connecting: the handshake failed (the client left first); nothing was registered.
  if (connection.isClosed || this.readyState === CONNECTING) return
  const { message, error } = event as ErrorEvent
  if (message === DENO_PING_TIMEOUT || PEER_GONE.test(message ?? '')) return
  if (FRAME_TOO_LARGE.test(message ?? '')) {
    const limit = connection.owner.maxMessageBytes
    connection.transportError(
      new RealtimeError('REALTIME_MESSAGE_TOO_BIG', `message exceeds Deno's frame limit (maxMessageBytes is ${limit})`, { cause: error }),
    )
    return
  }
  connection.transportError(error ?? new Error(message || 'WebSocket error'))
}
