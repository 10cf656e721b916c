import {
  assertChannelName,
  assertUserId,
  hubOf,
  isValidChannelName,
  patternBroadcastError,
  Realtime,
  RealtimeError,
  SseConnection,
  type ChannelConfig,
  type AnyClientEvents,
  type Broker,
  type ChannelHandle,
  type ClientEventData,
  type ClientEventMap,
  type ClientEventResult,
  type CloseOptions,
  type Connection,
  type ConnectionOwner,
  type EventMap,
  type Platform,
  type PresenceMember,
  type PublishOptions,
  type RealtimeMessage,
  type RealtimeOptions,
  type RealtimeStats,
  type SseOptions,
  type UpgradeOptions,
} from '@loewen-digital/realtime-core'
import { ObjectCalls } from './_object-calls.js'
import { forwardResponse, hostedHub, registerInstance, replayOf, type RegisteredInstance } from './_registry.js'

/** Options of the Workers `createRealtime`: the common options plus where the object lives. */
export interface WorkersRealtimeOptions<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents>
  extends RealtimeOptions<Events, Client> {
  /**
   * Name of this instance, and of the Durable Object that holds its connections (default:
   * `'realtime'` for the first instance a module creates, then `'realtime-2'`, `'realtime-3'`, …).
   */
  name?: string
  /** Name of the Durable Object namespace binding in `env` (default `'REALTIME'`). */
  binding?: string
}

/** `stats()` on Workers: the common counters, counted by the object, plus its hibernation count. */
export interface WorkersRealtimeStats extends RealtimeStats {
  /** Connections the object rebuilt from hibernated sockets since it last started (counters restart then too). */
  restored: number
  /**
   * What the object keeps in its SQLite storage for resume (stream heads, messages), or `null`
   * when history is off or the object is not SQLite-backed (history then lives in memory).
   */
  storedHistory: { streams: number; messages: number } | null
  /**
   * When the object's alarm wakes it next (ms since the epoch): the earliest token deadline of its
   * connections (a `realtime:refresh` request or an expiry), or `null` when none is pending.
   */
  nextDeadline: number | null
}

const DEFAULT_BINDING = 'REALTIME'

/**
 * The realtime instance on Cloudflare Workers: the same API as on every runtime, but connections
 * live in the {@link RealtimeDurableObject} named after the instance, so a broadcast made while
 * serving one request reaches connections opened by any other. Calls that need connections
 * forward to that object. Create instances at module scope; wrap the Worker with `withRealtime()`.
 */
export class WorkersRealtime<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents> {
  /** Name of this instance and of its Durable Object. */
  readonly name: string
  /** Default transport given by the `driver` option. */
  readonly driver: 'sse' | 'websocket'
  private readonly options: WorkersRealtimeOptions<Events, Client>
  /** The calls to the instance's object. */
  private readonly object: ObjectCalls
  private readonly channels: Array<[name: string, config: ChannelConfig<Events>]> = []
  private readonly handlers = new Map<string, (data: any, socket: Connection<any>) => unknown>()
  /** Checks `on()` arguments with the core's rules (same errors as everywhere). */
  private readonly probe: Realtime<Events, Client>

  /** @internal Use {@link createRealtime}. */
  constructor(options: WorkersRealtimeOptions<Events, Client> = {}) {
    // The core validates the options (same errors as everywhere); this hub is discarded.
    const probe = (this.probe = new Realtime<Events, Client>({ ...options, broker: undefined }, { name: 'workers' }))
    this.driver = probe.driver
    this.options = options
    this.name = registerInstance(
      options.name,
      (name): RegisteredInstance => ({
        name,
        heartbeat: options.heartbeat ?? 30_000,
        connect: (request) => this.connect(request),
        history: options.history,
        createHub: (platform: Platform, broker: Broker | undefined) => new Realtime<any>({ ...this.options, heartbeat: 0, broker }, platform),
        configureChannels: (hub) => {
          for (const [channel, config] of this.channels) hub.channel(channel, config)
          for (const [event, handler] of this.handlers) hub.on(event, handler)
        },
      }),
    )
    this.object = new ObjectCalls(this.name, options.binding ?? DEFAULT_BINDING)
  }

  /**
   * Opens a Server-Sent Events stream, held by the instance's object. In the Worker this returns a
   * placeholder `response` that `withRealtime()` exchanges for the object's stream; the object then
   * runs the route again, where this call returns the real stream (events sent on it before the
   * response is returned are delivered first). Outside that replay `stream` is closed and its
   * `send` returns false.
   */
  sse(request: Request, options: SseOptions<Events> = {}): { response: Response; stream: SseConnection<Events> } {
    const replay = this.replay(request)
    if (replay && !replay.restore) return replay.hub.sse(request, options)
    return { response: replay ? new Response(null, { status: 204 }) : forwardResponse(this.name), stream: detachedStream<Events>(request) }
  }

  /**
   * Completes a WebSocket handshake inside the instance's object (hibernatable socket) and returns
   * the 101 response. Not an upgrade request: 426. Over capacity: 503 with `Retry-After`. The
   * handlers run inside the object, next to the socket; after the object hibernated, the route is
   * run again to get them back before the connection's next event.
   */
  async upgrade(request: Request, options: UpgradeOptions<Events> = {}): Promise<Response> {
    if ((request.headers.get('upgrade') ?? '').toLowerCase() !== 'websocket') {
      return new Response('Expected a WebSocket upgrade request', { status: 426, headers: { Upgrade: 'websocket' } })
    }
    const replay = this.replay(request)
    if (!replay) return forwardResponse(this.name)
    if (replay.restore) {
      const { userId: _ignored, ...handlers } = options
      replay.restore(handlers)
      return new Response(null, { status: 204 })
    }
    return replay.hub.upgrade(request, options)
  }

  /**
   * Serves either transport from one route: WebSocket upgrade requests are upgraded, requests that
   * accept `text/event-stream` get SSE, others get the `driver` transport.
   */
  handle(request: Request, options: UpgradeOptions<Events> & Pick<SseOptions<Events>, 'channels' | 'headers'> = {}): Promise<Response> {
    if (request.method === 'OPTIONS') return Promise.resolve(this.preflight(request))
    const wantsUpgrade = (request.headers.get('upgrade') ?? '').toLowerCase() === 'websocket'
    const wantsSse = (request.headers.get('accept') ?? '').includes('text/event-stream')
    if (wantsUpgrade || (!wantsSse && this.driver === 'websocket')) return this.upgrade(request, options)
    return Promise.resolve(this.sse(request, options).response)
  }

  /**
   * Answers the CORS preflight (`OPTIONS`) of a cross-origin SSE request, as on every runtime
   * (answered in the Worker: it needs no connection).
   */
  preflight(request: Request): Response {
    return this.probe.preflight(request)
  }

  /** Sends to every connection of this instance, whichever request opened it. */
  async broadcast(message: RealtimeMessage<Events>, options?: PublishOptions): Promise<void> {
    await this.object.publish('broadcast', undefined, message, options)
  }

  /**
   * Sends to every connection of a user, SSE and WebSocket, or to one connection when given a
   * connection (inside handlers). A user with no connection receives nothing (no error).
   */
  async sendTo(target: string | number | Connection<Events>, message: RealtimeMessage<Events>): Promise<void> {
    if (typeof target === 'object' && target !== null) {
      // Inside a handler: the connection lives in this isolate's object.
      target.send(message)
      return
    }
    assertUserId(target)
    await this.object.publish('user', String(target), message)
  }

  /**
   * Handles an event clients send over WebSocket (`client.emit`, `client.request`), as on every
   * runtime. The handler runs inside the object, next to the socket: register handlers at module
   * scope so the object has them after waking.
   */
  on<Name extends keyof Client & string>(
    event: Name,
    handler: (data: ClientEventData<Client, Name>, socket: Connection<Events>) => ClientEventResult<Client, Name> | Promise<ClientEventResult<Client, Name>>,
  ): () => void {
    this.probe.on(event, handler) // throws REALTIME_INVALID_OPTION for a reserved or empty name
    this.handlers.set(event, handler as (data: any, socket: Connection<any>) => unknown)
    hostedHub(this.name)?.on(event, handler as (data: any, socket: Connection<any>) => unknown)
    return () => {
      if (this.handlers.get(event) !== handler) return
      this.handlers.delete(event)
      const hosted = hostedHub(this.name)
      if (hosted) hubOf(hosted).events.delete(event)
    }
  }

  /**
   * Configures a channel (hooks, authorization) and returns its handle. A name ending in `*`
   * configures every channel with that prefix. Hooks run inside the object; configure channels at
   * module scope so the object has them after waking.
   */
  channel(name: string, config: ChannelConfig<Events> = {}): ChannelHandle<Events> {
    const pattern = name.endsWith('*')
    if (!pattern && !isValidChannelName(name)) throw new RealtimeError('REALTIME_INVALID_OPTION', `invalid channel name ${JSON.stringify(name)}`)
    this.channels.push([name, config])
    hostedHub(this.name)?.channel(name, config)
    if (!pattern) return this.toChannel(name)
    // A pattern's handle: no one channel to publish to; counts come from the object's hub.
    const instance = this.name
    return {
      name,
      get size() {
        return hostedHub(instance)?.channel(name, config).size ?? 0
      },
      broadcast: () => Promise.reject(patternBroadcastError(name)),
      connections: () =>
        (hostedHub(instance)?.channel(name, config).connections() ?? new Set<Connection<Events>>().values()) as IterableIterator<Connection<Events>>,
    }
  }

  /**
   * Handle of a channel, to broadcast to its members. `size` and `connections()` see only the
   * members held by an object in this isolate (inside handlers: all of them; elsewhere usually
   * none): use `stats()` for counts.
   */
  toChannel(name: string): ChannelHandle<Events> {
    assertChannelName(name)
    const instance = this.name
    return {
      name,
      get size() {
        return hostedHub(instance)?.toChannel(name).size ?? 0
      },
      broadcast: (message, options) => this.object.publish('channel', name, message, options),
      connections: () => (hostedHub(instance)?.toChannel(name).connections() ?? new Set<Connection<Events>>().values()) as IterableIterator<Connection<Events>>,
    }
  }

  /** The connection with this id, when its object lives in this isolate (inside handlers). */
  connection(id: string): Connection<Events> | undefined {
    return hostedHub(this.name)?.connection(id)
  }

  /**
   * Who is in a presence channel (`channel(name, { presence: true })`): one entry per user with its
   * connection count, one per anonymous connection. Counted by the object.
   */
  async presence(channel: string): Promise<PresenceMember[]> {
    const response = await this.object.call('presence', JSON.stringify({ channel }))
    return (await response.json()) as PresenceMember[]
  }

  /** Current counters, from the object (a promise on Workers: `await` it, which works everywhere). */
  async stats(): Promise<WorkersRealtimeStats> {
    const response = await this.object.call('stats', null)
    return (await response.json()) as WorkersRealtimeStats
  }

  /**
   * Closes every connection of this instance (WebSocket close `code`, default 1012 so clients
   * reconnect; SSE: `realtime:reconnect` then end of stream) and resets its object. Unlike on a
   * server, the instance keeps accepting new connections afterwards: there is no process to stop.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    await this.object.call('close', JSON.stringify(options))
  }

  /** @internal Hands a request to the object, which runs the application for it (`withRealtime`). */
  connect(request: Request): Promise<Response> {
    return this.object.connect(request)
  }

  private replay(request: Request) {
    const replay = replayOf(request)
    if (replay && replay.instance !== this.name) {
      throw new RealtimeError(
        'REALTIME_INVALID_OPTION',
        `the route answered instance '${this.name}' when replayed for '${replay.instance}': keep routes deterministic`,
      )
    }
    return replay
  }
}

/**
 * Creates a realtime instance on Cloudflare Workers. Connections live in the
 * {@link RealtimeDurableObject} bound as `REALTIME` (one object per instance name), so
 * `broadcast`, `sendTo(userId)` and `toChannel(name).broadcast` reach every connection, whichever
 * request opened it. Call it at module scope and wrap the Worker with `withRealtime()`.
 *
 * @param options - the common options (`driver` default `'sse'`, `heartbeat` default 30000 ms:
 *   SSE comment lines only, `maxConnections` default 10000 per instance, `maxMessageBytes` default
 *   65536, ...) plus `name` (default `'realtime'`, `'realtime-2'`, … in creation order) and
 *   `binding` (default `'REALTIME'`). `broker` is ignored: the object is the broker, and keeps the
 *   resume history (`history`, default `{ size: 100, ttl: 300000 }`) in its SQLite storage.
 */
export function createRealtime<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents>(
  options: WorkersRealtimeOptions<Events, Client> = {},
): WorkersRealtime<Events, Client> {
  return new WorkersRealtime<Events, Client>(options)
}

const detachedOwner: ConnectionOwner = {
  maxMessageBytes: 0,
  maxBufferedBytes: 0,
  join: () => Promise.resolve(false),
  leave: () => false,
  receive() {},
  closed() {},
  reportError() {},
}

/** The `stream` of a Worker-side `sse()` call: closed; the object's replay has the real one. */
function detachedStream<Events extends EventMap>(request: Request): SseConnection<Events> {
  const stream = new SseConnection<Events>(request, detachedOwner, {}, undefined, 0)
  stream.isClosed = true
  return stream
}
