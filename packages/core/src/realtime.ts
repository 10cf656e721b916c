// The application's realtime instance: a small facade over the hub's modules (`hub/`).
import type { Broker } from './broker.js'
import type { Connection } from './connection.js'
import { RealtimeError } from './errors.js'
import { scopeBroker } from './hub/broker-scope.js'
import { completeUpgrade, type IdentifyUser, openSse } from './hub/handshake.js'
import { Hub } from './hub/hub.js'
import { patternHandle } from './hub/channel-configs.js'
import { endHandshakeSpan, SPAN_ERROR } from './hub/metrics.js'
import { resolveSettings } from './hub/settings.js'
import { BROADCAST_TOPIC, channelTopic, topicKind, userTopic } from './hub/topics.js'
import { transportError } from './hub/reporting.js'
import { normalizeIdentity } from './hub/expiry.js'
import { memoryBroker } from './memory-broker.js'
import {
  toOutbound,
  type AnyClientEvents,
  type ClientEventData,
  type ClientEventMap,
  type ClientEventResult,
  type EventMap,
  type RealtimeMessage,
} from './message.js'
import type { ChannelConfig, PresenceMember, RealtimeOptions } from './options.js'
import type { Platform } from './platform.js'
import type { SseConnection } from './sse-connection.js'
import { assertChannelName, assertUserId } from './validate.js'

export type { Platform, UpgradeContext } from './platform.js'
export type { RefusalReason } from './hub/admission.js'
export type { MetricCounters } from './hub/metrics.js'
export type { ChannelHandle, CloseOptions, PublishOptions, RealtimeStats, RealtimeStatsBase, SseOptions, UpgradeOptions } from './api-types.js'
import type { ChannelHandle, CloseOptions, PublishOptions, RealtimeStats, SseOptions, UpgradeOptions } from './api-types.js'

/** Where an instance keeps its hub: symbol-keyed, so it stays out of the application's autocomplete. */
const HUB = Symbol.for('@loewen-digital/realtime.hub')

/**
 * The hub of an instance: the owner its connections talk to, with the modules behind it.
 * Adapter API; not for application code.
 */
export function hubOf(realtime: Realtime<any>): Hub {
  return realtime[HUB]
}

/**
 * One realtime instance: SSE streams and WebSocket connections, channels, users, publishing.
 * Create it with `createRealtime()` from the package of your runtime.
 */
export class Realtime<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents> {
  /** Default transport given by the `driver` option. */
  readonly driver: 'sse' | 'websocket'
  /** Name of the instance on its broker (the `name` option; default the driver). */
  readonly name: string
  /** @internal The modules of this instance (see {@link hubOf}). */
  readonly [HUB]: Hub
  /** `identify`, with its result as a string (or undefined). */
  private readonly identifyUser: IdentifyUser

  constructor(options: RealtimeOptions<Events, Client> = {}, platform: Platform = { name: 'web' }) {
    const settings = resolveSettings(options)
    this.driver = settings.driver
    this.name = settings.name
    const broker: Broker = options.broker ? scopeBroker(options.broker, settings.name, options.name === undefined) : memoryBroker({ history: options.history })
    const hub = (this[HUB] = new Hub(
      settings,
      broker,
      platform,
      options.onError,
      options.telemetry,
      options.schemas,
      options.reauthenticate as RealtimeOptions<any>['reauthenticate'],
    ))
    const subscribed = broker.subscribe((message) => hub.fanOut.deliver(message))
    if (subscribed instanceof Promise) subscribed.catch((error: unknown) => hub.reporting.report(undefined, transportError(error)))
    const identify = options.identify
    this.identifyUser =
      identify &&
      ((request) => {
        const result = identify(request)
        return result instanceof Promise ? result.then(normalizeIdentity) : normalizeIdentity(result)
      })
  }

  /**
   * Opens a Server-Sent Events stream. Returns at once: `response` is what the route handler
   * returns, `stream` the connection (events sent on it before the response is returned are
   * delivered first). Over capacity or while closing, `response` is a 503 with `Retry-After` and
   * `stream` is closed (its `send` returns false); over the per-user cap, a 429.
   */
  sse(request: Request, options: SseOptions<Events> = {}): { response: Response; stream: SseConnection<Events> } {
    return openSse(this[HUB], this.identifyUser, request, options)
  }

  /**
   * Completes a WebSocket handshake and returns the `Response` to hand back to the server. Not an
   * upgrade request: 426. Over capacity or closing: 503 with `Retry-After`. Cross-site: 403. Over
   * the per-user cap: 429. On a runtime without WebSocket support: 501.
   */
  upgrade(request: Request, options: UpgradeOptions<Events> = {}): Promise<Response> {
    const hub = this[HUB]
    const tracer = hub.metrics.tracer
    // Without telemetry, no span and no extra async step per handshake.
    if (tracer === undefined) return completeUpgrade(hub, this.identifyUser, request, options)
    const span = tracer.startSpan('realtime.handshake', { attributes: { 'realtime.transport': 'websocket' } })
    return completeUpgrade(hub, this.identifyUser, request, options).then((response) => {
      endHandshakeSpan(span, response.status === 200 ? 101 : response.status)
      return response
    })
  }

  /**
   * Answers the CORS preflight (`OPTIONS`) of a cross-origin SSE request that sends headers (the
   * fetch transport's `Authorization`): 204 with `Access-Control-Allow-*` for an origin
   * `allowedOrigins` allows, a bare 204 otherwise. `handle()` calls it for `OPTIONS` requests.
   */
  preflight(request: Request): Response {
    return this[HUB].admission.preflight(request)
  }

  /**
   * Serves either transport from one route: WebSocket upgrade requests are upgraded, requests that
   * accept `text/event-stream` get SSE, `OPTIONS` gets the CORS preflight, others get the `driver`
   * transport.
   */
  handle(request: Request, options: UpgradeOptions<Events> & Pick<SseOptions<Events>, 'channels' | 'headers'> = {}): Promise<Response> {
    if (request.method === 'OPTIONS') return Promise.resolve(this.preflight(request))
    const wantsUpgrade = (request.headers.get('upgrade') ?? '').toLowerCase() === 'websocket'
    const wantsSse = (request.headers.get('accept') ?? '').includes('text/event-stream')
    if (wantsUpgrade || (!wantsSse && this.driver === 'websocket')) return this.upgrade(request, options)
    return Promise.resolve(this.sse(request, options).response)
  }

  /** Sends to every connection, in every process. Rejects with `REALTIME_CLOSED` after `close()`. */
  async broadcast(message: RealtimeMessage<Events>, options?: PublishOptions): Promise<void> {
    await this.publish(BROADCAST_TOPIC, message, options)
  }

  /**
   * Sends to every connection of a user, SSE and WebSocket, in every process, or to one
   * connection when given a connection. A user with no connection receives nothing (no error); a
   * missing user id throws `REALTIME_INVALID_TARGET`.
   */
  async sendTo(target: string | number | Connection<Events>, message: RealtimeMessage<Events>): Promise<void> {
    if (typeof target === 'object' && target !== null) {
      if (!target.isClosed) this[HUB].delivery.writeTo(target, toOutbound(message))
      return
    }
    assertUserId(target)
    await this.publish(userTopic(target), message)
  }

  /**
   * Handles an event clients send over WebSocket: `client.emit(event, data)` (or a frame
   * `{"event":…,"data":…}`) calls `handler(data, socket)`, and `client.request(event, data)` is
   * answered with what it returns (or resolves to). A handler that throws a `RealtimeError`
   * answers with its code and message; anything else is reported to `onError` and answered with
   * `REALTIME_HANDLER_ERROR`. Data is validated first when `schemas` has the event. Events without
   * a handler still reach `onMessage` as sent; a request for one is answered
   * `REALTIME_UNKNOWN_EVENT`. Registering an event again replaces its handler. Returns a function
   * that removes it.
   */
  on<Name extends keyof Client & string>(
    event: Name,
    handler: (data: ClientEventData<Client, Name>, socket: Connection<Events>) => ClientEventResult<Client, Name> | Promise<ClientEventResult<Client, Name>>,
  ): () => void {
    const events = this[HUB].events
    events.set(event, handler as (data: unknown, socket: Connection<any>) => unknown)
    return () => events.delete(event, handler as (data: unknown, socket: Connection<any>) => unknown)
  }

  /**
   * Configures a channel (hooks, authorization) and returns its handle. A name ending in `*`
   * configures every channel with that prefix (`'orders:*'`; `'*'` alone: every channel). The most
   * specific configuration decides, whatever the order of registration: the channel's own name,
   * else the pattern with the longest prefix. Configuring a name or pattern again replaces it.
   * Channels that nothing configures are open: anyone may join.
   */
  channel(name: string, config: ChannelConfig<Events> = {}): ChannelHandle<Events> {
    const prefix = this[HUB].configs.set(name, config)
    return prefix === undefined ? this.toChannel(name) : patternHandle(this[HUB].registry.channels as Map<string, Set<Connection<Events>>>, name, prefix)
  }

  /**
   * Handle of a channel, to broadcast to its members. Throws `REALTIME_INVALID_CHANNEL` for a name
   * no client could join (empty, over 200 characters, control characters, lone surrogates).
   */
  toChannel(name: string): ChannelHandle<Events> {
    assertChannelName(name)
    const channels = this[HUB].registry.channels
    return {
      name,
      get size() {
        return channels.get(name)?.size ?? 0
      },
      broadcast: (message, options) => this.publish(channelTopic(name), message, options),
      connections: () => ((channels.get(name) ?? new Set()) as Set<Connection<Events>>).values(),
    }
  }

  /**
   * The local connection with this id, if any. Ids are made when first read (`socket.id`, the
   * `realtime:connected` event, presence), so every id your code or a client has seen is found.
   */
  connection(id: string): Connection<Events> | undefined {
    return this[HUB].registry.byId.get(id) as Connection<Events> | undefined
  }

  /**
   * Who is in a presence channel, across processes: one entry per user (with its connection
   * count) and one per anonymous connection.
   */
  presence(channel: string): Promise<PresenceMember[]> {
    return this[HUB].presence.members(channel)
  }

  /** Current counters. */
  stats(): RealtimeStats {
    const hub = this[HUB]
    const { registry, delivery, admission, metrics } = hub
    return {
      connections: registry.all.size,
      sse: registry.sseCount,
      websocket: registry.all.size - registry.sseCount,
      channels: registry.channels.size,
      users: registry.users.size,
      delivered: delivery.delivered,
      refused: admission.refused,
      refusals: { ...admission.refusals },
      ...metrics.snapshot(),
      broker: { connected: hub.broker.connected !== false, outages: hub.broker.outages ?? 0 },
    }
  }

  /**
   * Stops accepting connections (503), closes every connection (WebSocket: close frame with
   * `code`, default 1012 so clients reconnect and resume; SSE: a jittered `retry:` then end of
   * stream), stops the heartbeat and closes the broker (a shared one once no other instance uses
   * it), which frees the instance's name.
   */
  async close(options: CloseOptions = {}): Promise<void> {
    const hub = this[HUB]
    await hub.lifecycle.shutdown(options)
    hub.platform.close?.()
    hub.detachPresence()
    await hub.broker.close()
  }

  private async publish(topic: string, message: RealtimeMessage<Events>, options?: PublishOptions): Promise<void> {
    const hub = this[HUB]
    if (hub.admission.closing) throw new RealtimeError('REALTIME_CLOSED', 'this realtime instance is closed: nothing was published')
    const except = options?.except
    const span = hub.metrics.tracer?.startSpan('realtime.publish', { attributes: { 'realtime.message.kind': topicKind(topic) ?? 'channel' } })
    try {
      await hub.fanOut.publish(topic, message, except === undefined ? undefined : typeof except === 'string' ? except : except.id)
    } catch (error) {
      span?.setStatus({ code: SPAN_ERROR, message: (error as Error)?.message })
      throw error
    } finally {
      span?.end()
    }
  }
}
