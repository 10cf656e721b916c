// Nuxt 4 on Nitro 2: WebSockets go through crossws hooks (`nitro.experimental.websocket`), so
// server/routes/realtime/ws.js hands the realtime instance's hooks to defineWebSocketHandler.
export default defineNuxtConfig({
  compatibilityDate: '2025-07-15',
  devtools: { enabled: false },
  telemetry: false,
  nitro: { experimental: { websocket: true } },
  hooks: {
    // `nuxt dev` only: the dev server proxies each WebSocket to Nitro's worker, and a client that
    // resets its connection (a tab closed mid-handshake) makes that proxy reject a promise nobody
    // handles, so `nuxt dev` restarts and drops every other socket. Handle it: drop that socket only.
    ready(nuxt) {
      const server = nuxt.server as { upgrade?: (...args: any[]) => unknown } | undefined
      const upgrade = server?.upgrade
      if (!server || typeof upgrade !== 'function') return
      server.upgrade = (request: unknown, socket: { destroy(): void }, head: unknown) =>
        Promise.resolve(upgrade(request, socket, head)).catch(() => socket.destroy())
    },
  },
})
