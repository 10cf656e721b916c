import { CLOSE_CODES } from './constants.js'
import { CursorMap } from './cursor-map.js'
import { RealtimeError } from './errors.js'
import { toOutbound, type EventMap, type Outbound, type RealtimeMessage } from './message.js'
import type { ConnectionHandlers, ConnectionOwner, Transport } from './connection-owner.js'
import { compactRequest, flatUuid, rebuildRequest, RequestHead } from './request-head.js'

export type { ConnectionHandlers, ConnectionOwner, Transport } from './connection-owner.js'

/**
 * One client connection, SSE or WebSocket. The same object is the `socket` given to handlers and
 * the `stream` returned by `realtime.sse()`. Adapters subclass it and keep their native handle in
 * one field.
 */
export abstract class Connection<Events extends EventMap = EventMap> {
  // At most ten own fields, so an adapter's connection with two more stays in JSC's 112-byte
  // layout (and V8's objects stay small): three flags share one number, and what most idle
  // connections never use lives in one object made on first use (`extras`).
  /** The id once made (see {@link Connection.id}). */
  private idHeld: string | undefined = undefined
  /** The user this connection belongs to, from `identify` or the per-call `userId`. */
  userId: string | undefined
  /** Adapter API; not for application code. */ handlers: ConnectionHandlers<Events>
  /** Adapter API; not for application code. */ owner: ConnectionOwner
  /** Adapter API: last position seen per stream (key `b`, `u`, `c.<name>`), for resume and dedup. */
  readonly cursors: CursorMap = new CursorMap()
  /** Adapter API: the channels (see {@link Connection.channels}); undefined while there are none. */
  channelSet: Set<string> | undefined = undefined
  /** The request, or what it is rebuilt from once compacted (see {@link Connection.compactRequest}). */
  private requestHeld: Request | string | RequestHead
  /** `alive`, `isClosed` and `nativeFanOut`, one bit each. */
  private flags = ALIVE
  /** Rate-limit window, replay queues, close intent and `data`: made on first use. */
  private extras: ConnectionExtras | undefined = undefined

  constructor(
    /** The transport. */
    readonly transport: Transport,
    request: Request,
    owner: ConnectionOwner,
    handlers: ConnectionHandlers<Events>,
    userId: string | undefined,
  ) {
    this.requestHeld = request
    this.owner = owner
    this.handlers = handlers
    this.userId = userId
  }

  /**
   * Unique id (a random UUID, see {@link Connection.createId}), stable for the life of the
   * connection. Made on first read: a connection whose id nobody asked for keeps none, and
   * `realtime.connection(id)` can only be asked for ids that were read.
   */
  get id(): string {
    const held = this.idHeld
    if (held !== undefined) return held
    const id = (this.idHeld = this.createId())
    this.owner.idMade?.(this)
    return id
  }

  /** Adapter API: the id if it was made already, else undefined (reading it makes none). */
  get madeId(): string | undefined {
    return this.idHeld
  }

  /**
   * Adapter API: gives a connection restored after the runtime dropped it (a hibernated Durable
   * Object) the id it had. Only before the connection is registered.
   */
  protected restoreId(id: string): void {
    this.idHeld = id
  }

  /** Adapter API: answered the last heartbeat (default true). */
  get alive(): boolean {
    return (this.flags & ALIVE) !== 0
  }
  set alive(value: boolean) {
    this.flags = value ? this.flags | ALIVE : this.flags & ~ALIVE
  }

  /** Adapter API; not for application code. True once the transport is gone. */
  get isClosed(): boolean {
    return (this.flags & CLOSED) !== 0
  }
  set isClosed(value: boolean) {
    this.flags = value ? this.flags | CLOSED : this.flags & ~CLOSED
  }

  /**
   * Adapter API: true when the platform delivers topic messages to this connection natively
   * (`Platform.publish`), so the core does not write them itself (default false).
   */
  get nativeFanOut(): boolean {
    return (this.flags & NATIVE_FAN_OUT) !== 0
  }
  set nativeFanOut(value: boolean) {
    this.flags = value ? this.flags | NATIVE_FAN_OUT : this.flags & ~NATIVE_FAN_OUT
  }

  /** Adapter API: start of the current rate-limit window (default 0). */
  get rateWindow(): number {
    return this.extras === undefined ? 0 : this.extras.rateWindow
  }
  set rateWindow(value: number) {
    if (this.extras !== undefined || value !== 0) (this.extras ??= new ConnectionExtras()).rateWindow = value
  }

  /** Adapter API: messages received in the current rate-limit window (default 0). */
  get rateCount(): number {
    return this.extras === undefined ? 0 : this.extras.rateCount
  }
  set rateCount(value: number) {
    if (this.extras !== undefined || value !== 0) (this.extras ??= new ConnectionExtras()).rateCount = value
  }

  /** Adapter API: streams being replayed; live messages wait here until the replay is written. */
  get replaying(): Map<string, Outbound[]> | undefined {
    return this.extras?.replaying
  }
  set replaying(value: Map<string, Outbound[]> | undefined) {
    if (this.extras !== undefined || value !== undefined) (this.extras ??= new ConnectionExtras()).replaying = value
  }

  /**
   * Adapter API: the code and reason the server closed with, reported to `onClose` even when the
   * transport ends without a close handshake (a peer that stopped reading never acknowledges).
   */
  get closeIntent(): { code: number; reason: string } | undefined {
    return this.extras?.closeIntent
  }
  set closeIntent(value: { code: number; reason: string } | undefined) {
    if (this.extras !== undefined || value !== undefined) (this.extras ??= new ConnectionExtras()).closeIntent = value
  }

  /**
   * Adapter API: the id of a connection, called once, when `id` is first read. The default is a
   * random UUID copied into one flat string (V8's `crypto.randomUUID()` returns a rope of about
   * 500 bytes); an adapter whose engine keeps `crypto.randomUUID()` flat can return it as it is.
   */
  protected createId(): string {
    return flatUuid()
  }

  /**
   * The request that opened the connection. Once the connection is set up (its `onOpen` and
   * opening streams done), a WebSocket connection keeps only the method, URL and headers of it,
   * and this is an equal `Request` rebuilt on first access (not the handler's own object; its
   * signal aborts when the connection closes). Idle connections stay small that way.
   */
  get request(): Request {
    const held = this.requestHeld
    if (typeof held !== 'string' && !(held instanceof RequestHead)) return held
    const controller = new AbortController()
    if (this.isClosed) controller.abort()
    else rebuiltRequestControllers.set(this, controller)
    const request = rebuildRequest(held, controller.signal)
    this.requestHeld = request
    return request
  }

  /** Channels this connection is a member of. Read-only: use `join` / `leave`. */
  get channels(): ReadonlySet<string> {
    return this.channelSet ?? NO_CHANNELS
  }

  /** Free-form state for the application; the library never reads it. An object made on first access. */
  get data(): Record<string, unknown> {
    return ((this.extras ??= new ConnectionExtras()).data ??= {})
  }

  set data(value: Record<string, unknown>) {
    ;(this.extras ??= new ConnectionExtras()).data = value
  }

  /**
   * Adapter API: lets go of the opening `Request`, keeping its method, URL and header lines (in
   * one string, or `headerLines` itself when `keepList`); `request` rebuilds an equal one when
   * read, without the headers of the WebSocket handshake itself when joined (`Connection`,
   * `Upgrade`, `Sec-WebSocket-Key`, `-Version` and `-Extensions`: they described an upgrade that
   * is over). The core calls it once a WebSocket connection is set up. No-op when already compact.
   * @param headerLines - `name, value, name, value, ...` (default: read from the request's headers;
   *   names starting with `:` are skipped)
   * @param keepList - keep `headerLines` by reference (something else keeps that list alive anyway)
   */
  compactRequest(headerLines?: readonly string[], keepList = false): void {
    const held = this.requestHeld
    if (typeof held === 'string' || held instanceof RequestHead) return
    const compact = compactRequest(held, headerLines, keepList)
    this.requestHeld = typeof compact === 'string' ? this.keptString(compact) : compact
  }

  /**
   * The string {@link compactRequest} keeps (adapter hook; default: `text` itself, which V8 made
   * flat). An adapter for an engine whose joined strings stay ropes (JavaScriptCore) returns a flat copy.
   */
  protected keptString(text: string): string {
    return text
  }

  /** False once the connection has closed. */
  get open(): boolean {
    return !this.isClosed
  }

  /** Outbound bytes queued for this connection and not yet taken by the peer. */
  abstract get bufferedAmount(): number

  /**
   * Sends to this connection only. A string goes out as raw text (a WebSocket text frame, or SSE
   * `data:` lines without an event name); a `{ event, data }` object is encoded as the protocol
   * says. Direct sends are not stored in history and not resumable. Returns false (and sends
   * nothing) when the connection is closed. Throws `REALTIME_INVALID_MESSAGE` /
   * `REALTIME_INVALID_FIELD` for a message that cannot be encoded.
   */
  send(message: string | RealtimeMessage<Events>): boolean {
    if (this.isClosed) return false
    if (typeof message === 'string') this.writeText(message)
    else this.write(toOutbound(message))
    return true
  }

  /**
   * Adds this connection to `channel` from server code (no `authorize` check; `onJoin` runs).
   * Resolves to false when the connection is closed or the name is invalid.
   */
  join(channel: string): Promise<boolean> {
    return this.owner.join(this, channel, true)
  }

  /** Removes this connection from `channel` (`onLeave` runs). Returns false if it was not a member. */
  leave(channel: string): boolean {
    return this.owner.leave(this, channel)
  }

  /**
   * Closes the connection. WebSocket peers get a close frame with `code` and `reason`; SSE
   * streams end. `onClose` runs once.
   * @param code - WebSocket close code (default 1000)
   * @param reason - close reason, at most 123 bytes (default '')
   */
  close(code: number = CLOSE_CODES.NORMAL, reason = ''): void {
    if (this.isClosed) return
    this.closeIntent ??= { code, reason }
    this.closeTransport(code, reason)
  }

  /**
   * Drops the connection at once, without a closing handshake (dead peers, shutdown timeout).
   * Adapters override it to destroy the native socket; `onClose` runs with code 1006.
   */
  terminate(): void {
    this.transportClosed(1006, 'terminated')
  }

  /**
   * Adapter API: more than `maxBufferedBytes` wait for this connection after a write. Hands it to
   * the owner's slow-consumer policy (4001, a grace period, then destroyed), the one policy for
   * direct sends and broadcasts alike; adapters call this rather than closing the transport.
   */
  protected cutSlowConsumer(): void {
    const owner = this.owner
    if (owner.slowConsumer) owner.slowConsumer(this)
    else this.close(CLOSE_CODES.SLOW_CONSUMER, 'slow consumer')
  }

  /** Adapter API: Writes an encoded message. */
  abstract write(outbound: Outbound): void
  /** Adapter API: Writes raw text. */
  abstract writeText(text: string): void
  /** Adapter API: Called once per heartbeat interval. */
  abstract heartbeat(): void
  /** Adapter API: Starts closing the transport; the adapter reports the end through `transportClosed`. */
  protected abstract closeTransport(code: number, reason: string): void

  /** Adapter API: Adapters call this exactly when the transport is gone. Idempotent. */
  transportClosed(code: number, reason: string): void {
    if (this.isClosed) return
    this.isClosed = true
    rebuiltRequestControllers.get(this)?.abort()
    const intent = this.closeIntent
    if (intent && (code === 1005 || code === 1006)) this.owner.closed(this, intent.code, intent.reason)
    else this.owner.closed(this, code, reason)
  }

  /**
   * Adapter API: one beat of the ping/pong heartbeat, for adapters whose runtime sends WebSocket
   * pings: a peer that has not answered (a pong or any message, which set `alive`) since the last
   * beat is terminated, and `onClose` gets 1006 `heartbeat timeout`; otherwise it is pinged again.
   */
  protected pingOrTerminate(ping: (connection: this) => void): void {
    if (!this.alive) {
      this.closeIntent ??= { code: 1006, reason: 'heartbeat timeout' }
      this.terminate()
      return
    }
    this.alive = false
    ping(this)
  }

  /**
   * Adapter API: the peer sent a binary frame, which the protocol does not carry: reported
   * (`REALTIME_UNSUPPORTED_DATA`) and the connection closed with 1003.
   */
  receiveBinary(): void {
    this.transportError(new RealtimeError('REALTIME_UNSUPPORTED_DATA', 'binary frames are not supported; send text'))
    this.close(CLOSE_CODES.UNSUPPORTED_DATA, 'binary frames are not supported')
  }

  /** Adapter API: Adapters call this for each inbound text message. */
  receive(text: string): void {
    if (!this.isClosed) this.owner.receive(this, text)
  }

  /** Adapter API: Adapters call this for transport failures. */
  transportError(error: unknown): void {
    this.owner.reportError(
      this,
      RealtimeError.isInstance(error)
        ? error
        : new RealtimeError('REALTIME_TRANSPORT_ERROR', `transport error: ${(error as Error)?.message ?? String(error)}`, { cause: error }),
    )
  }
}

const ALIVE = 1
const CLOSED = 2
const NATIVE_FAN_OUT = 4

/** The state of a connection that most idle connections never need, made on first use. */
class ConnectionExtras {
  rateWindow = 0
  rateCount = 0
  replaying: Map<string, Outbound[]> | undefined = undefined
  closeIntent: { code: number; reason: string } | undefined = undefined
  data: Record<string, unknown> | undefined = undefined
}

/** Signals of requests rebuilt from compact form, aborted when their connection closes. */
const rebuiltRequestControllers = new WeakMap<Connection<any>, AbortController>()

/** `channels` of a connection in none: read-only, shared. */
class NoChannels extends Set<string> {
  override add(): this {
    throw new TypeError('connection.channels is read-only: use connection.join(channel)')
  }
}
const NO_CHANNELS: ReadonlySet<string> = new NoChannels()
