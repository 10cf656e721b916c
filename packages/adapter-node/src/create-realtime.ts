import { limits, Realtime, RealtimeError, type AnyClientEvents, type ClientEventMap, type EventMap, type Platform, type RealtimeOptions } from '@loewen-digital/realtime-core'
import { WebSocketServer } from 'ws'
import { takeDeferredUpgrade } from './_deferred-upgrade.js'
import { ignoreSocketError, takeUpgrade, upgradeHandled } from './_upgrade-context.js'
import { assertUpgradedSocket, assertWsLayout } from './_ws-layout.js'
import { NodeSseConnection } from './sse-connection.js'
import { NodeWebSocketConnection, RealtimeWebSocket } from './websocket-connection.js'

/**
 * Creates a realtime instance on Node: SSE as a web `Response`, WebSockets through `ws`.
 * WebSocket upgrades need the raw socket, so the request must come through a dispatcher of Node's
 * `upgrade` event: `serve` or `attach` (a fetch handler), `routeUpgrades` (a framework's Node
 * request listener) or the `realtime()` Vite plugin (dev and preview servers).
 */
export function createRealtime<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents>(
  options: RealtimeOptions<Events, Client> = {},
): Realtime<Events, Client> {
  assertWsLayout()
  const server = new WebSocketServer({
    noServer: true,
    clientTracking: false,
    WebSocket: RealtimeWebSocket,
    perMessageDeflate: false,
    maxPayload: options.maxMessageBytes ?? limits.DEFAULT_MAX_MESSAGE_BYTES,
  })
  const platform: Platform = {
    name: 'node',
    createSse: (request, owner, handlers, userId, retry, headers) => new NodeSseConnection(request, owner, handlers, userId, retry, headers),
    upgrade(context) {
      // A bridge that opens the socket itself (crossws hooks in Nitro) gets the accepted context.
      const deferred = takeDeferredUpgrade(context.request)
      if (deferred !== undefined) {
        deferred.context = context
        return upgradeHandled()
      }
      // By identity, or by the token header a dispatcher set (frameworks hand routes a copy).
      const raw = takeUpgrade(context.request)
      if (!raw) {
        throw new RealtimeError(
          'REALTIME_UPGRADE_UNAVAILABLE',
          'this request has no Node socket to upgrade: serve the handler with serve(), route the server\'s upgrade events with attach() or routeUpgrades(), or add the realtime() Vite plugin in dev',
        )
      }
      raw.claimed = true
      // ws accepts during handleUpgrade (it calls back at once) unless it refuses the handshake:
      // then no promise is needed. `settle` is set only when the answer has to wait.
      let accepted = false
      let settle: ((response: Response) => void) | undefined
      const abandoned = () => settle?.(upgradeHandled())
      server.handleUpgrade(raw.incoming, raw.socket, raw.head, (ws) => {
        accepted = true
        assertUpgradedSocket(ws, raw.socket)
        if (settle !== undefined) raw.socket.off('close', abandoned)
        raw.socket.off('error', ignoreSocketError) // ws listens for errors itself from now on
        context.accept(new NodeWebSocketConnection(ws as RealtimeWebSocket, context, raw.incoming))
        settle?.(upgradeHandled())
      })
      if (accepted) return upgradeHandled()
      // ws answers a bad handshake itself and destroys the socket without calling back. Only then
      // is a `close` listener needed (added before, it would leave the socket's listener array
      // sized for three).
      return new Promise<Response>((resolve) => {
        settle = resolve
        if (raw.socket.destroyed && (raw.socket as { closed?: boolean }).closed === true) abandoned()
        else raw.socket.once('close', abandoned)
      })
    },
    close() {
      server.close()
    },
  }
  return new Realtime<Events, Client>(options, platform)
}
