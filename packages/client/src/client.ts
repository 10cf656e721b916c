// The public client (`connect`, `RealtimeClient`): what the application calls, wired to the modules that do the work over one state (state.ts).
import type { AnyClientEvents, ClientEventData, ClientEventMap, ClientEventResult, EventMap } from '@loewen-digital/realtime-core'
import { cursorMap, sync } from './channels.js'
import { close, open, send } from './connection.js'
import { parseCursorMap, streamKey } from './cursor-map.js'
import { frameProblem } from './frame.js'
import { request } from './requests.js'
import type { AnyHandler, ClientState } from './state.js'
import type { ClientEvents, ClientOptions, ConnectionState, Handler, RequestOptions } from './types.js'

export { RequestError } from './requests.js'

/** `emit`'s data argument: optional when the event's data may be undefined. */
type EventArgs<Client extends ClientEventMap, Name extends keyof Client> =
  undefined extends ClientEventData<Client, Name> ? [data?: ClientEventData<Client, Name>] : [data: ClientEventData<Client, Name>]

/**
 * A connection to a `@loewen-digital/realtime` server over SSE or WebSocket that reconnects by
 * itself, rejoins its channels and resumes every stream from the last cursor it saw. Create it
 * with {@link connect}.
 */
export class RealtimeClient<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents> {
  readonly #s: ClientState

  /** Use {@link connect}. */
  constructor(url: string | URL, options: ClientOptions<Events, Client> = {}) {
    const base = new URL(url, (globalThis as { location?: { href: string } }).location?.href)
    const websocket = options.transport === 'websocket'
    if (!websocket && options.transport !== undefined && options.transport !== 'sse') {
      throw new TypeError(`transport must be 'sse' or 'websocket', got ${String(options.transport)}`)
    }
    const transport = websocket ? (options.WebSocket ?? globalThis.WebSocket) : (options.EventSource ?? globalThis.EventSource)
    if (!transport) {
      throw new TypeError(
        websocket
          ? 'no WebSocket here: pass options.WebSocket (for example from the ws package)'
          : 'no EventSource here: pass options.EventSource (for example from the eventsource package)',
      )
    }
    const s: ClientState = (this.#s = {
      _url: base,
      _options: options,
      _websocket: websocket,
      _transport: transport,
      _handlers: new Map(),
      _channels: new Set(base.searchParams.getAll('channel')),
      _joined: new Set(),
      // A saved cursor map that does not parse (say, corrupted storage) is ignored: start from now.
      _cursors: parseCursorMap(options.lastEventId ?? '') ?? new Map(),
      _state: 'connecting',
      _attempt: 0,
      _pending: new Map(),
      _prefix: Math.random().toString(36).slice(2, 10),
      _sequence: 0,
    })
    for (const channel of options.channels ?? []) this.subscribe(channel)
    open(s)
  }

  /** Where the connection stands; starts at `connecting`. */
  get state(): ConnectionState {
    return this.#s._state
  }

  /** The server's id of the current connection (from `realtime:connected`). */
  get id(): string | undefined {
    return this.#s._id
  }

  /**
   * The cursor map of what the client has received (`b=…,u=…,c.orders=…`): give it as the
   * `lastEventId` option of a later `connect` to resume from here.
   */
  get cursor(): string {
    return cursorMap(this.#s)
  }

  /** The channels the client is in or is joining. */
  get channels(): string[] {
    return [...this.#s._channels]
  }

  /**
   * Calls `handler(data, message)` for every `event`: an event of your map (typed), or one of the
   * `realtime:` events ({@link ControlEvents}). Returns a function that removes the handler.
   */
  on<Name extends keyof ClientEvents<Events> & string>(event: Name, handler: Handler<Events, Name>): () => void {
    const s = this.#s
    let handlers = s._handlers.get(event)
    if (!handlers) s._handlers.set(event, (handlers = new Set()))
    handlers.add(handler as AnyHandler)
    s._wire?._listen?.(event)
    return () => void handlers.delete(handler as AnyHandler)
  }

  /**
   * Joins `channel` (subject to the server's `authorize`). WebSocket: a `realtime:subscribe`
   * frame. SSE: the stream reconnects with the new channel set and resumes, so nothing is missed.
   * A refused join arrives as `realtime:error` (`REALTIME_FORBIDDEN`) and drops the channel.
   */
  subscribe(channel: string): void {
    if (frameProblem({ event: '', channel })) throw new TypeError('a channel name must be a well-formed string')
    if (this.#s._channels.has(channel)) return
    this.#s._channels.add(channel)
    sync(this.#s)
  }

  /** Leaves `channel` (WebSocket: `realtime:unsubscribe`; SSE: reconnects without it). */
  unsubscribe(channel: string): void {
    if (!this.#s._channels.delete(channel)) return
    this.#s._cursors.delete(streamKey(channel))
    sync(this.#s)
  }

  /**
   * WebSocket: sends a text frame to the server's `onMessage` (a string as is, anything else as
   * JSON). Returns false, sending nothing, when the socket is not open or the transport is SSE.
   */
  send(message: unknown): boolean {
    return send(this.#s, message)
  }

  /**
   * WebSocket: sends event `event` with `data` to the server's `realtime.on(event)` handler (or
   * its `onMessage` when it has none). Returns false, sending nothing, when the socket is not open
   * or the transport is SSE; it does not queue.
   */
  emit<Name extends keyof Client & string>(event: Name, ...[data]: EventArgs<Client, Name>): boolean {
    return this.send({ event, data })
  }

  /**
   * WebSocket: asks the server's `realtime.on(event)` handler and resolves with what it returns.
   * Made while the client is (re)connecting, the request waits for the connection, within its
   * `timeout`. Rejects with a {@link RequestError}: the server's code when the handler failed
   * (the code of the `RealtimeError` it threw, `REALTIME_INVALID_DATA`, `REALTIME_UNKNOWN_EVENT`,
   * `REALTIME_HANDLER_ERROR`), `REALTIME_TIMEOUT` when no answer came within `timeout` (default
   * 10000 ms), `REALTIME_DISCONNECTED` when the connection dropped before the answer (unless
   * `resend`), `REALTIME_CLOSED` after `close()`, `REALTIME_UNSUPPORTED` over SSE.
   */
  request<Name extends keyof Client & string>(
    event: Name,
    data: ClientEventData<Client, Name>,
    options: RequestOptions = {},
  ): Promise<ClientEventResult<Client, Name>> {
    return request(this.#s, event, data, options)
  }

  /** Closes the connection for good (state `closed`); no reconnect follows. */
  close(): void {
    close(this.#s)
  }
}

/**
 * Connects to a realtime endpoint and returns the client.
 *
 * @param url - the endpoint: an SSE route (`/events`) or a WebSocket route (`/ws`, `ws(s)://` or
 *   `http(s)://`); relative URLs resolve against the page. `channel` query parameters join channels.
 * @param options - {@link ClientOptions}; every option has a default (`transport: 'sse'`, no
 *   channels, reconnect on with 1000–30000 ms backoff, messages up to 1 MiB, the platform's
 *   `EventSource`/`WebSocket`). What the server sends is checked before use: a malformed frame is
 *   reported as `realtime:error` `REALTIME_BAD_FRAME` and dropped, and nothing it sends can throw.
 *
 * @example
 * ```ts
 * type Events = { 'new-order': { id: number } }
 * const client = connect<Events>('/events', { channels: ['orders'] })
 * client.on('new-order', (order) => console.log(order.id))
 * client.on('realtime:gap', ({ channel }) => refetch(channel))
 * ```
 */
export function connect<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents>(
  url: string | URL,
  options?: ClientOptions<Events, Client>,
): RealtimeClient<Events, Client> {
  return new RealtimeClient<Events, Client>(url, options)
}
