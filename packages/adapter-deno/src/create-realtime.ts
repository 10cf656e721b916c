import { limits, Realtime, type AnyClientEvents, type ClientEventMap, type EventMap, type Platform, type RealtimeOptions } from '@loewen-digital/realtime-core'
import { denoRuntime } from './_deno.js'
import { DenoWebSocketConnection } from './websocket-connection.js'

/**
 * Creates a realtime instance on Deno: SSE as a web `Response` (the client going away cancels the
 * stream), WebSockets through `Deno.upgradeWebSocket`. Use it inside any `Deno.serve` handler
 * (`return realtime.handle(request)`), or serve a fetch-style handler with {@link serve}.
 *
 * Heartbeats: SSE streams get a comment line every `heartbeat` ms; WebSocket peers are pinged by
 * Deno itself (`idleTimeout` = 2 × `heartbeat`): after `heartbeat` ms without an inbound frame
 * Deno sends a ping, and closes the peer when no pong arrives within another `heartbeat` ms.
 * `heartbeat: 0` turns both off. The options and their defaults are those of every adapter.
 */
export function createRealtime<Events extends EventMap = EventMap, Client extends ClientEventMap = AnyClientEvents>(
  options: RealtimeOptions<Events, Client> = {},
): Realtime<Events, Client> {
  const heartbeat = options.heartbeat ?? limits.DEFAULT_HEARTBEAT_MS
  // Seconds, fractions allowed; an invalid heartbeat makes the Realtime constructor throw first.
  const idleTimeout = (2 * heartbeat) / 1000
  const platform: Platform = {
    name: 'deno',
    upgrade(context) {
      // HTTP/1.1 requires Host (RFC 9112), and so does the WebSocket handshake (RFC 6455): Deno
      // accepts a request without one, so the refusal the other runtimes give is given here.
      if (!context.request.headers.has('host')) return new Response('Bad Request: no Host header', { status: 400 })
      const runtime = denoRuntime()
      let upgraded: { response: Response; socket: WebSocket }
      // Deno closes the request once upgraded (reading its headers then throws): read them first.
      const headerLines: string[] = []
      context.request.headers.forEach((value, name) => void headerLines.push(name, value))
      try {
        upgraded = runtime.upgradeWebSocket(context.request, { idleTimeout })
      } catch {
        // A malformed handshake (no `Connection: Upgrade`, no `Sec-WebSocket-Key`) or a consumed body.
        return new Response('Bad WebSocket handshake', { status: 400 })
      }
      const connection = new DenoWebSocketConnection<any>(upgraded.socket, context, headerLines)
      // Registered once Deno has sent the 101 and the socket is open.
      upgraded.socket.addEventListener('open', () => context.accept(connection), { once: true })
      return upgraded.response
    },
  }
  return new Realtime<Events, Client>(options, platform)
}
