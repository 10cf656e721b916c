import { hubOf, type Realtime, RealtimeError, type Platform, type UpgradeContext } from '@loewen-digital/realtime-core'
import { ACTION_HEADER, AUTO_PING, AUTO_PONG, INSTANCE_HEADER, errorResponse, keptHeaders, type Attachment, type PublishBody } from './_protocol.js'
import { hostHub, instanceNamed, registeredApplication, rememberEnv, withReplay, type RegisteredInstance } from './_registry.js'
import {
  closeQuietly,
  createAutoResponse,
  createWebSocketPair,
  switchingProtocols,
  type DurableObjectStateLike,
  type ExecutionContextLike,
  type WorkersWebSocket,
} from './_runtime.js'
import { DeadlineAlarms } from './deadline-alarms.js'
import { historyBrokerFor, type DurableHistoryBroker } from './durable-history.js'
import { recoverHandlers } from './handler-replay.js'
import { forgetAttachment, fullAttachment, readAttachment, saveAttachment } from './hibernation.js'
import { Liveness } from './liveness.js'
import { WorkersSseConnection } from './sse-connection.js'
import { WorkersWebSocketConnection, type SocketKeeper } from './websocket-connection.js'

/** Longest user id that also becomes a socket tag (workerd allows 256 characters per tag). */
const MAX_TAG_LENGTH = 250

/**
 * The Durable Object that holds the connections of one realtime instance (one object per
 * instance name). Export it from your Worker's main module and bind it as `REALTIME`:
 *
 * @example
 * export { RealtimeDurableObject } from '@loewen-digital/realtime/workers'
 *
 * WebSockets are accepted with the Hibernation API: the object may leave memory while sockets
 * stay connected; id, user and channels of each socket survive in its attachment and the registry
 * is rebuilt on the next event. Protocol pings (`{"event":"realtime:ping"}`) are answered by the
 * runtime without waking the object. SSE streams are held here too (an open stream keeps the
 * object in memory).
 */
export class RealtimeDurableObject implements SocketKeeper {
  private readonly state: DurableObjectStateLike
  private readonly env: Record<string, unknown>
  private hub: Realtime<any> | undefined
  private starting: Promise<Realtime<any>> | undefined
  private instance: RegisteredInstance | undefined
  private history: DurableHistoryBroker | undefined
  private readonly sockets = new WeakMap<WorkersWebSocket, WorkersWebSocketConnection<any>>()
  /** SSE heartbeats and the WebSockets' dead-peer check. */
  private readonly liveness: Liveness
  private quiet = false
  private restored = 0
  /** Token expiries: the object's alarm, so a pending one neither keeps it in memory nor is lost with it. */
  private readonly deadlines: DeadlineAlarms

  /**
   * @param state - the object's `DurableObjectState` (given by the runtime)
   * @param env - the Worker's bindings (given by the runtime)
   */
  constructor(state: DurableObjectStateLike, env: Record<string, unknown>) {
    this.state = state
    this.env = env
    rememberEnv(env)
    state.setWebSocketAutoResponse(createAutoResponse(AUTO_PING, AUTO_PONG))
    this.liveness = new Liveness(
      state,
      () => this.instance?.heartbeat ?? 0,
      (ws) => this.sockets.get(ws),
    )
    this.deadlines = new DeadlineAlarms(state, (connection, deadline) => {
      if (!(connection instanceof WorkersWebSocketConnection)) return
      connection.deadline = deadline
      this.save(connection)
    })
  }

  /** Requests from `createRealtime()` instances in any Worker (never from the internet). */
  async fetch(request: Request): Promise<Response> {
    const name = request.headers.get(INSTANCE_HEADER)
    if (name === null) return new Response('not a realtime request', { status: 400 })
    let hub: Realtime<any>
    try {
      hub = await this.ready(name)
    } catch (error) {
      console.error('[realtime]', (error as Error).message)
      return errorResponse(error, 500)
    }
    this.liveness.sweep()
    switch (request.headers.get(ACTION_HEADER)) {
      case 'connect':
        return this.connect(request, hub, name)
      case 'publish':
        return this.publish(request, hub)
      case 'stats':
        return Response.json({
          ...hub.stats(),
          restored: this.restored,
          storedHistory: this.history?.stored() ?? null,
          nextDeadline: await this.state.storage.getAlarm(),
        })
      case 'presence':
        return Response.json(await hub.presence(((await request.json()) as { channel: string }).channel))
      case 'close': {
        const options = (await request.json()) as { code?: number; reason?: string }
        await hub.close(options)
        this.reset()
        return new Response(null, { status: 204 })
      }
      default:
        return new Response('unknown realtime action', { status: 400 })
    }
  }

  /** A text (or binary) message from a client, possibly after the object hibernated. */
  async webSocketMessage(ws: WorkersWebSocket, message: string | ArrayBuffer): Promise<void> {
    const connection = await this.connectionOf(ws)
    if (!connection) {
      closeQuietly(ws, 1011, 'unknown connection')
      return
    }
    connection.lastSeen = Date.now()
    this.liveness.sweep()
    if (typeof message !== 'string') {
      connection.receiveBinary()
      return
    }
    connection.receive(message)
  }

  /**
   * The object's alarm: a token expiry is due (the request for a fresh token, or the close). Wakes
   * the object when it left memory; the expiries come back from the sockets' attachments.
   */
  async alarm(): Promise<void> {
    if (!this.hub && this.state.getWebSockets().length === 0) return
    try {
      await this.ready()
    } catch (error) {
      console.error('[realtime]', (error as Error).message)
      return
    }
    this.deadlines.run()
  }

  /** The client closed the socket (or the connection broke). */
  async webSocketClose(ws: WorkersWebSocket, code: number, reason: string): Promise<void> {
    const connection = await this.connectionOf(ws)
    connection?.transportClosed(code, reason)
    // Answer the close frame (echoing its code), or the peer waits until the socket times out.
    if (code === 1005) closeQuietly(ws)
    else if (code !== 1006) closeQuietly(ws, code, reason)
  }

  /** A transport error on a socket: reported, and the connection is gone (no close event follows reliably). */
  async webSocketError(ws: WorkersWebSocket, error: unknown): Promise<void> {
    const connection = await this.connectionOf(ws)
    connection?.transportError(error)
    connection?.transportClosed(1006, 'transport error')
  }

  // ---- SocketKeeper: called by connections ---------------------------------------------------

  /** @internal Stores id, user, channels and origin of a connection with its socket. */
  save(connection: WorkersWebSocketConnection<any>): void {
    if (this.quiet || connection.isClosed || !this.instance) return
    saveAttachment(this.state, connection, this.instance.name)
  }

  /** @internal The connection closed: forget its socket and anything stored for it. */
  forget(connection: WorkersWebSocketConnection<any>): void {
    this.sockets.delete(connection.ws)
    forgetAttachment(this.state, connection)
  }

  // ---- internals ------------------------------------------------------------------------------

  /** The hub of this object, built (and the registry rebuilt from hibernated sockets) on first use. */
  private ready(name?: string): Promise<Realtime<any>> {
    if (this.hub) return Promise.resolve(this.hub)
    this.starting ??= this.start(name).finally(() => {
      this.starting = undefined
    })
    return this.starting
  }

  private async start(requested: string | undefined): Promise<Realtime<any>> {
    const saved = this.state.getWebSockets().map((ws) => [ws, readAttachment(ws)] as const)
    const name = requested ?? saved.find(([, attachment]) => attachment)?.[1]?.instance
    if (name === undefined) throw new RealtimeError('REALTIME_INVALID_OPTION', 'the realtime object has no sockets and was not told its instance')
    const instance = instanceNamed(name)
    if (!instance) {
      throw new RealtimeError(
        'REALTIME_INVALID_OPTION',
        `no realtime instance named '${name}' in this Worker: create every instance with createRealtime() at module scope, so the object finds it after waking`,
      )
    }
    this.instance = instance
    this.history = historyBrokerFor(this.state.storage, instance.history)
    const hub = instance.createHub(this.platform(), this.history)
    instance.configureChannels(hub)
    // Rebuild the registry from the hibernated sockets; restoring a member is not a join (no hook runs).
    this.quiet = true
    try {
      for (const [ws, attachment] of saved) {
        if (!attachment || attachment.instance !== name) {
          closeQuietly(ws, 1011, 'connection state lost')
          continue
        }
        await this.restore(hub, ws, attachment)
      }
    } finally {
      this.quiet = false
    }
    // Tokens that expired while the object was out of memory end before anything is delivered.
    this.deadlines.run()
    this.hub = hub
    hostHub(name, hub)
    return hub
  }

  private async restore(hub: Realtime<any>, ws: WorkersWebSocket, attachment: Attachment): Promise<void> {
    const full = await fullAttachment(this.state, attachment)
    const origin = { url: full.url || 'https://realtime.internal/', headers: full.headers ?? [], handlers: full.handlers, spilled: full.spilled === true }
    const request = new Request(origin.url, { headers: [...origin.headers, ['upgrade', 'websocket']] })
    const connection = new WorkersWebSocketConnection(ws, request, hubOf(hub), {}, full.user, this, origin, full.id)
    // Handlers are closures of the route: recovered by replaying it, lazily, on the connection's next event.
    connection.needsHandlers = full.handlers
    this.sockets.set(ws, connection)
    await hubOf(hub).restore(connection, full.channels ?? [])
    if (full.deadline !== undefined) hubOf(hub).expiry.resume(connection, full.deadline[0], full.deadline[1])
    this.restored++
  }

  /** The connection of a socket; after hibernation, with its handlers recovered first. */
  private async connectionOf(ws: WorkersWebSocket): Promise<WorkersWebSocketConnection<any> | undefined> {
    let hub: Realtime<any>
    try {
      hub = await this.ready()
    } catch (error) {
      console.error('[realtime]', (error as Error).message)
      return undefined
    }
    let connection = this.sockets.get(ws)
    if (!connection) {
      const found = hub.connection(readAttachment(ws)?.id ?? '')
      if (found instanceof WorkersWebSocketConnection) connection = found
    }
    if (!connection) return undefined
    if (connection.needsHandlers) {
      connection.needsHandlers = false
      connection.handlersReady = recoverHandlers(connection, hub, this.instance!.name, this.env, this.executionContext())
    }
    if (connection.handlersReady) await connection.handlersReady
    return connection
  }

  /** Runs the application for a request a Worker forwarded, so `sse()`/`upgrade()` complete here. */
  private async connect(request: Request, hub: Realtime<any>, name: string): Promise<Response> {
    const application = registeredApplication()
    if (!application?.fetch) {
      return new Response('realtime on Workers needs the Worker wrapped with withRealtime(): export default withRealtime({ fetch })', { status: 500 })
    }
    return withReplay(request, { instance: name, hub }, (replayed) => Promise.resolve(application.fetch!(replayed, this.env, this.executionContext())))
  }

  private async publish(request: Request, hub: Realtime<any>): Promise<Response> {
    const body = (await request.json()) as PublishBody
    const message = { event: body.event, data: body.data }
    const options = body.except === undefined ? undefined : { except: body.except }
    try {
      if (body.topic === 'broadcast') await hub.broadcast(message, options)
      else if (body.topic === 'user') await hub.sendTo(body.target!, message)
      else await hub.toChannel(body.target!).broadcast(message, options)
    } catch (error) {
      if (RealtimeError.isInstance(error)) return errorResponse(error, 400)
      throw error
    }
    return new Response(null, { status: 204 })
  }

  private platform(): Platform {
    return {
      name: 'workers',
      sseHeartbeat: this.instance?.heartbeat ?? 0,
      upgrade: (context) => this.acceptUpgrade(context),
      createSse: (request, owner, handlers, userId, retry, headers) => {
        const stream = new WorkersSseConnection(request, owner, handlers, userId, retry, headers, (ended) => this.liveness.streamEnded(ended))
        this.liveness.streamOpened(stream)
        return stream
      },
      subscribe: (connection) => {
        if (connection instanceof WorkersWebSocketConnection) this.save(connection)
      },
      unsubscribe: (connection) => {
        if (connection instanceof WorkersWebSocketConnection) this.save(connection)
      },
      close: () => this.liveness.stop(),
      deadlines: this.deadlines,
    }
  }

  private acceptUpgrade(context: UpgradeContext<any>): Response {
    const [client, server] = createWebSocketPair()
    const userId = context.userId
    this.state.acceptWebSocket(server, userId !== undefined && userId.length <= MAX_TAG_LENGTH ? [`user:${userId}`] : [])
    const handlers = context.handlers
    const origin = {
      url: context.request.url,
      headers: keptHeaders(context.request),
      handlers: Boolean(handlers.onMessage || handlers.onClose || handlers.onError),
      spilled: false,
    }
    const connection = new WorkersWebSocketConnection(server, context.request, context.owner, context.handlers, userId, this, origin)
    this.sockets.set(server, connection)
    this.quiet = true
    try {
      context.accept(connection)
    } finally {
      this.quiet = false
    }
    this.save(connection)
    return switchingProtocols(client)
  }

  private reset(): void {
    this.liveness.reset()
    this.hub = undefined
    this.restored = 0
    if (this.instance) hostHub(this.instance.name, undefined)
  }

  private executionContext(): ExecutionContextLike {
    return { waitUntil: (promise) => this.state.waitUntil(promise), passThroughOnException() {} }
  }
}
