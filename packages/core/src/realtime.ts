import { memoryBroker, type Broker, type BrokerMessage } from './broker.js'
import type { Connection, ConnectionHandlers, ConnectionOwner } from './connection.js'
import {
  CLOSE_CODES,
  DEFAULT_DRAIN_TIMEOUT_MS,
  DEFAULT_DRIVER,
  DEFAULT_HEARTBEAT_MS,
  DEFAULT_MAX_BUFFERED_BYTES,
  DEFAULT_MAX_CONNECTIONS,
  DEFAULT_MAX_MESSAGE_BYTES,
  DEFAULT_RETRY_AFTER_SECONDS,
  DEFAULT_SSE_RETRY_MS,
} from './constants.js'
import { RealtimeError } from './errors.js'
import { Outbound, toOutbound, type EventMap, type RealtimeMessage } from './message.js'
import type { ChannelConfig, Identify, RealtimeOptions } from './options.js'
import { CLIENT_CONTROL, isValidChannelName, parseControlFrame, SERVER_CONTROL } from './protocol.js'
import { SseConnection } from './sse-connection.js'

const encoder = new TextEncoder()

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
  private readonly sseRetry: number
  private readonly identifyUser: Identify | undefined
  private readonly broker: Broker
  private readonly errorHook: RealtimeOptions<Events>['onError']
  private readonly platform: Platform
  private readonly all = new Map<string, Connection<Events>>()
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
    this.maxMessageBytes = nonNegative('maxMessageBytes', options.maxMessageBytes, DEFAULT_MAX_MESSAGE_BYTES)
    this.maxBufferedBytes = nonNegative('maxBufferedBytes', options.maxBufferedBytes, DEFAULT_MAX_BUFFERED_BYTES)
    this.sseRetry = nonNegative('sseRetry', options.sseRetry, DEFAULT_SSE_RETRY_MS)
    this.identifyUser = options.identify
    this.errorHook = options.onError
    this.platform = platform
    this.broker = options.broker ?? memoryBroker()
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
    const handlers: ConnectionHandlers<Events> = { onClose: options.onClose, onError: options.onError }
    const refusal = this.refusal()
    const explicitUser = options.userId
    let userId: string | undefined = explicitUser
    let identified: Promise<string | undefined> | undefined
    if (explicitUser === undefined && this.identifyUser && !refusal) {
      const result = this.identify(request)
      if (result instanceof Promise) identified = result
      else userId = result
    }
    const stream: SseConnection<Events> = this.platform.createSse
      ? this.platform.createSse(request, this, handlers, userId, this.sseRetry, options.headers)
      : new SseConnection<Events>(request, this, handlers, userId, this.sseRetry, options.headers)
    if (refusal) {
      stream.isClosed = true
      return { response: refusal, stream }
    }
    this.register(stream)
    const channels = options.channels ?? safeUrl(request.url)?.searchParams.getAll('channel') ?? []
    const joinAll = () => {
      for (const channel of channels) void this.join(stream, channel, false)
    }
    if (identified) {
      identified.then(
        (user) => {
          if (stream.isClosed) return
          this.setUser(stream, user)
          joinAll()
        },
        (error) => {
          this.reportError(stream, asHandlerError('identify', error))
          stream.close(CLOSE_CODES.INTERNAL_ERROR, 'identify failed')
        },
      )
    } else joinAll()
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
    if (!this.platform.upgrade) {
      return new Response(`WebSocket upgrades are not available on runtime '${this.platform.name}'; install the adapter for your runtime`, {
        status: 501,
      })
    }
    this.pending++
    try {
      let userId = options.userId
      if (userId === undefined && this.identifyUser) userId = await this.identify(request)
      const { userId: _ignored, ...handlers } = options
      return await this.platform.upgrade({
        request,
        handlers,
        userId,
        owner: this,
        accept: (connection) => this.acceptUpgrade(connection),
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

  /** The local connection with this id, if any. */
  connection(id: string): Connection<Events> | undefined {
    return this.all.get(id)
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
      if (connection instanceof SseConnection) connection.writeEvent({ event: SERVER_CONTROL.RECONNECT, data: JSON.stringify({ code, reason }), retry: jitter(this.sseRetry) })
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
  async join(connection: Connection<Events>, channel: string, trusted: boolean): Promise<boolean> {
    if (!isValidChannelName(channel)) {
      if (!trusted) this.controlError(connection, 'REALTIME_BAD_FRAME', 'invalid channel name', channel)
      return false
    }
    if (connection.isClosed) return false
    if (connection.channels.has(channel)) {
      if (!trusted) connection.write(control(SERVER_CONTROL.SUBSCRIBED, { channel }))
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
    let members = this.channels.get(channel)
    if (!members) {
      members = new Set()
      this.channels.set(channel, members)
      this.broker.addTopic?.(`channel:${channel}`)
    }
    members.add(connection)
    connection.channels.add(channel)
    if (connection.nativeFanOut) this.platform.subscribe?.(connection, `channel:${channel}`)
    if (!trusted) connection.write(control(SERVER_CONTROL.SUBSCRIBED, { channel }))
    if (config?.onJoin) this.guard(connection, 'onJoin', () => config.onJoin!(connection, connection.userId, channel))
    return true
  }

  /** Adapter API; not for application code. */
  leave(connection: Connection<Events>, channel: string): boolean {
    if (!connection.channels.delete(channel)) return false
    if (connection.nativeFanOut) this.platform.unsubscribe?.(connection, `channel:${channel}`)
    const members = this.channels.get(channel)
    if (members) {
      members.delete(connection)
      if (members.size === 0) {
        this.channels.delete(channel)
        this.broker.removeTopic?.(`channel:${channel}`)
      }
    }
    const config = this.channelConfig(channel)
    if (config?.onLeave) this.guard(connection, 'onLeave', () => config.onLeave!(connection, connection.userId, channel))
    return true
  }

  /** Adapter API; not for application code. */
  receive(connection: Connection<Events>, text: string): void {
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
        void this.join(connection, frame.channel, false)
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
    if (this.all.get(connection.id) !== connection) return
    for (const channel of [...connection.channels]) this.leave(connection, channel)
    this.setUser(connection, undefined)
    this.all.delete(connection.id)
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

  private acceptUpgrade(connection: Connection<Events>): void {
    if (this.closing || this.all.size >= this.maxConnections) {
      connection.close(1013, 'try again later')
      return
    }
    this.register(connection)
    const onOpen = connection.handlers.onOpen
    if (onOpen) this.guard(connection, 'onOpen', () => onOpen(connection))
  }

  private register(connection: Connection<Events>): void {
    this.all.set(connection.id, connection)
    if (connection.transport === 'sse') this.sseCount++
    if (connection.nativeFanOut) this.platform.subscribe?.(connection, 'broadcast')
    if (connection.userId !== undefined) {
      const id = connection.userId
      connection.userId = undefined
      this.setUser(connection, id)
    }
    if (this.timer === undefined && this.heartbeatMs > 0) this.startHeartbeat()
  }

  private setUser(connection: Connection<Events>, userId: string | undefined): void {
    const previous = connection.userId
    if (previous === userId) return
    if (previous !== undefined) {
      if (connection.nativeFanOut) this.platform.unsubscribe?.(connection, `user:${previous}`)
      const set = this.users.get(previous)
      set?.delete(connection)
      if (set?.size === 0) {
        this.users.delete(previous)
        this.broker.removeTopic?.(`user:${previous}`)
      }
    }
    connection.userId = userId
    if (userId !== undefined) {
      if (connection.nativeFanOut) this.platform.subscribe?.(connection, `user:${userId}`)
      let set = this.users.get(userId)
      if (!set) {
        set = new Set()
        this.users.set(userId, set)
        this.broker.addTopic?.(`user:${userId}`)
      }
      set.add(connection)
    }
  }

  private identify(request: Request): Promise<string | undefined> | string | undefined {
    const normalize = (id: string | number | null | undefined) => (id === null || id === undefined ? undefined : String(id))
    const result = this.identifyUser!(request)
    return result instanceof Promise ? result.then(normalize) : normalize(result)
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
    const channel = topic.startsWith('channel:') ? topic.slice(8) : undefined
    const outbound = toOutbound(message, channel)
    const except = options?.except
    const brokerMessage: LocalBrokerMessage = { topic, event: outbound.event, data: message.data, [LOCAL]: outbound }
    if (except !== undefined) brokerMessage.except = typeof except === 'string' ? except : except.id
    await this.broker.publish(brokerMessage)
  }

  private deliver(message: BrokerMessage): void {
    const topic = message.topic
    let targets: Iterable<Connection<Events>> | undefined
    let channel: string | undefined
    if (topic === 'broadcast') targets = this.all.values()
    else if (topic.startsWith('user:')) targets = this.users.get(topic.slice(5))
    else if (topic.startsWith('channel:')) {
      channel = topic.slice(8)
      targets = this.channels.get(channel)
    }
    if (!targets) return
    let outbound = (message as LocalBrokerMessage)[LOCAL]
    if (!outbound) {
      try {
        outbound = new Outbound(message.event, message.data, channel)
      } catch (error) {
        this.reportError(undefined, error as RealtimeError)
        return
      }
    }
    const except = message.except
    const publish = this.platform.publish
    if (publish) {
      const exceptConnection = except === undefined ? undefined : this.all.get(except)
      let native = false
      try {
        native = publish.call(this.platform, topic, outbound, exceptConnection)
      } catch (error) {
        this.reportError(undefined, asTransportError(error))
      }
      if (native) {
        for (const connection of targets) {
          if (connection.nativeFanOut) this.delivered++
          else if (connection.id !== except) this.writeTo(connection, outbound)
        }
        return
      }
    }
    for (const connection of targets) {
      if (connection.id !== except) this.writeTo(connection, outbound)
    }
  }

  private writeTo(connection: Connection<Events>, outbound: Outbound): void {
    try {
      connection.write(outbound)
      this.delivered++
    } catch (error) {
      connection.transportError(error)
    }
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
