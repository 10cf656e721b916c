import type { Broker, BrokerMessage, HistoryResult } from './broker.js'
import { cursorKey, formatCursor, formatCursorMap, parseCursor, parseCursorMap, streamName, type Cursor } from './cursor.js'
import { memoryBroker, memoryPresence } from './memory-broker.js'
import type { Connection, ConnectionHandlers, ConnectionOwner } from './connection.js'
import {
  CLOSE_CODES,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_DRIVER,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_CONNECTIONS_PER_USER,
  DEFAULT_RATE_LIMIT_INTERVAL_MS,
  DEFAULT_RATE_LIMIT_MESSAGES,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_RETRY_AFTER_SECONDS,
  DEFAULT_SSE_RETRY_MS,
  SLOW_CONSUMER_GRACE_MS,
} from './constants.js'
import { RealtimeError } from './errors.js'
import { Outbound, toOutbound, type EventMap, type RealtimeMessage } from './message.js'
import type { ChannelConfig, Identify, PresenceChange, PresenceMember, RealtimeOptions } from './options.js'
import type { PresenceEntry, PresenceStore } from './broker.js'
import { CLIENT_CONTROL, isValidChannelName, parseControlFrame, SERVER_CONTROL } from './protocol.js'
import { SseConnection } from './sse-connection.js'

const encoder = new TextEncoder()

/** The handlers of connections opened without any (shared: connections keep theirs). */
const NO_HANDLERS: ConnectionHandlers<any> = Object.freeze({})

/** Everything an adapter gets to complete one WebSocket handshake. */
export interface UpgradeContext<Events extends EventMap = EventMap> {
  readonly request: Request
  readonly handlers: ConnectionHandlers<Events>
  readonly userId: string | undefined
  /** Give this to the adapter's connection constructor. */
  readonly owner: ConnectionOwner
  /** Registers the connection once the socket is open; runs `onOpen`. */
  accept(connection: Connection<Events>): void
}

/**
 * What a runtime adapter provides to the core. Core never imports a runtime; an adapter passes
 * one of these to {@link Realtime}.
 */
export interface Platform {
  /** Runtime name, for messages (`'node'`, `'bun'`, ...). */
  readonly name: string
  /** Completes a WebSocket handshake. Absent where the runtime cannot (then `upgrade()` answers 501). */
  upgrade?(context: UpgradeContext<any>): Response | Promise<Response>
  /** Creates the SSE connection; default: the web-standard {@link SseConnection}. */
  createSse?(
    request: Request,
    owner: ConnectionOwner,
    handlers: ConnectionHandlers<any>,
    userId: string | undefined,
    retry: number,
    headers: HeadersInit | undefined,
  ): SseConnection<any>
  /**
   * Native fan-out (a runtime's own publish/subscribe): the core tells the platform which topics a connection
   * is in (`broadcast`, `user:<id>`, `channel:<name>`), for connections whose `nativeFanOut` is true.
   */
  subscribe?(connection: Connection<any>, topic: string): void
  /** The connection left `topic` (see {@link Platform.subscribe}). */
  unsubscribe?(connection: Connection<any>, topic: string): void
  /**
   * Delivers `outbound` to every native-fan-out connection in `topic`, except `except`. Returns
   * true when it did; the core then writes only to the other connections of the topic.
   */
  publish?(topic: string, outbound: Outbound, except: Connection<any> | undefined): boolean
  /** Releases platform resources on `realtime.close()`. */
  close?(): void
}

/** Options of `realtime.sse(request, options)`. */
export interface SseOptions<Events extends EventMap = EventMap> {
  /** The user of this connection; overrides `identify` (default: from `identify`). */
  userId?: string
  /** Channels to join now, subject to `authorize` (default: the `channel` query parameters). */
  channels?: string[]
  /** Extra response headers (CORS, cookies). The SSE headers always win. */
  headers?: HeadersInit
  /** The stream closed (client went away, or server closed it). */
  onClose?: ConnectionHandlers<Events>['onClose']
  /** Errors on this stream. */
  onError?: ConnectionHandlers<Events>['onError']
}

/** Handlers and options of `realtime.upgrade(request, options)`. */
export interface UpgradeOptions<Events extends EventMap = EventMap> extends ConnectionHandlers<Events> {
  /** The user of this connection; overrides `identify` (default: from `identify`). */
  userId?: string
}

/** Options of `broadcast` calls. */
export interface PublishOptions {
  /** A connection (or its id) that must not receive the message, e.g. the sender. */
  except?: Connection<any> | string
}

/** Counters returned by `realtime.stats()`. */
export interface RealtimeStats {
  /** Open connections, SSE and WebSocket. */
  connections: number
  /** Open SSE connections. */
  sse: number
  /** Open WebSocket connections. */
  websocket: number
  /** Channels with at least one local member. */
  channels: number
  /** Distinct users with at least one local connection. */
  users: number
  /** Messages written to connections since start (a broadcast to N connections counts N). */
  delivered: number
  /** Connections refused (capacity, shutting down) since start. */
  refused: number
}

/** Server-side handle of one channel. */
export interface ChannelHandle<Events extends EventMap = EventMap> {
  /** The channel name. */
  readonly name: string
  /** Local members (connections of this process). */
  readonly size: number
  /** Sends to every member of the channel, in every process. */
  broadcast(message: RealtimeMessage<Events>, options?: PublishOptions): Promise<void>
  /** Local member connections. */
  connections(): IterableIterator<Connection<Events>>
}

/** Options of `realtime.close()`. */
export interface CloseOptions {
  /** WebSocket close code sent to clients (default 1012: restarting, reconnect and resume). */
  code?: number
  /** Close reason (default 'server shutting down'). */
  reason?: string
  /**
   * Milliseconds to wait for connections to finish closing (peers acknowledging, buffered data
   * flushing) before the rest are terminated (default 5000).
   */
  drainTimeout?: number
}

/**
 * The realtime hub: a registry of connections, users and channels, fed by a broker. Create it
 * with an adapter's `createRealtime()`; adapters pass their {@link Platform}.
 */
export class Realtime<Events extends EventMap = EventMap> implements ConnectionOwner {
  /** Default transport given by the `driver` option. */
  readonly driver: 'sse' | 'websocket'
  /** Adapter API; not for application code. */ readonly maxMessageBytes: number
  /** Adapter API; not for application code. */ readonly maxBufferedBytes: number
  private readonly heartbeatMs: number
  private readonly maxConnections: number
  private readonly maxPerUser: number
  private readonly rateMessages: number
  private readonly rateInterval: number
  private readonly allowedOrigins: RealtimeOptions<Events>['allowedOrigins']
  private readonly sseRetry: number
  private readonly identifyUser: Identify | undefined
  private readonly broker: Broker
  private readonly presenceStore: PresenceStore
  private readonly errorHook: RealtimeOptions<Events>['onError']
  private readonly platform: Platform
  /** Every registered connection. */
  private readonly all = new Set<Connection<Events>>()
  /** Registered connections whose id was read (an id nobody read cannot be looked up). */
  private readonly byId = new Map<string, Connection<Events>>()
  private readonly users = new Map<string, Set<Connection<Events>>>()
  private readonly channels = new Map<string, Set<Connection<Events>>>()
  private readonly channelConfigs = new Map<string, ChannelConfig<Events>>()
  private readonly channelPatterns: Array<[prefix: string, config: ChannelConfig<Events>]> = []
  private timer: ReturnType<typeof setInterval> | undefined
  private pending = 0
  private closing = false
  private drained: (() => void) | undefined
  private sseCount = 0
  private delivered = 0
  private refused = 0

  constructor(options: RealtimeOptions<Events> = {}, platform: Platform = { name: 'web' }) {
    this.driver = options.driver ?? DEFAULT_DRIVER
    if (this.driver !== 'sse' && this.driver !== 'websocket') {
      throw new RealtimeError('REALTIME_INVALID_OPTION', `driver must be 'sse' or 'websocket', got ${JSON.stringify(options.driver)}`)
    }
    this.heartbeatMs = nonNegative('heartbeat', options.heartbeat, DEFAULT_HEARTBEAT_MS)
    this.maxConnections = nonNegative('maxConnections', options.maxConnections, DEFAULT_MAX_CONNECTIONS)
    this.maxPerUser = nonNegative('maxConnectionsPerUser', options.maxConnectionsPerUser, DEFAULT_MAX_CONNECTIONS_PER_USER)
    const rate = options.rateLimit === false ? { messages: Infinity, interval: 1 } : (options.rateLimit ?? {})
    this.rateMessages = rate.messages === Infinity ? Infinity : nonNegative('rateLimit.messages', rate.messages, DEFAULT_RATE_LIMIT_MESSAGES)
    this.rateInterval = nonNegative('rateLimit.interval', rate.interval, DEFAULT_RATE_LIMIT_INTERVAL_MS) || 1
    this.allowedOrigins = options.allowedOrigins
    this.maxMessageBytes = nonNegative('maxMessageBytes', options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES)
    this.maxBufferedBytes = nonNegative('maxBufferedBytes', options.maxBufferedBytes, DEFAULT_MAX_BUFFERED_BYTES)
    this.sseRetry = nonNegative('sseRetry', options.sseRetry, DEFAULT_SSE_RETRY_MS)
    this.identifyUser = options.identify
    this.errorHook = options.onError
    this.platform = platform
    this.broker = options.broker ?? memoryBroker({ history: options.history })
    this.presenceStore = this.broker.presence ?? memoryPresence()
    const subscribed = this.broker.subscribe((message) => this.deliver(message))
    if (subscribed instanceof Promise) subscribed.catch((error) => this.reportError(undefined, asTransportError(error)))
  }

  /**
   * Opens a Server-Sent Events stream. Returns at once: `response` is what the route handler
   * returns, `stream` the connection (events sent on it before the response is returned are
   * delivered first). Over capacity or while closing, `response` is a 503 with `Retry-After` and
   * `stream` is closed (its `send` returns false).
   */
  sse(request: Request, options: SseOptions<Events> = {}): { response: Response; stream: SseConnection<Events> } {
    const handlers: ConnectionHandlers<Events> =
      options.onClose === undefined && options.onError === undefined ? NO_HANDLERS : { onClose: options.onClose, onError: options.onError }
    const refusal = this.refusal()
    const stream: SseConnection<Events> = this.platform.createSse
      ? this.platform.createSse(request, this, handlers, undefined, this.sseRetry, options.headers)
      : new SseConnection<Events>(request, this, handlers, undefined, this.sseRetry, options.headers)
    if (refusal || request.method === 'HEAD') {
      // HEAD: the headers a GET would get, no stream (its body could never be sent): registers nothing.
      stream.isClosed = true
      return { response: refusal ?? new Response(null, { status: 200, headers: stream.response.headers }), stream }
    }
    const url = safeUrl(request.url)
    const resume = request.headers.get('last-event-id') ?? url?.searchParams.get('lastEventId') ?? undefined
    const channels = options.channels ?? url?.searchParams.getAll('channel') ?? []
    let userId: string | undefined | Promise<string | undefined> = options.userId
    if (userId === undefined && this.identifyUser) {
      try {
        userId = this.identify(request)
      } catch (error) {
        userId = Promise.reject(error)
      }
    }
    if (typeof userId === 'string' && this.overUserCap(userId)) {
      stream.isClosed = true
      return { response: this.userCapRefusal(), stream }
    }
    void this.open(stream, userId, channels, resume, true)
    return { response: stream.response, stream }
  }

  /**
   * Completes a WebSocket handshake and returns the `Response` to hand back to the server. Not an
   * upgrade request: 426. Over capacity or closing: 503 with `Retry-After`. On a runtime without
   * WebSocket support: 501.
   */
  async upgrade(request: Request, options: UpgradeOptions<Events> = {}): Promise<Response> {
    if ((request.headers.get('upgrade') ?? '').toLowerCase() !== 'websocket') {
      return new Response('Expected a WebSocket upgrade request', { status: 426, headers: { Upgrade: 'websocket' } })
    }
    const refusal = this.refusal()
    if (refusal) return refusal
    if (!this.originAllowed(request)) {
      return new Response('Origin not allowed', { status: 403, headers: { 'Content-Type': 'text/plain; charset=utf-8' } })
    }
    if (!this.platform.upgrade) {
      return new Response(`WebSocket upgrades are not available on runtime '${this.platform.name}'; install the adapter for your runtime`, {
        status: 501,
      })
    }
    this.pending++
    try {
      let userId = options.userId
      if (userId === undefined && this.identifyUser) userId = await this.identify(request)
      if (userId !== undefined && (await this.userConnections(String(userId))) >= this.maxPerUser) {
        this.refused++
        return this.userCapRefusal()
      }
      const { onOpen, onMessage, onClose, onError } = options
      const handlers: ConnectionHandlers<Events> =
        onOpen === undefined && onMessage === undefined && onClose === undefined && onError === undefined
          ? NO_HANDLERS
          : { onOpen, onMessage, onClose, onError }
      // Read once (each read serializes it again); most sockets open without a query to parse.
      const href = request.url
      const url = href.includes('?') ? safeUrl(href) : undefined
      const channels = url?.searchParams.getAll('channel') ?? []
      const resume = url?.searchParams.get('lastEventId') ?? undefined
      const announce = resume !== undefined || url?.searchParams.has('resume') === true
      return await this.platform.upgrade({
        request,
        handlers,
        userId,
        owner: this,
        accept: (connection) => this.acceptUpgrade(connection, channels, resume, announce),
      })
    } catch (error) {
      const reported = RealtimeError.isInstance(error) ? error : asHandlerError('upgrade', error)
      this.reportError(undefined, reported)
      return new Response('WebSocket upgrade failed', { status: 500 })
    } finally {
      this.pending--
    }
  }

  /**
   * Serves either transport from one route: WebSocket upgrade requests are upgraded, requests that
   * accept `text/event-stream` get SSE, others get the `driver` transport.
   */
  handle(request: Request, options: UpgradeOptions<Events> & Pick<SseOptions<Events>, 'channels' | 'headers'> = {}): Promise<Response> {
    const wantsUpgrade = (request.headers.get('upgrade') ?? '').toLowerCase() === 'websocket'
    const wantsSse = (request.headers.get('accept') ?? '').includes('text/event-stream')
    if (wantsUpgrade || (!wantsSse && this.driver === 'websocket')) return this.upgrade(request, options)
    return Promise.resolve(this.sse(request, options).response)
  }

  /** Sends to every connection, in every process. */
  async broadcast(message: RealtimeMessage<Events>, options?: PublishOptions): Promise<void> {
    await this.publish('broadcast', message, options)
  }

  /**
   * Sends to every connection of a user, SSE and WebSocket, in every process, or to one
   * connection when given a connection. A user with no connection receives nothing (no error).
   */
  async sendTo(target: string | number | Connection<Events>, message: RealtimeMessage<Events>): Promise<void> {
    if (typeof target === 'object' && target !== null) {
      if (!target.isClosed) this.writeTo(target, toOutbound(message))
      return
    }
    await this.publish(`user:${target}`, message)
  }

  /**
   * Configures a channel (hooks, authorization) and returns its handle. A name ending in `*`
   * configures every channel with that prefix (`'orders:*'`). Channels that are not configured
   * are open: anyone may join.
   */
  channel(name: string, config: ChannelConfig<Events> = {}): ChannelHandle<Events> {
    if (name.endsWith('*')) this.channelPatterns.push([name.slice(0, -1), config])
    else if (isValidChannelName(name)) this.channelConfigs.set(name, config)
    else throw new RealtimeError('REALTIME_INVALID_OPTION', `invalid channel name ${JSON.stringify(name)}`)
    return this.toChannel(name.endsWith('*') ? name.slice(0, -1) : name)
  }

  /** Handle of a channel, to broadcast to its members. */
  toChannel(name: string): ChannelHandle<Events> {
    // eslint-disable-next-line @typescript-eslint/no-this-alias
    const realtime = this
    return {
      name,
      get size() {
        return realtime.channels.get(name)?.size ?? 0
      },
      broadcast: (message, options) => this.publish(`channel:${name}`, message, options),
      connections: () => (this.channels.get(name) ?? new Set<Connection<Events>>()).values(),
    }
  }

  /**
   * The local connection with this id, if any. Ids are made when first read (`socket.id`, the
   * `realtime:connected` event, presence), so every id your code or a client has seen is found.
   */
  connection(id: string): Connection<Events> | undefined {
    return this.byId.get(id)
  }

  /** Adapter API: indexes a registered connection whose id was just read. */
  idMade(connection: Connection<Events>): void {
    if (this.all.has(connection)) this.byId.set(connection.id, connection)
  }

  /** Current counters. */
  stats(): RealtimeStats {
    return {
      connections: this.all.size,
      sse: this.sseCount,
      websocket: this.all.size - this.sseCount,
      channels: this.channels.size,
      users: this.users.size,
      delivered: this.delivered,
      refused: this.refused,
    }
  }

  /**
   * Stops accepting connections (503), closes every connection (WebSocket: close frame with
   * `code`, default 1012 so clients reconnect and resume; SSE: a jittered `retry:` then end of
   * stream), stops the heartbeat and closes the broker.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    this.closing = true
    const code = options.code ?? CLOSE_CODES.SERVICE_RESTART
    const reason = options.reason ?? 'server shutting down'
    for (const connection of [...this.all.values()]) {
      // Tell every client to reconnect (elsewhere) and where to resume from; SSE clients also get
      // a jittered retry so they do not all come back at once.
      const notice = control(SERVER_CONTROL.RECONNECT, { code, reason, cursor: formatCursorMap(connection.cursors) })
      notice.carriesCursor = true
      try {
        connection.write(notice)
        if (connection instanceof SseConnection) connection.writeRetry(jitter(this.sseRetry))
      } catch (error) {
        connection.transportError(error)
      }
      connection.close(code, reason)
    }
    if (this.all.size > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined
      await new Promise<void>((resolve) => {
        this.drained = resolve
        timer = setTimeout(resolve, options.drainTimeout ?? DEFAULT_DRAIN_TIMEOUT_MS)
      })
      clearTimeout(timer)
      this.drained = undefined
      for (const connection of [...this.all.values()]) connection.terminate()
    }
    this.stopHeartbeat()
    this.platform.close?.()
    await this.broker.close()
  }

  // ---- ConnectionOwner: called by connections and adapters -------------------------------

  /** Adapter API; not for application code. */
  async join(connection: Connection<Events>, channel: string, trusted: boolean, cursor?: string | Cursor): Promise<boolean> {
    if (!isValidChannelName(channel)) {
      if (!trusted) this.controlError(connection, 'REALTIME_BAD_FRAME', 'invalid channel name', channel)
      return false
    }
    if (connection.isClosed) return false
    const topic = `channel:${channel}`
    if (connection.channels.has(channel)) {
      if (!trusted) this.announceSubscribed(connection, channel)
      return true
    }
    const config = this.channelConfig(channel)
    if (!trusted && config?.authorize) {
      let allowed = false
      try {
        allowed = (await config.authorize(connection, connection.userId, channel)) === true
      } catch (error) {
        this.reportError(connection, asHandlerError('authorize', error))
      }
      if (connection.isClosed) return false
      if (!allowed) {
        this.controlError(connection, 'REALTIME_FORBIDDEN', `not allowed to join ${channel}`, channel)
        return false
      }
      if (connection.channels.has(channel)) return true
    }
    this.addMember(connection, channel, config)
    const requested = typeof cursor === 'string' ? (parseCursor(cursor) ?? null) : cursor
    await this.follow(connection, topic, requested)
    if (connection.isClosed || !connection.channels.has(channel)) return false
    if (!trusted) this.announceSubscribed(connection, channel)
    if (config?.presence) await this.presenceJoin(connection, channel, config)
    if (config?.onJoin) this.guard(connection, 'onJoin', () => config.onJoin!(connection, connection.userId, channel))
    return true
  }

  /**
   * Adapter API: registers a connection that stayed open while the runtime dropped this instance's
   * memory (a hibernated Cloudflare Durable Object), with its user (`connection.userId`) and
   * `channels`. Nothing runs and nothing is sent: no `onOpen`, `authorize`, `onJoin`, presence
   * snapshot or join announcement; memberships and presence entries come back silently.
   */
  async restore(connection: Connection<Events>, channels: Iterable<string>): Promise<void> {
    if (connection.isClosed || this.all.has(connection)) return
    const userId = connection.userId
    connection.userId = undefined
    this.register(connection)
    await this.follow(connection, 'broadcast', undefined)
    if (userId !== undefined) await this.setUser(connection, userId)
    for (const channel of channels) {
      if (connection.isClosed || !isValidChannelName(channel) || connection.channels.has(channel)) continue
      const config = this.channelConfig(channel)
      this.addMember(connection, channel, config)
      await this.follow(connection, `channel:${channel}`, undefined)
      if (!config?.presence) continue
      try {
        await this.addPresence(connection, channel, config)
      } catch (error) {
        this.reportError(connection, RealtimeError.isInstance(error) ? error : asTransportError(error))
      }
    }
  }

  /** Makes a connection a member of a channel (no hooks, no replies). */
  private addMember(connection: Connection<Events>, channel: string, config: ChannelConfig<Events> | undefined): void {
    let members = this.channels.get(channel)
    if (!members) {
      members = new Set()
      this.channels.set(channel, members)
      this.broker.addTopic?.(`channel:${channel}`)
      if (config?.presence) this.broker.addTopic?.(`presence:${channel}`)
    }
    members.add(connection)
    ;(connection.channelSet ??= new Set()).add(channel)
  }

  /** Writes a connection's presence entry (with its `presence.data`) to the store. */
  private async addPresence(connection: Connection<Events>, channel: string, config: ChannelConfig<Events>): Promise<PresenceEntry> {
    const entry: PresenceEntry = { connectionId: connection.id, userId: connection.userId }
    const describe = typeof config.presence === 'object' ? config.presence.data : undefined
    if (describe) entry.data = await describe(connection, connection.userId, channel)
    await this.presenceStore.add(`channel:${channel}`, entry)
    return entry
  }

  /**
   * Who is in a presence channel, across processes: one entry per user (with its connection
   * count) and one per anonymous connection.
   */
  async presence(channel: string): Promise<PresenceMember[]> {
    return groupMembers(await this.presenceStore.list(`channel:${channel}`))
  }

  /** Adapter API; not for application code. */
  leave(connection: Connection<Events>, channel: string): boolean {
    const joined = connection.channelSet
    if (joined === undefined || !joined.delete(channel)) return false
    if (joined.size === 0) connection.channelSet = undefined
    if (connection.nativeFanOut) this.platform.unsubscribe?.(connection, `channel:${channel}`)
    const key = cursorKey(`channel:${channel}`)
    connection.cursors.delete(key)
    connection.replaying?.delete(key)
    const members = this.channels.get(channel)
    if (members) {
      members.delete(connection)
      if (members.size === 0) {
        this.channels.delete(channel)
        this.broker.removeTopic?.(`channel:${channel}`)
      }
    }
    const config = this.channelConfig(channel)
    if (config?.presence) {
      if (!this.channels.has(channel)) this.broker.removeTopic?.(`presence:${channel}`)
      this.guard(connection, 'presence', () => this.presenceLeave(connection, channel, config))
    }
    if (config?.onLeave) this.guard(connection, 'onLeave', () => config.onLeave!(connection, connection.userId, channel))
    return true
  }

  /** Adapter API; not for application code. */
  receive(connection: Connection<Events>, text: string): void {
    if (this.rateMessages !== Infinity) {
      const now = Date.now()
      if (now - connection.rateWindow >= this.rateInterval) {
        connection.rateWindow = now
        connection.rateCount = 0
      }
      if (++connection.rateCount > this.rateMessages) {
        if (connection.rateCount === this.rateMessages + 1) {
          this.reportError(connection, new RealtimeError('REALTIME_RATE_LIMITED', `more than ${this.rateMessages} messages in ${this.rateInterval} ms`))
          connection.close(CLOSE_CODES.POLICY_VIOLATION, 'rate limit exceeded')
        }
        return
      }
    }
    if (text.length > this.maxMessageBytes || (text.length * 3 > this.maxMessageBytes && encoder.encode(text).byteLength > this.maxMessageBytes)) {
      this.reportError(connection, new RealtimeError('REALTIME_MESSAGE_TOO_BIG', `message exceeds maxMessageBytes (${this.maxMessageBytes})`))
      connection.close(CLOSE_CODES.MESSAGE_TOO_BIG, 'message too big')
      return
    }
    let frame
    try {
      frame = parseControlFrame(text)
    } catch (error) {
      const realtimeError = error as RealtimeError
      this.controlError(connection, realtimeError.code, realtimeError.message)
      return
    }
    if (frame === undefined) {
      const onMessage = connection.handlers.onMessage
      if (onMessage) this.guard(connection, 'onMessage', () => onMessage(connection, text))
      return
    }
    switch (frame.event) {
      case CLIENT_CONTROL.SUBSCRIBE:
        void this.join(connection, frame.channel, false, frame.cursor)
        return
      case CLIENT_CONTROL.UNSUBSCRIBE:
        this.leave(connection, frame.channel)
        connection.write(control(SERVER_CONTROL.UNSUBSCRIBED, { channel: frame.channel }))
        return
      case CLIENT_CONTROL.PING:
        connection.write(control(SERVER_CONTROL.PONG, frame.data ?? null))
        return
    }
  }

  /** Adapter API; not for application code. */
  closed(connection: Connection<Events>, code: number, reason: string): void {
    if (!this.all.has(connection)) return
    if (connection.channelSet !== undefined) for (const channel of [...connection.channelSet]) this.leave(connection, channel)
    void this.setUser(connection, undefined)
    this.all.delete(connection)
    const id = connection.madeId
    if (id !== undefined && this.byId.get(id) === connection) this.byId.delete(id)
    if (connection.transport === 'sse') this.sseCount--
    if (this.all.size === 0) {
      this.stopHeartbeat()
      this.drained?.()
    }
    const onClose = connection.handlers.onClose
    if (onClose) this.guard(connection, 'onClose', () => onClose(connection, code, reason))
  }

  /** Adapter API; not for application code. */
  reportError(connection: Connection<Events> | undefined, error: RealtimeError): void {
    try {
      const local = connection?.handlers.onError
      if (local) local(connection!, error)
      else if (this.errorHook) this.errorHook(error, connection)
      else console.error(`[realtime] ${error.code}: ${error.message}`)
    } catch (hookError) {
      console.error('[realtime] onError threw', hookError)
    }
  }

  // ---- internals ---------------------------------------------------------------------------

  private acceptUpgrade(connection: Connection<Events>, channels: string[], resume: string | undefined, announce: boolean): void {
    if (this.closing || this.all.size >= this.maxConnections) {
      connection.close(1013, 'try again later')
      return
    }
    const userId = connection.userId
    connection.userId = undefined
    void this.open(connection, userId, channels, resume, announce)
  }

  /**
   * Registers a connection and sets up its streams: broadcast, its user, the channels it asked
   * for, each resumed from `resume` (a cursor map) when given; then runs `onOpen` and, when
   * `announce`, sends `realtime:connected` with the cursor map.
   */
  private open(
    connection: Connection<Events>,
    userId: string | undefined | Promise<string | undefined>,
    channels: string[],
    resume: string | undefined,
    announce: boolean,
  ): Promise<void> | undefined {
    this.register(connection)
    const onOpen = connection.handlers.onOpen
    if (onOpen) this.guard(connection, 'onOpen', () => onOpen(connection))
    if (userId !== undefined || channels.length > 0 || (resume !== undefined && resume !== '')) {
      return this.openStreams(connection, userId, channels, resume, announce)
    }
    // Broadcast only, nothing to resume (most connections): no waiting where the broker answers
    // at once, which keeps the promises and suspended frames of the general case off every connect.
    let following: Promise<void> | undefined
    try {
      following = this.follow(connection, 'broadcast', undefined)
    } catch (error) {
      this.openFailed(connection, error)
      return
    }
    if (following === undefined) {
      // `realtime:connected` after what the handler sends before it returns, as in the general case.
      if (announce) queueMicrotask(() => this.opened(connection, true))
      else this.opened(connection, false)
      return undefined
    }
    return following.then(
      () => this.opened(connection, announce),
      (error: unknown) => this.openFailed(connection, error),
    )
  }

  /** `open` for a connection with a user, channels or cursors to resume. */
  private async openStreams(
    connection: Connection<Events>,
    userId: string | undefined | Promise<string | undefined>,
    channels: string[],
    resume: string | undefined,
    announce: boolean,
  ): Promise<void> {
    let cursors: Map<string, Cursor> | null | undefined
    if (resume !== undefined && resume !== '') cursors = parseCursorMap(resume) ?? null
    const requested = (key: string) => (cursors === null ? null : cursors?.get(key))
    try {
      const following = this.follow(connection, 'broadcast', requested('b'))
      const user = await userId
      await following
      if (connection.isClosed) return
      if (user !== undefined) {
        await this.setUser(connection, user, requested('u'))
        if (connection.isClosed) return
        if ((await this.userConnections(String(user))) > this.maxPerUser) {
          this.controlError(connection, 'REALTIME_TOO_MANY_CONNECTIONS', `user has more than ${this.maxPerUser} connections`)
          connection.close(CLOSE_CODES.POLICY_VIOLATION, 'too many connections for this user')
          return
        }
      }
      await Promise.all(channels.map((channel) => this.join(connection, channel, false, requested(cursorKey(`channel:${channel}`)) ?? undefined)))
    } catch (error) {
      this.openFailed(connection, error)
      return
    }
    this.opened(connection, announce)
  }

  /** Setting up a connection's streams threw: reported, and the connection closed (1011). */
  private openFailed(connection: Connection<Events>, error: unknown): void {
    this.reportError(connection, asHandlerError('identify', error))
    connection.close(CLOSE_CODES.INTERNAL_ERROR, 'identify failed')
  }

  /** A connection's streams are set up: announces it (when asked) and compacts its request. */
  private opened(connection: Connection<Events>, announce: boolean): void {
    if (connection.isClosed) return
    if (announce) {
      const connected = control(SERVER_CONTROL.CONNECTED, { id: connection.id, cursor: formatCursorMap(connection.cursors) })
      connected.carriesCursor = true
      connection.write(connected)
    }
    // Set up: an idle WebSocket connection need not keep the handshake Request (about 1-3 KB).
    if (connection.transport === 'websocket' && !connection.isClosed) {
      try {
        connection.compactRequest()
      } catch (error) {
        // A runtime that closed the request already (the connection keeps it as it is).
        this.reportError(connection, asTransportError(error))
      }
    }
  }

  /** Adds a connection to the registry and starts the heartbeat if it is the first. */
  private register(connection: Connection<Events>): void {
    this.all.add(connection)
    const id = connection.madeId
    if (id !== undefined) this.byId.set(id, connection)
    if (connection.transport === 'sse') this.sseCount++
    if (this.timer === undefined && this.heartbeatMs > 0) this.startHeartbeat()
  }

  /** Moves a connection to another user (or none), following that user's stream. */
  private async setUser(connection: Connection<Events>, userId: string | number | undefined, cursor?: Cursor | null): Promise<void> {
    const previous = connection.userId
    const next = userId === undefined ? undefined : String(userId)
    if (previous === next) return
    if (previous !== undefined) {
      if (connection.nativeFanOut) this.platform.unsubscribe?.(connection, `user:${previous}`)
      connection.cursors.delete('u')
      connection.replaying?.delete('u')
      this.presenceRemove(`user:${previous}`, connection)
      const set = this.users.get(previous)
      set?.delete(connection)
      if (set?.size === 0) {
        this.users.delete(previous)
        this.broker.removeTopic?.(`user:${previous}`)
      }
    }
    connection.userId = next
    if (next === undefined) return
    let set = this.users.get(next)
    if (!set) {
      set = new Set()
      this.users.set(next, set)
      this.broker.addTopic?.(`user:${next}`)
    }
    set.add(connection)
    // Follow first: it sets up the replay before its first await, so a message published while the
    // presence entry is written (a round trip with a distributed store) waits for the replay
    // instead of overtaking it.
    const following = this.follow(connection, `user:${next}`, cursor)
    following?.catch(() => {})
    try {
      await this.presenceStore.add(`user:${next}`, { connectionId: connection.id, userId: next })
    } catch (error) {
      this.reportError(connection, asTransportError(error))
    }
    await following
  }

  /**
   * Starts following a stream on a connection: from its current position, or, when the client
   * gave a cursor, replaying what it missed (live messages wait meanwhile) or sending
   * `realtime:gap` when that cannot be done. `requested` null means the client's cursor was
   * unreadable. Native fan-out begins once the replay is written.
   */
  private follow(connection: Connection<Events>, topic: string, requested: Cursor | null | undefined): Promise<void> | undefined {
    const native = connection.nativeFanOut
    if (!this.broker.keepsHistory) {
      if (native) this.platform.subscribe?.(connection, topic)
      if (requested !== undefined) this.writeGap(connection, topic, 'disabled', undefined)
      return undefined
    }
    if (requested !== undefined) return this.replay(connection, topic, requested)
    // From the current position: synchronous when the broker answers at once (in memory).
    if (native) this.platform.subscribe?.(connection, topic)
    let position: Cursor | undefined | Promise<Cursor | undefined>
    try {
      position = this.broker.position?.(topic)
    } catch (error) {
      this.reportError(connection, asTransportError(error))
      return undefined
    }
    if (!isThenable(position)) {
      this.startAt(connection, topic, position)
      return undefined
    }
    // Any thenable, as `await` took it: a broker's client may have promises of its own.
    return Promise.resolve(position).then(
      (answer) => this.startAt(connection, topic, answer),
      (error: unknown) => this.reportError(connection, asTransportError(error)),
    )
  }

  /** Moves a connection's cursor of `topic` to `position`, unless it is ahead already. */
  private startAt(connection: Connection<Events>, topic: string, position: Cursor | undefined): void {
    if (!position) return
    const key = cursorKey(topic)
    const seen = connection.cursors.get(key)
    if (!seen || (seen.epoch === position.epoch && seen.offset < position.offset)) {
      connection.cursors.set(key, { epoch: position.epoch, offset: position.offset })
    }
  }

  /** `follow` with a cursor from the client (`null`: unreadable): replays or sends a gap. */
  private async replay(connection: Connection<Events>, topic: string, requested: Cursor | null): Promise<void> {
    const native = connection.nativeFanOut
    const key = cursorKey(topic)
    const waiting: Outbound[] = []
    ;(connection.replaying ??= new Map()).set(key, waiting)
    let result: HistoryResult
    if (requested === null) result = { ok: false, reason: 'invalid' }
    else {
      connection.cursors.set(key, { epoch: requested.epoch, offset: requested.offset })
      try {
        result = (await this.broker.history?.(topic, requested)) ?? { ok: false, reason: 'disabled' }
      } catch (error) {
        this.reportError(connection, asTransportError(error))
        result = { ok: false, reason: 'window' }
      }
    }
    if (connection.isClosed || connection.replaying?.get(key) !== waiting) return
    if (result.ok) {
      for (const message of result.messages) this.writeStream(connection, this.outboundOf(message))
    } else {
      let position = result.position
      if (!position) {
        try {
          position = await this.broker.position?.(topic)
        } catch (error) {
          this.reportError(connection, asTransportError(error))
        }
        // The connection may have closed or left the stream meanwhile (an async broker).
        if (connection.isClosed || connection.replaying?.get(key) !== waiting) return
      }
      this.writeGap(connection, topic, result.reason, position)
    }
    connection.replaying.delete(key)
    if (connection.replaying.size === 0) connection.replaying = undefined
    if (native) this.platform.subscribe?.(connection, topic)
    for (const outbound of waiting) this.writeStream(connection, outbound)
  }

  /** Tells the client it cannot resume `topic` and moves its cursor to `position`. */
  private writeGap(connection: Connection<Events>, topic: string, reason: string, position: Cursor | undefined): void {
    const key = cursorKey(topic)
    if (position) connection.cursors.set(key, { epoch: position.epoch, offset: position.offset })
    const gap = control(SERVER_CONTROL.GAP, { channel: streamName(topic), reason, cursor: position ? formatCursor(position) : null })
    gap.carriesCursor = true
    connection.write(gap)
  }

  private announceSubscribed(connection: Connection<Events>, channel: string): void {
    const cursor = connection.cursors.get(cursorKey(`channel:${channel}`))
    const subscribed = control(SERVER_CONTROL.SUBSCRIBED, cursor ? { channel, cursor: formatCursor(cursor) } : { channel })
    subscribed.carriesCursor = true
    connection.write(subscribed)
  }

  private identify(request: Request): Promise<string | undefined> | string | undefined {
    const normalize = (id: string | number | null | undefined) => (id === null || id === undefined ? undefined : String(id))
    const result = this.identifyUser!(request)
    return result instanceof Promise ? result.then(normalize) : normalize(result)
  }

  /** Adds a connection to a channel's presence, sends it the snapshot and announces a new member. */
  private async presenceJoin(connection: Connection<Events>, channel: string, config: ChannelConfig<Events>): Promise<void> {
    try {
      const entry = await this.addPresence(connection, channel, config)
      const members = groupMembers(await this.presenceStore.list(`channel:${channel}`))
      if (connection.isClosed || !connection.channels.has(channel)) return
      connection.write(control(SERVER_CONTROL.PRESENCE, { channel, action: 'snapshot', members }))
      const self = connection.userId === undefined ? undefined : members.find((member) => member.userId === connection.userId)
      const member = self ?? { userId: connection.userId, connections: 1, data: entry.data }
      if (member.connections <= 1) await this.presenceAnnounce(connection, { channel, action: 'join', member }, config)
    } catch (error) {
      this.reportError(connection, RealtimeError.isInstance(error) ? error : asTransportError(error))
    }
  }

  /** Removes a connection from a channel's presence and announces a member that left with it. */
  private async presenceLeave(connection: Connection<Events>, channel: string, config: ChannelConfig<Events>): Promise<void> {
    const topic = `channel:${channel}`
    const userId = connection.userId // read now: a closing connection loses its user right after
    try {
      if (!(await this.presenceStore.remove(topic, connection.id))) return
      const remaining = userId === undefined ? 0 : (await this.presenceStore.list(topic)).filter((entry) => entry.userId === userId).length
      if (remaining === 0) await this.presenceAnnounce(connection, { channel, action: 'leave', member: { userId, connections: 0, data: undefined } }, config)
    } catch (error) {
      this.reportError(connection, asTransportError(error))
    }
  }

  private async presenceAnnounce(connection: Connection<Events>, change: PresenceChange, config: ChannelConfig<Events>): Promise<void> {
    const message: BrokerMessage = { topic: `presence:${change.channel}`, event: SERVER_CONTROL.PRESENCE, data: change, ephemeral: true }
    if (change.action === 'join') message.except = connection.id
    await this.broker.publish(message)
    if (config.onPresence) this.guard(connection, 'onPresence', () => config.onPresence!(change))
  }

  /** Connections of a user: cluster-wide through the broker's presence store, else this process's. */
  private async userConnections(userId: string): Promise<number> {
    const local = this.users.get(userId)?.size ?? 0
    const presence = this.presenceStore
    try {
      return Math.max(local, (await presence.list(`user:${userId}`)).length)
    } catch (error) {
      this.reportError(undefined, asTransportError(error))
      return local
    }
  }

  private overUserCap(userId: string): boolean {
    return (this.users.get(userId)?.size ?? 0) >= this.maxPerUser
  }

  private userCapRefusal(): Response {
    this.refused++
    return new Response('Too many connections for this user', {
      status: 429,
      headers: { 'Retry-After': String(DEFAULT_RETRY_AFTER_SECONDS), 'Content-Type': 'text/plain; charset=utf-8' },
    })
  }

  private presenceRemove(topic: string, connection: Connection<Events>): void {
    try {
      const removed = this.presenceStore.remove(topic, connection.id)
      if (removed instanceof Promise) removed.catch((error) => this.reportError(connection, asTransportError(error)))
    } catch (error) {
      this.reportError(connection, asTransportError(error))
    }
  }

  /** Cross-site WebSocket hijacking protection (see `allowedOrigins`). */
  private originAllowed(request: Request): boolean {
    const origin = request.headers.get('origin')
    const allowed = this.allowedOrigins
    if (allowed === '*') return true
    if (origin === null) return true
    if (typeof allowed === 'function') return allowed(origin, request) === true
    if (Array.isArray(allowed)) return allowed.includes(origin)
    const url = safeUrl(request.url)
    if (url && url.origin === origin) return true
    // Behind a proxy the request URL may be the internal one: compare with the Host header too.
    const host = request.headers.get('host')
    return host !== null && (origin === `http://${host}` || origin === `https://${host}`)
  }

  private refusal(): Response | undefined {
    if (!this.closing && this.all.size + this.pending < this.maxConnections) return undefined
    this.refused++
    return new Response(this.closing ? 'Server is shutting down' : 'Too many connections', {
      status: 503,
      headers: { 'Retry-After': String(DEFAULT_RETRY_AFTER_SECONDS), 'Content-Type': 'text/plain; charset=utf-8' },
    })
  }

  private async publish(topic: string, message: RealtimeMessage<Events>, options?: PublishOptions): Promise<void> {
    const outbound = toOutbound(message, topic === 'broadcast' ? undefined : streamName(topic))
    const except = options?.except
    const brokerMessage: LocalBrokerMessage = { topic, event: outbound.event, data: message.data, [LOCAL]: outbound }
    if (except !== undefined) brokerMessage.except = typeof except === 'string' ? except : except.id
    await this.broker.publish(brokerMessage)
  }

  /** The encoded form of a broker message, made once and kept on the message (history reuses it). */
  private outboundOf(message: BrokerMessage): Outbound {
    const local = message as LocalBrokerMessage
    let outbound = local[LOCAL]
    if (!outbound) {
      const topic = message.topic
      outbound = new Outbound(message.event, message.data, topic === 'broadcast' || topic.startsWith('presence:') ? undefined : streamName(topic))
      local[LOCAL] = outbound
      if (message.gap !== undefined) outbound.gap = message.gap
    }
    if (message.offset !== undefined && outbound.key === undefined) {
      outbound.epoch = message.epoch
      outbound.offset = message.offset
      outbound.key = cursorKey(message.topic)
      outbound.carriesCursor = true
    }
    return outbound
  }

  private deliver(message: BrokerMessage): void {
    const topic = message.topic
    let outbound: Outbound
    try {
      outbound = this.outboundOf(message)
    } catch (error) {
      this.reportError(undefined, error as RealtimeError)
      return
    }
    if (outbound.gap !== undefined && outbound.key === undefined) return
    let targets: Iterable<Connection<Events>> | undefined
    if (topic === 'broadcast') targets = this.all.values()
    else if (topic.startsWith('user:')) targets = this.users.get(topic.slice(5))
    else if (topic.startsWith('channel:')) targets = this.channels.get(topic.slice(8))
    else if (topic.startsWith('presence:')) targets = this.channels.get(topic.slice(9))
    if (!targets) return
    const except = message.except
    const publish = this.platform.publish
    let native = false
    // Native fan-out knows the stream topics only; presence updates go through the loop.
    if (publish && outbound.gap === undefined && !topic.startsWith('presence:')) {
      try {
        native = publish.call(this.platform, topic, outbound, except === undefined ? undefined : this.byId.get(except))
      } catch (error) {
        this.reportError(undefined, asTransportError(error))
      }
    }
    const key = outbound.key
    for (const connection of targets) {
      // A connection whose id was never read cannot be the one excepted.
      if (except !== undefined && connection.madeId === except) continue
      if (native && connection.nativeFanOut && (key === undefined || connection.replaying?.has(key) !== true)) this.delivered++
      else this.writeTo(connection, outbound)
    }
  }

  /** Writes a message to one connection; resumable messages go through the connection's cursor. */
  private writeTo(connection: Connection<Events>, outbound: Outbound): void {
    const key = outbound.key
    if (key !== undefined) {
      const waiting = connection.replaying?.get(key)
      if (waiting) waiting.push(outbound)
      else this.writeStream(connection, outbound)
      return
    }
    try {
      connection.write(outbound)
      this.delivered++
    } catch (error) {
      connection.transportError(error)
    }
    if (connection.bufferedAmount > this.maxBufferedBytes) this.dropSlowConsumer(connection)
  }

  /**
   * Closes a connection that has more than `maxBufferedBytes` waiting (4001, resumable). Its close
   * frame waits behind the unread data, so a peer that does not take it within a grace period is
   * destroyed; either way `onClose` reports 4001 and nothing more is buffered for it.
   */
  private dropSlowConsumer(connection: Connection<Events>): void {
    if (connection.isClosed || connection.closeIntent?.code === CLOSE_CODES.SLOW_CONSUMER) return
    connection.closeIntent = { code: CLOSE_CODES.SLOW_CONSUMER, reason: 'slow consumer' }
    connection.close(CLOSE_CODES.SLOW_CONSUMER, 'slow consumer')
    const timer = setTimeout(() => {
      if (!connection.isClosed) connection.terminate()
    }, SLOW_CONSUMER_GRACE_MS)
    ;(timer as { unref?: () => void }).unref?.()
  }

  /**
   * Writes a resumable message unless the connection already has it (same epoch, offset not
   * newer); an epoch change tells the client about a gap first.
   */
  private writeStream(connection: Connection<Events>, outbound: Outbound): void {
    const key = outbound.key!
    const cursor = connection.cursors.get(key)
    if (outbound.gap !== undefined) {
      // A broker's gap notice: only a connection behind its position missed something.
      if (cursor !== undefined && cursor.epoch === outbound.epoch && cursor.offset >= outbound.offset!) return
      const reason = cursor === undefined || cursor.epoch === outbound.epoch ? outbound.gap : 'epoch'
      this.writeGap(connection, topicOfKey(key, connection), reason, { epoch: outbound.epoch!, offset: outbound.offset! })
      return
    }
    if (cursor === undefined) connection.cursors.set(key, { epoch: outbound.epoch!, offset: outbound.offset! })
    else if (cursor.epoch === outbound.epoch) {
      if (outbound.offset! <= cursor.offset) return
      cursor.offset = outbound.offset!
    } else {
      this.writeGap(connection, topicOfKey(key, connection), 'epoch', { epoch: outbound.epoch!, offset: outbound.offset! - 1 })
      cursor.epoch = outbound.epoch!
      cursor.offset = outbound.offset!
    }
    try {
      connection.write(outbound)
      this.delivered++
    } catch (error) {
      connection.transportError(error)
    }
    if (connection.bufferedAmount > this.maxBufferedBytes) this.dropSlowConsumer(connection)
  }

  private channelConfig(channel: string): ChannelConfig<Events> | undefined {
    const exact = this.channelConfigs.get(channel)
    if (exact || this.channelPatterns.length === 0) return exact
    for (const [prefix, config] of this.channelPatterns) if (channel.startsWith(prefix)) return config
    return undefined
  }

  private controlError(connection: Connection<Events>, code: string, message: string, channel?: string): void {
    connection.write(control(SERVER_CONTROL.ERROR, channel === undefined ? { code, message } : { code, message, channel }))
  }

  private guard(connection: Connection<Events>, hook: string, run: () => void | Promise<void>): void {
    try {
      const result = run()
      if (result instanceof Promise) result.catch((error) => this.reportError(connection, asHandlerError(hook, error)))
    } catch (error) {
      this.reportError(connection, asHandlerError(hook, error))
    }
  }

  private startHeartbeat(): void {
    this.timer = setInterval(() => {
      for (const connection of this.all.values()) {
        try {
          connection.heartbeat()
        } catch (error) {
          connection.transportError(error)
        }
      }
    }, this.heartbeatMs)
    ;(this.timer as { unref?: () => void }).unref?.()
  }

  private stopHeartbeat(): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
  }
}

const LOCAL = Symbol('outbound')
type LocalBrokerMessage = BrokerMessage & { [LOCAL]?: Outbound }

/** Groups presence entries into members: one per user, one per anonymous connection. */
function groupMembers(entries: PresenceEntry[]): PresenceMember[] {
  const members = new Map<string, PresenceMember>()
  for (const entry of entries) {
    const key = entry.userId === undefined ? `connection:${entry.connectionId}` : `user:${entry.userId}`
    const member = members.get(key)
    if (member) member.connections++
    else members.set(key, { userId: entry.userId, connections: 1, data: entry.data })
  }
  return [...members.values()]
}

/** The topic a cursor key stands for on this connection. */
function topicOfKey(key: string, connection: Connection<any>): string {
  if (key === 'b') return 'broadcast'
  if (key === 'u') return `user:${connection.userId}`
  return `channel:${decodeURIComponent(key.slice(2))}`
}

function control(event: string, data: unknown): Outbound {
  return new Outbound(event, data)
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw new RealtimeError('REALTIME_INVALID_OPTION', `${name} must be a non-negative number, got ${String(value)}`)
  }
  return value
}

/** True for a promise or any other thenable. */
function isThenable<T>(value: T | PromiseLike<T>): value is PromiseLike<T> {
  return typeof (value as { then?: unknown } | undefined)?.then === 'function'
}

function safeUrl(url: string): URL | undefined {
  try {
    return new URL(url)
  } catch {
    return undefined
  }
}

function jitter(base: number): number {
  return Math.round(base / 2 + Math.random() * base)
}

function asHandlerError(hook: string, error: unknown): RealtimeError {
  if (RealtimeError.isInstance(error)) return error
  return new RealtimeError('REALTIME_HANDLER_ERROR', `${hook} threw: ${(error as Error)?.message ?? String(error)}`, { cause: error })
}

function asTransportError(error: unknown): RealtimeError {
  return new RealtimeError('REALTIME_TRANSPORT_ERROR', `transport error: ${(error as Error)?.message ?? String(error)}`, { cause: error })
}
