import type { IncomingMessage, Server } from 'node:http'
import type { Duplex } from 'node:stream'
import { dispatchUpgrade, type NodeListener } from './route-upgrades.js'

/** @internal The parts of Vite's dev and preview servers the plugin uses (no dependency on Vite's types). */
export interface ViteServerLike {
  httpServer: Pick<Server, 'on'> | null
  middlewares: NodeListener
  config?: { server?: { proxy?: Record<string, unknown> }; preview?: { proxy?: Record<string, unknown> } }
}

/** The plugin object (a Vite `Plugin`). */
export interface RealtimeVitePlugin {
  name: string
  configureServer(server: ViteServerLike): void
  configurePreviewServer(server: ViteServerLike): void
}

export interface RealtimeViteOptions {
  /** Upgrades to leave alone (return true), besides Vite's own and its WebSocket proxies. */
  skip?: (incoming: IncomingMessage) => boolean
}

/** Vite's HMR socket (and its ping) announce these subprotocols; Vite's own listener answers them. */
const VITE_PROTOCOLS = new Set(['vite-hmr', 'vite-ping'])

/**
 * A Vite plugin for `vite dev` and `vite preview`: WebSocket upgrades, except Vite's own, go
 * through the server's middleware stack, so they reach the framework's route, where the spec's
 * `realtime.upgrade(request, ...)` completes them. HMR keeps working; upgrades to a path of a
 * `server.proxy` entry with `ws: true` stay with the proxy.
 *
 * @example
 * // vite.config.js
 * import { realtime } from '@loewen-digital/realtime/vite'
 * export default defineConfig({ plugins: [sveltekit(), realtime()] })
 */
export function realtime(options: RealtimeViteOptions = {}): RealtimeVitePlugin {
  const install = (server: ViteServerLike, proxy: Record<string, unknown> | undefined) => {
    // Middleware mode has no server: the application routes upgrades itself (routeUpgrades).
    if (!server.httpServer) return
    const proxied = proxiedPaths(proxy)
    server.httpServer.on('upgrade', (incoming: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (isViteUpgrade(incoming) || proxied(incoming.url ?? '/') || options.skip?.(incoming)) return
      // The middleware stack is read at each upgrade: frameworks add theirs after this hook runs.
      dispatchUpgrade(server.middlewares, incoming, socket, head)
    })
  }
  return {
    name: '@loewen-digital/realtime',
    configureServer(server) {
      install(server, server.config?.server?.proxy)
    },
    configurePreviewServer(server) {
      install(server, server.config?.preview?.proxy)
    },
  }
}

function isViteUpgrade(incoming: IncomingMessage): boolean {
  const protocols = incoming.headers['sec-websocket-protocol']
  if (!protocols) return false
  return protocols.split(',').some((protocol) => VITE_PROTOCOLS.has(protocol.trim()))
}

/** The paths Vite's proxy upgrades itself (entries with `ws: true`), as Vite matches them. */
function proxiedPaths(proxy: Record<string, unknown> | undefined): (url: string) => boolean {
  const matchers: Array<(url: string) => boolean> = []
  for (const [context, entry] of Object.entries(proxy ?? {})) {
    if (!entry || typeof entry !== 'object' || (entry as { ws?: boolean }).ws !== true) continue
    if (context.startsWith('^')) {
      const pattern = new RegExp(context)
      matchers.push((url) => pattern.test(url))
    } else matchers.push((url) => url.startsWith(context))
  }
  return (url) => matchers.some((match) => match(url))
}
