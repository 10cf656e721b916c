import type { AnyClientEvents, ClientEventData, ClientEventMap, ClientEventResult, EventMap } from '@loewen-digital/realtime-core'
import { formatCursorMap, isNewer, parseCursorMap, streamKey } from './cursor-map.js'
import { frameProblem } from './frame.js'
import { isFinalCloseCode, isFinalStatus, later, MAX_TIMER, reconnectDelay, STABLE_SESSION } from './reconnect-policy.js'
import type { StandardSchemaV1 } from './standard-schema.js'
import type {
  ClientEvents,
  ClientOptions,
  ConnectionState,
  EventSourceConstructor,
  EventSourceLike,
  Handler,
  ReceivedMessage,
  RequestOptions,
  StateChange,
  WebSocketConstructor,
  WebSocketLike,
} from './types.js'

/** `emit`'s data argument: optional when the event's data may be undefined. */
type EventArgs<Client extends ClientEventMap, Name extends keyof Client> = undefined extends ClientEventData<Client, Name> ? [data?: ClientEventData<Client, Name>] : [data: ClientEventData<Client, Name>]

/** The namespace of protocol and client events (docs/protocol.md). */
const PREFIX = 'realtime:'
/** Control events the server sends over SSE as named events. */
const SSE_CONTROL = ['connected', 'subscribed', 'unsubscribed', 'gap', 'error', 'reconnect', 'pong', 'heartbeat']

type Message = ReceivedMessage<string, any>
type AnyHandler = (data: any, message: Message) => void

/** A request waiting for its answer. */
interface Pending {
  frame: string
  resolve: (value: any) => void
  reject: (error: RequestError) => void
  timer: ReturnType<typeof setTimeout> | undefined
  /** Sent on the current socket (false: waits for the connection to open). */
  sent: boolean
  resend: boolean
}

/**
 * Why `client.request()` rejected. `code` is the server's (`REALTIME_UNKNOWN_EVENT`,
 * `REALTIME_INVALID_DATA` with `issues`, `REALTIME_HANDLER_ERROR`, or the code of the
 * `RealtimeError` the handler threw) or the client's: `REALTIME_TIMEOUT`, `REALTIME_DISCONNECTED`,
 * `REALTIME_CLOSED`, `REALTIME_UNSUPPORTED` (SSE cannot send).
 */
export class RequestError extends Error {
  readonly code: string
  readonly issues?: ReadonlyArray<{ message: string; path?: ReadonlyArray<unknown> }>
  constructor(code: string, message: string, issues?: RequestError['issues']) {
    super(message)
    this.name = 'RequestError'
    this.code = code
    if (issues) this.issues = issues
  }
}

/**
 * A connection to a `@loewen-digital/realtime` server over SSE or WebSocket that reconnects by
 * itself, rejoins its channels and resumes every stream from the last cursor it saw. Create it
 * with {@link connect}.
 */
export class RealtimeClient<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents> {
  readonly #url: URL
  readonly #options: ClientOptions<Events, Client>
  readonly #websocket: boolean
  readonly #handlers = new Map<string, Set<AnyHandler>>()
  readonly #channels: Set<string>
  /** Cursor-map key -> `epoch:offset` of the newest message seen per stream. */
  #cursors: Map<string, string>
  #lastEventId = ''
  #state: ConnectionState = 'connecting'
  #id: string | undefined
  #source: EventSourceLike | undefined
  #listen: ((event: string) => void) | undefined
  #socket: WebSocketLike | undefined
  /** WebSocket: the channels the current socket joined or asked to join. */
  #joined = new Set<string>()
  /** Failed attempts (and short sessions) in a row: the exponent of the backoff. */
  #attempt = 0
  /** When the current session got `realtime:connected` (0: not yet). */
  #openedAt = 0
  #timer: ReturnType<typeof setTimeout> | undefined
  #reopening = false
  /** SSE: when the current stream last delivered anything (its heartbeats included). */
  #heard = 0
  /** Set while an asynchronous schema validation holds later messages back (keeps their order). */
  #queue: Promise<void> | undefined
  /** Requests waiting for an answer, by id. */
  readonly #pending = new Map<string, Pending>()
  /** Request ids: a random prefix per client and a counter that never restarts (reconnects included). */
  readonly #prefix = Math.random().toString(36).slice(2, 10)
  #sequence = 0

  /** Use {@link connect}. */
  constructor(url: string | URL, options: ClientOptions<Events, Client> = {}) {
    this.#url = new URL(url, (globalThis as { location?: { href: string } }).location?.href)
    this.#options = options
    this.#websocket = options.transport === 'websocket'
    if (!this.#websocket && options.transport !== undefined && options.transport !== 'sse') {
      throw new TypeError(`transport must be 'sse' or 'websocket', got ${String(options.transport)}`)
    }
    if (!(this.#websocket ? (options.WebSocket ?? globalThis.WebSocket) : (options.EventSource ?? globalThis.EventSource))) {
      throw new TypeError(
        this.#websocket ? 'no WebSocket here: pass options.WebSocket (for example from the ws package)' : 'no EventSource here: pass options.EventSource (for example from the eventsource package)',
      )
    }
    this.#channels = new Set(this.#url.searchParams.getAll('channel'))
    for (const channel of options.channels ?? []) this.subscribe(channel)
    // A saved cursor map that does not parse (say, corrupted storage) is ignored: start from now.
    this.#cursors = parseCursorMap(options.lastEventId ?? '') ?? new Map()
    this.#open()
  }

  /** Where the connection stands; starts at `connecting`. */
  get state(): ConnectionState {
    return this.#state
  }

  /** The server's id of the current connection (from `realtime:connected`). */
  get id(): string | undefined {
    return this.#id
  }

  /**
   * The cursor map of what the client has received (`b=…,u=…,c.orders=…`): give it as the
   * `lastEventId` option of a later `connect` to resume from here.
   */
  get cursor(): string {
    const keys = new Set(['b', 'u', ...[...this.#channels].map(streamKey)])
    return formatCursorMap([...this.#cursors].filter(([key]) => keys.has(key)))
  }

  /** The channels the client is in or is joining. */
  get channels(): string[] {
    return [...this.#channels]
  }

  /**
   * Calls `handler(data, message)` for every `event`: an event of your map (typed), or one of the
   * `realtime:` events ({@link ControlEvents}). Returns a function that removes the handler.
   */
  on<Name extends keyof ClientEvents<Events> & string>(event: Name, handler: Handler<Events, Name>): () => void {
    let handlers = this.#handlers.get(event)
    if (!handlers) this.#handlers.set(event, (handlers = new Set()))
    handlers.add(handler as AnyHandler)
    this.#listen?.(event)
    return () => void handlers.delete(handler as AnyHandler)
  }

  /**
   * Joins `channel` (subject to the server's `authorize`). WebSocket: a `realtime:subscribe`
   * frame. SSE: the stream reconnects with the new channel set and resumes, so nothing is missed.
   * A refused join arrives as `realtime:error` (`REALTIME_FORBIDDEN`) and drops the channel.
   */
  subscribe(channel: string): void {
    if (frameProblem({ event: '', channel })) throw new TypeError('a channel name must be a well-formed string')
    if (this.#channels.has(channel)) return
    this.#channels.add(channel)
    this.#sync()
  }

  /** Leaves `channel` (WebSocket: `realtime:unsubscribe`; SSE: reconnects without it). */
  unsubscribe(channel: string): void {
    if (!this.#channels.delete(channel)) return
    this.#cursors.delete(streamKey(channel))
    this.#sync()
  }

  /**
   * WebSocket: sends a text frame to the server's `onMessage` (a string as is, anything else as
   * JSON). Returns false, sending nothing, when the socket is not open or the transport is SSE.
   */
  send(message: unknown): boolean {
    const socket = this.#socket
    if (socket?.readyState !== 1) return false
    socket.send(typeof message === 'string' ? message : JSON.stringify(message))
    return true
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
  request<Name extends keyof Client & string>(event: Name, data: ClientEventData<Client, Name>, options: RequestOptions = {}): Promise<ClientEventResult<Client, Name>> {
    return new Promise((resolve, reject) => {
      if (!this.#websocket) return reject(new RequestError('REALTIME_UNSUPPORTED', 'request() needs the WebSocket transport'))
      if (this.#state === 'closed') return reject(new RequestError('REALTIME_CLOSED', 'the client is closed'))
      const id = this.#prefix + (++this.#sequence).toString(36)
      const pending: Pending = {
        frame: JSON.stringify({ event: PREFIX + 'request', data: { id, event, data } }),
        resolve,
        reject,
        timer: undefined,
        sent: false,
        resend: options.resend === true,
      }
      const timeout = options.timeout
      const wait = typeof timeout === 'number' && timeout >= 0 ? Math.min(timeout, MAX_TIMER) : 10_000
      pending.timer = setTimeout(() => this.#settle(id, new RequestError('REALTIME_TIMEOUT', `no answer to ${event} within ${wait} ms`)), wait)
      this.#pending.set(id, pending)
      this.#flush()
    })
  }

  /** Closes the connection for good (state `closed`); no reconnect follows. */
  close(): void {
    if (this.#state === 'closed') return
    for (const id of [...this.#pending.keys()]) this.#settle(id, new RequestError('REALTIME_CLOSED', 'the client was closed before the answer'))
    clearTimeout(this.#timer)
    this.#source?.close()
    this.#socket?.close(1000)
    this.#source = this.#socket = this.#listen = undefined
    this.#setState('closed')
  }

  // ---- connecting ------------------------------------------------------------------------

  #open(): void {
    clearTimeout(this.#timer)
    this.#openedAt = 0
    if (!this.#options.auth) return this.#connect()
    this.#token().then(
      (token) => this.#state !== 'closed' && this.#connect(token),
      () => this.#lost(),
    )
  }

  /** A token from the `auth` callback; a failure is reported (`REALTIME_AUTH_FAILED`) and rejects. */
  #token(): Promise<string> {
    return new Promise<string>((resolve) => resolve(this.#options.auth!())).catch((cause) => {
      this.#fail('REALTIME_AUTH_FAILED', 'auth() failed', { cause })
      throw cause
    })
  }

  #connect(token?: string): void {
    const url = new URL(this.#url)
    const params = url.searchParams
    params.delete('channel')
    params.delete('lastEventId')
    params.delete('resume')
    for (const channel of this.#channels) params.append('channel', channel)
    if (token !== undefined) params.set('token', token)
    const cursor = this.cursor
    if (cursor) params.set('lastEventId', cursor)
    // SSE: heartbeats as events (EventSource hides comment lines), for the dead-peer timer.
    if (!this.#websocket) {
      params.set('heartbeat', '1')
      return this.#openSse(url.href)
    }
    if (!cursor) params.set('resume', '1') // asks for realtime:connected with the starting cursors
    url.protocol = url.protocol.replace('http', 'ws')
    this.#openWebSocket(url.href)
  }

  #openSse(href: string): void {
    const options = this.#options
    const Source: EventSourceConstructor = options.EventSource ?? globalThis.EventSource
    const source = new Source(href, { withCredentials: options.withCredentials === true })
    const listening = new Set<string>()
    // EventSource delivers named events only to listeners of that name.
    const listen = (event: string) => {
      if (listening.has(event)) return
      listening.add(event)
      source.addEventListener(event, (message: MessageEvent) => {
        if (source === this.#source) this.#guard(() => this.#sseMessage(event, message))
      })
    }
    this.#source = source
    this.#listen = listen
    listen('message')
    for (const name of SSE_CONTROL) listen(PREFIX + name)
    for (const name of this.#handlers.keys()) listen(name)
    source.onerror = (event) => {
      if (source === this.#source) this.#guard(() => this.#sseError(source, event, href))
    }
  }

  #sseMessage(event: string, message: MessageEvent): void {
    this.#heard = Date.now()
    if (event === PREFIX + 'heartbeat') return
    const text = message.data
    // The server writes the whole cursor map as the id; EventSource repeats the last one on later
    // events, so a new one is checked (and a bad one reported) once, and never stored.
    const id = message.lastEventId
    if (id && id !== this.#lastEventId) {
      this.#lastEventId = id
      const cursors = parseCursorMap(id)
      if (cursors) this.#cursors = cursors
      else this.#bad('id: not a cursor map')
    }
    if (this.#tooBig(text)) return
    if (event === 'message') return this.#receive({ event: PREFIX + 'raw', data: text })
    let data: unknown
    try {
      data = JSON.parse(text)
    } catch {
      return this.#bad(event + ': data is not JSON')
    }
    this.#accept({ event, data })
  }

  /**
   * The stream failed. The client never lets `EventSource` reconnect by itself (it would wait the
   * server's `retry:`, which no option bounds): it closes it and reconnects by its own policy.
   */
  #sseError(source: EventSourceLike, event: { code?: number; status?: number; retryAfter?: string | null } | undefined, href: string): void {
    source.close()
    this.#source = this.#listen = undefined
    // The fetch transport (`./fetch`) knows the status of a refusal: no need to ask again.
    if (event?.status) return this.#lost(event.status, undefined, undefined, event.retryAfter)
    const fetcher = this.#options.fetch ?? globalThis.fetch
    // Set up, then ended: the server is there; reconnect.
    if (this.#openedAt || !fetcher) return this.#lost(event?.code)
    // It failed before realtime:connected, and EventSource does not show why. Ask again to learn
    // the status and Retry-After, then drop the answer. EventSource follows redirects itself: a
    // redirect is followed here too, and one that leads nowhere (a loop) refuses for good.
    const ask = async (redirect: RequestRedirect) => {
      const controller = new AbortController()
      const response = await fetcher(href, {
        headers: { accept: 'text/event-stream' },
        credentials: this.#options.withCredentials ? 'include' : 'same-origin',
        signal: controller.signal,
        redirect,
      })
      controller.abort()
      return response
    }
    ask('manual')
      .then(async (response) => {
        // A browser hides the status of a redirect it did not follow: 300 stands for it.
        const redirect = response.type === 'opaqueredirect' ? 300 : response.status >= 300 && response.status < 400 ? response.status : 0
        if (redirect) response = await ask('follow').catch(() => ({ status: redirect, headers: response.headers }) as Response)
        this.#lost(response.status === 200 ? undefined : response.status, undefined, undefined, response.headers.get('retry-after'))
      })
      .catch(() => this.#lost(event?.code))
  }

  #openWebSocket(href: string): void {
    const Socket: WebSocketConstructor = this.#options.WebSocket ?? globalThis.WebSocket
    const socket = new Socket(href, this.#options.protocols)
    let status: number | undefined
    let retryAfter: string | undefined
    this.#socket = socket
    this.#joined = new Set(this.#channels)
    // Liveness: ping every interval; a socket that sent nothing since the last ping is dead.
    let heard = true
    const interval = Math.min(this.#number('pingInterval', 25_000), MAX_TIMER)
    const pinger =
      interval > 0
        ? setInterval(() => {
            if (socket !== this.#socket) return clearInterval(pinger)
            if (socket.readyState !== 1) return
            if (!heard) {
              clearInterval(pinger)
              this.#socket = undefined
              socket.close(4000, 'heartbeat timeout')
              return this.#lost(undefined, 4000, 'heartbeat timeout')
            }
            heard = false
            this.#control('ping', null)
          }, interval)
        : undefined
    socket.onmessage = (event) => {
      heard = true
      if (socket === this.#socket) this.#guard(() => this.#socketMessage(event.data))
    }
    // `ws` (Node) shows a refused handshake's status and headers; browsers, Deno, Bun and undici hide them.
    ;(socket as { on?: (...args: any[]) => unknown }).on?.('unexpected-response', (_request: unknown, response: { statusCode: number; headers: Record<string, string> }) => {
      status = response.statusCode
      retryAfter = response.headers['retry-after']
      socket.close() // ends the handshake: error, then close 1006
    })
    const closed = (code?: number, reason?: string) => {
      clearInterval(pinger)
      if (socket !== this.#socket) return
      this.#socket = undefined
      this.#guard(() => this.#lost(status, code, reason, retryAfter))
    }
    socket.onerror = (event) => {
      status ||= Number(/response: (\d{3})/.exec(event?.message)?.[1]) || undefined
      // undici (Node 20) reports a refused handshake with an error and no close: do not wait for one.
      if (socket.readyState !== 1) {
        setTimeout(() => {
          if (socket.readyState === 1) return
          socket.close()
          closed(1006)
        }, 100)
      }
    }
    socket.onclose = (event) => closed(event?.code, event?.reason)
  }

  #socketMessage(text: unknown): void {
    if (typeof text !== 'string') return this.#bad('a binary frame')
    if (this.#tooBig(text)) return
    let frame: Message | undefined
    try {
      frame = JSON.parse(text)
    } catch {}
    if (typeof frame?.event === 'string') this.#accept(frame)
    else this.#receive({ event: PREFIX + 'raw', data: text })
  }

  /**
   * SSE dead-peer timer: a stream that delivered nothing (not even a heartbeat) for two heartbeat
   * intervals, at least 2 s, is dead: close it, reconnect and resume.
   */
  #watch(source: EventSourceLike, heartbeat: number): void {
    const limit = Math.min(Math.max(2 * heartbeat, 2000), MAX_TIMER)
    const timer = setInterval(() => {
      if (source !== this.#source) return clearInterval(timer)
      if (Date.now() - this.#heard <= limit) return
      clearInterval(timer)
      source.close()
      this.#source = this.#listen = undefined
      this.#lost(undefined, 4000, 'heartbeat timeout')
    }, limit / 2)
  }

  /** The connection is gone: reconnect after a delay, or stop when the server said so. */
  #lost(status?: number, code?: number, reason?: string, retryAfter?: string | null): void {
    if (this.#state === 'closed' || this.#source || this.#socket) return
    // Requests sent on the lost socket: the server may or may not have run them.
    for (const [id, pending] of [...this.#pending]) {
      if (!pending.sent) continue
      if (pending.resend) pending.sent = false
      else this.#settle(id, new RequestError('REALTIME_DISCONNECTED', 'the connection dropped before the answer'))
    }
    const detail: Partial<StateChange> = { status, code, reason }
    // A session that lasted starts the backoff over; a short one counts as another failure.
    if (this.#openedAt && Date.now() - this.#openedAt >= STABLE_SESSION) this.#attempt = 0
    this.#openedAt = 0
    let delay = -1
    if ((status && isFinalStatus(status)) || (code !== undefined && isFinalCloseCode(code))) {
      if (code !== 1000) {
        this.#fail(
          'REALTIME_REFUSED',
          status
            ? `the server refused the connection (HTTP ${status}${status > 299 && status < 400 ? ': a redirect the transport could not follow, or a loop' : ''})`
            : `the server closed the connection (${code}${reason ? ': ' + reason : ''})`,
          { status, closeCode: code },
        )
      }
    } else if (this.#options.reconnect !== false) {
      delay = reconnectDelay(
        this.#attempt,
        this.#number('reconnectDelay', 1000),
        this.#number('maxReconnectDelay', 30_000),
        status === 429 || status === 503 || code === 1008 || code === 1013 ? later(retryAfter) : 0,
      )
    }
    this.#attempt++
    if (delay < 0) return this.#setState('closed', detail)
    detail.delay = delay
    this.#setState('reconnecting', detail)
    this.#timer = setTimeout(() => this.#open(), delay)
  }

  /** A numeric option, or its default when absent or not a non-negative number. */
  #number(name: 'reconnectDelay' | 'maxReconnectDelay' | 'pingInterval' | 'maxMessageBytes', fallback: number): number {
    const value = this.#options[name]
    return typeof value === 'number' && value >= 0 ? value : fallback
  }

  /** Brings the server's channel set in line with the client's. */
  #sync(): void {
    if (!this.#websocket) {
      // SSE names its channels in the URL: reconnect with the new set (once per tick), resuming.
      if (this.#source && !this.#reopening) {
        this.#reopening = true
        queueMicrotask(() => {
          this.#reopening = false
          if (!this.#source) return
          this.#source.close()
          this.#open()
        })
      }
      return
    }
    // Until realtime:connected, the socket's URL names the channels; this runs again then.
    if (this.#state !== 'open') return
    for (const channel of this.#channels) {
      if (this.#joined.has(channel)) continue
      this.#joined.add(channel)
      const cursor = this.#cursors.get(streamKey(channel))
      this.#control('subscribe', cursor ? { channel, cursor } : { channel })
    }
    for (const channel of this.#joined) {
      if (this.#channels.has(channel)) continue
      this.#joined.delete(channel)
      this.#control('unsubscribe', { channel })
    }
  }

  #control(event: string, data: unknown): void {
    this.#socket?.send(JSON.stringify({ event: PREFIX + event, data }))
  }

  /** Sends the requests that wait for an open connection. */
  #flush(): void {
    const socket = this.#socket
    if (this.#state !== 'open' || !socket || socket.readyState !== 1) return
    for (const pending of this.#pending.values()) {
      if (pending.sent) continue
      pending.sent = true
      socket.send(pending.frame)
    }
  }

  /** Resolves or rejects request `id` once; a late or unknown answer is ignored. */
  #settle(id: string, error: RequestError | undefined, value?: unknown): void {
    const pending = this.#pending.get(id)
    if (!pending) return
    this.#pending.delete(id)
    clearTimeout(pending.timer)
    if (error) pending.reject(error)
    else pending.resolve(value)
  }

  // ---- receiving --------------------------------------------------------------------------

  /** Reports `problem` as a bad frame from the server (the frame itself is dropped). */
  #bad(problem: string): void {
    this.#fail('REALTIME_BAD_FRAME', 'dropped a bad frame from the server: ' + problem)
  }

  #fail(code: string, message: string, detail?: object): void {
    this.#dispatch({ event: PREFIX + 'error', data: { code, message, ...detail } })
  }

  /** Runs what a transport callback does; nothing in it may throw into the transport (or stall it). */
  #guard(task: () => void): void {
    try {
      task()
    } catch (cause) {
      this.#fail('REALTIME_BAD_FRAME', 'the client failed on what the server sent', { cause })
    }
  }

  /** True (and reported) when a message is over `maxMessageBytes` (UTF-8). */
  #tooBig(text: string): boolean {
    const max = this.#number('maxMessageBytes', 1_048_576)
    if (!max || text.length <= max / 3 || (text.length <= max && new TextEncoder().encode(text).length <= max)) return false
    this.#fail('REALTIME_MESSAGE_TOO_BIG', `dropped a message over maxMessageBytes (${max})`)
    return true
  }

  /** Uses a parsed `{ event, ... }` message when it is well formed. */
  #accept(message: Message): void {
    const problem = frameProblem(message)
    if (problem) this.#bad(problem)
    else this.#receive(message)
  }

  /** Keeps the client's state (cursors, channels, connection) in step with a message, then delivers it. */
  #receive(message: Message): void {
    const { event, data } = message
    if (event === PREFIX + 'response') {
      const error = data.error
      return this.#settle(data.id, error ? new RequestError(error.code, error.message, error.issues) : undefined, data.data)
    }
    if (event.startsWith(PREFIX)) {
      const channel = data?.channel
      const connected = event === PREFIX + 'connected'
      // The cursor map of realtime:connected and realtime:reconnect (SSE keeps it from the id:).
      if (this.#websocket && (connected || event === PREFIX + 'reconnect')) {
        for (const [key, cursor] of parseCursorMap(data.cursor ?? '')!) this.#advance(key, cursor)
      }
      if (connected) {
        this.#id = data.id
        this.#openedAt = Date.now()
        if (!this.#websocket && data.heartbeat > 0) this.#watch(this.#source!, data.heartbeat)
        this.#setState('open')
        if (this.#websocket) {
          this.#sync() // channels subscribed or left while connecting
          this.#flush() // requests made while connecting
        }
      } else if (this.#websocket && event === PREFIX + 'subscribed' && data.cursor) {
        this.#advance(streamKey(channel), data.cursor)
      } else if (this.#websocket && event === PREFIX + 'gap') {
        if (data.cursor) this.#cursors.set(streamKey(channel), data.cursor)
        else this.#cursors.delete(streamKey(channel))
      } else if (event === PREFIX + 'refresh' && this.#options.auth) {
        // The token is about to expire: send a fresh one over the open connection.
        this.#token().then((token) => this.#control('auth', { token }), () => {})
      } else if (event === PREFIX + 'error' && data?.code === 'REALTIME_FORBIDDEN' && channel) {
        this.#channels.delete(channel)
        this.#joined.delete(channel)
      }
    } else if (message.id !== undefined && !this.#advance(streamKey(message.channel), message.id)) {
      return // a message the client already has
    }
    this.#dispatch(message)
  }

  /** Moves a stream's cursor forward; false when `cursor` is not newer (a duplicate). */
  #advance(key: string, cursor: string): boolean {
    if (!isNewer(this.#cursors.get(key), cursor)) return false
    this.#cursors.set(key, cursor)
    return true
  }

  #setState(state: ConnectionState, detail?: Partial<StateChange>): void {
    const previous = this.#state
    if (state === previous && state !== 'reconnecting') return
    this.#state = state
    this.#dispatch({ event: PREFIX + 'state', data: { ...detail, state, previous } })
  }

  /** Delivers in arrival order, also when a schema validates asynchronously. */
  #dispatch(message: Message): void {
    if (this.#queue) return this.#enqueue(() => this.#deliver(message))
    const pending = this.#deliver(message)
    if (pending) this.#enqueue(() => pending)
  }

  #enqueue(task: () => unknown): void {
    const queue: Promise<void> = (this.#queue ?? Promise.resolve())
      .then(task)
      .catch((cause) => log({ code: 'REALTIME_HANDLER_ERROR', message: 'a delivery failed', cause }))
      .then(() => {
        if (this.#queue === queue) this.#queue = undefined
      })
    this.#queue = queue
  }

  /** Validates the data when the event has a schema, then emits; a promise when validation is asynchronous. */
  #deliver(message: Message): Promise<void> | void {
    const schemas = this.#options.schemas as Record<string, StandardSchemaV1> | undefined
    const schema = schemas && Object.hasOwn(schemas, message.event) && schemas[message.event]
    if (!schema) return this.#emit(message)
    const settle = (result: StandardSchemaV1.Result<unknown>) => {
      if (!result.issues) return this.#emit({ ...message, data: result.value })
      this.#emit({
        event: PREFIX + 'error',
        data: {
          code: 'REALTIME_INVALID_DATA',
          message: `invalid data for ${message.event}: ${result.issues.map((issue) => issue.message).join('; ')}`,
          event: message.event,
          issues: result.issues,
        },
      })
    }
    const fail = (error: unknown) => settle({ issues: [{ message: String(error) }] })
    let result: StandardSchemaV1.Result<unknown> | Promise<StandardSchemaV1.Result<unknown>>
    try {
      result = schema['~standard'].validate(message.data)
    } catch (error) {
      return fail(error)
    }
    if (typeof (result as Promise<unknown>).then === 'function') return (result as Promise<StandardSchemaV1.Result<unknown>>).then(settle, fail)
    settle(result as StandardSchemaV1.Result<unknown>)
  }

  #emit(message: Message): void {
    const handlers = this.#handlers.get(message.event)
    const error = message.event === PREFIX + 'error'
    if (!handlers?.size) {
      if (error) log(message.data)
      return
    }
    for (const handler of [...handlers]) {
      try {
        handler(message.data, message)
      } catch (cause) {
        // A throwing handler stops neither the others nor the client; it is reported once.
        if (error) log({ code: 'REALTIME_HANDLER_ERROR', message: 'a realtime:error handler threw', cause })
        else this.#emit({ event: PREFIX + 'error', data: { code: 'REALTIME_HANDLER_ERROR', message: `a handler of ${message.event} threw`, event: message.event, cause } })
      }
    }
  }
}

/** The last resort for errors nobody handles; never throws, whatever `error` is. */
function log(error: any): void {
  try {
    console.error(`[realtime] ${error.code}: ${error.message}`, error.cause ?? '')
  } catch {}
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
