import { Connection, type EventMap, type Outbound, type Realtime, type UpgradeContext, type UpgradeOptions } from '@loewen-digital/realtime-core'
import { deferUpgrade, type DeferredUpgrade } from './_deferred-upgrade.js'

/** @internal What the bridge reads of a crossws upgrade request (crossws 0.3: url and headers). */
export interface CrosswsRequestLike {
  readonly url: string
  readonly headers: Headers | Record<string, string | string[] | undefined>
  readonly method?: string
  /** crossws 0.3 gives each upgrade a context object, shared with its peer (`peer.context`). */
  readonly context?: Record<string | symbol, unknown>
}

/** @internal The native socket under a crossws peer, as far as the bridge reads it (`ws` on Node). */
export interface CrosswsSocketLike {
  readonly readyState?: number
  readonly bufferedAmount?: number
  ping?(): void
  on?(event: 'pong', listener: () => void): unknown
}

/** @internal What the bridge uses of a crossws peer (0.3). */
export interface CrosswsPeerLike {
  readonly context?: Record<string | symbol, unknown>
  readonly websocket?: unknown
  send(data: string): unknown
  close(code?: number, reason?: string): void
  terminate?(): void
}

/** @internal A crossws message (0.3): its text. */
export interface CrosswsMessageLike {
  text(): string
}

/** The crossws hooks `crosswsHooks()` returns: give them to `defineWebSocketHandler` (Nitro, h3). */
export interface CrosswsHooks {
  upgrade(request: CrosswsRequestLike): Promise<Response | undefined>
  open(peer: CrosswsPeerLike): void
  message(peer: CrosswsPeerLike, message: CrosswsMessageLike): void
  close(peer: CrosswsPeerLike, details: { code?: number; reason?: string }): void
  error(peer: CrosswsPeerLike, error: unknown): void
}

const PENDING = Symbol.for('@loewen-digital/realtime-node/crossws-pending')
const CONNECTION = Symbol.for('@loewen-digital/realtime-node/crossws-connection')
const OPEN = 1
const CLOSING = 2

/**
 * WebSocket connections of a realtime instance through crossws hooks: Nitro 2 (Nuxt 4) and h3 1
 * route WebSocket upgrades to `defineWebSocketHandler(hooks)`, never to an event handler, so the
 * spec's `realtime.upgrade(request, ...)` has no socket to take there. These hooks run the same
 * `realtime.upgrade()` on the handshake (origin check, `maxConnections`, `identify`, the per-user
 * cap, `?channel=` and resume), answer a refusal with its HTTP status (403, 429, 503 with
 * `Retry-After`, ...) before crossws accepts, and map `open`/`message`/`close`/`error` onto one
 * connection of the instance: the same channels, cursors, heartbeats, message size and rate limits,
 * slow-consumer policy and stats as every other WebSocket. `options` are `upgrade()`'s: the spec's
 * `onMessage(socket, message)` and `onClose(socket)` keep their signatures.
 *
 * Needs an instance of the Node adapter (the facade's `node` condition or `/node`).
 *
 * @example
 * // server/routes/realtime/ws.js (Nuxt 4, `nitro.experimental.websocket: true`)
 * import { crosswsHooks } from '@loewen-digital/realtime/node'
 * export default defineWebSocketHandler(crosswsHooks(realtime, {
 *   onMessage: async (socket, message) => socket.send(JSON.stringify({ echo: JSON.parse(message) })),
 * }))
 */
export function crosswsHooks<Events extends EventMap = EventMap>(realtime: Realtime<Events>, options: UpgradeOptions<Events> = {}): CrosswsHooks {
  return {
    async upgrade(incoming) {
      const request = new Request(incoming.url, { method: incoming.method ?? 'GET', headers: toHeaders(incoming.headers) })
      const slot = deferUpgrade(request)
      const response = await realtime.upgrade(request, options)
      if (slot.context === undefined) {
        // Refused (or failed): crossws writes this response and closes the socket.
        return response.ok ? new Response('WebSocket upgrade failed', { status: 500 }) : response
      }
      // crossws before 0.3 gives upgrades no context to hand the accepted upgrade to `open` with.
      if (incoming.context === undefined) return new Response('crosswsHooks needs crossws 0.3 or newer', { status: 501 })
      incoming.context[PENDING] = slot
    },
    open(peer) {
      const slot = peer.context?.[PENDING] as DeferredUpgrade | undefined
      const context = slot?.context
      if (context === undefined) {
        peer.close(1011, 'no realtime upgrade')
        return
      }
      delete peer.context![PENDING]
      const connection = new CrosswsConnection<Events>(peer, context)
      peer.context![CONNECTION] = connection
      context.accept(connection)
    },
    message(peer, message) {
      const connection = connectionOf(peer)
      if (connection === undefined) return
      connection.alive = true
      connection.receive(message.text())
    },
    close(peer, details) {
      connectionOf(peer)?.transportClosed(details.code || 1006, details.reason ?? '')
    },
    error(peer, error) {
      const connection = connectionOf(peer)
      if (connection !== undefined && !connection.isClosed) connection.transportError(error)
    },
  }
}

function connectionOf(peer: CrosswsPeerLike): CrosswsConnection<any> | undefined {
  return peer.context?.[CONNECTION] as CrosswsConnection<any> | undefined
}

function toHeaders(headers: CrosswsRequestLike['headers']): Headers {
  if (headers instanceof Headers) return headers
  const result = new Headers()
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue
    for (const item of Array.isArray(value) ? value : [value]) result.append(name, item)
  }
  return result
}

/**
 * A connection on a crossws peer. Writes go through `peer.send` (the peer's own socket: `ws` on
 * Node); heartbeats ping the native socket when it can (`ws`) and drop a peer that did not answer
 * the previous ping.
 */
export class CrosswsConnection<Events extends EventMap = EventMap> extends Connection<Events> {
  /** The crossws peer. */
  readonly peer: CrosswsPeerLike

  constructor(peer: CrosswsPeerLike, context: UpgradeContext<Events>) {
    super('websocket', context.request, context.owner, context.handlers, context.userId)
    this.peer = peer
    const socket = this.socket
    if (typeof socket?.ping === 'function' && typeof socket.on === 'function') {
      socket.on('pong', () => {
        this.alive = true
      })
    }
  }

  private get socket(): CrosswsSocketLike | undefined {
    return this.peer.websocket as CrosswsSocketLike | undefined
  }

  /** Bytes queued for the peer and not yet written to the network. */
  get bufferedAmount(): number {
    return this.socket?.bufferedAmount ?? 0
  }

  /** Adapter API; not for application code. */
  write(outbound: Outbound): void {
    this.writeText(outbound.text)
  }

  /** Adapter API; not for application code. */
  writeText(text: string): void {
    const state = this.socket?.readyState
    if (state !== undefined && state !== OPEN) return
    this.peer.send(text)
    if (this.bufferedAmount > this.owner.maxBufferedBytes) this.cutSlowConsumer()
  }

  /** Adapter API; not for application code. */
  heartbeat(): void {
    const socket = this.socket
    if (!this.alive) {
      this.closeIntent ??= { code: 1006, reason: 'heartbeat timeout' }
      this.terminate()
      return
    }
    if (typeof socket?.ping === 'function') {
      this.alive = false
      if (socket.readyState === OPEN) socket.ping()
    } else if (socket?.readyState === CLOSING) {
      // No ping on this socket: only reap a peer that never finished the closing handshake.
      this.alive = false
    }
  }

  /** Drops the connection at once; `onClose` runs with code 1006. */
  override terminate(): void {
    if (typeof this.peer.terminate === 'function') this.peer.terminate()
    else {
      try {
        this.peer.close()
      } catch {
        // already closed
      }
    }
    this.transportClosed(1006, 'terminated')
  }

  /** Adapter API; not for application code. */
  protected closeTransport(code: number, reason: string): void {
    try {
      this.peer.close(code, reason)
    } catch {
      this.terminate()
    }
  }
}
