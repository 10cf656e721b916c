import {
  hubOf,
  Realtime,
  RealtimeError,
  type SseConnection,
  type Connection,
  type AnyClientEvents,
  type ClientEventMap,
  type EventMap,
  type Outbound,
  type Platform,
  type RealtimeOptions,
  type UpgradeContext,
} from '@loewen-digital/realtime-core'
import type { BunServer } from './_bun.js'
import { serverOf } from './serve.js'
import { BunSseConnection } from './sse-connection.js'
import { raiseSocketLimits } from './websocket.js'
import { BunWebSocketConnection, type ConnectionTracker } from './websocket-connection.js'

let instances = 0

/**
 * Creates a realtime instance on Bun: SSE as a web `Response`, WebSockets on `Bun.serve`, and
 * broadcast, per-user and channel fan-out through Bun's native publish/subscribe. WebSocket
 * upgrades need the Bun server of the request: serve the handler with {@link serve}, or wrap your
 * own `Bun.serve` `fetch` with {@link withServer} and pass {@link websocket}.
 */
export function createRealtime<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents>(
  options: RealtimeOptions<Events, Client> = {},
): Realtime<Events, Client> {
  const realtime = new Realtime<Events, Client>(options, new BunPlatform(`realtime#${++instances}:`))
  raiseSocketLimits(hubOf(realtime).maxMessageBytes, hubOf(realtime).maxBufferedBytes)
  return realtime
}

/**
 * Native fan-out: every WebSocket connection subscribes its Bun socket to the instance's topics
 * (`broadcast`, `user:<id>`, `channel:<name>`, prefixed per instance so two instances on one server
 * never share a topic), and each delivered message is one `publish` per Bun server, with the same
 * frame text for every subscriber. `except` publishes from the excepted socket, which Bun skips.
 */
class BunPlatform implements Platform, ConnectionTracker {
  readonly name = 'bun'
  /** Bun servers with open connections of this instance, with their counts. */
  private readonly servers = new Map<BunServer, number>()

  /** The broadcast topic's name, made once: every connection subscribes to it. */
  private readonly broadcastTopic: string

  constructor(private readonly prefix: string) {
    this.broadcastTopic = prefix + 'broadcast'
  }

  /** The Bun topic of a core topic (`broadcast`, `user:<id>`, `channel:<name>`) of this instance. */
  private topicName(topic: string): string {
    return topic === 'broadcast' ? this.broadcastTopic : this.prefix + topic
  }

  upgrade(context: UpgradeContext<any>): Response {
    const server = serverOf(context.request)
    if (!server) {
      throw new RealtimeError(
        'REALTIME_UPGRADE_UNAVAILABLE',
        'this request has no Bun server to upgrade on: serve the handler with serve(), or wrap your Bun.serve fetch with withServer() and pass websocket',
      )
    }
    // Bun runs the `open` handler (which registers the connection) during `upgrade`, or soon after.
    if (!server.upgrade(context.request, { data: new BunWebSocketConnection(context, server, this) })) {
      return new Response('Bad WebSocket handshake', { status: 400 })
    }
    // Bun ignores what `fetch` returns after a successful upgrade.
    return new Response(null, { status: 101 })
  }

  createSse(...[request, owner, handlers, userId, retry, headers]: ConstructorParameters<typeof SseConnection>): SseConnection<any> {
    return new BunSseConnection(request, owner, handlers, userId, retry, headers)
  }

  subscribe(connection: Connection<any>, topic: string): void {
    ;(connection as BunWebSocketConnection).ws.subscribe(this.topicName(topic))
  }

  unsubscribe(connection: Connection<any>, topic: string): void {
    // Bun drops a closed socket's subscriptions itself.
    if (!connection.isClosed) (connection as BunWebSocketConnection).ws.unsubscribe(this.topicName(topic))
  }

  publish(topic: string, outbound: Outbound, except: Connection<any> | undefined): boolean {
    if (this.servers.size === 0) return true
    const name = this.topicName(topic)
    const text = outbound.text
    // A subscriber over the server's backpressureLimit is skipped and then closed by Bun itself
    // (closeOnBackpressureLimit), so a slow consumer never loses a message silently.
    for (const server of this.servers.keys()) {
      if (except instanceof BunWebSocketConnection && except.server === server && !except.isClosed) except.ws.publish(name, text, false)
      else server.publish(name, text, false)
    }
    return true
  }

  opened(connection: BunWebSocketConnection<any>): void {
    this.servers.set(connection.server, (this.servers.get(connection.server) ?? 0) + 1)
  }

  closed(connection: BunWebSocketConnection<any>): void {
    const count = this.servers.get(connection.server)! - 1
    if (count === 0) this.servers.delete(connection.server)
    else this.servers.set(connection.server, count)
  }
}
