// Nuxt 4 on Nitro 2: WebSockets go through crossws hooks (`nitro.experimental.websocket`), so
// server/routes/realtime/ws.js hands the realtime instance's hooks to defineWebSocketHandler.
export default defineNuxtConfig({
  compatibilityDate: '2025-07-15',
  devtools: { enabled: false },
  telemetry: false,
  nitro: { experimental: { websocket: true } },
})
